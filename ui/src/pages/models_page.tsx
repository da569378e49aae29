// Every registered model the viewer may read, searched by name on the server
// (registered-models/search, name ILIKE) and read page by page.

import { quoteValue, searchRegisteredModels, type RegisteredModel } from '../api/registry';
import { ErrorBox } from '../components/error_box';
import { NameSearch, useAppliedName } from '../components/name_search';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatTime } from '../lib/format';
import { usePaged } from '../lib/use_paged';
import { Link } from '../router';

export function modelPath(name: string, version?: string): string {
  const base = `/models/${encodeURIComponent(name)}`;
  return version === undefined ? base : `${base}/versions/${encodeURIComponent(version)}`;
}

function latest(model: RegisteredModel): string {
  const versions = (model.latest_versions ?? []).map((v) => Number(v.version)).filter(Number.isFinite);
  return versions.length ? String(Math.max(...versions)) : '';
}

const COLUMNS: Column<RegisteredModel>[] = [
  {
    id: 'name',
    header: 'Name',
    width: 320,
    render: (m) => (
      <Link href={modelPath(m.name)} class="model-name">
        {m.name}
      </Link>
    ),
  },
  { id: 'latest', header: 'Latest version', width: 120, render: (m) => latest(m) },
  {
    id: 'aliases',
    header: 'Aliases',
    width: 260,
    render: (m) => (m.aliases ?? []).map((a) => `@${a.alias} → v${a.version}`).join(', '),
  },
  { id: 'updated', header: 'Last update', width: 170, render: (m) => formatTime(m.last_updated_timestamp) },
  { id: 'description', header: 'Description', width: 420, render: (m) => m.description ?? '' },
];

const PAGE_SIZE = 200;

export function ModelsPage() {
  const applied = useAppliedName();
  const models = usePaged(
    async (pageToken, signal) => {
      const text = applied.trim();
      const filter = text ? `name ILIKE ${quoteValue(`%${text}%`)}` : undefined;
      const reply = await searchRegisteredModels({ filter, pageToken, maxResults: PAGE_SIZE }, signal);
      return { items: reply.registered_models ?? [], nextPageToken: reply.next_page_token };
    },
    [applied],
  );

  return (
    <section class="models-page fill">
      <h1>Models</h1>
      <NameSearch
        label="Model name"
        noun="model"
        testId="model-count"
        listed={models.items.length}
        complete={models.complete}
        loading={models.loading}
      />
      <ErrorBox error={models.error} />
      <VirtualTable
        label="Registered models"
        testId="models-table"
        columns={COLUMNS}
        rows={models.items}
        rowKey={(m) => m.name}
        onNearEnd={models.loadMore}
        empty={models.loading ? 'Loading…' : 'No registered models.'}
      />
    </section>
  );
}
