// The one place the UI talks to the server. Every call goes through
// ApiClient.request: JSON in and out, same-origin credentials, and every
// failure turned into an ApiError carrying the server's MLflow error
// (`error_code`, `message`) so pages can show it as the server said it.
//
// Browser sessions (api/session.ts) plug in here only: the HttpOnly session
// cookie travels by itself (`credentials: 'same-origin'`; script never sees
// it), the CSRF token the sign-in answered is kept in this object's memory
// (never in localStorage or sessionStorage) and sent on every call that
// changes something, and a 401 is announced through `onUnauthenticated` so
// the shell shows the sign-in page. Every call says `X-Requested-With`, so
// the server's 401 carries no Basic challenge and the browser never opens
// its own password dialog over the page.

export type QueryValue = string | number | boolean | undefined | null | string[];
export type Query = Record<string, QueryValue>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly endpoint: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

// Builds `?a=1&b=x&b=y` (a list repeats its key, as MLflow's GET routes read it).
export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) params.append(key, item);
    } else {
      params.append(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class ApiClient {
  // Set by the sign-in (api/session.ts), in memory only; sent on every call that changes something.
  csrfToken: string | null = null;
  onUnauthenticated: ((error: ApiError) => void) | null = null;

  constructor(private readonly base: string = '') {}

  private headersFor(method: string, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
    if (hasBody) headers['Content-Type'] = 'application/json';
    if (this.csrfToken && CHANGES.has(method)) headers['X-CSRF-Token'] = this.csrfToken;
    return headers;
  }

  // `headers` adds to the usual ones (the sign-in's Authorization);
  // `sessionCall` marks the calls of /api/v1/session, whose 401 (a wrong
  // password, nobody signed in) is their answer, not a session that ended.
  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; signal?: AbortSignal; headers?: Record<string, string>; sessionCall?: boolean } = {},
  ): Promise<T> {
    const endpoint = `${method} ${path}`;
    const hasBody = options.body !== undefined;
    let response: Response;
    try {
      response = await fetch(this.base + path + queryString(options.query), {
        method,
        credentials: 'same-origin',
        headers: { ...this.headersFor(method, hasBody), ...options.headers },
        body: hasBody ? JSON.stringify(options.body) : undefined,
        signal: options.signal,
      });
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError(0, 'NETWORK_ERROR', `The server did not answer: ${String(error)}`, endpoint);
    }
    const text = await response.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!response.ok) {
      const body = (json ?? {}) as { error_code?: unknown; message?: unknown };
      const error = new ApiError(
        response.status,
        typeof body.error_code === 'string' ? body.error_code : `HTTP_${response.status}`,
        typeof body.message === 'string' ? body.message : text.slice(0, 300) || response.statusText,
        endpoint,
      );
      if (response.status === 401 && !options.sessionCall && this.onUnauthenticated) this.onUnauthenticated(error);
      throw error;
    }
    if (text && json === undefined) {
      throw new ApiError(response.status, 'BAD_RESPONSE', 'The server answered with something other than JSON.', endpoint);
    }
    return (json ?? {}) as T;
  }

  // A file's first `maxBytes` bytes (an artifact to preview), with the same
  // headers, credentials and error handling as the JSON calls; the rest is
  // not downloaded (the read stops and the request is cancelled).
  async getBytes(
    path: string,
    query: Query | undefined,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<{ bytes: Uint8Array<ArrayBuffer>; truncated: boolean }> {
    const endpoint = `GET ${path}`;
    let response: Response;
    try {
      response = await fetch(this.base + path + queryString(query), {
        method: 'GET',
        credentials: 'same-origin',
        headers: { ...this.headersFor('GET', false), Accept: '*/*' },
        signal,
      });
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError(0, 'NETWORK_ERROR', `The server did not answer: ${String(error)}`, endpoint);
    }
    if (!response.ok) {
      const text = await response.text();
      let body: { error_code?: unknown; message?: unknown } = {};
      try {
        body = (JSON.parse(text) ?? {}) as typeof body;
      } catch {
        body = {};
      }
      const error = new ApiError(
        response.status,
        typeof body.error_code === 'string' ? body.error_code : `HTTP_${response.status}`,
        typeof body.message === 'string' ? body.message : text.slice(0, 300) || response.statusText,
        endpoint,
      );
      if (response.status === 401 && this.onUnauthenticated) this.onUnauthenticated(error);
      throw error;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    let truncated = false;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
        if (size > maxBytes) {
          truncated = true;
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    } else {
      const all = new Uint8Array(await response.arrayBuffer());
      chunks.push(all);
      size = all.length;
      truncated = size > maxBytes;
    }
    const bytes = new Uint8Array(Math.min(size, maxBytes));
    let at = 0;
    for (const chunk of chunks) {
      const part = chunk.subarray(0, Math.min(chunk.length, bytes.length - at));
      bytes.set(part, at);
      at += part.length;
      if (at >= bytes.length) break;
    }
    return { bytes, truncated };
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, { query, signal });
  }

  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>('POST', path, { body, signal });
  }

  delete<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>('DELETE', path, { body, signal });
  }
}

export const api = new ApiClient();
