// The runs of one experiment: MLflow's filter grammar, sorting and paging
// done by the server (runs/search), a column chooser for params, metrics and
// tags, and a virtualised table, so 100,000 runs cost what one page costs.
// The filter and the sort live in the URL; the chosen columns in the
// browser's storage, per experiment.

import { useMemo, useRef, useState } from 'preact/hooks';
import { getExperiment, quoteKey, searchRuns, type Run } from '../api/mlflow';
import { ErrorBox } from '../components/error_box';
import { FilterBar } from '../components/filter_bar';
import { VirtualTable, type Column, type SortState } from '../components/virtual_table';
import { formatDuration, formatNumber, formatTime } from '../lib/format';
import { runFields } from '../lib/run_fields';
import { useAsync } from '../lib/use_async';
import { usePaged } from '../lib/use_paged';
import { Link, navigate, setQuery } from '../router';

// A page is about three screens of rows; the table asks for the next one
// as its last rows come into view. MLflow's UI asks for 100 too.
const PAGE_SIZE = 100;
const DEFAULT_SORT: SortState = { column: 'attr:start_time', ascending: false };

type Kind = 'metric' | 'param' | 'tag';
interface Chosen {
  metric: string[];
  param: string[];
  tag: string[];
}

// The order_by term of a sortable column (null: the column cannot be sorted by the server).
function orderTerm(column: string): string | null {
  const [kind, ...rest] = column.split(':');
  const key = rest.join(':');
  switch (kind) {
    case 'attr':
      return `attributes.${key}`;
    case 'metric':
      return `metrics.${quoteKey(key)}`;
    case 'param':
      return `params.${quoteKey(key)}`;
    case 'tag':
      return `tags.${quoteKey(key)}`;
    default:
      return null;
  }
}

function parseSort(query: URLSearchParams): SortState {
  const column = query.get('sort');
  if (!column || !orderTerm(column)) return DEFAULT_SORT;
  return { column, ascending: query.get('dir') !== 'desc' };
}

function storageKey(experimentId: string) {
  return `slipway.runs.columns.${experimentId}`;
}

function loadChosen(experimentId: string): Chosen | null {
  try {
    const text = window.localStorage.getItem(storageKey(experimentId));
    if (!text) return null;
    const value = JSON.parse(text) as Chosen;
    if (Array.isArray(value.metric) && Array.isArray(value.param) && Array.isArray(value.tag)) return value;
  } catch {
    // Unreadable storage: the defaults.
  }
  return null;
}

// Every metric, param and tag key seen in the runs loaded so far, gathered
// as pages arrive (each run is read once).
function useKeys(runs: Run[]) {
  const seen = useRef({ first: undefined as Run | undefined, count: 0, metric: new Set<string>(), param: new Set<string>(), tag: new Set<string>() });
  return useMemo(() => {
    const state = seen.current;
    if (runs[0] !== state.first || runs.length < state.count) {
      seen.current = { first: runs[0], count: 0, metric: new Set(), param: new Set(), tag: new Set() };
    }
    const s = seen.current;
    for (let i = s.count; i < runs.length; i++) {
      const data = runs[i].data;
      for (const m of data.metrics ?? []) s.metric.add(m.key);
      for (const p of data.params ?? []) s.param.add(p.key);
      for (const t of data.tags ?? []) s.tag.add(t.key);
    }
    s.count = runs.length;
    const sorted = (set: Set<string>) => [...set].sort();
    // Users' tags first, then MLflow's own (mlflow.*).
    const tags = sorted(s.tag);
    return {
      metric: sorted(s.metric),
      param: sorted(s.param),
      tag: tags.filter((t) => !t.startsWith('mlflow.')).concat(tags.filter((t) => t.startsWith('mlflow.'))),
    };
  }, [runs, runs.length]);
}

const STATUS_CLASS: Record<string, string> = {
  FINISHED: 'ok',
  RUNNING: 'running',
  FAILED: 'failed',
  KILLED: 'failed',
  SCHEDULED: 'running',
};

export function RunsPage({ experimentId, query }: { experimentId: string; query: URLSearchParams }) {
  const filter = query.get('filter') ?? '';
  const sort = parseSort(query);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [chooserOpen, setChooserOpen] = useState(false);
  const [chosenByUser, setChosenByUser] = useState<Chosen | null>(() => loadChosen(experimentId));

  const experiment = useAsync((signal) => getExperiment(experimentId, signal), [experimentId]);
  const orderBy = orderTerm(sort.column);
  const runs = usePaged(
    async (pageToken, signal) => {
      const reply = await searchRuns(
        {
          experimentIds: [experimentId],
          filter,
          orderBy: orderBy ? [`${orderBy} ${sort.ascending ? 'ASC' : 'DESC'}`] : undefined,
          maxResults: PAGE_SIZE,
          pageToken,
        },
        signal,
      );
      return { items: reply.runs ?? [], nextPageToken: reply.next_page_token };
    },
    [experimentId, filter, sort.column, sort.ascending],
  );
  const keys = useKeys(runs.items);
  const chosen: Chosen = chosenByUser ?? {
    metric: keys.metric.slice(0, 10),
    param: keys.param.slice(0, 10),
    tag: [],
  };

  const choose = (kind: Kind, key: string, on: boolean) => {
    const next: Chosen = { ...chosen, [kind]: on ? [...chosen[kind], key] : chosen[kind].filter((k) => k !== key) };
    setChosenByUser(next);
    try {
      window.localStorage.setItem(storageKey(experimentId), JSON.stringify(next));
    } catch {
      // Storage full or off: the choice lasts for this page only.
    }
  };

  const onSort = (column: string) => {
    const ascending = sort.column === column ? !sort.ascending : column !== 'attr:start_time';
    setQuery({ sort: column, dir: ascending ? 'asc' : 'desc' });
  };

  const toggle = (runId: string) => {
    const next = new Set(selected);
    if (next.has(runId)) next.delete(runId);
    else next.add(runId);
    setSelected(next);
  };

  const runLink = (run: Run) => `/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(run.info.run_id)}`;
  const columns: Column<Run>[] = [
    {
      id: 'select',
      header: '',
      width: 40,
      align: 'center',
      render: (run) => (
        <input
          type="checkbox"
          aria-label={`Select ${run.info.run_name ?? run.info.run_id}`}
          checked={selected.has(run.info.run_id)}
          onChange={() => toggle(run.info.run_id)}
        />
      ),
    },
    {
      id: 'attr:run_name',
      header: 'Run',
      width: 220,
      sortable: true,
      render: (run) => (
        <Link href={runLink(run)} class="run-name">
          {run.info.run_name || run.info.run_id}
        </Link>
      ),
    },
    {
      id: 'attr:status',
      header: 'Status',
      width: 90,
      sortable: true,
      render: (run) => <span class={`status ${STATUS_CLASS[run.info.status ?? ''] ?? ''}`}>{run.info.status}</span>,
    },
    { id: 'attr:start_time', header: 'Started', width: 175, sortable: true, render: (run) => formatTime(run.info.start_time) },
    { id: 'duration', header: 'Duration', width: 100, render: (run) => formatDuration(run.info.start_time, run.info.end_time) },
    { id: 'attr:user_id', header: 'User', width: 110, sortable: true, render: (run) => run.info.user_id ?? '' },
    ...chosen.metric.map(
      (key): Column<Run> => ({
        id: `metric:${key}`,
        header: <span class="col-metric">{key}</span>,
        title: `metric ${key}`,
        width: 110,
        align: 'right',
        sortable: true,
        render: (run) => formatNumber(runFields(run).metrics.get(key)?.value),
      }),
    ),
    ...chosen.param.map(
      (key): Column<Run> => ({
        id: `param:${key}`,
        header: <span class="col-param">{key}</span>,
        title: `param ${key}`,
        width: 110,
        sortable: true,
        render: (run) => runFields(run).params.get(key) ?? '',
      }),
    ),
    ...chosen.tag.map(
      (key): Column<Run> => ({
        id: `tag:${key}`,
        header: <span class="col-tag">{key}</span>,
        title: `tag ${key}`,
        width: 130,
        sortable: true,
        render: (run) => runFields(run).tags.get(key) ?? '',
      }),
    ),
  ];

  const compare = () => {
    const ids = runs.items.filter((run) => selected.has(run.info.run_id)).map((run) => run.info.run_id);
    navigate(`/compare?experiment=${encodeURIComponent(experimentId)}&runs=${ids.map(encodeURIComponent).join(',')}`);
  };

  return (
    <section class="runs-page fill">
      <div class="crumbs">
        <Link href="/experiments">Experiments</Link> /
      </div>
      <h1 data-testid="experiment-name">{experiment.data?.name ?? experimentId}</h1>
      <nav class="tabs">
        <span class="current">Runs</span>
        <Link href={`/experiments/${encodeURIComponent(experimentId)}/traces`} data-testid="traces-link">
          Traces
        </Link>
      </nav>
      <ErrorBox error={experiment.error} title="Experiment" />
      <FilterBar
        filter={filter}
        onApply={(applied) => setQuery({ filter: applied })}
        label="Filter runs"
        placeholder="metrics.rmse < 1 and params.depth = '6'"
        error={runs.error}
      >
        <button type="button" aria-expanded={chooserOpen} onClick={() => setChooserOpen(!chooserOpen)}>
          Columns
        </button>
        <button type="button" disabled={selected.size < 1} onClick={compare} data-testid="compare-button">
          Compare {selected.size ? `(${selected.size})` : ''}
        </button>
        <span class="count" data-testid="run-count">
          {runs.items.length} run{runs.items.length === 1 ? '' : 's'}
          {runs.complete ? '' : runs.loading ? ', loading…' : ', more below'}
        </span>
      </FilterBar>
      {chooserOpen && <ColumnChooser keys={keys} chosen={chosen} choose={choose} />}
      <VirtualTable
        label="Runs"
        testId="runs-table"
        columns={columns}
        rows={runs.items}
        rowKey={(run) => run.info.run_id}
        sort={sort}
        onSort={onSort}
        onNearEnd={runs.loadMore}
        empty={runs.loading ? 'Loading…' : runs.error ? 'No runs: the search failed.' : 'No runs match.'}
      />
    </section>
  );
}

function ColumnChooser(props: { keys: Chosen; chosen: Chosen; choose: (kind: Kind, key: string, on: boolean) => void }) {
  const groups: [Kind, string][] = [
    ['metric', 'Metrics'],
    ['param', 'Parameters'],
    ['tag', 'Tags'],
  ];
  return (
    <div class="chooser" data-testid="column-chooser">
      {groups.map(([kind, title]) => (
        <fieldset key={kind}>
          <legend>{title}</legend>
          {props.keys[kind].length === 0 && <span class="muted">none in these runs</span>}
          {props.keys[kind].map((key) => (
            <label key={key}>
              <input
                type="checkbox"
                checked={props.chosen[kind].includes(key)}
                onChange={(event) => props.choose(kind, key, event.currentTarget.checked)}
              />
              {key}
            </label>
          ))}
        </fieldset>
      ))}
    </div>
  );
}
