// What changed from one version of a dataset to another (`?a=` the
// reference, `?b=` the version compared with it): rows, columns added,
// removed or retyped, the drift of every common column (PSI, KS, JS; past
// the rules file's default thresholds a value and its column are flagged),
// new and missing categories, and per column its statistics before and
// after, with both versions' histograms overlaid where both are numeric.
// The diff is the server's (datasets/.../diff); the histograms come from
// the two versions' profiles.

import { useMemo } from 'preact/hooks';
import {
  diffVersions,
  DRIFT_THRESHOLDS,
  getVersion,
  listVersions,
  type ColumnDrift,
  type DatasetDiff,
  type DatasetVersion,
  type StatisticChange,
} from '../api/datasets';
import { ErrorBox, Loading } from '../components/error_box';
import { Histogram, HistogramLegend } from '../components/histogram';
import { formatNumber } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';
import { datasetPath, datasetVersionPath } from './datasets_page';

type Metric = keyof typeof DRIFT_THRESHOLDS;

// Drift scores as the page shows them: four decimals.
export function formatScore(value: number | undefined): string {
  return value === undefined ? '' : value.toFixed(4);
}

function drifted(drift: ColumnDrift, metric: Metric): boolean {
  const value = drift[metric];
  return drift.comparable && value !== undefined && value > DRIFT_THRESHOLDS[metric];
}

export function hasDrifted(drift: ColumnDrift): boolean {
  return (['psi', 'ks', 'js'] as Metric[]).some((metric) => drifted(drift, metric));
}

function formatPValue(p: number | undefined): string {
  if (p === undefined) return '';
  return p !== 0 && p < 1e-4 ? p.toExponential(2) : formatNumber(Number(p.toPrecision(3)));
}

const STATISTIC_LABELS: Record<string, string> = {
  count: 'Values',
  missing_share: 'Missing',
  distinct: 'Distinct',
  mean: 'Mean',
  std: 'Std',
  min: 'Min',
  max: 'Max',
  median: 'Median',
};

function formatStatistic(statistic: string, value: number | null): string {
  if (value === null) return '';
  if (statistic === 'missing_share') return `${formatNumber(Number((value * 100).toPrecision(4)))}%`;
  return formatNumber(value);
}

function formatRelative(change: StatisticChange): string {
  if (change.relative_delta === null || change.delta === 0 || change.statistic === 'missing_share') return '';
  const pct = change.relative_delta * 100;
  return `${pct > 0 ? '+' : ''}${formatNumber(Number(pct.toPrecision(3)))}%`;
}

function formatDelta(change: StatisticChange): string {
  if (change.delta === null) return '';
  if (change.delta === 0) return 'unchanged';
  const sign = change.delta > 0 ? '+' : '';
  if (change.statistic === 'missing_share') return `${sign}${formatNumber(Number((change.delta * 100).toPrecision(4)))} pts`;
  return `${sign}${formatNumber(change.delta)}`;
}

export function DatasetDiffPage({ name, query }: { name: string; query: URLSearchParams }) {
  const a = query.get('a') ?? '';
  const b = query.get('b') ?? '';
  const versions = useAsync((signal) => listVersions(name, signal), [name]);
  const diff = useAsync((signal) => (a && b ? diffVersions(name, a, b, signal) : Promise.resolve(null)), [name, a, b]);
  const profiles = useAsync(
    (signal) =>
      a && b
        ? Promise.all([getVersion(name, a, { profile: true }, signal), getVersion(name, b, { profile: true }, signal)])
        : Promise.resolve(null),
    [name, a, b],
  );
  const numbers = useMemo(() => (versions.data?.versions ?? []).map((v) => v.version).sort((x, y) => x - y), [versions.data]);

  return (
    <section class="dataset-diff-page">
      <div class="crumbs">
        <Link href="/datasets">Datasets</Link> / <Link href={datasetPath(name)}>{name}</Link> /
      </div>
      <h1 data-testid="diff-title">
        {name}: {a && b ? `version ${a} → version ${b}` : 'compare two versions'}
      </h1>
      <form class="toolbar" onSubmit={(event) => event.preventDefault()}>
        <VersionSelect label="From (reference)" value={a} numbers={numbers} onChange={(value) => setQuery({ a: value })} />
        <VersionSelect label="To" value={b} numbers={numbers} onChange={(value) => setQuery({ b: value })} />
        <span class="muted">
          Drift is flagged past PSI {DRIFT_THRESHOLDS.psi}, KS {DRIFT_THRESHOLDS.ks}, JS {DRIFT_THRESHOLDS.js} (a rules
          file's defaults).
        </span>
      </form>
      <ErrorBox error={versions.error} title="Versions" />
      {!a || !b ? (
        <p class="muted">Choose the two versions to compare.</p>
      ) : diff.error ? (
        <ErrorBox error={diff.error} title="Diff" />
      ) : !diff.data ? (
        <Loading what="diff" />
      ) : (
        <DiffView
          name={name}
          a={a}
          b={b}
          diff={diff.data}
          profiles={profiles.data ?? undefined}
          profilesError={profiles.error}
        />
      )}
    </section>
  );
}

function VersionSelect(props: { label: string; value: string; numbers: number[]; onChange: (value: string) => void }) {
  const options = props.numbers.map(String);
  if (props.value && !options.includes(props.value)) options.push(props.value);
  return (
    <label class="field">
      {props.label}
      <select aria-label={props.label} value={props.value} onChange={(event) => props.onChange(event.currentTarget.value)}>
        <option value="">…</option>
        {options.map((n) => (
          <option key={n} value={n}>
            version {n}
          </option>
        ))}
      </select>
    </label>
  );
}

function DiffView(props: {
  name: string;
  a: string;
  b: string;
  diff: DatasetDiff;
  profiles?: [{ version: DatasetVersion }, { version: DatasetVersion }];
  profilesError: unknown;
}) {
  const { diff, name, a, b } = props;
  const rows = diff.rows;
  const flagged = diff.columns.filter((c) => hasDrifted(c.drift)).map((c) => c.column);
  const schema = diff.schema;
  const before = props.profiles?.[0].version.profile;
  const after = props.profiles?.[1].version.profile;
  const labels = [`version ${a}`, `version ${b}`];
  return (
    <>
      <div class="columns">
        <div class="panel" data-testid="diff-summary">
          <h2>Summary</h2>
          <table class="kv">
            <tbody>
              <tr>
                <th>Rows</th>
                <td class="num" data-testid="rows-before">
                  <Link href={datasetVersionPath(name, a)}>{formatNumber(rows.before ?? undefined)}</Link>
                </td>
                <td>→</td>
                <td class="num" data-testid="rows-after">
                  <Link href={datasetVersionPath(name, b)}>{formatNumber(rows.after ?? undefined)}</Link>
                </td>
                <td class="num muted">
                  {formatDelta(rows)} {formatRelative(rows)}
                </td>
              </tr>
            </tbody>
          </table>
          <p data-testid="drift-summary" class={flagged.length ? 'drift-note bad' : 'drift-note'}>
            {flagged.length
              ? `Drift in ${flagged.length} of ${diff.columns.length} columns: ${flagged.join(', ')}.`
              : `No drift past the thresholds in ${diff.columns.length} common columns.`}
          </p>
        </div>
        <div class="panel" data-testid="schema-changes">
          <h2>Schema</h2>
          {!schema.added.length && !schema.removed.length && !schema.type_changes.length ? (
            <p class="muted">Same columns, same types.</p>
          ) : (
            <table class="kv">
              <tbody>
                {schema.added.length > 0 && (
                  <tr>
                    <th>Added</th>
                    <td data-testid="schema-added">{schema.added.join(', ')}</td>
                  </tr>
                )}
                {schema.removed.length > 0 && (
                  <tr>
                    <th>Removed</th>
                    <td data-testid="schema-removed">{schema.removed.join(', ')}</td>
                  </tr>
                )}
                {schema.type_changes.map((t) => (
                  <tr key={t.column} data-testid="schema-type-change">
                    <th>Type of {t.column}</th>
                    <td>
                      {t.before} → {t.after}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
      <div class="panel">
        <h2>Drift</h2>
        <div class="scroll-x">
          <table class="kv drift-table" data-testid="drift-table">
            <thead>
              <tr>
                <th>Column</th>
                <th>Compared as</th>
                <th class="num">PSI</th>
                <th class="num">KS</th>
                <th class="num">KS p-value</th>
                <th class="num">JS</th>
                <th>New categories</th>
                <th>Missing categories</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {diff.columns.map(({ column, drift }) => (
                <tr key={column} data-column={column} class={hasDrifted(drift) ? 'drifted' : ''}>
                  <th>{column}</th>
                  <td>{drift.kind}</td>
                  <ScoreCell drift={drift} metric="psi" />
                  <ScoreCell drift={drift} metric="ks" />
                  <td class="num">{formatPValue(drift.ks_p_value)}</td>
                  <ScoreCell drift={drift} metric="js" />
                  <td data-field="new-categories">{drift.new_categories.join(', ')}</td>
                  <td data-field="missing-categories">{drift.missing_categories.join(', ')}</td>
                  <td>
                    {!drift.comparable ? (
                      <span class="muted" title={drift.note}>
                        not comparable
                      </span>
                    ) : hasDrifted(drift) ? (
                      <span class="drift-badge">drift</span>
                    ) : (
                      ''
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <h2>Columns</h2>
      <ErrorBox error={props.profilesError} title="Profiles (for the histograms)" />
      <div class="column-cards">
        {diff.columns.map((c) => {
          const binsBefore = before?.columns.find((p) => p.name === c.column)?.histogram ?? [];
          const binsAfter = after?.columns.find((p) => p.name === c.column)?.histogram ?? [];
          return (
            <div key={c.column} class={`panel column-card${hasDrifted(c.drift) ? ' drifted' : ''}`} data-testid="column-diff" data-column={c.column}>
              <h3>
                <span class="column-name">{c.column}</span>{' '}
                <span class="type-badge">{c.type_before === c.type_after ? c.type_after : `${c.type_before} → ${c.type_after}`}</span>
                {hasDrifted(c.drift) && <span class="drift-badge">drift</span>}
              </h3>
              <table class="kv stats">
                <thead>
                  <tr>
                    <th />
                    <th class="num">v{a}</th>
                    <th class="num">v{b}</th>
                    <th class="num">change</th>
                  </tr>
                </thead>
                <tbody>
                  {c.statistics.map((s) => (
                    <tr key={s.statistic} data-statistic={s.statistic}>
                      <th>{STATISTIC_LABELS[s.statistic] ?? s.statistic}</th>
                      <td class="num">{formatStatistic(s.statistic, s.before)}</td>
                      <td class="num">{formatStatistic(s.statistic, s.after)}</td>
                      <td class="num muted">
                        {formatDelta(s)} {formatRelative(s)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {binsBefore.length > 0 && binsAfter.length > 0 && (
                <>
                  <HistogramLegend labels={labels} />
                  <Histogram
                    series={[
                      { label: labels[0], bins: binsBefore },
                      { label: labels[1], bins: binsAfter },
                    ]}
                    testId="histogram-overlay"
                  />
                </>
              )}
            </div>
          );
        })}
      </div>
    </>
  );
}

function ScoreCell({ drift, metric }: { drift: ColumnDrift; metric: Metric }) {
  const value = drift[metric];
  const over = drifted(drift, metric);
  return (
    <td
      class={`num${over ? ' over' : ''}`}
      data-metric={metric}
      title={value === undefined ? undefined : `${metric.toUpperCase()} ${value} (flagged past ${DRIFT_THRESHOLDS[metric]})`}
    >
      {formatScore(value)}
    </td>
  );
}
