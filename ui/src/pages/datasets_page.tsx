// Every versioned dataset the viewer may read (the server leaves out the
// rest), with its latest version, how many versions it has and when it last
// changed. The server answers the whole list at once, so the name filter
// (`?name=`, as on the other list pages) is applied here.

import { useMemo } from 'preact/hooks';
import { listDatasets, type DatasetSummary } from '../api/datasets';
import { ErrorBox } from '../components/error_box';
import { NameSearch, useAppliedName } from '../components/name_search';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link } from '../router';

export function datasetPath(name: string): string {
  return `/datasets/${encodeURIComponent(name)}`;
}

export function datasetVersionPath(name: string, version: string | number): string {
  return `${datasetPath(name)}/versions/${encodeURIComponent(String(version))}`;
}

export function datasetDiffPath(name: string, a: string | number, b: string | number): string {
  return `${datasetPath(name)}/diff?a=${encodeURIComponent(String(a))}&b=${encodeURIComponent(String(b))}`;
}

const COLUMNS: Column<DatasetSummary>[] = [
  {
    id: 'name',
    header: 'Name',
    width: 320,
    render: (d) => (
      <Link href={datasetPath(d.name)} class="dataset-name">
        {d.name}
      </Link>
    ),
  },
  {
    id: 'latest',
    header: 'Latest version',
    width: 130,
    render: (d) => <Link href={datasetVersionPath(d.name, d.latest_version)}>version {d.latest_version}</Link>,
  },
  { id: 'versions', header: 'Versions', width: 100, align: 'right', render: (d) => d.version_count },
  { id: 'updated', header: 'Last update', width: 170, render: (d) => formatTime(d.updated_ms) },
  { id: 'created', header: 'Created', width: 170, render: (d) => formatTime(d.created_ms) },
];

export function DatasetsPage() {
  const applied = useAppliedName();
  const datasets = useAsync((signal) => listDatasets(signal), []);
  const shown = useMemo(() => {
    const needle = applied.trim().toLowerCase();
    const all = datasets.data?.datasets ?? [];
    return needle ? all.filter((d) => d.name.toLowerCase().includes(needle)) : all;
  }, [datasets.data, applied]);

  return (
    <section class="datasets-page fill">
      <h1>Datasets</h1>
      <NameSearch
        label="Dataset name"
        noun="dataset"
        testId="dataset-count"
        listed={shown.length}
        complete={!datasets.loading}
        loading={datasets.loading}
      />
      <ErrorBox error={datasets.error} />
      <VirtualTable
        label="Datasets"
        testId="datasets-table"
        columns={COLUMNS}
        rows={shown}
        rowKey={(d) => d.name}
        empty={
          datasets.loading ? (
            'Loading…'
          ) : (
            <>
              No datasets{applied ? ' match' : ''}. <code>slipway data add FILE --name NAME</code>, then{' '}
              <code>slipway data push NAME</code>, puts one here.
            </>
          )
        }
      />
    </section>
  );
}
