// Selected runs side by side: one metric of all of them on one chart, and
// their params and latest metrics in one table, differing rows marked.

import { getRun, type Run } from '../api/mlflow';
import { ErrorBox, Loading } from '../components/error_box';
import { MetricChart } from '../components/metric_chart';
import { formatNumber } from '../lib/format';
import { runFields } from '../lib/run_fields';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';

const MAX_RUNS = 100; // what metrics/get-history-bulk-interval takes at once

export function ComparePage({ query }: { query: URLSearchParams }) {
  const ids = (query.get('runs') ?? '').split(',').filter(Boolean).slice(0, MAX_RUNS);
  const runs = useAsync((signal) => Promise.all(ids.map((id) => getRun(id, signal))), [ids.join(',')]);
  if (ids.length === 0) {
    return (
      <section>
        <h1>Compare runs</h1>
        <p>
          Select runs in an experiment's table, then <em>Compare</em>. <Link href="/experiments">Experiments</Link>
        </p>
      </section>
    );
  }
  if (runs.error) return <ErrorBox error={runs.error} title="Runs" />;
  if (!runs.data) return <Loading what="runs" />;
  return <CompareView runs={runs.data} metric={query.get('metric')} />;
}

function CompareView({ runs, metric }: { runs: Run[]; metric: string | null }) {
  const label = (run: Run) => run.info.run_name || run.info.run_id;
  const union = (pick: (run: Run) => Iterable<string>) => [...new Set(runs.flatMap((run) => [...pick(run)]))].sort();
  const metricKeys = union((run) => runFields(run).metrics.keys());
  const paramKeys = union((run) => runFields(run).params.keys());
  const shown = metric && metricKeys.includes(metric) ? metric : metricKeys[0];
  const experimentId = runs[0].info.experiment_id;

  return (
    <section class="compare-page">
      <div class="crumbs">
        <Link href="/experiments">Experiments</Link> /{' '}
        <Link href={`/experiments/${encodeURIComponent(experimentId)}`}>experiment {experimentId}</Link> /
      </div>
      <h1>Compare {runs.length} runs</h1>
      {shown ? (
        <div class="panel">
          <label>
            Metric{' '}
            <select value={shown} aria-label="metric" onChange={(event) => setQuery({ metric: event.currentTarget.value })}>
              {metricKeys.map((key) => (
                <option key={key} value={key}>
                  {key}
                </option>
              ))}
            </select>
          </label>
          <MetricChart key={shown} runs={runs.map((run) => ({ runId: run.info.run_id, label: label(run) }))} metricKey={shown} />
        </div>
      ) : (
        <p class="muted">These runs have no metrics.</p>
      )}
      <div class="panel scroll-x">
        <table class="kv compare" data-testid="compare-table">
          <thead>
            <tr>
              <th />
              {runs.map((run) => (
                <th key={run.info.run_id}>
                  <Link href={`/experiments/${encodeURIComponent(run.info.experiment_id)}/runs/${encodeURIComponent(run.info.run_id)}`}>
                    {label(run)}
                  </Link>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {paramKeys.map((key) => {
              const values = runs.map((run) => runFields(run).params.get(key) ?? '');
              return (
                <tr key={`p:${key}`} class={new Set(values).size > 1 ? 'differs' : ''}>
                  <th>
                    <span class="col-param">{key}</span>
                  </th>
                  {values.map((value, i) => (
                    <td key={i}>{value}</td>
                  ))}
                </tr>
              );
            })}
            {metricKeys.map((key) => {
              const values = runs.map((run) => formatNumber(runFields(run).metrics.get(key)?.value));
              return (
                <tr key={`m:${key}`} class={new Set(values).size > 1 ? 'differs' : ''}>
                  <th>
                    <span class="col-metric">{key}</span>
                  </th>
                  {values.map((value, i) => (
                    <td key={i} class="num">
                      {value}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
