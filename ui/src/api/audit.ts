// The audit trail (admins only): /api/v1/audit and /api/v1/audit/verify.

import { api } from './client';

export interface AuditEntry {
  seq: number;
  time_ms: number;
  principal: string;
  action: string;
  target: string;
  outcome: number;
  request_digest: string;
  prev_hash: string;
  hash: string;
  source: string;
  count: number;
}

// Exact matches, all optional; times in ms since the epoch, both ends included.
export interface AuditFilter {
  since?: number;
  until?: number;
  principal?: string;
  action?: string;
  target?: string;
}

export function searchAudit(filter: AuditFilter, pageToken: string | undefined, maxResults: number, signal?: AbortSignal) {
  return api.get<{ entries?: AuditEntry[]; next_page_token?: string }>(
    '/api/v1/audit',
    {
      since: filter.since,
      until: filter.until,
      principal: filter.principal || undefined,
      action: filter.action || undefined,
      target: filter.target || undefined,
      max_results: maxResults,
      page_token: pageToken,
    },
    signal,
  );
}

export interface AuditReport {
  ok: boolean;
  entries: number;
  problems: { seq: number; kind: string; message: string }[];
}

export function verifyAudit(signal?: AbortSignal) {
  return api.get<AuditReport>('/api/v1/audit/verify', undefined, signal);
}
