// Histograms of dataset profiles as SVG bars: one column's bins, or the
// bins of two versions overlaid (each drawn translucent over its own
// [lower, upper) edges, on one value axis, so versions whose ranges differ
// line up). Bars are heights of the share of each series' values, so two
// versions of different sizes compare by shape. Every bin is one
// <rect class="bar"> carrying its count, with a tooltip.
//
// SVG rather than uPlot (chart.tsx): uPlot draws series over one shared x,
// and two versions' bins have different edges; a profile has ~20 bins per
// column, so a few hundred rects per page cost nothing.

import type { HistogramBin } from '../api/datasets';
import { formatNumber } from '../lib/format';
import { seriesColor } from './chart';

export interface HistogramSeries {
  label: string;
  bins: HistogramBin[];
}

const WIDTH = 320;
const PLOT_TOP = 14;
const PLOT_HEIGHT = 84;
const AXIS = 16;

export function Histogram({ series, testId }: { series: HistogramSeries[]; testId?: string }) {
  const drawn = series.filter((s) => s.bins.length > 0);
  if (drawn.length === 0) return null;
  let lo = Math.min(...drawn.map((s) => s.bins[0].lower));
  let hi = Math.max(...drawn.map((s) => s.bins[s.bins.length - 1].upper));
  if (!(hi > lo)) {
    // Every value equal: one bin, drawn one unit wide around it.
    lo -= 0.5;
    hi += 0.5;
  }
  const totals = drawn.map((s) => s.bins.reduce((sum, bin) => sum + bin.count, 0) || 1);
  const top = Math.max(...drawn.flatMap((s, i) => s.bins.map((bin) => bin.count / totals[i])), 1e-12);
  const x = (value: number) => ((value - lo) / (hi - lo)) * WIDTH;
  const overlay = drawn.length > 1;

  return (
    <svg
      class="histogram"
      viewBox={`0 0 ${WIDTH} ${PLOT_TOP + PLOT_HEIGHT + AXIS}`}
      role="img"
      aria-label={`Histogram${overlay ? 's' : ''} of ${drawn.map((s) => s.label).join(' and ')}`}
      data-testid={testId}
    >
      <text class="histogram-label" x={0} y={10}>
        {`peak ${formatNumber(Number((top * 100).toPrecision(3)))}% of values`}
      </text>
      {drawn.map((s, i) => (
        <g key={s.label} class="histogram-series" data-series={s.label}>
          {s.bins.map((bin, j) => {
            const share = bin.count / totals[i];
            // A bin of one value (a column whose values are all equal) is drawn a tenth wide.
            const point = !(bin.upper > bin.lower);
            const left = point ? x(bin.lower) - WIDTH / 20 : x(bin.lower);
            const right = point ? x(bin.lower) + WIDTH / 20 : x(bin.upper);
            const height = (share / top) * PLOT_HEIGHT;
            return (
              <rect
                key={j}
                class="bar"
                data-count={bin.count}
                x={left + 0.5}
                y={PLOT_TOP + PLOT_HEIGHT - height}
                width={Math.max(1, right - left - 1)}
                height={height}
                fill={seriesColor(i)}
                fill-opacity={overlay ? 0.45 : 0.8}
              >
                <title>
                  {`${s.label}: [${formatNumber(bin.lower)}, ${formatNumber(bin.upper)}${j === s.bins.length - 1 ? ']' : ')'}: ` +
                    `${formatNumber(Math.round(bin.count))} (${(share * 100).toFixed(1)}%)`}
                </title>
              </rect>
            );
          })}
        </g>
      ))}
      <line class="histogram-axis" x1={0} x2={WIDTH} y1={PLOT_TOP + PLOT_HEIGHT + 0.5} y2={PLOT_TOP + PLOT_HEIGHT + 0.5} />
      <text class="histogram-label" x={0} y={PLOT_TOP + PLOT_HEIGHT + AXIS - 3}>
        {formatNumber(lo)}
      </text>
      <text class="histogram-label" x={WIDTH} y={PLOT_TOP + PLOT_HEIGHT + AXIS - 3} text-anchor="end">
        {formatNumber(hi)}
      </text>
    </svg>
  );
}

// The legend of an overlay: each series' color and label.
export function HistogramLegend({ labels }: { labels: string[] }) {
  return (
    <div class="legend-note">
      {labels.map((label, i) => (
        <span key={label} class="legend-item">
          <span class="swatch wide" style={{ background: seriesColor(i) }} /> {label}
        </span>
      ))}
    </div>
  );
}
