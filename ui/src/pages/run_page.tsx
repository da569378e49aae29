// One run: what it is, its params, latest metrics (one of them charted, or
// each in a grid of charts), tags, dataset inputs, parent and child runs,
// and its artifacts.

import { useEffect, useMemo } from 'preact/hooks';
import { runArtifacts } from '../api/artifact_sources';
import { getExperiment, getRun, searchRuns, tagValue, type KeyValue, type Run } from '../api/mlflow';
import { ArtifactTree } from '../components/artifact_tree';
import { ErrorBox, Loading } from '../components/error_box';
import { MetricChart } from '../components/metric_chart';
import { formatDuration, formatNumber, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link, navigate, setQuery } from '../router';
import { RunTracesLink } from './traces_page';
import { isTrainingRun } from '../api/training';
import { trainingPath } from './training_page';

const PARENT_TAG = 'mlflow.parentRunId';
// The grid of every metric's chart draws this many at most (each is one
// history request); the table's links chart any other.
const GRID_LIMIT = 24;

function runPath(experimentId: string, runId: string) {
  return `/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;
}

export function RunPage({ runId, query }: { runId: string; query: URLSearchParams }) {
  const run = useAsync((signal) => getRun(runId, signal), [runId]);
  if (run.error) return <ErrorBox error={run.error} title="Run" />;
  if (!run.data) return <Loading what="run" />;
  return (
    <RunView run={run.data} chartMetric={query.get('metric')} allCharts={query.get('charts') === 'all'} artifact={query.get('artifact')} />
  );
}

function RunView({ run, chartMetric, allCharts, artifact }: { run: Run; chartMetric: string | null; allCharts: boolean; artifact: string | null }) {
  const info = run.info;
  const experiment = useAsync((signal) => getExperiment(info.experiment_id, signal), [info.experiment_id]);
  const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const tags = [...(run.data.tags ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const parent = tagValue(run, PARENT_TAG);
  // Unless one is asked for, the chart shows the metric with the longest history.
  const longest = metrics.reduce<(typeof metrics)[number] | undefined>((best, m) => (!best || m.step > best.step ? m : best), undefined);
  const shown = chartMetric && metrics.some((m) => m.key === chartMetric) ? chartMetric : longest?.key;
  const artifacts = useMemo(() => runArtifacts(info.run_id), [info.run_id]);

  return (
    <section class="run-page">
      <div class="crumbs">
        <Link href="/experiments">Experiments</Link> /{' '}
        <Link href={`/experiments/${encodeURIComponent(info.experiment_id)}`}>
          {experiment.data?.name ?? info.experiment_id}
        </Link>{' '}
        /
      </div>
      <h1 data-testid="run-name">{info.run_name || info.run_id}</h1>
      <dl class="overview">
        <dt>Run ID</dt>
        <dd>
          <code>{info.run_id}</code>
        </dd>
        <dt>Status</dt>
        <dd>{info.status}</dd>
        <dt>Started</dt>
        <dd>{formatTime(info.start_time)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(info.start_time, info.end_time) || (info.status === 'RUNNING' ? 'running' : '')}</dd>
        <dt>User</dt>
        <dd>{info.user_id}</dd>
        <dt>Source</dt>
        <dd>{tagValue(run, 'mlflow.source.name')}</dd>
        {parent && (
          <>
            <dt>Parent run</dt>
            <dd>
              <Link href={runPath(info.experiment_id, parent)} data-testid="parent-link">
                {parent}
              </Link>
            </dd>
          </>
        )}
        <dt>Artifacts</dt>
        <dd>
          <code>{info.artifact_uri}</code>
        </dd>
        <RunTracesLink experimentId={info.experiment_id} runId={info.run_id} />
        {isTrainingRun(run) && (
          <>
            <dt>Training</dt>
            <dd>
              <Link href={trainingPath(info.run_id)} data-testid="training-link">
                Trials, gates and charts{tagValue(run, 'slipway.gates') ? ` (${tagValue(run, 'slipway.gates')})` : ''}
              </Link>
            </dd>
          </>
        )}
      </dl>

      {shown && (
        <div class="panel">
          <div class="panel-head">
            <h2>{allCharts ? 'Charts' : 'Chart'}</h2>
            {metrics.length > 1 && (
              <div class="segmented" role="group" aria-label="Charts">
                <button type="button" aria-pressed={!allCharts} onClick={() => setQuery({ charts: undefined })}>
                  One metric
                </button>
                <button type="button" aria-pressed={allCharts} onClick={() => setQuery({ charts: 'all', metric: undefined })}>
                  All metrics ({metrics.length})
                </button>
              </div>
            )}
          </div>
          {allCharts && metrics.length > 1 ? (
            <>
              {metrics.length > GRID_LIMIT && (
                <div class="muted">
                  The first {GRID_LIMIT} of {metrics.length} metrics; chart any other from the table.
                </div>
              )}
              <div class="metric-grid" data-testid="metric-grid">
                {metrics.slice(0, GRID_LIMIT).map((m) => (
                  <MetricChart key={m.key} runs={[{ runId: info.run_id, label: info.run_name || info.run_id }]} metricKey={m.key} />
                ))}
              </div>
            </>
          ) : (
            <MetricChart key={shown} runs={[{ runId: info.run_id, label: info.run_name || info.run_id }]} metricKey={shown} />
          )}
        </div>
      )}

      <div class="columns">
        <div class="panel">
          <h2>Parameters ({params.length})</h2>
          <KeyValueTable items={params} testId="params" />
        </div>
        <div class="panel">
          <h2>Metrics ({metrics.length})</h2>
          <table class="kv" data-testid="metrics">
            <thead>
              <tr>
                <th>Metric</th>
                <th class="num">Latest</th>
                <th class="num">Step</th>
                <th>Time</th>
              </tr>
            </thead>
            <tbody>
              {metrics.map((m) => (
                <tr key={m.key} class={m.key === shown ? 'current' : ''}>
                  <td>
                    <a
                      href={`?metric=${encodeURIComponent(m.key)}`}
                      onClick={(event) => {
                        event.preventDefault();
                        setQuery({ metric: m.key, charts: undefined });
                      }}
                      title="Chart this metric"
                    >
                      {m.key}
                    </a>
                  </td>
                  <td class="num">{formatNumber(m.value)}</td>
                  <td class="num">{m.step}</td>
                  <td>{formatTime(m.timestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {metrics.length === 0 && <div class="muted">No metrics.</div>}
        </div>
      </div>

      <div class="columns">
        <div class="panel">
          <h2>Tags ({tags.length})</h2>
          <KeyValueTable items={tags} testId="tags" dim={(key) => key.startsWith('mlflow.')} />
        </div>
        <div class="panel">
          <h2>Inputs</h2>
          <Inputs run={run} />
          <h2>Child runs</h2>
          <ChildRuns run={run} />
        </div>
      </div>

      <div class="panel">
        <h2>Artifacts</h2>
        <ArtifactTree source={artifacts} selected={artifact} />
      </div>
    </section>
  );
}

function KeyValueTable({ items, testId, dim }: { items: KeyValue[]; testId: string; dim?: (key: string) => boolean }) {
  if (items.length === 0) return <div class="muted">None.</div>;
  return (
    <table class="kv" data-testid={testId}>
      <tbody>
        {items.map((item) => (
          <tr key={item.key} class={dim?.(item.key) ? 'dim' : ''}>
            <th>{item.key}</th>
            <td>{item.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Inputs({ run }: { run: Run }) {
  const inputs = run.inputs?.dataset_inputs ?? [];
  if (inputs.length === 0) return <div class="muted">No dataset inputs.</div>;
  return (
    <table class="kv" data-testid="inputs">
      <thead>
        <tr>
          <th>Dataset</th>
          <th>Digest</th>
          <th>Context</th>
          <th>Source</th>
        </tr>
      </thead>
      <tbody>
        {inputs.map((input, i) => (
          <tr key={i}>
            <td>{input.dataset.name}</td>
            <td>
              <code>{input.dataset.digest}</code>
            </td>
            <td>{input.tags?.find((t) => t.key === 'mlflow.data.context')?.value}</td>
            <td>{input.dataset.source_type}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ChildRuns({ run }: { run: Run }) {
  const children = useAsync(
    (signal) =>
      searchRuns(
        {
          experimentIds: [run.info.experiment_id],
          filter: `tags.\`mlflow.parentRunId\` = '${run.info.run_id}'`,
          maxResults: 200,
        },
        signal,
      ),
    [run.info.run_id],
  );
  if (children.error) return <ErrorBox error={children.error} />;
  if (!children.data) return <Loading />;
  const runs = children.data.runs ?? [];
  if (runs.length === 0) return <div class="muted">No child runs.</div>;
  return (
    <ul class="plain" data-testid="child-runs">
      {runs.map((child) => (
        <li key={child.info.run_id}>
          <Link href={runPath(child.info.experiment_id, child.info.run_id)}>{child.info.run_name || child.info.run_id}</Link>{' '}
          <span class="muted">{child.info.status}</span>
        </li>
      ))}
      {children.data.next_page_token && <li class="muted">… more</li>}
    </ul>
  );
}

// /runs/<id>: a run named without its experiment (a model version's source
// run) opens at its canonical path once the run says where it lives.
export function RunRedirect({ runId }: { runId: string }) {
  const run = useAsync((signal) => getRun(runId, signal), [runId]);
  useEffect(() => {
    if (run.data) navigate(runPath(run.data.info.experiment_id, runId), { replace: true });
  }, [run.data, runId]);
  if (run.error) return <ErrorBox error={run.error} title="Run" />;
  return <Loading what="run" />;
}
