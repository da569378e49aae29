// One deployment's monitoring (issue 15, "reports people look at"): the
// monitor's configuration; drift per feature over the stored windows (the
// PSI the monitor decides on, one line per feature, its thresholds drawn)
// with a sortable table of the latest window; the distribution of a chosen
// feature in the reference and in the latest window or the whole range
// shown; live accuracy per window with the labelled rows and the label
// delay; the alerts (firing now, and their history) and the closed loop's
// runs. Reads only the REST API (api/monitoring.ts); changes nothing.
//
// What is fetched: the monitor once; the windows of the range shown, again
// 15 s after each answer while the page is visible; the range's drift
// (for its distributions) when the range, the latest window or the choice
// changes; alerts and loop runs every 15 s. The view (range, sort, feature,
// distribution side) is in the query string.

import { useMemo, useState } from 'preact/hooks';
import {
  getAlertHistory,
  getAlertRules,
  getDrift,
  getLoopPolicy,
  getLoopRuns,
  getMonitor,
  getWindows,
  type AlertHistory,
  type FeatureDrift,
  type LiveAccuracy,
  type MonitorConfig,
  type WindowDrift,
} from '../api/monitoring';
import { deploymentPath } from '../api/deployments';
import { Chart, type ChartSeries, type XMode } from '../components/chart';
import { DistributionChart, DistributionCounts } from '../components/distribution_chart';
import { ErrorBox, Loading } from '../components/error_box';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatNumber, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { usePoll, type Poll } from '../lib/use_ticker';
import { Link, setQuery } from '../router';
import { StaleNotice } from './deployments_page';

const POLL_MS = 15000;

const RANGES: { id: string; label: string; ms?: number }[] = [
  { id: '1h', label: 'last hour', ms: 3600e3 },
  { id: '24h', label: 'last day', ms: 86400e3 },
  { id: '7d', label: 'last week', ms: 7 * 86400e3 },
  { id: 'all', label: 'all windows' },
];

export function MonitoringPage({ name, query }: { name: string; query: URLSearchParams }) {
  return <MonitoringView key={name} name={name} query={query} />;
}

function MonitoringView({ name, query }: { name: string; query: URLSearchParams }) {
  const monitor = useAsync((signal) => getMonitor(name, signal), [name]);
  return (
    <section class="monitoring-page">
      <div class="crumbs">
        <Link href="/deployments">Deployments</Link> / <Link href={deploymentPath(name)}>{name}</Link> /
      </div>
      <h1>
        Monitoring <span data-testid="deployment-name">{name}</span>
      </h1>
      {monitor.error ? (
        <ErrorBox error={monitor.error} title="Monitor" />
      ) : monitor.data === undefined ? (
        <Loading what="monitor" />
      ) : monitor.data === null ? (
        <NoMonitor name={name} />
      ) : (
        <Monitored name={name} config={monitor.data} query={query} />
      )}
      <AlertsPanel name={name} />
      <LoopPanel name={name} />
    </section>
  );
}

function NoMonitor({ name }: { name: string }) {
  return (
    <div class="panel" data-testid="no-monitor">
      <h2>No monitor</h2>
      <p>
        <strong>{name}</strong> has no monitor: its traffic is not compared with a reference and feedback is not joined. Set
        one with the CLI or the REST API:
      </p>
      <pre class="preview-text">
        {`slipway monitor set ${name} --window 5m --features all\n` +
          `curl -X PUT -d '{"window": "5m"}' $SLIPWAY/api/v1/deployments/${name}/monitor`}
      </pre>
      <p class="muted">The reference defaults to the dataset version in the served model's lineage (docs/monitoring_live.md).</p>
    </div>
  );
}

function Monitored({ name, config, query }: { name: string; config: MonitorConfig; query: URLSearchParams }) {
  const range = RANGES.find((r) => r.id === query.get('range')) ?? RANGES[1];
  const windows = usePoll(
    (signal) => getWindows(name, range.ms === undefined ? undefined : Date.now() - range.ms, signal),
    [name, range.id],
    POLL_MS,
  );
  return (
    <>
      <ConfigPanel config={config} />
      <div class="toolbar" data-testid="range">
        <span class="muted">Windows starting in the</span>
        <span class="segmented">
          {RANGES.map((r) => (
            <button
              key={r.id}
              type="button"
             
              aria-pressed={r.id === range.id}
              onClick={() => setQuery({ range: r.id === RANGES[1].id ? undefined : r.id })}
            >
              {r.label}
            </button>
          ))}
        </span>
      </div>
      {windows.data === undefined ? (
        windows.error ? <ErrorBox error={windows.error} title="Windows" /> : <Loading what="windows" />
      ) : (
        <WindowPanels name={name} config={config} windows={windows} rangeMs={range.ms} query={query} />
      )}
    </>
  );
}

function ConfigPanel({ config }: { config: MonitorConfig }) {
  const own = Object.entries(config.thresholds);
  return (
    <dl class="overview" data-testid="monitor-config">
      <dt>Reference</dt>
      <dd>
        <code data-testid="monitor-reference">{config.reference}</code>
        {config.reference_from_lineage && <span class="muted"> (the training data in the lineage of {config.model_name} v{config.model_version})</span>}
      </dd>
      <dt>Window</dt>
      <dd data-testid="monitor-window">{config.window.endsWith('rows') ? `every ${config.window.slice(0, -4)} rows` : `${config.window} (tumbling, UTC)`}</dd>
      <dt>Features</dt>
      <dd data-testid="monitor-features">
        {config.features.join(', ')}
        {config.all_features && <span class="muted"> (all model inputs)</span>}
      </dd>
      <dt>Thresholds</dt>
      <dd>
        PSI above {formatNumber(config.default_threshold)}
        {own.length > 0 && <> ({own.map(([f, t]) => `${f}: ${formatNumber(t)}`).join(', ')})</>} counts as drift
      </dd>
      <dt>Task</dt>
      <dd>{config.task || <span class="muted">decided from the predictions and labels</span>}</dd>
      <dt>Set</dt>
      <dd>
        {formatTime(config.last_updated_time)} by {config.created_by || 'unknown'}
      </dd>
    </dl>
  );
}

function WindowPanels(props: { name: string; config: MonitorConfig; windows: Poll<WindowDrift[]>; rangeMs?: number; query: URLSearchParams }) {
  const { config, windows, query } = props;
  const list = windows.data ?? [];
  const latest = list.length ? list[list.length - 1] : undefined;
  const features = latest?.features ?? [];
  const chosen = query.get('feature') ?? '';
  const selected = features.find((f) => f.column === chosen)?.column ?? sortFeatures(features, 'psi', false)[0]?.column ?? config.features[0];
  return (
    <>
      <StaleNotice error={windows.error} updated={windows.updated} what="the windows" />
      {list.length === 0 ? (
        <p class="panel muted" data-testid="no-windows">
          No window in this range yet: windows fill as the deployment serves (the server folds its prediction log every
          second).
        </p>
      ) : (
        <>
          <DriftPanel config={config} windows={list} latest={latest!} selected={selected} query={query} />
          <DistributionPanel name={props.name} latest={latest!} selected={selected} rangeMs={props.rangeMs} query={query} />
          <AccuracyPanel config={config} windows={list} />
        </>
      )}
    </>
  );
}

// ------------------------------------------------------------------ drift

function xOf(config: MonitorConfig): { mode: XMode; label?: string; of: (w: WindowDrift) => number } {
  // Row windows have no regular times: they are charted by number.
  return config.window.endsWith('rows')
    ? { mode: 'step', label: 'window', of: (w) => w.seq }
    : { mode: 'time', of: (w) => w.start_ms / 1000 };
}

function driftSeries(config: MonitorConfig, windows: WindowDrift[]): ChartSeries[] {
  const x = windows.map(xOf(config).of);
  const lines: ChartSeries[] = config.features.map((feature) => ({
    label: `PSI ${feature}`,
    x,
    y: windows.map((w) => w.features.find((f) => f.column === feature && f.comparable)?.psi ?? null),
  }));
  // One line per distinct threshold, named after the features it holds.
  const byThreshold = new Map<number, string[]>();
  for (const feature of config.features) {
    const t = config.thresholds[feature] ?? config.default_threshold;
    byThreshold.set(t, [...(byThreshold.get(t) ?? []), feature]);
  }
  for (const [t, names] of byThreshold) {
    const label = byThreshold.size === 1 ? `threshold ${formatNumber(t)}` : `threshold ${formatNumber(t)} (${names.join(', ')})`;
    lines.push({ label, x, y: x.map(() => t) });
  }
  return lines;
}

type SortKey = 'feature' | 'psi' | 'js' | 'ks' | 'missing';

function sortFeatures(features: FeatureDrift[], key: SortKey, ascending: boolean): FeatureDrift[] {
  const value = (f: FeatureDrift): number | string =>
    key === 'feature' ? f.column : key === 'missing' ? f.missing_rate ?? 0 : key === 'ks' ? f.ks ?? -1 : f.comparable ? f[key] : -1;
  const list = [...features];
  list.sort((a, b) => {
    const [va, vb] = [value(a), value(b)];
    const order = typeof va === 'string' ? va.localeCompare(vb as string) : va - (vb as number);
    return (ascending ? order : -order) || a.column.localeCompare(b.column);
  });
  return list;
}

function DriftPanel(props: { config: MonitorConfig; windows: WindowDrift[]; latest: WindowDrift; selected: string; query: URLSearchParams }) {
  const { config, windows, latest, query } = props;
  const series = useMemo(() => driftSeries(config, windows), [config, windows]);
  const x = xOf(config);
  const sortKey = (query.get('sort') as SortKey | null) ?? 'psi';
  const ascending = query.get('order') === 'asc';
  const rows = useMemo(() => sortFeatures(latest.features, sortKey, ascending), [latest, sortKey, ascending]);
  const drifted = latest.features.filter((f) => f.over_threshold).map((f) => f.column);
  // A new column starts descending (names ascending); the default view,
  // PSI descending, leaves the query string empty.
  const onSort = (column: string) => {
    const nextAscending = column === sortKey ? !ascending : column === 'feature';
    const byDefault = column === 'psi' && !nextAscending;
    setQuery({ sort: column === 'psi' ? undefined : column, order: byDefault ? undefined : nextAscending ? 'asc' : 'desc' });
  };
  const columns: Column<FeatureDrift>[] = [
    {
      id: 'feature',
      header: 'Feature',
      width: 170,
      sortable: true,
      render: (f) => (
        <button type="button" class="linklike" aria-pressed={f.column === props.selected} onClick={() => setQuery({ feature: f.column })}>
          {f.column === props.selected ? <strong>{f.column}</strong> : f.column}
        </button>
      ),
    },
    { id: 'kind', header: 'Kind', width: 100, render: (f) => f.kind },
    {
      id: 'psi',
      header: 'PSI',
      width: 90,
      align: 'right',
      sortable: true,
      title: 'Population stability index against the reference: the statistic the monitor decides on',
      render: (f) => (f.comparable ? <span class={f.over_threshold ? 'state-bad' : ''}>{formatNumber(round(f.psi))}</span> : ''),
    },
    { id: 'threshold', header: 'Threshold', width: 100, align: 'right', render: (f) => formatNumber(f.threshold) },
    {
      id: 'drifted',
      header: 'Drifted',
      width: 80,
      render: (f) =>
        !f.comparable ? (
          <span class="muted" title={f.note} data-testid="drifted" data-drifted="unknown">
            n/a
          </span>
        ) : f.over_threshold ? (
          <span class="drift-badge" data-testid="drifted" data-drifted="true">
            yes
          </span>
        ) : (
          <span data-testid="drifted" data-drifted="false">
            no
          </span>
        ),
    },
    { id: 'js', header: 'JS', width: 80, align: 'right', sortable: true, title: 'Jensen-Shannon distance', render: (f) => (f.comparable ? formatNumber(round(f.js)) : '') },
    { id: 'ks', header: 'KS', width: 80, align: 'right', sortable: true, title: 'Kolmogorov-Smirnov statistic (numeric features)', render: (f) => (f.ks === undefined ? '' : formatNumber(round(f.ks))) },
    { id: 'missing', header: 'Missing', width: 90, align: 'right', sortable: true, render: (f) => `${((f.missing_rate ?? 0) * 100).toFixed(1)}%` },
    { id: 'new', header: 'New categories', width: 220, render: (f) => <span title={f.new_categories.join(', ')}>{f.new_categories.join(', ')}</span> },
  ];
  return (
    <div class="panel" data-testid="drift-panel">
      <h2>Drift per feature</h2>
      <p class="muted">
        PSI of each feature against the reference, per window ({windows.length} window{windows.length === 1 ? '' : 's'} of{' '}
        {formatNumber(windows.reduce((n, w) => n + w.rows, 0))} rows); a feature drifts when its PSI is above its threshold.
      </p>
      {windows.length < 2 ? (
        <OneWindow testId="drift-one-window" />
      ) : (
        <div data-testid="drift-chart" data-lines={config.features.length} data-points={windows.length}>
          <Chart series={series} xMode={x.mode} xLabel={x.label} xIntegers={x.mode === 'step'} logY={false} smoothing={0} height={260} />
        </div>
      )}
      <h3>
        Latest window: #{latest.seq}, {formatTime(latest.start_ms)}, {formatNumber(latest.rows)} rows
        {latest.closed ? '' : ' (still filling)'}
      </h3>
      <p data-testid="drift-summary" class={drifted.length ? 'drift-note bad' : 'drift-note'}>
        {drifted.length ? `Drifted: ${drifted.join(', ')}` : `No feature above its threshold in ${latest.features.length}.`}
      </p>
      <div style={{ display: 'flex', flexDirection: 'column', maxHeight: '420px' }}>
        <VirtualTable
          testId="feature-table"
          label="Drift of each feature in the latest window"
          columns={columns}
          rows={rows}
          rowKey={(f) => f.column}
          sort={{ column: sortKey, ascending }}
          onSort={onSort}
          empty="No feature was compared."
        />
      </div>
      {latest.predictions.length > 0 && (
        <p class="muted small-note" data-testid="prediction-drift">
          Prediction drift against the first window:{' '}
          {latest.predictions.map((p) => `${p.column} PSI ${formatNumber(round(p.psi))}`).join(', ')}.
        </p>
      )}
    </div>
  );
}

const round = (value: number) => Number(value.toPrecision(4));

function OneWindow({ testId }: { testId: string }) {
  return (
    <p class="muted" data-testid={testId}>
      One window so far: the lines start with the second (the table below has its values).
    </p>
  );
}

// ----------------------------------------------------------- distribution

function DistributionPanel(props: { name: string; latest: WindowDrift; selected: string; rangeMs?: number; query: URLSearchParams }) {
  const { name, latest, selected } = props;
  const over = props.query.get('over') === 'range' ? 'range' : 'latest';
  // Read again when the latest window changes (a new one, or more rows).
  const drift = useAsync(
    (signal) =>
      over === 'latest'
        ? getDrift(name, latest.start_ms, latest.start_ms + 1, signal)
        : getDrift(name, props.rangeMs === undefined ? undefined : Date.now() - props.rangeMs, undefined, signal),
    [name, over, latest.seq, latest.rows, props.rangeMs],
  );
  const distribution = drift.data?.distributions?.find((d) => d.feature === selected);
  const labels: [string, string] = ['reference', over === 'latest' ? `window #${latest.seq}` : 'the range shown'];
  return (
    <div class="panel" data-testid="distribution-panel">
      <div class="panel-head">
        <h2>
          Distribution of <span data-testid="distribution-feature">{selected}</span>
        </h2>
        <span class="segmented">
          {(['latest', 'range'] as const).map((id) => (
            <button key={id} type="button" aria-pressed={id === over} onClick={() => setQuery({ over: id === 'latest' ? undefined : id })}>
              {id === 'latest' ? 'latest window' : 'whole range'}
            </button>
          ))}
        </span>
      </div>
      <p class="muted small-note">Pick another feature in the table above.</p>
      {drift.error ? (
        <ErrorBox error={drift.error} title="Drift" />
      ) : !drift.data ? (
        <Loading what="distribution" />
      ) : !distribution ? (
        <p class="muted">The server sent no distribution of {selected}.</p>
      ) : (
        <>
          <DistributionChart distribution={distribution} labels={labels} />
          <DistributionCounts distribution={distribution} labels={labels} />
        </>
      )}
    </div>
  );
}

// --------------------------------------------------------------- accuracy

const CLASSIFICATION = ['accuracy', 'f1', 'roc_auc'] as const;
const REGRESSION = ['rmse', 'mae'] as const;
type MetricName = (typeof CLASSIFICATION)[number] | (typeof REGRESSION)[number];

function metricsOf(windows: WindowDrift[]): MetricName[] {
  const task = windows.map((w) => w.accuracy.task).find((t) => t) ?? '';
  const names: readonly MetricName[] = task === 'regression' ? REGRESSION : CLASSIFICATION;
  return names.filter((m) => windows.some((w) => w.accuracy[m] !== null));
}

function delay(a: LiveAccuracy): string {
  if (a.label_delay_p50_seconds === null) return '';
  return `${formatNumber(round(a.label_delay_p50_seconds))} s / ${formatNumber(round(a.label_delay_p90_seconds ?? 0))} s`;
}

function AccuracyPanel({ config, windows }: { config: MonitorConfig; windows: WindowDrift[] }) {
  const metrics = useMemo(() => metricsOf(windows), [windows]);
  const x = xOf(config);
  const series = useMemo<ChartSeries[]>(() => {
    const xs = windows.map(x.of);
    return metrics.map((m) => ({ label: m, x: xs, y: windows.map((w) => w.accuracy[m]) }));
  }, [windows, metrics]);
  const labelled = windows.reduce((n, w) => n + w.accuracy.rows, 0);
  const newestFirst = useMemo(() => [...windows].reverse(), [windows]);
  const columns: Column<WindowDrift>[] = [
    { id: 'seq', header: 'Window', width: 80, render: (w) => `#${w.seq}${w.closed ? '' : ' (open)'}` },
    { id: 'start', header: 'Start', width: 170, render: (w) => formatTime(w.start_ms) },
    { id: 'rows', header: 'Rows', width: 80, align: 'right', render: (w) => formatNumber(w.rows) },
    { id: 'labelled', header: 'Labelled rows', width: 130, align: 'right', render: (w) => formatNumber(w.accuracy.rows) },
    ...metrics.map((m) => ({
      id: m,
      header: m === 'roc_auc' ? 'ROC AUC' : m.toUpperCase().replace('ACCURACY', 'Accuracy'),
      width: 90,
      align: 'right' as const,
      render: (w: WindowDrift) => (w.accuracy[m] === null ? '' : formatNumber(round(w.accuracy[m]!))),
    })),
    { id: 'delay', header: 'Label delay p50 / p90', width: 200, align: 'right', render: (w) => delay(w.accuracy) },
  ];
  return (
    <div class="panel" data-testid="accuracy-panel">
      <h2>Live accuracy</h2>
      {labelled === 0 ? (
        <p class="muted" data-testid="no-labels">
          No feedback yet: send ground truth by request id to <code>POST /api/v1/deployments/{config.deployment}/feedback</code>{' '}
          (the <code>X-Request-Id</code> of each prediction's reply), and each window's accuracy shows here.
        </p>
      ) : (
        <>
          <p class="muted">
            {formatNumber(labelled)} labelled rows over {windows.length} windows; metrics of each window's predictions that have
            feedback. Label delay: feedback time minus prediction time.
          </p>
          {windows.length < 2 ? (
            <OneWindow testId="accuracy-one-window" />
          ) : (
            <div data-testid="accuracy-chart" data-metrics={metrics.join(',')} data-points={windows.filter((w) => w.accuracy.rows > 0).length}>
              <Chart series={series} xMode={x.mode} xLabel={x.label} xIntegers={x.mode === 'step'} logY={false} smoothing={0} height={220} />
            </div>
          )}
        </>
      )}
      <div style={{ display: 'flex', flexDirection: 'column', maxHeight: '320px', marginTop: '8px' }}>
        <VirtualTable testId="accuracy-table" label="Live accuracy per window" columns={columns} rows={newestFirst} rowKey={(w) => String(w.seq)} />
      </div>
    </div>
  );
}

// ----------------------------------------------------------------- alerts

function AlertsPanel({ name }: { name: string }) {
  const [max, setMax] = useState(50);
  const rules = useAsync((signal) => getAlertRules(name, signal), [name]);
  const history = usePoll<AlertHistory>((signal) => getAlertHistory(name, max, signal), [name, max], POLL_MS);
  const h = history.data;
  return (
    <div class="panel" data-testid="alerts-panel">
      <h2>Alerts</h2>
      {rules.error ? (
        <ErrorBox error={rules.error} title="Alert rules" />
      ) : rules.data === null ? (
        <p class="muted" data-testid="no-rules">
          No alert rules: <code>slipway alerts set {name} alerts.yaml</code> (docs/alerts.md).
        </p>
      ) : (
        rules.data && (
          <p class="muted" data-testid="alert-rules">
            Rules: {rules.data.rules.map((r) => `${r.name} (${r.function === 'rate' ? 'rate of ' : ''}${r.metric} ${r.op} ${formatNumber(r.threshold)})`).join('; ')}.
          </p>
        )
      )}
      {h === undefined ? (
        history.error ? <ErrorBox error={history.error} title="Alert history" /> : <Loading what="alerts" />
      ) : (
        <>
          <StaleNotice error={history.error} updated={history.updated} what="the alerts" />
          <h3>Active now</h3>
          {h.active.length === 0 ? (
            <p class="muted" data-testid="no-active-alerts">
              None.
            </p>
          ) : (
            <table class="kv" data-testid="active-alerts">
              <thead>
                <tr>
                  <th>Alert</th>
                  <th>State</th>
                  <th>Labels</th>
                  <th class="num">Value</th>
                  <th>Since</th>
                </tr>
              </thead>
              <tbody>
                {h.active.map((a) => (
                  <tr key={`${a.alert}/${a.fingerprint}`} data-alert={a.alert} data-state={a.state} class={a.state === 'firing' ? 'failed' : ''}>
                    <td>{a.alert}</td>
                    <td>
                      <span class={a.state === 'firing' ? 'drift-badge' : 'muted'}>{a.state}</span>
                    </td>
                    <td>
                      <Labels labels={a.labels} />
                    </td>
                    <td class="num">{formatNumber(round(a.value))}</td>
                    <td>{formatTime(a.state === 'firing' ? a.fired_ms : a.active_since_ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>History</h3>
          {h.transitions.length === 0 ? (
            <p class="muted">No alert has fired.</p>
          ) : (
            <>
              <ol class="timeline" data-testid="alert-history">
                {h.transitions.map((t) => (
                  <li key={t.id} class={t.state === 'firing' ? 'bad' : ''} data-alert={t.alert} data-state={t.state}>
                    <time>{formatTime(t.time_ms)}</time> <strong>{t.alert}</strong> {t.state} (value {formatNumber(round(t.value))}){' '}
                    <Labels labels={t.labels} />
                    {t.deliveries.length > 0 && (
                      <span class="muted"> · {t.deliveries.map((d) => `${d.receiver}: ${d.status}`).join(', ')}</span>
                    )}
                  </li>
                ))}
              </ol>
              {h.transitions.length >= max && max < 1000 && (
                <button type="button" onClick={() => setMax(Math.min(1000, max * 4))}>
                  Show older
                </button>
              )}
            </>
          )}
        </>
      )}
    </div>
  );
}

// The labels that tell alerts of one rule apart (not those every one has).
function Labels({ labels }: { labels: Record<string, string> }) {
  const shown = Object.entries(labels).filter(([k]) => !['alertname', 'deployment', 'severity'].includes(k));
  return <span class="muted">{shown.map(([k, v]) => `${k}=${v}`).join(' ')}</span>;
}

// ------------------------------------------------------------------- loop

function LoopPanel({ name }: { name: string }) {
  const [max, setMax] = useState(20);
  const policy = useAsync((signal) => getLoopPolicy(name, signal), [name]);
  const runs = usePoll((signal) => getLoopRuns(name, max, signal), [name, max], POLL_MS);
  const p = policy.data;
  return (
    <div class="panel" data-testid="loop-panel">
      <h2>Closed loop</h2>
      {policy.error ? (
        <ErrorBox error={policy.error} title="Loop policy" />
      ) : p === null ? (
        <p class="muted" data-testid="no-loop">
          No loop policy: <code>slipway loop set {name} --on drift_high --train spec.yaml --promote production</code> (docs/loop.md).
        </p>
      ) : (
        p && (
          <p class="muted" data-testid="loop-policy">
            On {p.on.join(', ')}: retrain with {p.spec_name || 'its spec'}, {p.approval === 'manual' ? 'wait for approval, then ' : ''}
            {p.promote ? `move @${p.promote}` : "move the alias of the spec's register section"}; cool-down {formatNumber(p.cooldown_seconds)} s, at most {p.max_per_day} a day.
          </p>
        )
      )}
      {runs.data === undefined ? (
        runs.error ? <ErrorBox error={runs.error} title="Loop runs" /> : <Loading what="loop runs" />
      ) : runs.data.length === 0 ? (
        <p class="muted">No run yet.</p>
      ) : (
        <>
          <StaleNotice error={runs.error} updated={runs.updated} what="the loop runs" />
          <table class="kv" data-testid="loop-runs">
            <thead>
              <tr>
                <th>Run</th>
                <th>Trigger</th>
                <th>State</th>
                <th>Reason</th>
                <th>Model</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id} data-run={r.id} data-state={r.state} class={/failed|rejected/.test(r.state) ? 'failed' : ''}>
                  <td>{r.id}</td>
                  <td>{r.trigger}</td>
                  <td>
                    <span class={`state ${r.state === 'promoted' ? 'state-ok' : /failed|rejected/.test(r.state) ? 'state-bad' : ''}`}>{r.state}</span>
                  </td>
                  <td>{r.reason}</td>
                  <td>{r.model && r.version ? `${r.model} v${r.version}${r.alias ? ` @${r.alias}` : ''}` : ''}</td>
                  <td>{formatTime(r.creation_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {runs.data.length >= max && max < 1000 && (
            <button type="button" onClick={() => setMax(Math.min(1000, max * 5))}>
              Show older
            </button>
          )}
        </>
      )}
    </div>
  );
}
