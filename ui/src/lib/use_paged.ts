// A server-side search read page by page: the first page when `deps`
// change, the next one when loadMore() is called (a table reaching its last
// rows). A search that changes while a page is in flight aborts it, so a
// slow old answer never lands in a new result.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { isAbort } from '../api/client';

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

export interface PagedState<T> {
  items: T[];
  error: unknown;
  loading: boolean;
  complete: boolean;
  loadMore: () => void;
}

export function usePaged<T>(
  fetchPage: (pageToken: string | undefined, signal: AbortSignal) => Promise<Page<T>>,
  deps: unknown[],
): PagedState<T> {
  const [state, setState] = useState({ items: [] as T[], error: undefined as unknown, loading: true, complete: false });
  const search = useRef<{ controller: AbortController; token?: string; busy: boolean; done: boolean } | null>(null);
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;

  const load = useCallback((first: boolean) => {
    const current = search.current;
    if (!current || current.busy || (!first && (current.done || !current.token))) return;
    current.busy = true;
    setState((s) => ({ ...s, loading: true }));
    fetcher.current(first ? undefined : current.token, current.controller.signal).then(
      (page) => {
        if (search.current !== current) return;
        current.busy = false;
        current.token = page.nextPageToken;
        current.done = !page.nextPageToken;
        setState((s) => ({
          items: first ? page.items : s.items.concat(page.items),
          error: undefined,
          loading: false,
          complete: current.done,
        }));
      },
      (error) => {
        if (search.current !== current || isAbort(error)) return;
        current.busy = false;
        current.done = true;
        setState((s) => ({ items: first ? [] : s.items, error, loading: false, complete: true }));
      },
    );
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    search.current = { controller, busy: false, done: false };
    setState({ items: [], error: undefined, loading: true, complete: false });
    load(true);
    return () => controller.abort();
  }, deps);

  const loadMore = useCallback(() => load(false), [load]);
  return { ...state, loadMore };
}
