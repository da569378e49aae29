// What `slipway train` records on a training run, read back for the training
// page: the run's verdict and gate results (tags `slipway.gates`,
// `slipway.gate.N` = "RULE: DETAIL: passed|FAILED", metrics
// `gate.N.passed` and `gate.N.champion`, and the gate table of
// model_card.md, which alone has the threshold and the interval as columns),
// its trials (child runs tagged `slipway.tuning.*`), and the chart files
// logged under its evaluation folders.
//
// The parsers are pure and forgiving: a run trained by an older Slipway, or a
// card edited by hand, gives fewer columns, never an exception.

import { getArtifactBytes, listArtifacts, searchRuns, tagValue, type FileInfo, type Run } from './mlflow';

export const TRAINING_TAG = 'slipway.spec';
const PARENT_TAG = 'mlflow.parentRunId';
// Folders whose charts the page shows (the evaluation writes SVG there).
export const CHART_FOLDERS = ['evaluation', 'fairness', 'robustness'];
const MAX_CHART_DEPTH = 2; // evaluation/shap/x.svg is found; deeper is not
const MAX_CARD_BYTES = 256 * 1024;
const MAX_TRIALS = 1000;

export function isTrainingRun(run: Run): boolean {
  return tagValue(run, TRAINING_TAG) !== undefined;
}

export interface GateRow {
  index: number;
  rule: string; // "roc_auc >= 0.95", "roc_auc >= champion@production + 0.01"
  value: string; // the candidate's metric as recorded
  threshold: string; // "[0.9, 1]", ">= 0.95", "champion@production + 0 (champion 0.97)"
  interval: string; // the paired bootstrap interval of a champion gate's improvement
  detail: string; // "0.9712: short by 0.0012", "0.97 vs 0.95 (version 3): by +0.02, ..."
  passed: boolean;
  champion?: ChampionComparison;
}

// A champion gate's comparison, from its detail and metrics.
export interface ChampionComparison {
  alias: string;
  metric: string;
  margin: string;
  candidate?: number;
  champion?: number; // absent: no champion, or it could not be evaluated
  version?: string;
  difference?: number;
  interval?: [number, number];
  confidence?: string; // "95%"
  note?: string; // "no champion", "could not be evaluated: ..."
}

// Splits a Markdown table row into cells: `\|` is a pipe inside a cell.
export function markdownCells(line: string): string[] {
  let text = line.trim();
  if (text.startsWith('|')) text = text.slice(1);
  if (text.endsWith('|') && !text.endsWith('\\|')) text = text.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (text[i] === '|') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += text[i];
    }
  }
  cells.push(cell.trim());
  return cells.map((c) => c.replace(/^\*\*(.*)\*\*$/, '$1').replace(/^`(.*)`$/, '$1'));
}

// The rows of the first table under `## <heading>` of a Markdown card, as
// maps of lowercased header to cell.
export function markdownTable(card: string, heading: string): Record<string, string>[] {
  const lines = card.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim().toLowerCase() === `## ${heading.toLowerCase()}`);
  if (start < 0) return [];
  const rows: Record<string, string>[] = [];
  let header: string[] | null = null;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (/^#{1,2} /.test(line)) break;
    if (!line.startsWith('|')) {
      if (header) break; // the table ended
      continue;
    }
    const cells = markdownCells(line);
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
    } else if (!cells.every((c) => /^:?-{3,}:?$/.test(c))) {
      const row: Record<string, string> = {};
      header.forEach((name, j) => (row[name] = cells[j] ?? ''));
      rows.push(row);
    }
  }
  return rows;
}

// The two-column key/value table at the top of the card ("| registered as | cancer |").
export function cardFact(card: string, key: string): string | undefined {
  for (const line of card.split(/\r?\n/)) {
    if (!line.startsWith('|')) continue;
    const cells = markdownCells(line);
    if (cells.length === 2 && cells[0] === key) return cells[1];
  }
  return undefined;
}

function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

// A champion gate's rule and detail, as gates.cc writes them:
//   "roc_auc >= champion@production + 0.01"
//   "0.9712; no champion" | "0.9712; champion version 3 could not be evaluated: ..."
//   "0.9712 vs 0.9650 (version 3): by +0.0062, improvement 95% interval [-0.0010, +0.0140]"
export function championOf(rule: string, detail: string, championMetric?: number): ChampionComparison | undefined {
  const ruled = /^(\S+) [<>]=? champion@(\S+) [+-] (\S+)$/.exec(rule);
  if (!ruled) return undefined;
  const comparison: ChampionComparison = { metric: ruled[1], alias: ruled[2], margin: ruled[3] };
  const versus = /^(\S+) vs (\S+) \(version ([^)]+)\): by (\S+?)(?:,|$)/.exec(detail);
  if (versus) {
    comparison.candidate = parseNumber(versus[1]);
    comparison.champion = parseNumber(versus[2]);
    comparison.version = versus[3];
    comparison.difference = parseNumber(versus[4]);
  } else {
    const [value, ...rest] = detail.split('; ');
    comparison.candidate = parseNumber(value);
    comparison.note = rest.join('; ');
    const version = /^champion version (\S+)/.exec(comparison.note);
    if (version) comparison.version = version[1];
  }
  if (championMetric !== undefined) comparison.champion = championMetric;
  const interval = /improvement (\S+) interval \[(\S+), (\S+)\]/.exec(detail);
  if (interval) {
    comparison.confidence = interval[1];
    const low = parseNumber(interval[2]);
    const high = parseNumber(interval[3]);
    if (low !== undefined && high !== undefined) comparison.interval = [low, high];
  }
  return comparison;
}

// "RULE: DETAIL: passed|FAILED" (a detail may itself hold ": ").
function splitGateTag(text: string): { rule: string; detail: string; passed: boolean } | null {
  const first = text.indexOf(': ');
  const last = text.lastIndexOf(': ');
  if (first < 0 || last <= first) return null;
  const verdict = text.slice(last + 2).trim();
  return { rule: text.slice(0, first), detail: text.slice(first + 2, last), passed: verdict === 'passed' };
}

// The gates of a training run: one row per `slipway.gate.N` tag, with the
// card's columns (value, threshold, interval) where its table has the row.
export function gateRows(run: Run, card: string | null): GateRow[] {
  const metrics = new Map((run.data.metrics ?? []).map((m) => [m.key, m.value]));
  const tagged = new Map<number, string>();
  for (const tag of run.data.tags ?? []) {
    const found = /^slipway\.gate\.(\d+)$/.exec(tag.key);
    if (found) tagged.set(Number(found[1]), tag.value);
  }
  const cardRows = card ? markdownTable(card, 'Gates') : [];
  const count = Math.max(tagged.size ? Math.max(...tagged.keys()) + 1 : 0, tagged.size ? 0 : cardRows.length);
  const rows: GateRow[] = [];
  for (let i = 0; i < count; i++) {
    const fromTag = tagged.has(i) ? splitGateTag(tagged.get(i)!) : null;
    const fromCard = cardRows[i];
    const rule = fromTag?.rule ?? fromCard?.gate ?? '';
    if (!rule) continue;
    const passedMetric = metrics.get(`gate.${i}.passed`);
    const passed =
      passedMetric !== undefined ? passedMetric === 1 : fromTag ? fromTag.passed : (fromCard?.passed ?? '').toLowerCase() === 'yes';
    const detail = fromTag?.detail ?? '';
    // The card's row belongs to this gate when its rule is the same.
    const card = fromCard && (!fromTag || fromCard.gate === rule) ? fromCard : undefined;
    rows.push({
      index: i,
      rule,
      value: card?.value ?? /^[^:;\s]+/.exec(detail)?.[0] ?? '',
      threshold: card?.['threshold / margin'] ?? '',
      interval: card?.['ci of the improvement'] ?? '',
      detail,
      passed,
      champion: championOf(rule, detail, metrics.get(`gate.${i}.champion`)),
    });
  }
  return rows;
}

export interface Trial {
  run: Run;
  trial: number | null;
  rung: number | null;
  params: { key: string; value: string }[];
  score?: number; // cv.<metric>.mean
  scoreStd?: number;
}

function metricOf(run: Run, key: string): number | undefined {
  return run.data.metrics?.find((m) => m.key === key)?.value;
}

function intTag(run: Run, key: string): number | null {
  const text = tagValue(run, key);
  if (text === undefined || !/^-?\d+$/.test(text)) return null;
  return Number(text);
}

export function trialOf(run: Run, metric: string): Trial {
  return {
    run,
    trial: intTag(run, 'slipway.tuning.trial'),
    rung: intTag(run, 'slipway.tuning.rung'),
    params: (run.data.params ?? [])
      .filter((p) => p.key.startsWith('model.params.'))
      .map((p) => ({ key: p.key.slice('model.params.'.length), value: p.value }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    score: metricOf(run, `cv.${metric}.mean`),
    scoreStd: metricOf(run, `cv.${metric}.std`),
  };
}

// The training run's child runs (its trials), at most MAX_TRIALS.
export async function trainingTrials(run: Run, signal?: AbortSignal): Promise<{ runs: Run[]; more: boolean }> {
  const reply = await searchRuns(
    {
      experimentIds: [run.info.experiment_id],
      filter: `tags.\`${PARENT_TAG}\` = '${run.info.run_id}'`,
      maxResults: MAX_TRIALS,
    },
    signal,
  );
  return { runs: reply.runs ?? [], more: Boolean(reply.next_page_token) };
}

// The run's model_card.md, or null when it has none; `top` is the run's
// top folder's listing.
export async function modelCard(runId: string, top: FileInfo[], signal?: AbortSignal): Promise<string | null> {
  if (!top.some((f) => f.path === 'model_card.md' && !f.is_dir)) return null;
  const { bytes } = await getArtifactBytes(runId, 'model_card.md', MAX_CARD_BYTES, signal);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

// The SVG files under the chart folders (and their folders, MAX_CHART_DEPTH deep).
// `top` is the run's top folder's listing.
export async function chartFiles(runId: string, top: FileInfo[], signal?: AbortSignal): Promise<FileInfo[]> {
  const found: FileInfo[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    const files = await listArtifacts(runId, folder, signal);
    const folders: Promise<void>[] = [];
    for (const file of files) {
      if (file.is_dir) {
        if (depth < MAX_CHART_DEPTH) folders.push(walk(file.path, depth + 1));
      } else if (file.path.toLowerCase().endsWith('.svg')) {
        found.push(file);
      }
    }
    await Promise.all(folders);
  };
  await Promise.all(top.filter((f) => f.is_dir && CHART_FOLDERS.includes(f.path)).map((f) => walk(f.path, 1)));
  return found.sort((a, b) => a.path.localeCompare(b.path));
}
