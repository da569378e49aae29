// Where a tree of files and its previews read from: a run's artifacts, or a
// registered model version's files. The artifact tree and the preview
// (components/artifact_tree.tsx, artifact_preview.tsx) only see this
// interface, so the run page and the model version page share them.

import { api } from './client';
import { artifactUrl, getArtifactBytes, getRun, listArtifacts, type FileInfo } from './mlflow';
import { getModelVersion, type ModelVersion } from './registry';

const BASE = '/ajax-api/2.0/mlflow';

export interface ArtifactSource {
  // Tells one source from another (a run's id, a model version's name and number).
  key: string;
  // The files and folders directly under `path` ('' for the top), with paths
  // relative to the source's top.
  list(path: string, signal?: AbortSignal): Promise<FileInfo[]>;
  // The download link of a file.
  url(path: string): string;
  // The file's first `maxBytes` bytes, for a preview.
  read(path: string, maxBytes: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array<ArrayBuffer>; truncated: boolean }>;
}

export function runArtifacts(runId: string): ArtifactSource {
  return {
    key: `run:${runId}`,
    list: (path, signal) => listArtifacts(runId, path, signal),
    url: (path) => artifactUrl(runId, path),
    read: (path, maxBytes, signal) => getArtifactBytes(runId, path, maxBytes, signal),
  };
}

// A model version's files are read from `/model-versions/get-artifact`
// (MLflow's route, which resolves the version's source on the server). The
// listing comes from where the source lives: a logged model's artifacts
// (`models:/m-...`, MLflow 3) or a folder of a run's artifacts
// (`runs:/<run>/<path>`, or an artifact URI under the run's). A source that
// names another version (`models:/<name>/<version>`) is followed.
export async function modelVersionArtifacts(version: ModelVersion, signal?: AbortSignal): Promise<ArtifactSource> {
  const query = (path: string) => ({ name: version.name, version: version.version, path });
  return {
    key: `model-version:${version.name}/${version.version}`,
    list: await versionLister(version, signal),
    url: (path) => `/model-versions/get-artifact?${new URLSearchParams(query(path))}`,
    read: (path, maxBytes, signal) => api.getBytes('/model-versions/get-artifact', query(path), maxBytes, signal),
  };
}

type Lister = ArtifactSource['list'];

// A source this UI cannot list (an artifact URI outside the version's run).
export class UnlistableSource extends Error {
  constructor(readonly source: string) {
    super(`The files of source ${source} cannot be listed here; download them with the MLflow client.`);
    this.name = 'UnlistableSource';
  }
}

async function versionLister(version: ModelVersion, signal?: AbortSignal): Promise<Lister> {
  let current = version;
  for (let hop = 0; hop < 16; hop++) {
    const source = current.source ?? '';
    const loggedModel = /^models:\/(m-[^/]+)$/.exec(source);
    if (loggedModel) return loggedModelLister(loggedModel[1]);
    const runs = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
    if (runs) return runFolderLister(runs[1], runs[2]);
    const older = /^models:\/([^/]+)\/([^/]+)$/.exec(source);
    if (older) {
      current = await getModelVersion(older[1], older[2], signal);
      continue;
    }
    if (current.run_id) {
      const run = await getRun(current.run_id, signal);
      const root = (run.info.artifact_uri ?? '').replace(/\/+$/, '');
      if (root && source.startsWith(`${root}/`)) return runFolderLister(current.run_id, source.slice(root.length + 1));
      if (root && source === root) return runFolderLister(current.run_id, '');
    }
    break;
  }
  throw new UnlistableSource(version.source ?? '');
}

function loggedModelLister(modelId: string): Lister {
  return async (path, signal) => {
    const reply = await api.get<{ files?: FileInfo[] }>(
      `${BASE}/logged-models/${encodeURIComponent(modelId)}/artifacts/directories`,
      { artifact_directory_path: path || undefined },
      signal,
    );
    return reply.files ?? [];
  };
}

// A folder of a run's artifacts, its paths made relative to the folder.
function runFolderLister(runId: string, folder: string): Lister {
  const prefix = folder.replace(/^\/+|\/+$/g, '');
  return async (path, signal) => {
    const files = await listArtifacts(runId, [prefix, path].filter(Boolean).join('/'), signal);
    if (!prefix) return files;
    return files.map((file) => ({ ...file, path: file.path.startsWith(`${prefix}/`) ? file.path.slice(prefix.length + 1) : file.path }));
  };
}
