// The model registry (MLflow's registered-models and model-versions routes,
// under /ajax-api/2.0/mlflow) and Slipway's lineage and model cards
// (/api/v1), typed as the server answers them (docs/api.md).

import { api } from './client';
import type { Run } from './mlflow';

const BASE = '/ajax-api/2.0/mlflow';

export interface ModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: { key: string; value: string }[];
  aliases?: ModelAlias[];
}

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  run_link?: string;
  model_id?: string;
  status?: string;
  status_message?: string;
  tags?: { key: string; value: string }[];
  aliases?: string[];
  user_id?: string;
}

// A quoted string in the server's filter grammar: a quote inside is doubled.
export function quoteValue(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

export function searchRegisteredModels(
  options: { filter?: string; pageToken?: string; maxResults?: number },
  signal?: AbortSignal,
) {
  return api.get<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
    `${BASE}/registered-models/search`,
    {
      filter: options.filter || undefined,
      max_results: options.maxResults ?? 200,
      page_token: options.pageToken,
      order_by: ['name ASC'],
    },
    signal,
  );
}

export async function getRegisteredModel(name: string, signal?: AbortSignal) {
  const reply = await api.get<{ registered_model: RegisteredModel }>(`${BASE}/registered-models/get`, { name }, signal);
  return reply.registered_model;
}

export function searchModelVersions(
  name: string,
  options: { pageToken?: string; maxResults?: number },
  signal?: AbortSignal,
) {
  return api.get<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
    `${BASE}/model-versions/search`,
    {
      filter: `name = ${quoteValue(name)}`,
      max_results: options.maxResults ?? 200,
      page_token: options.pageToken,
      order_by: ['version_number DESC'],
    },
    signal,
  );
}

export async function getModelVersion(name: string, version: string, signal?: AbortSignal) {
  const reply = await api.get<{ model_version: ModelVersion }>(`${BASE}/model-versions/get`, { name, version }, signal);
  return reply.model_version;
}

export function setAlias(name: string, alias: string, version: string) {
  return api.post<object>(`${BASE}/registered-models/alias`, { name, alias, version });
}

export function deleteAlias(name: string, alias: string) {
  return api.delete<object>(`${BASE}/registered-models/alias`, { name, alias });
}

// MLflow's stages (deprecated in MLflow in favour of aliases, still served).
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];

// `archiveExisting`: the versions now in `stage` move to Archived.
export async function transitionStage(name: string, version: string, stage: Stage, archiveExisting: boolean) {
  const reply = await api.post<{ model_version: ModelVersion }>(`${BASE}/model-versions/transition-stage`, {
    name,
    version,
    stage,
    archive_existing_versions: archiveExisting,
  });
  return reply.model_version;
}

export interface DatasetRef {
  name: string;
  digest: string;
  source_type?: string;
  source?: string;
  context?: string;
}

export interface RunRef {
  run_id: string;
  run_name?: string;
  status?: string;
}

export interface Lineage {
  model_version: ModelVersion;
  logged_model?: { info: { model_id: string; name?: string; experiment_id?: string; source_run_id?: string } };
  run?: Run;
  code: { git_commit?: string; source_name?: string; source_type?: string };
  datasets: DatasetRef[];
  parent_run?: RunRef;
  child_runs: RunRef[];
  withheld: string[];
}

function versionPath(name: string, version: string) {
  return `${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
}

export function getLineage(name: string, version: string, signal?: AbortSignal) {
  return api.get<Lineage>(`/api/v1/lineage/model-versions/${versionPath(name, version)}`, undefined, signal);
}

export interface ModelCard {
  name: string;
  version: string;
  stage?: string;
  aliases: string[];
  intended_use?: string;
  owners: string[];
  training_data: DatasetRef[];
  parameters: Record<string, string>;
  metrics: Record<string, number | string>;
  validation: Record<string, string>;
  approvals: Record<string, string>;
  lineage: Record<string, string>;
  withheld: string[];
  creation_timestamp?: number;
}

export function cardUrl(name: string, version: string): string {
  return `/api/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/card`;
}

export function getModelCard(name: string, version: string, signal?: AbortSignal) {
  return api.get<ModelCard>(cardUrl(name, version), { format: 'json' }, signal);
}
