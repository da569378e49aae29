// Where a tree of files and its previews read from: a run's artifacts, or a
// registered model version's files. The artifact tree and the preview
// (components/artifact_tree.tsx, artifact_preview.tsx) only see this
// interface, so the run page and the model version page share them.

import { api } from './client';
import { artifactUrl, getArtifactBytes, listArtifacts, type FileInfo } from './mlflow';
import type { ModelVersion } from './registry';

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

// A model version's files are listed by `/api/v1/models/<name>/versions/<v>/files`
// and read from `/model-versions/get-artifact` (MLflow's route). Both
// resolve the version's source on the server (a run's folder, a logged
// model, another version it names) and need READ on the registered model
// only, as the version's files are the model's.
export function modelVersionArtifacts(version: ModelVersion): ArtifactSource {
  const query = (path: string) => ({ name: version.name, version: version.version, path });
  const files = `/api/v1/models/${encodeURIComponent(version.name)}/versions/${encodeURIComponent(version.version)}/files`;
  return {
    key: `model-version:${version.name}/${version.version}`,
    list: async (path, signal) => (await api.get<{ files?: FileInfo[] }>(files, { path: path || undefined }, signal)).files ?? [],
    url: (path) => `/model-versions/get-artifact?${new URLSearchParams(query(path))}`,
    read: (path, maxBytes, signal) => api.getBytes('/model-versions/get-artifact', query(path), maxBytes, signal),
  };
}
