// One dataset: its versions, newest first (number, rows, columns, size,
// format, source, who pushed it and when, description, content digest),
// each linking to its profile. Two versions ticked open their diff, the
// older one as the reference.

import { useMemo, useState } from 'preact/hooks';
import { listVersions, type DatasetVersion } from '../api/datasets';
import { ErrorBox } from '../components/error_box';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatBytes, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link, navigate } from '../router';
import { datasetDiffPath, datasetVersionPath } from './datasets_page';

export function rowCount(v: DatasetVersion): string {
  return v.row_count >= 0 ? v.row_count.toLocaleString('en-US') : '';
}

export function DatasetPage({ name }: { name: string }) {
  const versions = useAsync((signal) => listVersions(name, signal), [name]);
  const rows = useMemo(
    () => [...(versions.data?.versions ?? [])].sort((a, b) => b.version - a.version),
    [versions.data],
  );
  // At most two, in the order ticked; a third replaces the older pick.
  const [selected, setSelected] = useState<number[]>([]);

  const toggle = (version: number) => {
    if (selected.includes(version)) setSelected(selected.filter((v) => v !== version));
    else setSelected([...selected, version].slice(-2));
  };

  const columns: Column<DatasetVersion>[] = [
    {
      id: 'select',
      header: '',
      width: 40,
      align: 'center',
      render: (v) => (
        <input
          type="checkbox"
          aria-label={`Select version ${v.version}`}
          checked={selected.includes(v.version)}
          onChange={() => toggle(v.version)}
        />
      ),
    },
    {
      id: 'version',
      header: 'Version',
      width: 100,
      render: (v) => (
        <Link href={datasetVersionPath(name, v.version)} class="version-link">
          Version {v.version}
        </Link>
      ),
    },
    { id: 'rows', header: 'Rows', width: 100, align: 'right', render: (v) => <span class="rows">{rowCount(v)}</span> },
    { id: 'columns', header: 'Columns', width: 80, align: 'right', render: (v) => (v.column_count >= 0 ? v.column_count : '') },
    { id: 'size', header: 'Size', width: 90, align: 'right', render: (v) => formatBytes(v.size_bytes) },
    { id: 'format', header: 'Format', width: 80, render: (v) => v.format || v.kind },
    { id: 'source', header: 'Source', width: 220, render: (v) => <span title={v.source}>{v.source}</span> },
    { id: 'created_by', header: 'Pushed by', width: 110, render: (v) => v.created_by },
    { id: 'created', header: 'Created', width: 170, render: (v) => formatTime(v.created_ms) },
    { id: 'description', header: 'Description', width: 240, render: (v) => <span title={v.description}>{v.description}</span> },
    {
      id: 'digest',
      header: 'Content digest',
      width: 190,
      render: (v) => (
        <code title={`sha256:${v.content_digest}`}>{v.content_digest.slice(0, 16)}…</code>
      ),
    },
  ];

  const [a, b] = [...selected].sort((x, y) => x - y);
  return (
    <section class="dataset-page fill">
      <div class="crumbs">
        <Link href="/datasets">Datasets</Link> /
      </div>
      <h1 data-testid="dataset-name">{name}</h1>
      <div class="toolbar">
        <span class="count" data-testid="version-count">
          {versions.loading ? 'loading…' : `${rows.length} version${rows.length === 1 ? '' : 's'}`}
        </span>
        <button type="button" disabled={selected.length !== 2} onClick={() => navigate(datasetDiffPath(name, a, b))} data-testid="diff-button">
          Diff {selected.length === 2 ? `version ${a} → ${b}` : 'two versions'}
        </button>
        <span class="muted">Tick two versions to see what changed.</span>
      </div>
      <ErrorBox error={versions.error} />
      <VirtualTable
        label="Versions"
        testId="dataset-versions"
        columns={columns}
        rows={rows}
        rowKey={(v) => String(v.version)}
        empty={versions.loading ? 'Loading…' : versions.error ? '' : 'No versions.'}
      />
    </section>
  );
}
