// Loads data for a component: runs `load` again whenever `deps` change,
// aborts the previous call's request, and never applies a stale answer.

import { useEffect, useState } from 'preact/hooks';
import { isAbort } from '../api/client';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
}

export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ data: previous.data, error: undefined, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error) => {
        if (!controller.signal.aborted && !isAbort(error)) {
          setState({ data: undefined, error, loading: false });
        }
      },
    );
    return () => controller.abort();
  }, deps);
  return state;
}
