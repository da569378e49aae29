// One metric of one or more runs as a chart, with its controls: x by step,
// wall time or time since the run's first point, log scale, smoothing,
// PNG and SVG export. Points come from metrics/get-history-bulk-interval, which
// samples each run's history on the server (MAX_POINTS per run at evenly
// spaced steps, the first and last kept); zooming into a step range fetches
// that range again, so detail appears as one zooms in, whatever the
// history's length.

import { useMemo, useRef, useState } from 'preact/hooks';
import { metricHistorySampled, type MetricPoint } from '../api/mlflow';
import { useAsync } from '../lib/use_async';
import { Chart, downloadPng, downloadSvg, seriesColor, type ChartSeries, type XMode } from './chart';
import { ErrorBox } from './error_box';

// As many as MLflow's UI asks for: a point every 3 pixels of a wide chart.
// A 320-point sample of a long history is about 4 KB gzipped.
const MAX_POINTS = 320;

export interface ChartRun {
  runId: string;
  label: string;
}

function toSeries(points: MetricPoint[], runs: ChartRun[], xMode: XMode): ChartSeries[] {
  const byRun = new Map<string, MetricPoint[]>();
  for (const point of points) {
    let list = byRun.get(point.run_id);
    if (!list) byRun.set(point.run_id, (list = []));
    list.push(point);
  }
  const series: ChartSeries[] = [];
  for (const run of runs) {
    const list = byRun.get(run.runId) ?? [];
    if (xMode === 'step') {
      list.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
    } else {
      list.sort((a, b) => a.timestamp - b.timestamp || a.step - b.step);
    }
    const start = list.length ? Math.min(...list.map((p) => p.timestamp)) : 0;
    const x = list.map((p) => (xMode === 'step' ? p.step : xMode === 'time' ? p.timestamp / 1000 : (p.timestamp - start) / 1000));
    // uPlot wants strictly increasing x per series: keep the last point of equal x.
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < list.length; i++) {
      if (xs.length && xs[xs.length - 1] === x[i]) {
        ys[ys.length - 1] = list[i].value;
      } else {
        xs.push(x[i]);
        ys.push(list[i].value);
      }
    }
    series.push({ label: run.label, x: xs, y: ys });
  }
  return series;
}

export function MetricChart({ runs, metricKey }: { runs: ChartRun[]; metricKey: string }) {
  const [xMode, setXMode] = useState<XMode>('step');
  const [logY, setLogY] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const [range, setRange] = useState<[number, number] | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const runIds = runs.map((r) => r.runId).join(',');

  const history = useAsync(
    (signal) =>
      metricHistorySampled(
        runs.map((r) => r.runId),
        metricKey,
        { maxResults: MAX_POINTS, startStep: range?.[0], endStep: range?.[1] },
        signal,
      ),
    [runIds, metricKey, range?.[0], range?.[1]],
  );
  const series = useMemo(() => toSeries(history.data ?? [], runs, xMode), [history.data, xMode, runIds]);
  const total = series.reduce((sum, s) => sum + s.x.length, 0);
  const nonPositive = logY && series.some((s) => s.y.some((v) => v !== null && !(v > 0)));

  const onZoom =
    xMode === 'step'
      ? (min: number, max: number) => {
          const from = Math.ceil(min);
          const to = Math.floor(max);
          if (to > from) setRange([from, to]);
        }
      : undefined;

  return (
    <div class="metric-chart" ref={box} data-testid="metric-chart">
      <div class="chart-controls">
        <strong class="chart-title">{metricKey}</strong>
        <label>
          x{' '}
          <select
            value={xMode}
            onChange={(event) => {
              setXMode(event.currentTarget.value as XMode);
              setRange(null);
            }}
            aria-label="x axis"
          >
            <option value="step">step</option>
            <option value="time">time</option>
            <option value="relative">relative time</option>
          </select>
        </label>
        <label>
          <input type="checkbox" checked={logY} onChange={(event) => setLogY(event.currentTarget.checked)} /> log
          scale
        </label>
        <label>
          smoothing{' '}
          <input
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={smoothing}
            aria-label="smoothing"
            onInput={(event) => setSmoothing(Number(event.currentTarget.value))}
          />{' '}
          {smoothing.toFixed(2)}
        </label>
        {range && (
          <button type="button" onClick={() => setRange(null)}>
            Reset zoom (steps {range[0]}–{range[1]})
          </button>
        )}
        <button type="button" onClick={() => downloadPng(box.current, metricKey)}>
          PNG
        </button>
        <button type="button" onClick={() => downloadSvg(box.current, metricKey, metricKey)} disabled={!history.data}>
          SVG
        </button>
        <span class="muted" data-testid="chart-points">
          {history.loading ? 'loading…' : `${total} ${total === 1 ? 'point' : 'points'} drawn`}
          {xMode === 'step' && !range ? ', drag to zoom' : ''}
        </span>
      </div>
      <ErrorBox error={history.error} title="Metric history" />
      {nonPositive && <div class="muted">Values ≤ 0 are left out on a log scale.</div>}
      {runs.length > 1 && (
        <div class="legend-note">
          {runs.map((run, i) => (
            <span key={run.runId} class="legend-item">
              <span class="swatch" style={{ background: seriesColor(i) }} /> {run.label}
            </span>
          ))}
        </div>
      )}
      {history.data && <Chart series={series} xMode={xMode} logY={logY} smoothing={smoothing} onZoom={onZoom} />}
    </div>
  );
}
