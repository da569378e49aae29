// One dataset version: what it is (rows, columns, size, source, who pushed
// it, digests), its profile column by column (type, counts, missing,
// distinct, numeric statistics and quantiles, a histogram, the top values
// as bars), the rules the server infers from it (YAML, to copy), and a
// validation form: rules (the inferred ones to start from) and an optional
// drift reference go to the server, whose report is shown rule by rule;
// its refusal (a rules file's error names line and column) in the ErrorBox.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import {
  getVersion,
  inferredRules,
  validateVersion,
  type ColumnProfile,
  type DatasetVersion,
  type RuleResult,
  type ValidationReport,
} from '../api/datasets';
import { ErrorBox, Loading } from '../components/error_box';
import { Histogram } from '../components/histogram';
import { formatBytes, formatNumber, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link } from '../router';
import { rowCount } from './dataset_page';
import { datasetDiffPath, datasetPath } from './datasets_page';

const TOP_VALUES_SHOWN = 10;
const QUANTILES_SHOWN: [number, string][] = [
  [0.01, 'p1'],
  [0.05, 'p5'],
  [0.25, 'p25'],
  [0.5, 'median'],
  [0.75, 'p75'],
  [0.95, 'p95'],
  [0.99, 'p99'],
];

export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return '';
  const share = (part / whole) * 100;
  return `${share === 0 || share >= 10 ? share.toFixed(0) : share < 0.1 ? share.toFixed(2) : share.toFixed(1)}%`;
}

export function DatasetVersionPage({ name, version }: { name: string; version: string }) {
  const found = useAsync((signal) => getVersion(name, version, { profile: true }, signal), [name, version]);
  const rules = useAsync((signal) => inferredRules(name, version, signal), [name, version]);
  const v = found.data?.version;
  return (
    <section class="dataset-version-page">
      <div class="crumbs">
        <Link href="/datasets">Datasets</Link> / <Link href={datasetPath(name)}>{name}</Link> /
      </div>
      <h1 data-testid="version-title">
        {name} version {v?.version ?? version}
      </h1>
      {found.error ? (
        <ErrorBox error={found.error} title="Dataset version" />
      ) : !v ? (
        <Loading what="version" />
      ) : (
        <>
          <VersionOverview version={v} />
          <ProfileView version={v} />
          <RulesPanel rules={rules.data} error={rules.error} />
          <ValidationPanel name={name} version={String(v.version)} inferred={rules.data} />
        </>
      )}
    </section>
  );
}

function VersionOverview({ version: v }: { version: DatasetVersion }) {
  return (
    <dl class="overview" data-testid="version-overview">
      <dt>Rows</dt>
      <dd data-testid="version-rows">{rowCount(v)}</dd>
      <dt>Columns</dt>
      <dd>{v.column_count >= 0 ? v.column_count : ''}</dd>
      <dt>Size</dt>
      <dd>{formatBytes(v.size_bytes)}</dd>
      <dt>Format</dt>
      <dd>{[v.format, v.kind].filter(Boolean).join(', ')}</dd>
      <dt>Source</dt>
      <dd>{v.source ? <code>{v.source}</code> : <span class="muted">none</span>}</dd>
      <dt>Description</dt>
      <dd>{v.description || <span class="muted">none</span>}</dd>
      <dt>Pushed by</dt>
      <dd>{v.created_by || <span class="muted">unknown</span>}</dd>
      <dt>Created</dt>
      <dd>{formatTime(v.created_ms)}</dd>
      <dt>Content digest</dt>
      <dd>
        <code>sha256:{v.content_digest}</code>
      </dd>
      <dt>Manifest</dt>
      <dd>
        <code>sha256:{v.manifest_digest}</code>
      </dd>
      {v.version > 1 && (
        <>
          <dt>Changes</dt>
          <dd>
            <Link href={datasetDiffPath(v.name, v.version - 1, v.version)} data-testid="diff-previous">
              Diff with version {v.version - 1}
            </Link>
          </dd>
        </>
      )}
    </dl>
  );
}

function ProfileView({ version: v }: { version: DatasetVersion }) {
  const profile = v.profile;
  if (!profile) {
    return (
      <div class="panel">
        <h2>Profile</h2>
        <p class="muted">This version has no profile (only CSV files are profiled).</p>
      </div>
    );
  }
  return (
    <>
      <h2>
        Profile <span class="muted">{profile.columns.length} columns, {profile.row_count.toLocaleString('en-US')} rows</span>
      </h2>
      <div class="column-cards" data-testid="profile">
        {profile.columns.map((column) => (
          <ColumnCard key={column.name} column={column} />
        ))}
      </div>
    </>
  );
}

function Stat({ label, id, children }: { label: string; id: string; children: ComponentChildren }) {
  return (
    <tr>
      <th>{label}</th>
      <td class="num" data-stat={id}>
        {children}
      </td>
    </tr>
  );
}

function ColumnCard({ column: c }: { column: ColumnProfile }) {
  const rows = c.count + c.missing;
  const numeric = c.mean !== undefined;
  const quantiles = new Map((c.quantiles ?? []).map((q) => [q.q, q.value]));
  return (
    <div class="panel column-card" data-testid="column-card" data-column={c.name}>
      <h3>
        <span class="column-name">{c.name}</span> <span class="type-badge">{c.type}</span>
      </h3>
      <table class="kv stats">
        <tbody>
          <Stat label="Values" id="count">
            {formatNumber(c.count)}
          </Stat>
          <Stat label="Missing" id="missing">
            {formatNumber(c.missing)} <span class="muted">({percent(c.missing, rows)})</span>
          </Stat>
          <Stat label="Distinct" id="distinct">
            {c.distinct_exact ? '' : '≈ '}
            {formatNumber(c.distinct)}
          </Stat>
          {numeric && (
            <>
              <Stat label="Min" id="min">
                {formatNumber(c.min)}
              </Stat>
              <Stat label="Max" id="max">
                {formatNumber(c.max)}
              </Stat>
              <Stat label="Mean" id="mean">
                {formatNumber(c.mean)}
              </Stat>
              <Stat label="Std" id="std">
                {formatNumber(c.stddev)}
              </Stat>
            </>
          )}
          {!numeric && c.count > 0 && (
            <Stat label="Length" id="length">
              {c.min_length === c.max_length ? c.min_length : `${c.min_length}–${c.max_length}`}
            </Stat>
          )}
        </tbody>
      </table>
      {quantiles.size > 0 && (
        <table class="kv quantiles" data-testid="quantiles">
          <thead>
            <tr>
              {QUANTILES_SHOWN.map(([, label]) => (
                <th key={label}>{label}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              {QUANTILES_SHOWN.map(([q, label]) => (
                <td key={label} class="num">
                  {formatNumber(quantiles.get(q))}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      )}
      {c.histogram && c.histogram.length > 0 && (
        <Histogram series={[{ label: c.name, bins: c.histogram }]} testId="histogram" />
      )}
      {/* A numeric column's top values say something only when it has few values (they are then exact). */}
      {(!numeric || c.distinct_exact) && c.top_values && c.top_values.length > 0 && <TopValues column={c} />}
    </div>
  );
}

function TopValues({ column: c }: { column: ColumnProfile }) {
  const values = c.top_values ?? [];
  const shown = values.slice(0, TOP_VALUES_SHOWN);
  const top = Math.max(...shown.map((v) => v.count), 1);
  return (
    <div data-testid="top-values">
      <h4>Top values</h4>
      <ul class="top-values">
        {shown.map((v) => (
          <li key={v.value} title={v.count_upper_bound > v.count ? `between ${v.count} and ${v.count_upper_bound}` : undefined}>
            <span class="top-value" title={v.value}>
              {v.value === '' ? <span class="muted">(empty)</span> : v.value}
            </span>
            <span class="top-bar">
              <span style={{ width: `${(v.count / top) * 100}%` }} />
            </span>
            <span class="top-count">
              {v.count_upper_bound > v.count ? '≥ ' : ''}
              {formatNumber(v.count)} <span class="muted">{percent(v.count, c.count)}</span>
            </span>
          </li>
        ))}
      </ul>
      {values.length > shown.length && (
        <div class="muted">
          {values.length - shown.length} more of the {values.length} most frequent values not shown.
        </div>
      )}
    </div>
  );
}

function RulesPanel({ rules, error }: { rules?: string; error: unknown }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    if (rules === undefined) return;
    try {
      await navigator.clipboard.writeText(rules);
      setCopied('Copied.');
    } catch {
      setCopied('The browser refused the clipboard: select the text and copy it.');
    }
  };
  return (
    <div class="panel" data-testid="inferred-rules">
      <h2>
        Inferred rules{' '}
        <button type="button" class="small" onClick={copy} disabled={rules === undefined}>
          Copy
        </button>{' '}
        {copied && (
          <span class="muted small-note" role="status">
            {copied}
          </span>
        )}
      </h2>
      <p class="muted">
        What this version satisfies, as a rules file for <code>slipway data validate --rules</code>: edit it, then
        validate this or another version against it below.
      </p>
      <ErrorBox error={error} title="Rules" />
      {rules !== undefined ? <pre class="json rules-text">{rules}</pre> : !error && <Loading what="rules" />}
    </div>
  );
}

function ValidationPanel(props: { name: string; version: string; inferred?: string }) {
  // null until edited: the inferred rules, once they arrive.
  const [edited, setEdited] = useState<string | null>(null);
  const [reference, setReference] = useState('');
  const [state, setState] = useState<{ busy: boolean; report?: ValidationReport; error?: unknown }>({ busy: false });
  const rules = edited ?? props.inferred ?? '';

  const validate = async () => {
    setState({ busy: true });
    try {
      setState({ busy: false, report: await validateVersion(props.name, props.version, rules, reference.trim()) });
    } catch (error) {
      setState({ busy: false, error });
    }
  };

  return (
    <div class="panel validation" data-testid="validation">
      <h2>Validate</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void validate();
        }}
      >
        <label class="field">
          Rules (YAML)
          <textarea
            class="rules-input"
            aria-label="Rules"
            rows={14}
            spellcheck={false}
            value={rules}
            onInput={(event) => setEdited(event.currentTarget.value)}
          />
        </label>
        <div class="toolbar">
          <label class="field">
            Drift reference (optional)
            <input
              aria-label="Reference"
              placeholder={`${props.name}@1`}
              value={reference}
              onInput={(event) => setReference(event.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={state.busy || rules.trim() === ''} data-testid="validate-button">
            {state.busy ? 'Validating…' : 'Validate'}
          </button>
          <button type="button" disabled={edited === null} onClick={() => setEdited(null)}>
            Back to the inferred rules
          </button>
        </div>
      </form>
      <ErrorBox error={state.error} title="Validation" />
      {state.report && <ValidationResult report={state.report} />}
    </div>
  );
}

function ValidationResult({ report }: { report: ValidationReport }) {
  // Failures first, each group in the server's order.
  const results = [...report.results.filter((r) => !r.passed), ...report.results.filter((r) => r.passed)];
  return (
    <>
      <div class={`verify ${report.ok ? 'ok' : 'bad'}`} role="status" data-testid="validation-summary">
        {report.ok
          ? `Passed: all ${report.rules} rules hold on ${report.dataset}.`
          : `Failed: ${report.failed} of ${report.rules} rules do not hold on ${report.dataset}.`}
      </div>
      <div class="scroll-x">
        <table class="kv validation-results" data-testid="validation-results">
          <thead>
            <tr>
              <th>Result</th>
              <th>Rule</th>
              <th>Column</th>
              <th>Observed</th>
              <th>Expected</th>
              <th>Message</th>
              <th>Lines</th>
            </tr>
          </thead>
          <tbody>
            {results.map((r, i) => (
              <ResultRow key={i} result={r} />
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function ResultRow({ result: r }: { result: RuleResult }) {
  return (
    <tr class={r.passed ? 'passed' : 'failed'} data-rule={r.rule} data-column={r.column}>
      <td>
        <span class={`status ${r.passed ? 'ok' : 'failed'}`}>{r.passed ? 'passed' : 'failed'}</span>
      </td>
      <td>
        <code>{r.rule}</code>
      </td>
      <td>{r.column || <span class="muted">(dataset)</span>}</td>
      <td data-field="observed">{r.observed}</td>
      <td data-field="expected">{r.expected}</td>
      <td>{r.message}</td>
      <td data-field="lines">
        {r.lines.join(', ')}
        {r.offending_rows !== undefined && r.offending_rows > 0 && (
          <span class="muted">
            {r.lines.length ? ' ' : ''}({formatNumber(r.offending_rows)} row{r.offending_rows === 1 ? '' : 's'})
          </span>
        )}
      </td>
    </tr>
  );
}
