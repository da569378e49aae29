// A training run (`slipway train`) as one page: its verdict, spec and data,
// the gate table and the champion/challenger comparison, its trials (a
// table, and the optimised metric per trial on a chart), the metric
// histories of the best trials, and the charts its evaluation logged.
//
// Everything comes from what the run records (api/training.ts): its tags,
// params and metrics, its child runs, model_card.md and the SVG files under
// evaluation/, fairness/ and robustness/. The SVGs are fetched as bytes and
// shown as <img> from a blob URL, never put into the page as markup, so a
// script inside one does not run.

import { useMemo } from 'preact/hooks';
import { getArtifactBytes, getExperiment, getRun, listArtifacts, tagValue, type FileInfo, type Run } from '../api/mlflow';
import {
  cardFact,
  chartFiles,
  gateRows,
  isTrainingRun,
  modelCard,
  trainingTrials,
  trialOf,
  type ChampionComparison,
  type GateRow,
  type Trial,
} from '../api/training';
import { ImagePreview } from '../components/artifact_preview';
import { Chart, type ChartSeries } from '../components/chart';
import { ErrorBox, Loading } from '../components/error_box';
import { MetricChart } from '../components/metric_chart';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatDuration, formatNumber, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';

// How many of the best trials the learning curves draw.
const BEST_CURVES = 5;
const MAX_SVG_BYTES = 2 * 1024 * 1024;
const MAX_SPEC_BYTES = 64 * 1024;

// Metrics where greater is better (src/training/spec.cc's table); any other
// (rmse, mae, mape, log_loss, brier) is a loss.
const GREATER = new Set(['roc_auc', 'pr_auc', 'accuracy', 'f1', 'f1_macro', 'precision', 'recall', 'r2']);

export function runPath(run: Run): string {
  return `/experiments/${encodeURIComponent(run.info.experiment_id)}/runs/${encodeURIComponent(run.info.run_id)}`;
}

export function trainingPath(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}/training`;
}

function paramOf(run: Run, key: string): string | undefined {
  return run.data.params?.find((p) => p.key === key)?.value;
}

export function TrainingPage({ runId, query }: { runId: string; query: URLSearchParams }) {
  const run = useAsync((signal) => getRun(runId, signal), [runId]);
  if (run.error) return <ErrorBox error={run.error} title="Run" />;
  if (!run.data) return <Loading what="run" />;
  if (!isTrainingRun(run.data)) {
    return (
      <section>
        <h1>Training</h1>
        <p data-testid="not-training">
          Run <Link href={runPath(run.data)}>{run.data.info.run_name || runId}</Link> was not made by{' '}
          <code>slipway train</code> (it has no <code>slipway.spec</code> tag).
        </p>
      </section>
    );
  }
  return <TrainingView run={run.data} query={query} />;
}

function TrainingView({ run, query }: { run: Run; query: URLSearchParams }) {
  const info = run.info;
  const experiment = useAsync((signal) => getExperiment(info.experiment_id, signal), [info.experiment_id]);
  // The run's top folder and its model card, read once together so the
  // gate table is drawn once, with the card's columns.
  const files = useAsync(async (signal) => {
    const top = await listArtifacts(info.run_id, undefined, signal);
    return { top, card: await modelCard(info.run_id, top, signal) };
  }, [info.run_id]);
  const top = files.data?.top;
  const card = files.data?.card ?? null;
  const trials = useAsync((signal) => trainingTrials(run, signal), [info.run_id]);

  const verdict = tagValue(run, 'slipway.gates');
  const metric = paramOf(run, 'metric') ?? '';
  const dataset = tagValue(run, 'slipway.dataset') ?? paramOf(run, 'data');
  const datasetLink = dataset && /^(.+)@(\d+)$/.exec(dataset);
  const commit = tagValue(run, 'slipway.git.commit');
  // The gate table waits for the card (its columns), unless there is none.
  // Without the card (none, or it could not be read), from the tags alone.
  const gates = useMemo(() => (files.loading ? null : gateRows(run, card)), [run, card, files.loading]);
  const registered = card ? cardFact(card, 'registered as') : undefined;

  return (
    <section class="training-page">
      <div class="crumbs">
        <Link href="/experiments">Experiments</Link> /{' '}
        <Link href={`/experiments/${encodeURIComponent(info.experiment_id)}`}>{experiment.data?.name ?? info.experiment_id}</Link> /{' '}
        <Link href={runPath(run)}>{info.run_name || info.run_id}</Link> /
      </div>
      <h1>
        <span data-testid="training-title">Training {info.run_name || info.run_id}</span>{' '}
        <Verdict verdict={verdict} />
      </h1>
      <dl class="overview">
        <dt>Spec</dt>
        <dd data-testid="training-spec">
          <code>{tagValue(run, 'slipway.spec')}</code>
        </dd>
        <dt>Dataset</dt>
        <dd data-testid="training-dataset">
          {datasetLink ? (
            <Link href={`/datasets/${encodeURIComponent(datasetLink[1])}/versions/${encodeURIComponent(datasetLink[2])}`}>{dataset}</Link>
          ) : (
            dataset
          )}
        </dd>
        <dt>Model</dt>
        <dd>
          {paramOf(run, 'model.type')} · {paramOf(run, 'task')} on <code>{paramOf(run, 'target')}</code>
        </dd>
        <dt>Optimises</dt>
        <dd data-testid="training-metric">
          {metric} ({GREATER.has(metric) ? 'greater is better' : 'smaller is better'}), {paramOf(run, 'cv.folds')}-fold{' '}
          {paramOf(run, 'cv.scheme')} cross-validation
        </dd>
        {tagValue(run, 'slipway.tuning') && (
          <>
            <dt>Tuning</dt>
            <dd>{tagValue(run, 'slipway.tuning')}</dd>
          </>
        )}
        {registered && (
          <>
            <dt>Registered as</dt>
            <dd>
              <Link href={`/models/${encodeURIComponent(registered)}`}>{registered}</Link>
            </dd>
          </>
        )}
        <dt>Status</dt>
        <dd>
          {info.status}, {formatTime(info.start_time)}, {formatDuration(info.start_time, info.end_time)}
        </dd>
        <dt>Provenance</dt>
        <dd class="muted">
          Slipway {tagValue(run, 'slipway.version') ?? '?'}
          {commit && <> · commit <code>{commit.slice(0, 12)}</code></>}
          {(run.data.tags ?? [])
            .filter((t) => t.key.startsWith('slipway.library.') && t.value)
            .map((t) => (
              <span key={t.key}>
                {' '}
                · {t.key.slice('slipway.library.'.length)} {t.value}
              </span>
            ))}
        </dd>
        <dt>Run</dt>
        <dd>
          <Link href={runPath(run)} data-testid="run-link">
            {info.run_id}
          </Link>
        </dd>
      </dl>

      <div class="panel">
        <h2>Gates</h2>
        {gates === null ? <Loading what="gates" /> : <GateTable gates={gates} />}
      </div>

      {gates?.some((g) => g.champion) && (
        <div class="panel" data-testid="champion">
          <h2>Champion / challenger</h2>
          {gates
            .filter((g) => g.champion)
            .map((g) => (
              <ChampionPanel key={g.index} gate={g} comparison={g.champion!} model={registered} />
            ))}
        </div>
      )}

      {trials.error && <ErrorBox error={trials.error} title="Trials" />}
      {!trials.data && !trials.error && <Loading what="trials" />}
      {trials.data && (
        <Trials
          runs={trials.data.runs}
          more={trials.data.more}
          metric={metric}
          bestTrial={paramOf(run, 'tuning.best_trial')}
          sort={query.get('sort')}
          curve={query.get('curve')}
        />
      )}

      <div class="panel">
        <h2>Evaluation charts</h2>
        {files.error && <ErrorBox error={files.error} title="Artifacts" />}
        {top && <EvaluationCharts runId={info.run_id} runHref={runPath(run)} top={top} />}
      </div>

      {top?.some((f) => f.path === 'spec.yaml') && (
        <div class="panel">
          <SpecText runId={info.run_id} />
        </div>
      )}
    </section>
  );
}

function Verdict({ verdict }: { verdict: string | undefined }) {
  if (verdict === 'PASSED' || verdict === 'FAILED') {
    return (
      <span class={`verdict ${verdict === 'PASSED' ? 'ok' : 'bad'}`} data-testid="verdict">
        {verdict}
      </span>
    );
  }
  return (
    <span class="verdict none" data-testid="verdict">
      no gates
    </span>
  );
}

function GateTable({ gates }: { gates: GateRow[] }) {
  if (gates.length === 0) return <div class="muted">The spec has no gates.</div>;
  return (
    <table class="kv gates" data-testid="gate-table">
      <thead>
        <tr>
          <th>Gate</th>
          <th class="num">Value</th>
          <th>Threshold / margin</th>
          <th>Interval of the improvement</th>
          <th>Result</th>
        </tr>
      </thead>
      <tbody>
        {gates.map((g) => (
          <tr key={g.index} data-passed={String(g.passed)} class={g.passed ? '' : 'gate-failed'}>
            <td>
              <code class="gate-rule">{g.rule}</code>
              {g.detail && <div class="muted gate-detail">{g.detail}</div>}
            </td>
            <td class="num">{g.value}</td>
            <td>{g.threshold}</td>
            <td>{g.interval}</td>
            <td class={`gate-result ${g.passed ? 'ok' : 'bad'}`}>{g.passed ? 'passed' : 'FAILED'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ChampionPanel({ gate, comparison: c, model }: { gate: GateRow; comparison: ChampionComparison; model?: string }) {
  const championLabel = c.version ? `version ${c.version}` : `@${c.alias}`;
  return (
    <div class="champion" data-testid="champion-gate">
      <p>
        <code>{gate.rule}</code>:{' '}
        <strong class={gate.passed ? 'ok' : 'bad'}>{gate.passed ? 'the challenger passes' : 'the challenger does not pass'}</strong>
      </p>
      {c.champion === undefined ? (
        <p class="muted" data-testid="champion-note">
          {c.note === 'no champion' || !c.note ? `No model held @${c.alias}: nothing to beat, so the gate passes.` : `The champion ${c.note}.`}
        </p>
      ) : (
        <table class="kv" data-testid="champion-table">
          <thead>
            <tr>
              <th />
              <th class="num">{c.metric} on the holdout</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th>Challenger (this run)</th>
              <td class="num">{formatNumber(c.candidate)}</td>
            </tr>
            <tr>
              <th>
                Champion @{c.alias},{' '}
                {model && c.version ? (
                  <Link href={`/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(c.version)}`}>{championLabel}</Link>
                ) : (
                  championLabel
                )}
              </th>
              <td class="num">{formatNumber(c.champion)}</td>
            </tr>
            <tr>
              <th>Difference (required margin {c.margin})</th>
              <td class="num">{c.difference === undefined ? '' : (c.difference >= 0 ? '+' : '') + c.difference.toFixed(4)}</td>
            </tr>
            {c.interval && (
              <tr>
                <th>{c.confidence} interval of the improvement (paired bootstrap)</th>
                <td class="num" data-testid="champion-interval">
                  [{c.interval[0] >= 0 ? '+' : ''}
                  {c.interval[0].toFixed(4)}, {c.interval[1] >= 0 ? '+' : ''}
                  {c.interval[1].toFixed(4)}]
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {c.interval && (
        <IntervalBar interval={c.interval} margin={Number(c.margin)} />
      )}
    </div>
  );
}

// The interval of the improvement against zero and the margin, drawn as a
// bar: the gate passes when the whole bar is right of the margin.
function IntervalBar({ interval, margin }: { interval: [number, number]; margin: number }) {
  const low = Math.min(interval[0], 0, margin);
  const high = Math.max(interval[1], 0, margin);
  const span = high - low || 1;
  const pad = span * 0.1;
  const x = (v: number) => ((v - low + pad) / (span + 2 * pad)) * 400;
  return (
    <svg class="interval-bar" viewBox="0 0 400 36" width="400" height="36" role="img" aria-label="interval of the improvement">
      <line x1={x(0)} x2={x(0)} y1="2" y2="34" class="zero" />
      {Number.isFinite(margin) && margin !== 0 && <line x1={x(margin)} x2={x(margin)} y1="2" y2="34" class="margin" />}
      <rect x={x(interval[0])} y="12" width={Math.max(1, x(interval[1]) - x(interval[0]))} height="12" class="interval" />
      <text x={x(0) + 3} y="10">0</text>
      {Number.isFinite(margin) && margin !== 0 && (
        <text x={x(margin) + 3} y="34">
          margin
        </text>
      )}
    </svg>
  );
}

function Trials({
  runs,
  more,
  metric,
  bestTrial,
  sort,
  curve,
}: {
  runs: Run[];
  more: boolean;
  metric: string;
  bestTrial: string | undefined;
  sort: string | null;
  curve: string | null;
}) {
  const greater = GREATER.has(metric);
  const trials = useMemo(() => runs.map((r) => trialOf(r, metric)), [runs, metric]);
  // The best trial's row is its last rung.
  const bestRunId = useMemo(() => {
    const mine = trials.filter((t) => bestTrial !== undefined && String(t.trial) === bestTrial);
    mine.sort((a, b) => (b.rung ?? 0) - (a.rung ?? 0));
    return mine[0]?.run.info.run_id;
  }, [trials, bestTrial]);
  const byScore = (a: Trial, b: Trial) =>
    (a.score === undefined ? 1 : 0) - (b.score === undefined ? 1 : 0) || (greater ? (b.score ?? 0) - (a.score ?? 0) : (a.score ?? 0) - (b.score ?? 0));
  const rows = useMemo(() => {
    const list = [...trials];
    if (sort === 'metric') list.sort((a, b) => byScore(a, b) || (a.trial ?? 0) - (b.trial ?? 0));
    else list.sort((a, b) => (a.trial ?? 1e9) - (b.trial ?? 1e9) || (a.rung ?? 0) - (b.rung ?? 0));
    return list;
  }, [trials, sort]);
  const rungs = new Set(trials.map((t) => t.rung ?? 0));

  if (trials.length === 0) {
    return (
      <div class="panel">
        <h2>Trials</h2>
        <div class="muted" data-testid="no-trials">
          No trials: the spec has no search, so the run trained its parameters once.
        </div>
      </div>
    );
  }

  const columns: Column<Trial>[] = [
    {
      id: 'trial',
      header: 'Trial',
      width: 90,
      sortable: true,
      render: (t) => (
        <span class="trial-number">
          {t.trial ?? '—'}
          {t.run.info.run_id === bestRunId && (
            <span class="best" data-testid="best-trial" title="the trial the run kept">
              {' '}
              best
            </span>
          )}
        </span>
      ),
    },
    ...(rungs.size > 1 ? [{ id: 'rung', header: 'Rung', width: 60, align: 'right' as const, render: (t: Trial) => t.rung ?? '' }] : []),
    {
      id: 'metric',
      header: `cv ${metric}`,
      width: 200,
      align: 'right',
      sortable: true,
      render: (t) => (
        <span class="trial-score">
          {formatNumber(t.score)}
          {t.scoreStd !== undefined && <span class="muted"> ± {formatNumber(t.scoreStd)}</span>}
        </span>
      ),
    },
    {
      id: 'params',
      header: 'Parameters',
      width: 560,
      render: (t) => <span class="trial-params">{t.params.map((p) => `${p.key}=${p.value}`).join('  ')}</span>,
    },
    {
      id: 'run',
      header: 'Run',
      width: 200,
      render: (t) => (
        <span>
          <Link href={runPath(t.run)}>{t.run.info.run_name || t.run.info.run_id}</Link>{' '}
          {t.run.info.status !== 'FINISHED' && <span class="muted">{t.run.info.status}</span>}
        </span>
      ),
    },
  ];

  const best = [...trials].filter((t) => t.score !== undefined).sort(byScore);
  // One run per trial for the curves: its last rung.
  const bestRuns: Trial[] = [];
  for (const t of best) {
    if (bestRuns.length >= BEST_CURVES) break;
    if (!bestRuns.some((b) => b.trial === t.trial)) bestRuns.push(t);
  }

  return (
    <>
      <div class="panel">
        <div class="panel-head">
          <h2>
            Trials ({trials.length}
            {more ? '+' : ''})
          </h2>
          {more && <span class="muted">The first {trials.length} trials are shown.</span>}
        </div>
        <TrialChart trials={trials} metric={metric} greater={greater} />
        <VirtualTable
          columns={columns}
          rows={rows}
          rowKey={(t) => t.run.info.run_id}
          sort={sort === 'metric' ? { column: 'metric', ascending: !greater } : { column: 'trial', ascending: true }}
          onSort={(column) => setQuery({ sort: column === 'metric' ? 'metric' : undefined })}
          label="Trials"
          testId="trials-table"
        />
      </div>
      <LearningCurves trials={bestRuns} metric={metric} curve={curve} />
    </>
  );
}

// The optimised metric per trial (one series per rung), and the best so far
// when there is one rung.
function TrialChart({ trials, metric, greater }: { trials: Trial[]; metric: string; greater: boolean }) {
  const series = useMemo(() => {
    const byRung = new Map<number, Trial[]>();
    for (const t of trials) {
      if (t.trial === null || t.score === undefined) continue;
      const rung = t.rung ?? 0;
      if (!byRung.has(rung)) byRung.set(rung, []);
      byRung.get(rung)!.push(t);
    }
    const rungs = [...byRung.keys()].sort((a, b) => a - b);
    const out: ChartSeries[] = rungs.map((rung) => {
      const list = byRung.get(rung)!.sort((a, b) => a.trial! - b.trial!);
      return { label: rungs.length > 1 ? `${metric}, rung ${rung}` : metric, x: list.map((t) => t.trial!), y: list.map((t) => t.score!) };
    });
    // With rungs (successive halving) the later rungs' fewer trials are not
    // a sequence to take the best of.
    if (rungs.length === 1) {
      const last = byRung.get(rungs[0])!;
      let bestSoFar: number | undefined;
      const y = last.map((t) => {
        const s = t.score!;
        bestSoFar = bestSoFar === undefined ? s : greater ? Math.max(bestSoFar, s) : Math.min(bestSoFar, s);
        return bestSoFar;
      });
      out.push({ label: 'best so far', x: last.map((t) => t.trial!), y });
    }
    return out;
  }, [trials, metric, greater]);
  if (series.length === 0) return null;
  return (
    <div class="trial-chart" data-testid="trial-chart">
      <Chart series={series} xMode="step" xLabel="trial" xIntegers logY={false} smoothing={0} height={240} />
    </div>
  );
}

// Metric histories of the best trials: the metrics they logged at more
// than one step (a learning curve by boosting round, the folds of a cv
// metric), one chosen at a time (`curve` in the query).
function LearningCurves({ trials, metric, curve }: { trials: Trial[]; metric: string; curve: string | null }) {
  const keys = useMemo(() => {
    const found = new Set<string>();
    for (const t of trials) for (const m of t.run.data.metrics ?? []) if (m.step > 0) found.add(m.key);
    return [...found].sort();
  }, [trials]);
  if (keys.length === 0) return null;
  // Learning curves first (a metric that is not a per-fold cv value, the
  // optimised one if it has one), then the optimised metric's folds.
  const curves = keys.filter((k) => !k.startsWith('cv.'));
  const preferred = curves.find((k) => k.includes(metric)) ?? curves[0] ?? keys.find((k) => k === `cv.${metric}`) ?? keys[0];
  const shown = curve && keys.includes(curve) ? curve : preferred;
  return (
    <div class="panel" data-testid="learning-curves">
      <div class="panel-head">
        <h2>Best {trials.length === 1 ? 'trial' : `${trials.length} trials`}: metric histories</h2>
        <label>
          Metric{' '}
          <select value={shown} aria-label="history metric" onChange={(event) => setQuery({ curve: event.currentTarget.value })}>
            {keys.map((key) => (
              <option key={key} value={key}>
                {key}
              </option>
            ))}
          </select>
        </label>
      </div>
      <MetricChart
        key={shown}
        runs={trials.map((t) => ({ runId: t.run.info.run_id, label: t.run.info.run_name || `trial ${t.trial}` }))}
        metricKey={shown}
      />
    </div>
  );
}

function EvaluationCharts({ runId, runHref, top }: { runId: string; runHref: string; top: FileInfo[] }) {
  const files = useAsync((signal) => chartFiles(runId, top, signal), [runId, top]);
  if (files.error) return <ErrorBox error={files.error} title="Charts" />;
  if (!files.data) return <Loading what="charts" />;
  if (files.data.length === 0) {
    return (
      <div class="muted" data-testid="no-charts">
        No charts (SVG files) under evaluation/, fairness/ or robustness/.
      </div>
    );
  }
  return (
    <div class="svg-grid" data-testid="evaluation-charts">
      {files.data.map((file) => (
        <SvgFigure key={file.path} runId={runId} runHref={runHref} file={file} />
      ))}
    </div>
  );
}

function SvgFigure({ runId, runHref, file }: { runId: string; runHref: string; file: FileInfo }) {
  const bytes = useAsync((signal) => getArtifactBytes(runId, file.path, MAX_SVG_BYTES, signal), [runId, file.path]);
  return (
    <figure class="svg-chart" data-testid="svg-chart" data-path={file.path}>
      {bytes.error && <ErrorBox error={bytes.error} />}
      {bytes.data &&
        (bytes.data.truncated ? (
          <div class="muted">Larger than 2 MB; open it from the run's artifacts.</div>
        ) : (
          <ImagePreview bytes={bytes.data.bytes} type="image/svg+xml" alt={file.path} />
        ))}
      <figcaption>
        <Link href={`${runHref}?artifact=${encodeURIComponent(file.path)}`}>{file.path}</Link>
      </figcaption>
    </figure>
  );
}

function SpecText({ runId }: { runId: string }) {
  const spec = useAsync((signal) => getArtifactBytes(runId, 'spec.yaml', MAX_SPEC_BYTES, signal), [runId]);
  return (
    <details data-testid="spec-yaml">
      <summary>
        <strong>spec.yaml</strong> <span class="muted">as trained</span>
      </summary>
      <ErrorBox error={spec.error} />
      {spec.data && <pre class="preview-text">{new TextDecoder().decode(spec.data.bytes)}</pre>}
    </details>
  );
}
