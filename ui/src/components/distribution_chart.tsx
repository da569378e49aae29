// A feature's distribution in the reference and in live traffic, on the
// bins the server shared between them (GET .../monitor/drift,
// "distributions"): overlaid histograms for a numeric feature (histogram.tsx,
// each bin's share of its side's values), pairs of bars for a categorical
// one (one row per category, the reference's bar over the current one's).
// Every bar is a <rect class="bar"> carrying its side and share.

import type { FeatureDistribution } from '../api/monitoring';
import { formatNumber } from '../lib/format';
import { seriesColor } from './chart';
import { Histogram, HistogramLegend } from './histogram';

export const SIDES = ['reference', 'current'] as const;

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

export function DistributionChart({ distribution, labels }: { distribution: FeatureDistribution; labels: [string, string] }) {
  if (distribution.bins.length === 0) {
    return <p class="muted">Neither side has a value of {distribution.feature}.</p>;
  }
  return (
    <div
      class="distribution"
      style={{ maxWidth: '640px' }}
      data-testid="distribution-chart"
      data-kind={distribution.kind}
      data-feature={distribution.feature}
    >
      <HistogramLegend labels={labels} />
      {distribution.kind === 'numeric' ? (
        <Histogram
          testId="distribution-histogram"
          series={SIDES.map((side, i) => ({
            label: labels[i],
            bins: distribution.bins.map((bin) => ({ lower: bin.lower ?? 0, upper: bin.upper ?? 0, count: bin[side] })),
          }))}
        />
      ) : (
        <CategoryBars distribution={distribution} labels={labels} />
      )}
    </div>
  );
}

const ROW = 26;
const LABEL = 100;
const WIDTH = 420;
const BAR = 10;

function CategoryBars({ distribution, labels }: { distribution: FeatureDistribution; labels: [string, string] }) {
  const bins = distribution.bins;
  const top = Math.max(1e-12, ...bins.flatMap((bin) => [bin.reference, bin.current]));
  const span = WIDTH - LABEL - 100; // the rest: the two shares in text
  return (
    <svg
      class="histogram category-bars"
      viewBox={`0 0 ${WIDTH} ${bins.length * ROW + 4}`}
      role="img"
      aria-label={`Shares of the categories of ${distribution.feature}: ${labels.join(' and ')}`}
      data-testid="distribution-categories"
    >
      {bins.map((bin, row) => {
        const name = bin.other ? '(other)' : bin.value ?? '';
        const y = row * ROW + 2;
        return (
          <g key={`${name}/${row}`} data-category={name}>
            <text class="histogram-label" x={LABEL - 6} y={y + BAR + 3} text-anchor="end" style={{ fontSize: '11px' }}>
              {name.length > 18 ? `${name.slice(0, 17)}…` : name}
            </text>
            {SIDES.map((side, i) => (
              <rect
                key={side}
                class="bar"
                data-series={side}
                data-share={bin[side]}
                x={LABEL}
                y={y + i * (BAR + 1)}
                width={Math.max(bin[side] > 0 ? 1 : 0, (bin[side] / top) * span)}
                height={BAR}
                fill={seriesColor(i)}
                fill-opacity={0.75}
              >
                <title>{`${labels[i]}: ${name}: ${percent(bin[side])}`}</title>
              </rect>
            ))}
            <text class="histogram-label" x={LABEL + span + 4} y={y + BAR + 3} style={{ fontSize: '10px' }}>
              {`${percent(bin.reference)} → ${percent(bin.current)}`}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

// "1,234 values in the reference, 500 now" under the chart.
export function DistributionCounts({ distribution, labels }: { distribution: FeatureDistribution; labels: [string, string] }) {
  return (
    <p class="muted small-note">
      {formatNumber(distribution.reference_count)} values in the {labels[0]}, {formatNumber(distribution.current_count)} in{' '}
      {labels[1]}; bars are shares of each side's non-missing values
      {distribution.kind === 'numeric' ? ' per bin (from the sketches: within ~2% per bin)' : ''}.
    </p>
  );
}
