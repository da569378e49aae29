// A preview of one file of an artifact tree (a run's, a model version's).
// The bytes come from the source's download route through the API client;
// nothing from an artifact is ever rendered as markup: images are shown from
// a blob URL of a type chosen here by the file's extension (the page's CSP
// allows `img-src blob:`, and an SVG in an <img> runs no script), HTML and
// everything textual as text, JSON pretty-printed, CSV/TSV as a table of its
// first rows. Every file has a download link.

import { useEffect, useState } from 'preact/hooks';
import type { ArtifactSource } from '../api/artifact_sources';
import { parseDelimited } from '../lib/csv';
import { formatBytes } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { ErrorBox, Loading } from './error_box';

const TEXT_LIMIT = 1024 * 1024; // text is shown up to its first 1 MB
const TABLE_LIMIT = 8 * 1024 * 1024; // CSV/TSV: the bytes read for the first rows
const TABLE_ROWS = 1000;
const IMAGE_LIMIT = 32 * 1024 * 1024; // larger images are offered for download only

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
};
const TEXT_EXTENSIONS = new Set([
  'txt', 'log', 'py', 'md', 'yaml', 'yml', 'html', 'htm', 'xml', 'cfg', 'ini', 'toml', 'sh', 'out', 'err',
]);

export type PreviewKind = 'image' | 'text' | 'json' | 'table' | 'none';

function extension(path: string): string {
  const name = path.split('/').pop() ?? '';
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

export function previewKind(path: string): PreviewKind {
  const name = path.split('/').pop() ?? '';
  if (name === 'MLmodel') return 'text';
  const ext = extension(path);
  if (ext in IMAGE_TYPES) return 'image';
  if (ext === 'json') return 'json';
  if (ext === 'csv' || ext === 'tsv') return 'table';
  if (TEXT_EXTENSIONS.has(ext)) return 'text';
  return 'none';
}

function limitFor(kind: PreviewKind): number {
  if (kind === 'image') return IMAGE_LIMIT;
  if (kind === 'table') return TABLE_LIMIT;
  return TEXT_LIMIT;
}

function decode(bytes: Uint8Array): string {
  // A cut in the middle of a character becomes U+FFFD, not an error.
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

export function ArtifactPreview({ source, path, size }: { source: ArtifactSource; path: string; size?: number }) {
  const name = path.split('/').pop() ?? path;
  const kind = previewKind(path);
  return (
    <div class="artifact-preview" data-testid="artifact-preview" data-kind={kind}>
      <div class="preview-head">
        <strong data-testid="preview-name">{path}</strong> <span class="muted">{formatBytes(size)}</span>{' '}
        <a href={source.url(path)} download={name} data-testid="preview-download">
          Download
        </a>
      </div>
      {kind === 'none' ? (
        <div class="muted" data-testid="preview-none">
          No preview for this type of file.
        </div>
      ) : (
        <PreviewBody key={`${source.key}/${path}`} source={source} path={path} kind={kind} />
      )}
    </div>
  );
}

function PreviewBody({ source, path, kind }: { source: ArtifactSource; path: string; kind: PreviewKind }) {
  const limit = limitFor(kind);
  const file = useAsync((signal) => source.read(path, limit, signal), [source.key, path, limit]);
  if (file.error) return <ErrorBox error={file.error} title="Preview" />;
  if (!file.data) return <Loading what="preview" />;
  const { bytes, truncated } = file.data;
  if (kind === 'image') {
    if (truncated) return <div class="muted">The image is larger than {formatBytes(IMAGE_LIMIT)}; download it to see it.</div>;
    return <ImagePreview bytes={bytes} type={IMAGE_TYPES[extension(path)]} alt={path} />;
  }
  const text = decode(bytes);
  if (kind === 'json' && !truncated) {
    try {
      const pretty = JSON.stringify(JSON.parse(text), null, 2);
      return <pre class="preview-text" data-testid="preview-json">{pretty}</pre>;
    } catch {
      return <TextPreview text={text} truncated={false} note="Not valid JSON; shown as text." />;
    }
  }
  if (kind === 'table') {
    return <TablePreview text={text} separator={extension(path) === 'tsv' ? '\t' : ','} bytesTruncated={truncated} />;
  }
  return <TextPreview text={text} truncated={truncated} />;
}

// An image from its bytes, through a blob URL (an SVG shown so runs no script).
export function ImagePreview({ bytes, type, alt }: { bytes: Uint8Array<ArrayBuffer>; type: string; alt: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const made = URL.createObjectURL(new Blob([bytes], { type }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [bytes, type]);
  if (!url) return null;
  return <img class="preview-image" data-testid="preview-image" src={url} alt={alt} />;
}

function TextPreview({ text, truncated, note }: { text: string; truncated: boolean; note?: string }) {
  return (
    <>
      {note && <div class="muted">{note}</div>}
      {truncated && (
        <div class="muted" data-testid="preview-truncated">
          Showing the first {formatBytes(TEXT_LIMIT)}; download the file for the rest.
        </div>
      )}
      <pre class="preview-text" data-testid="preview-text">
        {text}
      </pre>
    </>
  );
}

function TablePreview({ text, separator, bytesTruncated }: { text: string; separator: string; bytesTruncated: boolean }) {
  const table = parseDelimited(text, separator, TABLE_ROWS + 1);
  // A read cut short may have cut its last row too: that row is not shown.
  const parsed = bytesTruncated && !table.truncated ? table.rows.slice(0, -1) : table.rows;
  const [header, ...body] = parsed;
  const rows = body.slice(0, TABLE_ROWS);
  const truncated = bytesTruncated || table.truncated || body.length > TABLE_ROWS;
  if (!header) return <div class="muted">Empty file.</div>;
  return (
    <>
      {truncated && (
        <div class="muted" data-testid="preview-truncated">
          Showing the first {rows.length} rows; download the file for the rest.
        </div>
      )}
      <div class="scroll-x preview-table-wrap">
        <table class="kv preview-table" data-testid="preview-table">
          <thead>
            <tr>
              {header.map((cell, i) => (
                <th key={i}>{cell}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, r) => (
              <tr key={r}>
                {row.map((cell, i) => (
                  <td key={i}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
