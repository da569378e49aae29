// Live monitoring of a deployment (docs/monitoring_live.md, docs/alerts.md,
// docs/loop.md): its monitor, drift and live accuracy per window and over a
// range (with the reference-vs-now distribution of each feature), its alert
// rules and their history, and its closed loop's policy and runs. Reads
// only: the page changes nothing, the CLI and these same endpoints do.

import { api, ApiError } from './client';

const base = (name: string) => `/api/v1/deployments/${encodeURIComponent(name)}`;

export interface MonitorConfig {
  deployment: string;
  reference: string; // NAME@VERSION
  reference_from_lineage: boolean;
  model_name: string;
  model_version: string;
  window: string; // "5m", "1000rows"
  features: string[];
  all_features: boolean;
  thresholds: Record<string, number>; // PSI per feature or output column
  default_threshold: number;
  task: string;
  created_by: string;
  creation_time: number;
  last_updated_time: number;
}

// One feature (or prediction column) of a drift report. The monitor decides
// on PSI: over_threshold is psi > threshold.
export interface FeatureDrift {
  column: string;
  kind: 'numeric' | 'categorical';
  comparable: boolean;
  note?: string;
  psi: number;
  js: number;
  ks?: number;
  ks_p_value?: number;
  wasserstein?: number;
  wasserstein_normed?: number;
  chi_square?: { statistic: number; dof: number; p_value: number };
  new_categories: string[];
  missing_categories: string[];
  reference_count: number;
  current_count: number;
  threshold: number;
  over_threshold: boolean;
  missing_rate?: number; // features only
}

export interface LiveAccuracy {
  task: string; // "classification", "regression", "" before labels
  requests: number; // joined requests
  rows: number; // labelled rows
  accuracy: number | null;
  f1: number | null;
  roc_auc: number | null;
  rmse: number | null;
  mae: number | null;
  label_delay_p50_seconds: number | null;
  label_delay_p90_seconds: number | null;
}

// Shares of each side's non-missing values on shared bins: numeric bins
// hold (lower, upper]; categorical ones a category, or every other one.
export interface DistributionBin {
  reference: number;
  current: number;
  lower?: number;
  upper?: number;
  value?: string;
  other?: boolean;
}

export interface FeatureDistribution {
  feature: string;
  kind: 'numeric' | 'categorical';
  reference_count: number;
  current_count: number;
  bins: DistributionBin[];
}

export interface RangeDrift {
  from_ms: number;
  to_ms: number;
  windows: number;
  rows: number;
  first_window_start_ms: number;
  last_window_end_ms: number;
  features: FeatureDrift[];
  features_not_seen: string[];
  predictions: FeatureDrift[];
  accuracy: LiveAccuracy;
  distributions?: FeatureDistribution[]; // GET .../monitor/drift only
}

export interface WindowDrift extends RangeDrift {
  seq: number;
  start_ms: number;
  end_ms: number;
  closed: boolean;
}

export interface AlertRule {
  name: string;
  metric: string;
  function: 'value' | 'rate';
  op: string;
  threshold: number;
  for_ms: number;
  severity: string;
}

export interface AlertRules {
  owner: string;
  updated_time: number;
  rules: AlertRule[];
}

export interface ActiveAlert {
  alert: string;
  fingerprint: string;
  state: 'pending' | 'firing';
  labels: Record<string, string>;
  active_since_ms: number;
  fired_ms: number;
  value: number;
}

export interface AlertTransition {
  id: number;
  alert: string;
  fingerprint: string;
  state: 'firing' | 'resolved';
  labels: Record<string, string>;
  time_ms: number;
  value: number;
  deliveries: { receiver: string; status: string; attempts: number; last_error: string }[];
}

export interface AlertHistory {
  active: ActiveAlert[];
  transitions: AlertTransition[]; // newest first
}

export interface LoopPolicy {
  on: string[];
  spec_name: string;
  promote: string;
  approval: 'auto' | 'manual';
  cooldown_seconds: number;
  max_per_day: number;
  owner: string;
}

export interface LoopRun {
  id: number;
  trigger: string;
  state: string; // skipped, queued, running, gate_failed, failed, pending_approval, promoted, rejected
  reason: string;
  requested_by: string;
  creation_time: number;
  end_time: number;
  model: string;
  version: string;
  alias: string;
}

// A 404 is an answer here ("no monitor", "no rules", "no policy"), not a failure.
async function orNothing<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function getMonitor(name: string, signal?: AbortSignal): Promise<MonitorConfig | null> {
  const reply = await orNothing(api.get<{ monitor: MonitorConfig }>(`${base(name)}/monitor`, undefined, signal));
  return reply?.monitor ?? null;
}

// Windows starting in [fromMs, toMs); the whole history without them.
export async function getDrift(name: string, fromMs?: number, toMs?: number, signal?: AbortSignal): Promise<RangeDrift> {
  return (await api.get<{ drift: RangeDrift }>(`${base(name)}/monitor/drift`, { from: fromMs, to: toMs }, signal)).drift;
}

export async function getWindows(name: string, fromMs?: number, signal?: AbortSignal): Promise<WindowDrift[]> {
  return (await api.get<{ windows: WindowDrift[] }>(`${base(name)}/monitor/windows`, { from: fromMs }, signal)).windows;
}

export async function getAlertRules(name: string, signal?: AbortSignal): Promise<AlertRules | null> {
  const reply = await orNothing(api.get<{ alerts: AlertRules }>(`${base(name)}/alerts`, undefined, signal));
  return reply?.alerts ?? null;
}

export function getAlertHistory(name: string, max: number, signal?: AbortSignal): Promise<AlertHistory> {
  return api.get<AlertHistory>(`${base(name)}/alerts/history`, { max_results: max }, signal);
}

export async function getLoopPolicy(name: string, signal?: AbortSignal): Promise<LoopPolicy | null> {
  const reply = await orNothing(api.get<{ policy: LoopPolicy }>(`${base(name)}/loop`, undefined, signal));
  return reply?.policy ?? null;
}

export async function getLoopRuns(name: string, max: number, signal?: AbortSignal): Promise<LoopRun[]> {
  return (await api.get<{ runs: LoopRun[] }>(`${base(name)}/loop/runs`, { max_results: max }, signal)).runs ?? [];
}

export function monitoringPath(name: string): string {
  return `/deployments/${encodeURIComponent(name)}/monitoring`;
}
