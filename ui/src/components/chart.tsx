// Line charts on uPlot: canvas drawing, fast enough for every point the
// server sends (it samples long histories down to a few thousand points
// per series, so a 1,000,000-point metric is drawn from what it returns).
//
// Series may have different x values (runs log at different steps); they
// are joined on the union of x values, with gaps spanned. Drag selects an x
// range: with onZoom, the owner fetches that range at full resolution.
//
// Export: downloadPng saves what the canvas drew; downloadSvg rebuilds the
// chart as vector SVG (chart_svg.ts) from the data and scales each drawn
// chart registers here, keyed by its element.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import { chartSvg, type SvgChart } from './chart_svg';

export interface ChartSeries {
  label: string;
  x: number[];
  y: (number | null)[]; // null: no value at that x (a gap)
}

export type XMode = 'step' | 'time' | 'relative';

interface Props {
  series: ChartSeries[];
  xMode: XMode;
  logY: boolean;
  smoothing: number; // 0 (none) to 0.99: weight of the running average
  height?: number;
  onZoom?: (min: number, max: number) => void;
  testId?: string;
  xLabel?: string; // the x axis's title, when x is not a step or a time ("trial")
  xIntegers?: boolean; // ticks on whole numbers only (trial numbers)
}

const INTEGER_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export function seriesColor(index: number): string {
  return COLORS[index % COLORS.length];
}

// TensorBoard's smoothing: an exponential moving average, debiased at the start.
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  const out = new Array<number | null>(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || !Number.isFinite(value)) {
      out[i] = value;
      continue;
    }
    last = last * weight + (1 - weight) * value;
    count++;
    out[i] = last / (1 - Math.pow(weight, count));
  }
  return out;
}

function aligned(series: ChartSeries[], logY: boolean, smoothing: number): uPlot.AlignedData {
  const tables: uPlot.AlignedData[] = series.map((s) => {
    let y: (number | null)[] = smooth(s.y, smoothing);
    if (logY) y = y.map((v) => (v !== null && v > 0 ? v : null));
    return [s.x, y] as uPlot.AlignedData;
  });
  if (tables.length === 0) return [[]];
  if (tables.length === 1) return tables[0];
  return uPlot.join(tables);
}

// What each drawn chart would export as SVG, by its container element;
// the title is the owner's to give.
const drawn = new WeakMap<HTMLElement, () => Omit<SvgChart, 'title'>>();

function xLabel(xMode: XMode): string {
  return xMode === 'step' ? 'step' : xMode === 'time' ? 'time' : 'seconds since the first point';
}

export function Chart(props: Props) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const onZoom = useRef(props.onZoom);
  onZoom.current = props.onZoom;

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const height = props.height ?? 320;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      scales: {
        x: { time: props.xMode === 'time' },
        y: { distr: props.logY ? 3 : 1 },
      },
      axes: [
        { label: props.xLabel ?? xLabel(props.xMode), ...(props.xIntegers ? { incrs: INTEGER_TICKS } : {}) },
        { size: 70 },
      ],
      series: [
        { label: props.xLabel ?? props.xMode },
        ...props.series.map((s, i) => ({
          label: s.label,
          stroke: seriesColor(i),
          width: 1.5,
          spanGaps: true,
        })),
      ],
      cursor: { drag: { x: true, y: false, setScale: !props.onZoom } },
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (!onZoom.current || u.select.width < 2) return;
            const min = u.posToVal(u.select.left, 'x');
            const max = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onZoom.current(min, max);
          },
        ],
      },
    };
    const chart = new uPlot(options, aligned(props.series, props.logY, props.smoothing), element);
    plot.current = chart;
    const series = props.series;
    drawn.set(element, () => ({
      xLabel: props.xLabel ?? xLabel(props.xMode),
      width: chart.width,
      height: chart.height,
      xTime: props.xMode === 'time',
      logY: props.logY,
      // The ranges drawn now (after a drag-zoom too).
      xRange: [chart.scales.x.min ?? 0, chart.scales.x.max ?? 1],
      yRange: [chart.scales.y.min ?? 0, chart.scales.y.max ?? 1],
      series: series.map((s, i) => ({ label: s.label, color: seriesColor(i), x: chart.data[0], y: chart.data[i + 1] ?? [] })),
    }));
    const observer = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(200, element.clientWidth), height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      drawn.delete(element);
      chart.destroy();
      plot.current = null;
    };
  }, [props.series, props.xMode, props.xLabel, props.xIntegers, props.logY, props.smoothing, props.height]);

  return <div class="chart" ref={container} data-testid={props.testId} />;
}

function save(blob: Blob, filename: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// Saves what the chart drew (its canvas, the axes included) as a PNG file.
export function downloadPng(element: HTMLElement | null, name: string): void {
  const canvas = element?.querySelector('canvas');
  if (!canvas) return;
  canvas.toBlob((blob) => {
    if (blob) save(blob, `${name}.png`);
  });
}

// Saves the first chart drawn inside `element` as a vector SVG file.
export function downloadSvg(element: HTMLElement | null, name: string, title: string): void {
  const container = [...(element?.querySelectorAll<HTMLElement>('.chart') ?? [])].find((e) => drawn.has(e));
  const snapshot = container && drawn.get(container);
  if (!snapshot) return;
  save(new Blob([chartSvg({ title, ...snapshot() })], { type: 'image/svg+xml' }), `${name}.svg`);
}
