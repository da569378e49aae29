// Users, their permissions and API tokens (a server with --auth;
// docs/api.md "Users and permissions" and "Slipway's own endpoints"):
// MLflow's basic-auth routes under /ajax-api, Slipway's tokens under
// /api/v1/tokens. The server decides who may do what (users: admins;
// grants: admins or MANAGE on the resource; tokens: the owner or admins).
//
// A token's secret is in the create call's answer only: it is handed to
// the page that shows it once and kept nowhere else.

import { api } from './client';

const USERS = '/ajax-api/2.0/mlflow/users';
const GRANTS = '/ajax-api/3.0/mlflow/users/permissions';
const TOKENS = '/api/v1/tokens';

export interface User {
  id: number;
  username: string;
  is_admin: boolean;
}

export const RESOURCE_TYPES = ['experiment', 'registered_model', 'dataset', 'deployment'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

// As the pickers offer them: READ to MANAGE, each allowing more, then
// NO_PERMISSIONS, which hides a resource from a user whom the default
// permission would let read it.
export const PERMISSIONS = ['READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Grant {
  resource_type: string;
  resource_pattern: string;
  permission: string;
}

export async function listUsers(signal?: AbortSignal): Promise<User[]> {
  const reply = await api.get<{ users?: User[] }>(`${USERS}/list`, undefined, signal);
  return reply.users ?? [];
}

export function createUser(username: string, password: string) {
  return api.post<{ user: User }>(`${USERS}/create`, { username, password });
}

export function updatePassword(username: string, password: string) {
  return api.request<object>('PATCH', `${USERS}/update-password`, { body: { username, password } });
}

export function updateAdmin(username: string, isAdmin: boolean) {
  return api.request<object>('PATCH', `${USERS}/update-admin`, { body: { username, is_admin: isAdmin } });
}

export function deleteUser(username: string) {
  return api.delete<object>(`${USERS}/delete`, { username });
}

export async function listGrants(username: string, signal?: AbortSignal): Promise<Grant[]> {
  const reply = await api.get<{ permissions?: Grant[] }>(`${GRANTS}/list`, { username }, signal);
  return reply.permissions ?? [];
}

export function grantPermission(username: string, type: string, resourceId: string, permission: string) {
  return api.post<object>(`${GRANTS}/grant`, { username, resource_type: type, resource_id: resourceId, permission });
}

export function revokePermission(username: string, type: string, resourceId: string) {
  return api.post<object>(`${GRANTS}/revoke`, { username, resource_type: type, resource_id: resourceId });
}

// What `username` may do on one resource, grants and the default together
// (a user may ask about themselves).
export async function effectivePermission(username: string, type: ResourceType, resourceId: string, signal?: AbortSignal) {
  const reply = await api.get<{ allowed: boolean; permission: string }>(
    `${GRANTS}/get`,
    { username, resource_type: type, resource_id: resourceId },
    signal,
  );
  return reply.permission;
}

export interface TokenInfo {
  id: string;
  username: string;
  name: string;
  created_ms: number;
  expires_ms?: number;
}

// Without `username`: the caller's own tokens, or an admin's view of
// everyone's; another user's by name: admins only.
export async function listTokens(username: string | undefined, signal?: AbortSignal): Promise<TokenInfo[]> {
  const reply = await api.get<{ tokens?: TokenInfo[] }>(TOKENS, { username }, signal);
  return reply.tokens ?? [];
}

export function createToken(options: { name: string; username?: string; expiresInDays?: number }) {
  return api.post<{ token: string; token_info: TokenInfo }>(TOKENS, {
    name: options.name || undefined,
    username: options.username,
    expires_in_days: options.expiresInDays,
  });
}

export function revokeToken(id: string) {
  return api.delete<object>(`${TOKENS}/${encodeURIComponent(id)}`);
}
