// Every active experiment, searched by name on the server.

import { searchExperiments, type Experiment } from '../api/mlflow';
import { ErrorBox } from '../components/error_box';
import { NameSearch, useAppliedName } from '../components/name_search';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatTime } from '../lib/format';
import { usePaged } from '../lib/use_paged';
import { Link } from '../router';

const COLUMNS: Column<Experiment>[] = [
  {
    id: 'name',
    header: 'Name',
    width: 360,
    render: (e) => <Link href={`/experiments/${encodeURIComponent(e.experiment_id)}`}>{e.name}</Link>,
  },
  { id: 'id', header: 'ID', width: 90, render: (e) => e.experiment_id },
  { id: 'created', header: 'Created', width: 170, render: (e) => formatTime(e.creation_time) },
  { id: 'updated', header: 'Last update', width: 170, render: (e) => formatTime(e.last_update_time) },
  { id: 'location', header: 'Artifact location', width: 420, render: (e) => e.artifact_location ?? '' },
];

// A name typed by the user as a LIKE pattern that matches it anywhere.
function nameFilter(text: string): string | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  return `name ILIKE '%${trimmed.replace(/'/g, "\\'")}%'`;
}

export function ExperimentsPage() {
  const applied = useAppliedName();
  const experiments = usePaged(
    async (pageToken, signal) => {
      const reply = await searchExperiments(
        { pageToken, filter: nameFilter(applied), orderBy: ['name ASC'], maxResults: 500 },
        signal,
      );
      return { items: reply.experiments ?? [], nextPageToken: reply.next_page_token };
    },
    [applied],
  );

  return (
    <section class="experiments-page fill">
      <h1>Experiments</h1>
      <NameSearch
        label="Experiment name"
        noun="experiment"
        testId="experiment-count"
        listed={experiments.items.length}
        complete={experiments.complete}
        loading={experiments.loading}
      />
      <ErrorBox error={experiments.error} />
      <VirtualTable
        label="Experiments"
        testId="experiments-table"
        columns={COLUMNS}
        rows={experiments.items}
        rowKey={(e) => e.experiment_id}
        onNearEnd={experiments.loadMore}
        empty={experiments.loading ? 'Loading…' : 'No experiments.'}
      />
    </section>
  );
}
