// One trace: its spans as a tree beside a waterfall of their timings (a bar
// per span, placed by its start and end within the trace), the chosen
// span's inputs, outputs and attributes, and the trace's assessments
// (feedback and expectations). The chosen span lives in the URL.

import { getExperiment } from '../api/mlflow';
import { assessmentValue, durationMs, getTrace, type Assessment, type Span, type Trace } from '../api/traces';
import { ErrorBox, Loading } from '../components/error_box';
import { formatMs, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';
import { TRACE_STATE_CLASS, traceName } from './traces_page';

interface Row {
  span: Span;
  depth: number;
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
  const walk = (parent: string | undefined, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) => a.startNs - b.startNs);
    for (const span of list) {
      if (seen.has(span.id)) continue;
      seen.add(span.id);
      rows.push({ span, depth });
      walk(span.id, depth + 1);
    }
  };
  walk(undefined, 0);
  return rows;
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
  const rows = spanRows(trace.spans);
  const start = Math.min(...trace.spans.map((s) => s.startNs));
  const end = Math.max(...trace.spans.map((s) => s.endNs ?? s.startNs));
  const total = Math.max(end - start, 1);
  const chosen = trace.spans.find((s) => s.id === selected) ?? rows[0]?.span;
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
          <div class="waterfall" role="tree" aria-label="Spans" data-testid="span-tree">
            <div class="wf-row wf-head">
              <span class="wf-name">Span</span>
              <span class="wf-time">
                <span>0</span>
                <span>{formatMs(total / 1e6)}</span>
              </span>
              <span class="wf-label">Duration</span>
            </div>
            {rows.map(({ span, depth }) => {
              const left = ((span.startNs - start) / total) * 100;
              const width = Math.max((((span.endNs ?? end) - span.startNs) / total) * 100, 0.3);
              const length = span.endNs === undefined ? undefined : (span.endNs - span.startNs) / 1e6;
              return (
                <button
                  type="button"
                  role="treeitem"
                  aria-level={depth + 1}
                  aria-selected={span === chosen}
                  class={`wf-row${span === chosen ? ' current' : ''}`}
                  key={span.id}
                  data-span={span.name}
                  onClick={() => setQuery({ span: span.id })}
                >
                  <span class="wf-name" style={{ paddingLeft: `${depth * 16 + 4}px` }}>
                    <span class="span-name">{span.name}</span> <span class="span-type">{span.type}</span>
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
                </button>
              );
            })}
          </div>
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
