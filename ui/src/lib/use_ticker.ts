// Reading something again periodically while the page is visible.
//
// usePoll calls `load` at once, then again `ms` after each answer (or
// failure) arrives, never while a call is in flight: an answer slower than
// `ms` delays the next poll instead of being cancelled by it, so polling
// neither piles up requests nor stalls. A failed poll keeps the last good
// answer (`data`) and says what failed (`error`) until a poll succeeds, so a
// page can show a small "stale" notice over its data instead of replacing
// it. Polling pauses while the tab is hidden and polls at once when it shows
// again. Changing `deps` cancels the call in flight and polls at once
// (keeping `data`: give the component a `key` when `data` must not outlive
// them); changing `ms` only changes the wait.
//
// (It replaces useTicker, a counter for a useAsync's deps that went up every
// `ms`: each tick cancelled the call in flight, so answers slower than `ms`
// never arrived and the page stalled.)

import { useEffect, useRef, useState } from 'preact/hooks';
import { isAbort } from '../api/client';

export interface Poll<T> {
  data: T | undefined; // the last good answer, kept through failures
  error: unknown; // the last poll's failure; undefined once one succeeds
  updated: number; // Date.now() when `data` arrived; 0 before
}

export function usePoll<T>(
  load: (signal: AbortSignal, previous: T | undefined) => Promise<T>,
  deps: unknown[],
  ms: number,
): Poll<T> {
  const [state, setState] = useState<Poll<T>>({ data: undefined, error: undefined, updated: 0 });
  const loader = useRef(load);
  loader.current = load;
  const data = useRef<T | undefined>(undefined);
  const period = useRef(ms);
  const rearm = useRef<(() => void) | null>(null);

  useEffect(() => {
    let disposed = false;
    let inFlight: AbortController | null = null;
    let timer: number | undefined;
    let settled = 0; // when the last poll ended
    const visible = () => document.visibilityState === 'visible';
    const cancelTimer = () => {
      if (timer !== undefined) window.clearTimeout(timer);
      timer = undefined;
    };
    const schedule = () => {
      if (disposed || inFlight || timer !== undefined || !visible()) return;
      timer = window.setTimeout(poll, Math.max(0, settled + period.current - Date.now()));
    };
    const poll = () => {
      timer = undefined;
      if (disposed || inFlight || !visible()) return;
      const controller = new AbortController();
      inFlight = controller;
      const done = () => {
        if (inFlight === controller) inFlight = null;
        settled = Date.now();
        schedule();
      };
      let call: Promise<T>;
      try {
        call = loader.current(controller.signal, data.current);
      } catch (error) {
        call = Promise.reject(error);
      }
      call.then(
        (answer) => {
          if (disposed) return;
          data.current = answer;
          setState({ data: answer, error: undefined, updated: Date.now() });
          done();
        },
        (error) => {
          if (disposed) return;
          if (!isAbort(error)) setState((previous) => ({ ...previous, error }));
          done();
        },
      );
    };
    const onVisibility = () => {
      if (visible()) {
        cancelTimer();
        poll();
      } else {
        cancelTimer();
      }
    };
    rearm.current = () => {
      cancelTimer();
      schedule();
    };
    poll();
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      disposed = true;
      inFlight?.abort();
      cancelTimer();
      rearm.current = null;
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, deps);

  useEffect(() => {
    if (period.current === ms) return;
    period.current = ms;
    rearm.current?.();
  }, [ms]);

  return state;
}
