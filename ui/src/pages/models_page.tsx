// Every registered model the viewer may read, searched by name on the server
// (registered-models/search, name ILIKE) and read page by page.

import { useState } from 'preact/hooks';
import { quoteValue, searchRegisteredModels, type RegisteredModel } from '../api/registry';
import { ErrorBox } from '../components/error_box';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatTime } from '../lib/format';
import { usePaged } from '../lib/use_paged';
import { Link, setQuery, useLocation } from '../router';

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
  const location = useLocation();
  const applied = location.query.get('name') ?? '';
  const [typed, setTyped] = useState(applied);
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
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          setQuery({ name: typed.trim() });
        }}
      >
        <input
          type="search"
          placeholder="Name contains…"
          aria-label="Model name"
          value={typed}
          onInput={(event) => setTyped(event.currentTarget.value)}
        />
        <button type="submit">Search</button>
        <span class="count" data-testid="model-count">
          {models.items.length} model{models.items.length === 1 ? '' : 's'}
          {models.complete ? '' : models.loading ? ', loading…' : ', more below'}
        </span>
      </form>
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
