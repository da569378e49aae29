// One trace: its spans as a tree beside a waterfall of their timings (a bar
// per span, placed by its start and end within the trace), the chosen
// span's inputs, outputs and attributes, and the trace's assessments
// (feedback and expectations). The chosen span lives in the URL. The tree
// draws only the rows in view (components/virtual_rows.ts), so a trace of
// thousands of spans scrolls as one of ten does; a span with children
// folds and unfolds.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { getExperiment } from '../api/mlflow';
import { assessmentValue, durationMs, getTrace, type Assessment, type Span, type Trace } from '../api/traces';
import { ErrorBox, Loading } from '../components/error_box';
import { useVirtualRows } from '../components/virtual_rows';
import { formatMs, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';
import { TRACE_STATE_CLASS, traceName } from './traces_page';

interface Row {
  span: Span;
  depth: number;
  // How many rows follow that are under this one (its whole subtree).
  descendants: number;
}

// Depth-first, children by start time; a span whose parent is missing is a root.
function spanRows(spans: Span[]): Row[] {
  const ids = new Set(spans.map((s) => s.id));
  const children = new Map<string | undefined, Span[]>();
  for (const span of spans) {
    const parent = span.parentId && ids.has(span.parentId) ? span.parentId : undefined;
    const list = children.get(parent) ?? [];
    list.push(span);
    children.set(parent, list);
  }
  const rows: Row[] = [];
  const seen = new Set<string>();
  // An explicit stack: a chain of thousands of nested spans must not
  // overflow the call stack.
  const stack: { span: Span; depth: number }[] = [];
  const push = (parent: string | undefined, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) => a.startNs - b.startNs);
    for (let i = list.length - 1; i >= 0; i--) stack.push({ span: list[i], depth });
  };
  const open: number[] = []; // indexes of the rows whose subtree is being walked
  push(undefined, 0);
  while (stack.length) {
    const { span, depth } = stack.pop()!;
    if (seen.has(span.id)) continue;
    seen.add(span.id);
    // The rows this one is not under end their subtree here.
    while (open.length && rows[open[open.length - 1]].depth >= depth) {
      const index = open.pop()!;
      rows[index].descendants = rows.length - index - 1;
    }
    open.push(rows.length);
    rows.push({ span, depth, descendants: 0 });
    push(span.id, depth + 1);
  }
  for (const index of open) rows[index].descendants = rows.length - index - 1;
  return rows;
}

// The rows not inside a folded span.
function shownRows(rows: Row[], folded: Set<string>): Row[] {
  if (folded.size === 0) return rows;
  const out: Row[] = [];
  for (let i = 0; i < rows.length; i++) {
    out.push(rows[i]);
    if (folded.has(rows[i].span.id)) i += rows[i].descendants;
  }
  return out;
}

function json(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

export function TracePage({ experimentId, traceId, query }: { experimentId: string; traceId: string; query: URLSearchParams }) {
  const trace = useAsync((signal) => getTrace(traceId, signal), [traceId]);
  const experiment = useAsync((signal) => getExperiment(experimentId, signal), [experimentId]);
  const tracesHref = `/experiments/${encodeURIComponent(experimentId)}/traces`;
  return (
    <section class="trace-page">
      <div class="crumbs">
        <Link href="/experiments">Experiments</Link> /{' '}
        <Link href={`/experiments/${encodeURIComponent(experimentId)}`}>{experiment.data?.name ?? experimentId}</Link> /{' '}
        <Link href={tracesHref}>Traces</Link> /
      </div>
      {trace.error ? (
        <ErrorBox error={trace.error} title="Trace" />
      ) : !trace.data ? (
        <Loading what="trace" />
      ) : (
        <TraceView trace={trace.data} selected={query.get('span')} />
      )}
    </section>
  );
}

function TraceView({ trace, selected }: { trace: Trace; selected: string | null }) {
  const info = trace.info;
  const rows = useMemo(() => spanRows(trace.spans), [trace]);
  const { start, total } = useMemo(() => {
    let first = Infinity;
    let end = -Infinity;
    for (const s of trace.spans) {
      first = Math.min(first, s.startNs);
      end = Math.max(end, s.endNs ?? s.startNs);
    }
    return { start: first, total: Math.max(end - first, 1) };
  }, [trace]);
  const chosen = (selected ? rows.find((r) => r.span.id === selected)?.span : undefined) ?? rows[0]?.span;
  const tags = Object.entries(info.tags ?? {})
    .filter(([key]) => !key.startsWith('mlflow.'))
    .sort(([a], [b]) => a.localeCompare(b));

  return (
    <>
      <h1 data-testid="trace-name">{traceName(info)}</h1>
      <dl class="overview">
        <dt>Trace ID</dt>
        <dd>
          <code>{info.trace_id}</code>
        </dd>
        <dt>State</dt>
        <dd>
          <span class={`status ${TRACE_STATE_CLASS[info.state ?? ''] ?? ''}`} data-testid="trace-state">
            {info.state}
          </span>
        </dd>
        <dt>Request time</dt>
        <dd>{formatTime(info.request_time ? Date.parse(info.request_time) : undefined)}</dd>
        <dt>Duration</dt>
        <dd>{formatMs(durationMs(info.execution_duration))}</dd>
        {tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>{tags.map(([k, v]) => `${k}=${v}`).join(', ')}</dd>
          </>
        )}
      </dl>
      <div class="panel">
        <h2>
          Spans <span class="muted">({trace.spans.length})</span>
        </h2>
        {rows.length === 0 ? (
          <div class="muted">No spans stored for this trace.</div>
        ) : (
          <SpanTree rows={rows} chosen={chosen} start={start} total={total} />
        )}
      </div>
      {chosen && <SpanDetail span={chosen} start={start} />}
      <div class="panel">
        <h2>Assessments</h2>
        <Assessments items={info.assessments ?? []} spans={trace.spans} />
      </div>
    </>
  );
}

const ROW_HEIGHT = 27;
const MAX_ROWS_IN_VIEW = 24;

// The span tree beside its waterfall: one row per span not folded away,
// only those in view in the DOM. A click chooses a span (in the URL);
// ▾/▸ folds and unfolds a span's children; with the focus on the tree,
// ↑/↓ choose the span above or below, ←/→ fold and unfold.
function SpanTree({ rows, chosen, start, total }: { rows: Row[]; chosen: Span | undefined; start: number; total: number }) {
  const [folded, setFolded] = useState<Set<string>>(() => new Set());
  const shown = useMemo(() => shownRows(rows, folded), [rows, folded]);
  const { scroller, onScroll, first, last, reveal } = useVirtualRows(shown.length, ROW_HEIGHT);
  const chosenIndex = chosen ? shown.findIndex((r) => r.span === chosen) : -1;

  // A span chosen inside a folded one (a link, the keyboard): unfold its ancestors.
  useEffect(() => {
    if (!chosen || chosenIndex >= 0 || folded.size === 0) return;
    const parents = new Map(rows.map((r) => [r.span.id, r.span.parentId]));
    const next = new Set(folded);
    for (let id = parents.get(chosen.id); id; id = parents.get(id)) next.delete(id);
    setFolded(next);
  }, [chosen, chosenIndex, folded, rows]);
  // A newly chosen span in view (a link to a span deep in a long trace, the
  // keyboard); folding elsewhere moves it without scrolling.
  useEffect(() => reveal(chosenIndex), [chosen?.id, chosenIndex >= 0]);

  const fold = (id: string, on: boolean) => {
    const next = new Set(folded);
    if (on) next.add(id);
    else next.delete(id);
    setFolded(next);
  };
  const choose = (span: Span) => setQuery({ span: span.id });

  const onKeyDown = (event: KeyboardEvent) => {
    if (!chosen || chosenIndex < 0) return;
    const row = shown[chosenIndex];
    let handled = true;
    if (event.key === 'ArrowDown' && chosenIndex + 1 < shown.length) choose(shown[chosenIndex + 1].span);
    else if (event.key === 'ArrowUp' && chosenIndex > 0) choose(shown[chosenIndex - 1].span);
    else if (event.key === 'ArrowRight' && row.descendants > 0) fold(row.span.id, false);
    else if (event.key === 'ArrowLeft' && row.descendants > 0) fold(row.span.id, true);
    else handled = false;
    if (handled) event.preventDefault();
  };

  const items = [];
  for (let i = first; i < last; i++) {
    const { span, depth, descendants } = shown[i];
    const left = ((span.startNs - start) / total) * 100;
    const width = Math.max((((span.endNs ?? start + total) - span.startNs) / total) * 100, 0.3);
    const length = span.endNs === undefined ? undefined : (span.endNs - span.startNs) / 1e6;
    const isFolded = folded.has(span.id);
    items.push(
      <div
        role="treeitem"
        aria-level={depth + 1}
        aria-selected={span === chosen}
        aria-expanded={descendants > 0 ? !isFolded : undefined}
        class={`wf-row${span === chosen ? ' current' : ''}`}
        key={span.id}
        data-span={span.name}
        data-span-id={span.id}
        style={{ position: 'absolute', top: `${i * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px`, left: 0 }}
        onClick={() => choose(span)}
      >
        <span class="wf-name" style={{ paddingLeft: `${depth * 16 + 4}px` }}>
          {descendants > 0 ? (
            <button
              type="button"
              class="linklike wf-fold"
              tabIndex={-1}
              aria-label={`${isFolded ? 'Unfold' : 'Fold'} ${span.name}`}
              style={{ width: '14px' }}
              onClick={(event) => {
                event.stopPropagation();
                fold(span.id, !isFolded);
              }}
            >
              {isFolded ? '▸' : '▾'}
            </button>
          ) : (
            <span style={{ display: 'inline-block', width: '14px' }} />
          )}{' '}
          <span class="span-name">{span.name}</span> <span class="span-type">{span.type}</span>
          {isFolded && <span class="muted"> +{descendants}</span>}
          {span.status === 'ERROR' && <span class="status failed"> ERROR</span>}
        </span>
        <span class="wf-time">
          <span
            class={`wf-bar${span.status === 'ERROR' ? ' error' : ''}`}
            style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
            title={`${span.name}: starts at ${formatMs((span.startNs - start) / 1e6)}, lasts ${formatMs(length)}`}
          />
        </span>
        <span class="wf-label">{formatMs(length)}</span>
      </div>,
    );
  }

  return (
    <div class="waterfall" role="tree" aria-label="Spans" data-testid="span-tree" tabIndex={0} onKeyDown={onKeyDown}>
      <div class="wf-row wf-head">
        <span class="wf-name">Span</span>
        <span class="wf-time">
          <span>0</span>
          <span>{formatMs(total / 1e6)}</span>
        </span>
        <span class="wf-label">Duration</span>
      </div>
      <div
        ref={scroller}
        onScroll={onScroll}
        data-testid="span-scroller"
        style={{ height: `${Math.min(shown.length, MAX_ROWS_IN_VIEW) * ROW_HEIGHT}px`, overflowY: 'auto' }}
      >
        <div style={{ position: 'relative', height: `${shown.length * ROW_HEIGHT}px` }}>{items}</div>
      </div>
    </div>
  );
}

function SpanDetail({ span, start }: { span: Span; start: number }) {
  const attributes = Object.entries(span.attributes).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div class="panel" data-testid="span-detail">
      <h2>
        <span data-testid="span-detail-name">{span.name}</span> <span class="span-type">{span.type}</span>{' '}
        <span class={`status ${span.status === 'ERROR' ? 'failed' : span.status === 'OK' ? 'ok' : ''}`}>{span.status}</span>
      </h2>
      <p class="muted">
        starts at {formatMs((span.startNs - start) / 1e6)}
        {span.endNs !== undefined && `, lasts ${formatMs((span.endNs - span.startNs) / 1e6)}`}
        {span.statusMessage && ` — ${span.statusMessage}`}
      </p>
      <div class="columns">
        <div>
          <h3>Inputs</h3>
          <pre class="json" data-testid="span-inputs">
            {json(span.inputs) || '—'}
          </pre>
        </div>
        <div>
          <h3>Outputs</h3>
          <pre class="json" data-testid="span-outputs">
            {json(span.outputs) || '—'}
          </pre>
        </div>
      </div>
      <h3>Attributes</h3>
      <table class="kv" data-testid="span-attributes">
        <tbody>
          {attributes.map(([key, value]) => (
            <tr key={key}>
              <th>{key}</th>
              <td>
                <code>{json(value)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {span.events.length > 0 && (
        <>
          <h3>Events</h3>
          {span.events.map((event, i) => (
            <pre class="json" key={i}>
              {event.name}: {json(event.attributes)}
            </pre>
          ))}
        </>
      )}
    </div>
  );
}

function Assessments({ items, spans }: { items: Assessment[]; spans: Span[] }) {
  if (items.length === 0) return <div class="muted">No assessments.</div>;
  const spanName = (id: string | undefined) => spans.find((s) => s.id === id)?.name;
  return (
    <table class="kv" data-testid="assessments">
      <thead>
        <tr>
          <th>Name</th>
          <th>Kind</th>
          <th>Value</th>
          <th>Source</th>
          <th>Rationale</th>
          <th>Span</th>
        </tr>
      </thead>
      <tbody>
        {items.map((a) => (
          <tr key={a.assessment_id} class={a.valid === false ? 'dim' : ''} title={a.valid === false ? 'overridden' : undefined}>
            <th>{a.assessment_name}</th>
            <td>{a.feedback ? 'feedback' : a.expectation ? 'expectation' : ''}</td>
            <td>
              <code>{json(assessmentValue(a))}</code>
            </td>
            <td>{[a.source?.source_type, a.source?.source_id].filter(Boolean).join(': ')}</td>
            <td>{a.rationale ?? ''}</td>
            <td>{spanName(a.span_id) ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
