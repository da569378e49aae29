// The traces of one experiment, newest first: MLflow's trace filter
// grammar, sorting and paging done by the server (traces/search), the
// filter and the sort in the URL, the server's refusal of a filter shown
// as it said it. A click on the time, trace, state or duration header
// sorts by it (again: the other way round).

import { getExperiment } from '../api/mlflow';
import { durationMs, searchTraces, type TraceInfo } from '../api/traces';
import { ErrorBox } from '../components/error_box';
import { FilterBar } from '../components/filter_bar';
import { VirtualTable, type Column, type SortState } from '../components/virtual_table';
import { formatMs, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { usePaged } from '../lib/use_paged';
import { Link, setQuery } from '../router';

const PAGE_SIZE = 100;

// The order_by attribute of each sortable column (src/tracing/trace_search.cc).
const ORDER_KEYS: Record<string, string> = {
  time: 'timestamp_ms',
  name: 'name',
  state: 'status',
  duration: 'execution_time_ms',
};

// ?sort=duration&dir=asc; newest first when the URL names no known column.
function parseSort(query: URLSearchParams): SortState {
  const column = query.get('sort') ?? '';
  if (!Object.prototype.hasOwnProperty.call(ORDER_KEYS, column)) return { column: 'time', ascending: false };
  return { column, ascending: query.get('dir') === 'asc' };
}

export const TRACE_STATE_CLASS: Record<string, string> = { OK: 'ok', ERROR: 'failed', IN_PROGRESS: 'running' };

// One run's traces in the trace filter grammar: those it produced
// (mlflow.sourceRun) and those linked to it.
function runFilter(runId: string) {
  return `run_id = '${runId.replace(/'/g, "''")}'`;
}

export function runTracesPath(experimentId: string, runId: string) {
  return `/experiments/${encodeURIComponent(experimentId)}/traces?filter=${encodeURIComponent(runFilter(runId))}`;
}

// For a run's page: how many traces the run has, as a link to them; nothing
// when it has none (or the search fails: the run's page is about the run).
export function RunTracesLink({ experimentId, runId }: { experimentId: string; runId: string }) {
  const LIMIT = 100;
  const found = useAsync(
    (signal) =>
      searchTraces({ experimentId, filter: runFilter(runId), maxResults: LIMIT }, signal),
    [experimentId, runId],
  );
  const count = found.data?.traces?.length ?? 0;
  if (!count) return null;
  const more = Boolean(found.data?.next_page_token);
  return (
    <>
      <dt>Traces</dt>
      <dd>
        <Link href={runTracesPath(experimentId, runId)} data-testid="run-traces-link">
          {more ? `${LIMIT}+ traces` : `${count} trace${count === 1 ? '' : 's'}`}
        </Link>
      </dd>
    </>
  );
}

export function tracePath(experimentId: string, traceId: string) {
  return `/experiments/${encodeURIComponent(experimentId)}/traces/${encodeURIComponent(traceId)}`;
}

export function traceName(info: TraceInfo) {
  return info.tags?.['mlflow.traceName'] || info.trace_id;
}

// The users' tags (MLflow's own, mlflow.*, left out).
function userTags(info: TraceInfo): [string, string][] {
  return Object.entries(info.tags ?? {})
    .filter(([key]) => !key.startsWith('mlflow.'))
    .sort(([a], [b]) => a.localeCompare(b));
}

export function TracesPage({ experimentId, query }: { experimentId: string; query: URLSearchParams }) {
  const filter = query.get('filter') ?? '';
  const sort = parseSort(query);
  const experiment = useAsync((signal) => getExperiment(experimentId, signal), [experimentId]);
  const traces = usePaged(
    async (pageToken, signal) => {
      const orderBy = [`${ORDER_KEYS[sort.column]} ${sort.ascending ? 'ASC' : 'DESC'}`];
      const reply = await searchTraces({ experimentId, filter, orderBy, maxResults: PAGE_SIZE, pageToken }, signal);
      return { items: reply.traces ?? [], nextPageToken: reply.next_page_token };
    },
    [experimentId, filter, sort.column, sort.ascending],
  );
  // A second click turns the order round; a new column starts with the
  // largest first for times and durations, A to Z for names and states.
  const onSort = (column: string) => {
    const ascending = sort.column === column ? !sort.ascending : column === 'name' || column === 'state';
    setQuery({ sort: column, dir: ascending ? 'asc' : 'desc' });
  };

  const columns: Column<TraceInfo>[] = [
    {
      id: 'time',
      header: 'Request time',
      width: 170,
      sortable: true,
      render: (t) => formatTime(t.request_time ? Date.parse(t.request_time) : undefined),
    },
    {
      id: 'name',
      header: 'Trace',
      width: 190,
      sortable: true,
      render: (t) => (
        <Link href={tracePath(experimentId, t.trace_id)} class="trace-name" title={t.trace_id}>
          {traceName(t)}
        </Link>
      ),
    },
    {
      id: 'state',
      header: 'State',
      width: 90,
      sortable: true,
      render: (t) => <span class={`status ${TRACE_STATE_CLASS[t.state ?? ''] ?? ''}`}>{t.state}</span>,
    },
    { id: 'duration', header: 'Duration', width: 104, align: 'right', sortable: true, render: (t) => formatMs(durationMs(t.execution_duration)) },
    { id: 'request', header: 'Request', width: 260, render: (t) => <code title={t.request_preview}>{t.request_preview}</code> },
    { id: 'response', header: 'Response', width: 260, render: (t) => <code title={t.response_preview}>{t.response_preview}</code> },
    {
      id: 'tags',
      header: 'Tags',
      width: 220,
      render: (t) => {
        const text = userTags(t)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        return <span title={text}>{text}</span>;
      },
    },
  ];

  return (
    <section class="traces-page fill">
      <div class="crumbs">
        <Link href="/experiments">Experiments</Link> /{' '}
      </div>
      <h1 data-testid="experiment-name">{experiment.data?.name ?? experimentId}</h1>
      <nav class="tabs">
        <Link href={`/experiments/${encodeURIComponent(experimentId)}`} data-testid="runs-link">
          Runs
        </Link>
        <span class="current">Traces</span>
      </nav>
      <ErrorBox error={experiment.error} title="Experiment" />
      <FilterBar
        filter={filter}
        onApply={(applied) => setQuery({ filter: applied })}
        label="Filter traces"
        placeholder="trace.status = 'ERROR' and tags.team = 'search'"
        error={traces.error}
      >
        <span class="count" data-testid="trace-count">
          {traces.items.length} trace{traces.items.length === 1 ? '' : 's'}
          {traces.complete ? '' : traces.loading ? ', loading…' : ', more below'}
        </span>
      </FilterBar>
      <VirtualTable
        label="Traces"
        testId="traces-table"
        columns={columns}
        rows={traces.items}
        rowKey={(t) => t.trace_id}
        sort={sort}
        onSort={onSort}
        onNearEnd={traces.loadMore}
        empty={traces.loading ? 'Loading…' : traces.error ? 'No traces: the search failed.' : 'No traces match.'}
      />
    </section>
  );
}
