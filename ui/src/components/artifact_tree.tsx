// A tree of files (a run's artifacts, a model version's files) with a
// preview of the chosen one beside it. A folder is listed when it is
// opened. The chosen file lives in the URL (`?artifact=<path>`), so a
// preview is a link too; a folder holding it starts open.

import { useMemo, useState } from 'preact/hooks';
import { modelVersionArtifacts, type ArtifactSource } from '../api/artifact_sources';
import type { FileInfo } from '../api/mlflow';
import type { ModelVersion } from '../api/registry';
import { formatBytes } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { setQuery, useLocation } from '../router';
import { ArtifactPreview } from './artifact_preview';
import { ErrorBox, Loading } from './error_box';

export function ArtifactTree({ source, selected, testId = 'artifacts' }: { source: ArtifactSource; selected: string | null; testId?: string }) {
  const [sizes, setSizes] = useState<Record<string, number | undefined>>({});
  const select = (file: FileInfo) => {
    setSizes((known) => ({ ...known, [file.path]: file.file_size }));
    setQuery({ artifact: file.path });
  };
  return (
    <div class={selected ? 'artifacts with-preview' : 'artifacts'} data-testid={testId}>
      <div class="artifact-list">
        <ArtifactFolder source={source} path="" selected={selected} onSelect={select} />
      </div>
      {selected && <ArtifactPreview source={source} path={selected} size={sizes[selected]} />}
    </div>
  );
}

interface TreeProps {
  source: ArtifactSource;
  selected: string | null;
  onSelect: (file: FileInfo) => void;
}

function ArtifactFolder({ source, path, selected, onSelect }: TreeProps & { path: string }) {
  const files = useAsync((signal) => source.list(path, signal), [source.key, path]);
  if (files.error) return <ErrorBox error={files.error} />;
  if (!files.data) return <Loading />;
  if (files.data.length === 0) return <div class="muted">{path ? 'Empty folder.' : 'No artifacts.'}</div>;
  return (
    <ul class="tree">
      {files.data.map((file) => (
        <ArtifactEntry key={file.path} source={source} file={file} selected={selected} onSelect={onSelect} />
      ))}
    </ul>
  );
}

function ArtifactEntry({ source, file, selected, onSelect }: TreeProps & { file: FileInfo }) {
  const [open, setOpen] = useState(() => !!selected && selected.startsWith(`${file.path}/`));
  const name = file.path.split('/').pop();
  if (file.is_dir) {
    return (
      <li>
        <button type="button" class="linklike" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? '▾' : '▸'} {name}/
        </button>
        {open && <ArtifactFolder source={source} path={file.path} selected={selected} onSelect={onSelect} />}
      </li>
    );
  }
  return (
    <li class={file.path === selected ? 'current' : ''}>
      <button type="button" class="linklike" aria-pressed={file.path === selected} onClick={() => onSelect(file)}>
        {name}
      </button>{' '}
      <span class="muted">{formatBytes(file.file_size)}</span>{' '}
      <a href={source.url(file.path)} download={name} class="download" title={`Download ${name}`}>
        download
      </a>
    </li>
  );
}

// A registered model version's files, listed and read through the version
// (api/artifact_sources.ts): the server resolves its source.
export function ModelVersionFiles({ version }: { version: ModelVersion }) {
  const location = useLocation();
  const source = useMemo(() => modelVersionArtifacts(version), [version.name, version.version]);
  return <ArtifactTree source={source} selected={location.query.get('artifact')} testId="version-files" />;
}
