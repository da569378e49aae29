// A run's metrics, params and tags as maps, built once per run object (the
// table reads a few cells of each visible row on every scroll).

import type { Metric, Run } from '../api/mlflow';

export interface RunFields {
  metrics: Map<string, Metric>;
  params: Map<string, string>;
  tags: Map<string, string>;
}

const cache = new WeakMap<Run, RunFields>();

export function runFields(run: Run): RunFields {
  let fields = cache.get(run);
  if (!fields) {
    fields = {
      metrics: new Map((run.data.metrics ?? []).map((m) => [m.key, m])),
      params: new Map((run.data.params ?? []).map((p) => [p.key, p.value])),
      tags: new Map((run.data.tags ?? []).map((t) => [t.key, t.value])),
    };
    cache.set(run, fields);
  }
  return fields;
}
