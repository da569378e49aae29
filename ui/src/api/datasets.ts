// Versioned datasets (/api/v1/datasets, docs/api.md "Datasets"): the list,
// a dataset's versions, one version with its profile, the rules inferred
// from it, a validation against rules, and the diff of two versions, typed
// as the server answers them (src/data/profile.h, dataset_diff.h, drift.h,
// rules.h). With --auth the server lists only what the caller may read and
// refuses the rest.

import { api } from './client';

const BASE = '/api/v1/datasets';

// The drift thresholds a rules file uses when it names none (drift.default
// in src/data/rules.h): past them a column has drifted.
export const DRIFT_THRESHOLDS = { psi: 0.2, ks: 0.1, js: 0.1 } as const;

export interface DatasetSummary {
  name: string;
  latest_version: number;
  version_count: number;
  created_ms: number;
  updated_ms: number;
}

export interface DatasetVersion {
  name: string;
  version: number;
  manifest_digest: string;
  content_digest: string;
  kind: string; // "file" or "folder"
  format: string;
  size_bytes: number;
  row_count: number; // -1 when unknown
  column_count: number;
  source: string;
  description: string;
  created_by: string;
  created_ms: number;
  profile?: DatasetProfile | null;
}

// One bin of a histogram: values in [lower, upper) (the last also holds upper).
export interface HistogramBin {
  lower: number;
  upper: number;
  count: number; // estimated from the KLL sketch
}

export interface ColumnProfile {
  name: string;
  type: string; // "empty", "bool", "int64", "float64", "string"
  count: number; // non-missing values
  missing: number;
  distinct: number; // an estimate unless distinct_exact
  distinct_exact: boolean;
  min_length: number;
  max_length: number;
  // Numeric columns with values only.
  min?: number;
  max?: number;
  mean?: number;
  stddev?: number;
  quantiles?: { q: number; value: number }[];
  histogram?: HistogramBin[];
  // Absent for float columns whose top values are not exact.
  top_values?: { value: string; count: number; count_upper_bound: number }[];
}

export interface DatasetProfile {
  row_count: number;
  columns: ColumnProfile[];
}

export interface RuleResult {
  rule: string; // "rows", "type", "max_missing", "range", "allowed", "unique", "drift.psi", ...
  column: string; // "" for dataset-level rules
  passed: boolean;
  observed: string;
  expected: string;
  message: string;
  lines: number[]; // 1-based CSV lines (the header is line 1)
  offending_rows?: number;
}

export interface ValidationReport {
  ok: boolean;
  rules: number;
  failed: number;
  results: RuleResult[];
  dataset: string; // "name@v"
  content_digest: string;
}

// A statistic before and after; null where it does not apply.
export interface StatisticChange {
  statistic: string; // "rows", "count", "missing_share", "distinct", "mean", "std", "min", "max", "median"
  before: number | null;
  after: number | null;
  delta: number | null;
  relative_delta: number | null;
}

export interface ColumnDrift {
  column: string;
  kind: 'numeric' | 'categorical';
  comparable: boolean;
  note?: string;
  psi: number;
  js: number;
  ks?: number; // numeric only
  ks_p_value?: number;
  bins: number;
  new_categories: string[];
  missing_categories: string[];
  reference_count: number;
  current_count: number;
}

export interface DatasetDiff {
  rows: StatisticChange;
  schema: { added: string[]; removed: string[]; type_changes: { column: string; before: string; after: string }[] };
  columns: {
    column: string;
    type_before: string;
    type_after: string;
    statistics: StatisticChange[];
    drift: ColumnDrift;
  }[];
}

const datasetPath = (name: string) => `${BASE}/${encodeURIComponent(name)}`;
const versionPath = (name: string, version: string | number) =>
  `${datasetPath(name)}/versions/${encodeURIComponent(String(version))}`;

export function listDatasets(signal?: AbortSignal) {
  return api.get<{ datasets?: DatasetSummary[] }>(BASE, undefined, signal);
}

export function listVersions(name: string, signal?: AbortSignal) {
  return api.get<{ versions?: DatasetVersion[] }>(`${datasetPath(name)}/versions`, undefined, signal);
}

export function getVersion(name: string, version: string | number, options: { profile: boolean }, signal?: AbortSignal) {
  return api.get<{ version: DatasetVersion }>(
    versionPath(name, version),
    options.profile ? undefined : { profile: false },
    signal,
  );
}

// The rules inferred from a version's profile, as YAML text (at most 4 MiB).
export async function inferredRules(name: string, version: string | number, signal?: AbortSignal): Promise<string> {
  const { bytes, truncated } = await api.getBytes(`${versionPath(name, version)}/rules`, undefined, 4 << 20, signal);
  const text = new TextDecoder().decode(bytes);
  return truncated ? `${text}\n# … cut at 4 MiB\n` : text;
}

// `reference` ("name@v") overrides the rules' drift.reference.
export function validateVersion(
  name: string,
  version: string | number,
  rules: string,
  reference: string | undefined,
  signal?: AbortSignal,
) {
  return api.post<ValidationReport>(`${versionPath(name, version)}/validate`, { rules, reference: reference || undefined }, signal);
}

// What changed from version `a` (the reference) to version `b`.
export function diffVersions(name: string, a: string | number, b: string | number, signal?: AbortSignal) {
  return api.get<DatasetDiff>(`${versionPath(name, a)}/diff`, { other: `${name}@${b}` }, signal);
}
