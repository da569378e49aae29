// Browser sessions (/api/v1/session, docs/api.md "Browser sessions"): who is
// signed in, sign-in with a user name and password (sent once, as HTTP Basic
// credentials, to start the session; the server answers an HttpOnly cookie
// that script never sees, and the CSRF token), and sign-out.
//
// The CSRF token lives in `api.csrfToken` (memory) only: a reload asks the
// server again (GET answers it for the cookie's session).

import { api } from './client';

const PATH = '/api/v1/session';

export interface SessionUser {
  username: string;
  is_admin: boolean;
}

export interface Session {
  auth: boolean;
  user?: SessionUser | null; // null: nobody is signed in
  csrf_token?: string;
  expires_ms?: number;
}

// `{auth: false}` on a server without --auth; `{auth: true, user: null}` when the
// request carries no credentials; a 401 (ApiError) for a session that has ended.
export async function getSession(signal?: AbortSignal): Promise<Session> {
  const session = await api.request<Session>('GET', PATH, { signal, sessionCall: true });
  api.csrfToken = session.csrf_token ?? null;
  return session;
}

// Basic credentials are user:password in UTF-8, then Base64 (RFC 7617).
function basic(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

export async function signIn(username: string, password: string): Promise<Session> {
  const session = await api.request<Session>('POST', PATH, {
    headers: { Authorization: basic(username, password) },
    sessionCall: true,
  });
  api.csrfToken = session.csrf_token ?? null;
  return session;
}

export async function signOut(): Promise<void> {
  try {
    await api.request('DELETE', PATH, { sessionCall: true });
  } finally {
    api.csrfToken = null;
  }
}
