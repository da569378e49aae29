// MLflow's tracking API as the UI calls it (mlflow/protos/service.proto), typed.
// The UI uses the /ajax-api prefix, as MLflow's own UI does: the same routes
// as /api, kept apart so browser sessions can be told from API clients.

import { api } from './client';

const BASE = '/ajax-api/2.0/mlflow';

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status?: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

export interface DatasetInput {
  tags?: KeyValue[];
  dataset: {
    name: string;
    digest: string;
    source_type?: string;
    source?: string;
    schema?: string;
    profile?: string;
  };
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: DatasetInput[] };
}

export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

export interface MetricPoint extends Metric {
  run_id: string;
}

export function searchExperiments(
  options: { maxResults?: number; pageToken?: string; filter?: string; orderBy?: string[] } = {},
  signal?: AbortSignal,
) {
  return api.post<{ experiments?: Experiment[]; next_page_token?: string }>(
    `${BASE}/experiments/search`,
    {
      max_results: options.maxResults ?? 1000,
      page_token: options.pageToken,
      filter: options.filter || undefined,
      order_by: options.orderBy,
      view_type: 'ACTIVE_ONLY',
    },
    signal,
  );
}

export async function getExperiment(experimentId: string, signal?: AbortSignal) {
  const reply = await api.get<{ experiment: Experiment }>(
    `${BASE}/experiments/get`,
    { experiment_id: experimentId },
    signal,
  );
  return reply.experiment;
}

export interface RunSearch {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
}

export function searchRuns(search: RunSearch, signal?: AbortSignal) {
  return api.post<{ runs?: Run[]; next_page_token?: string }>(
    `${BASE}/runs/search`,
    {
      experiment_ids: search.experimentIds,
      filter: search.filter || undefined,
      order_by: search.orderBy && search.orderBy.length ? search.orderBy : undefined,
      max_results: search.maxResults ?? 1000,
      page_token: search.pageToken,
      run_view_type: 'ACTIVE_ONLY',
    },
    signal,
  );
}

export async function getRun(runId: string, signal?: AbortSignal) {
  const reply = await api.get<{ run: Run }>(`${BASE}/runs/get`, { run_id: runId }, signal);
  return reply.run;
}

export async function listArtifacts(runId: string, path: string | undefined, signal?: AbortSignal) {
  const reply = await api.get<{ root_uri?: string; files?: FileInfo[] }>(
    `${BASE}/artifacts/list`,
    { run_id: runId, path: path || undefined },
    signal,
  );
  return reply.files ?? [];
}

// A metric's history of several runs, sampled by the server to at most
// `maxResults` points per run (the first and last always kept), optionally
// within a range of steps: what charts need, whatever the history's length.
export async function metricHistorySampled(
  runIds: string[],
  metricKey: string,
  options: { maxResults?: number; startStep?: number; endStep?: number } = {},
  signal?: AbortSignal,
) {
  const reply = await api.get<{ metrics?: MetricPoint[] }>(
    `${BASE}/metrics/get-history-bulk-interval`,
    {
      run_ids: runIds,
      metric_key: metricKey,
      max_results: options.maxResults,
      start_step: options.startStep,
      end_step: options.endStep,
    },
    signal,
  );
  return reply.metrics ?? [];
}

// Where a run's file is downloaded from (MLflow's UI link).
export function artifactUrl(runId: string, path: string): string {
  return `/get-artifact?${new URLSearchParams({ path, run_uuid: runId })}`;
}

// A run's file's first `maxBytes` bytes (for a preview), from the same route
// as the download link.
export function getArtifactBytes(
  runId: string,
  path: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; truncated: boolean }> {
  return api.getBytes('/get-artifact', { path, run_uuid: runId }, maxBytes, signal);
}

// Keys in a filter or order_by term: plain identifiers as they are, anything
// else in backticks (MLflow's grammar).
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : '`' + key.replace(/`/g, '') + '`';
}

export function tagValue(run: Run, key: string): string | undefined {
  return run.data.tags?.find((tag) => tag.key === key)?.value;
}
