// Deployments (/api/v1/deployments, docs/api.md "Deployments"): the models a
// server serves, their versions, traffic split and swap history; the rate
// history the server samples every 5 s; and the viewer's permissions, read
// from the server (/api/3.0/mlflow/users/permissions/get), never guessed.

import { api } from './client';

const BASE = '/api/v1/deployments';

export interface Rates {
  seconds: number;
  requests: number;
  requests_per_s: number;
  errors_per_s: number;
  rows_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
}

export interface DeploymentVersion {
  role: 'primary' | 'canary' | 'shadow';
  model_name: string;
  version: string;
  state: 'ready' | 'loading' | 'failed';
  error?: string;
  time: number;
  requests?: number;
  errors?: number;
  rows?: number;
  latency_p50_ms?: number;
  latency_p99_ms?: number;
  recent?: Rates;
}

export interface DeploymentEvent {
  time: number;
  text: string;
}

export interface Deployment {
  name: string;
  model_uri: string;
  canary_uri: string;
  canary_weight: number;
  shadow_uri: string;
  pinned_version: string;
  previous_version: string;
  /** The model of previous_version ('' in records older than it: the primary's). */
  previous_model: string;
  max_queued: number;
  max_batch_rows: number;
  max_queue_delay_us: number;
  log_sample_rate: number;
  created_by: string;
  creation_time: number;
  last_updated_time: number;
  in_flight: number;
  shadow_dropped: number;
  versions: DeploymentVersion[];
  events: DeploymentEvent[];
}

export interface VersionRates extends Rates {
  role: DeploymentVersion['role'];
  model_name: string;
  version: string;
}

export interface RateSample {
  time: number; // ms, end of the interval
  versions: VersionRates[];
}

export interface RateHistory {
  interval_seconds: number;
  samples: RateSample[];
}

// What PATCH changes; "" removes the canary or the shadow.
export interface DeploymentChange {
  model_uri?: string;
  canary_uri?: string;
  canary_weight?: number;
  shadow_uri?: string;
}

const path = (name: string) => `${BASE}/${encodeURIComponent(name)}`;

export async function listDeployments(signal?: AbortSignal): Promise<Deployment[]> {
  const reply = await api.get<{ deployments?: Deployment[] }>(BASE, undefined, signal);
  return reply.deployments ?? [];
}

export async function getDeployment(name: string, signal?: AbortSignal): Promise<Deployment> {
  return (await api.get<{ deployment: Deployment }>(path(name), undefined, signal)).deployment;
}

export function getRateHistory(name: string, sinceMs: number, signal?: AbortSignal): Promise<RateHistory> {
  return api.get<RateHistory>(`${path(name)}/metrics`, { since_ms: sinceMs }, signal);
}

export async function createDeployment(name: string, modelUri: string): Promise<Deployment> {
  return (await api.post<{ deployment: Deployment }>(BASE, { name, model_uri: modelUri })).deployment;
}

export async function updateDeployment(name: string, change: DeploymentChange): Promise<Deployment> {
  return (await api.request<{ deployment: Deployment }>('PATCH', path(name), { body: change })).deployment;
}

export async function rollbackDeployment(name: string): Promise<Deployment> {
  return (await api.post<{ deployment: Deployment }>(`${path(name)}/rollback`, {})).deployment;
}

// Makes the canary's version the primary and removes the canary, in one
// request (docs/api.md): moves the alias the primary follows, or points the
// primary at the canary's version. 400 INVALID_STATE without a ready canary.
export async function promoteDeployment(name: string): Promise<Deployment> {
  return (await api.post<{ deployment: Deployment }>(`${path(name)}/promote`, {})).deployment;
}

export function deleteDeployment(name: string) {
  return api.delete<object>(path(name));
}

export type PermissionName = 'NO_PERMISSIONS' | 'READ' | 'USE' | 'EDIT' | 'MANAGE';
const ORDER: PermissionName[] = ['NO_PERMISSIONS', 'READ', 'USE', 'EDIT', 'MANAGE'];

// Whether `held` is at least `needed`.
export function allows(held: PermissionName, needed: PermissionName): boolean {
  return ORDER.indexOf(held) >= ORDER.indexOf(needed);
}

// The signed-in user's effective permission on one resource.
export async function myPermission(
  username: string,
  resourceType: 'deployment' | 'registered_model',
  resourceId: string,
  signal?: AbortSignal,
): Promise<PermissionName> {
  const reply = await api.get<{ permission: PermissionName }>(
    '/api/3.0/mlflow/users/permissions/get',
    { username, resource_type: resourceType, resource_id: resourceId },
    signal,
  );
  return reply.permission;
}

// A models:/ reference as the server reads it (serving_service.cc, ModelRef).
export interface ModelRef {
  name: string;
  alias?: string;
  version?: string;
  stage?: string;
}

export function parseModelUri(uri: string): ModelRef | null {
  const scheme = 'models:/';
  if (!uri.startsWith(scheme)) return null;
  const rest = uri.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  const slash = rest.lastIndexOf('/');
  if (at >= 0 && at > slash) {
    const name = rest.slice(0, at);
    const alias = rest.slice(at + 1);
    return name && alias ? { name, alias } : null;
  }
  if (slash < 0) return null;
  const name = rest.slice(0, slash);
  const tail = rest.slice(slash + 1);
  if (!name || !tail) return null;
  return /^\d+$/.test(tail) ? { name, version: tail } : { name, stage: tail };
}

// The version serving `role` now, if one is ready.
export function readyVersion(deployment: Deployment, role: DeploymentVersion['role']): DeploymentVersion | undefined {
  return deployment.versions.find((v) => v.role === role && v.state === 'ready');
}

export function deploymentPath(name: string): string {
  return `/deployments/${encodeURIComponent(name)}`;
}
