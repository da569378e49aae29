// MLflow 3's traces as the UI reads them (/ajax-api/3.0/mlflow/traces):
// the search of an experiment's trace infos, and one trace with its spans in
// OpenTelemetry's proto JSON (ids in base64, times in ns, attribute values as
// AnyValues), turned here into plain values.

import { api } from './client';

const BASE = '/ajax-api/3.0/mlflow/traces';

export interface Assessment {
  assessment_id: string;
  assessment_name: string;
  trace_id?: string;
  span_id?: string;
  source?: { source_type?: string; source_id?: string };
  feedback?: { value?: unknown; error?: { error_code?: string; error_message?: string } };
  expectation?: { value?: unknown; serialized_value?: { serialization_format?: string; value?: string } };
  rationale?: string;
  metadata?: Record<string, string>;
  valid?: boolean;
  overrides?: string;
  create_time?: string;
}

export interface TraceInfo {
  trace_id: string;
  request_time?: string;
  execution_duration?: string;
  state?: string;
  request_preview?: string;
  response_preview?: string;
  client_request_id?: string;
  tags?: Record<string, string>;
  trace_metadata?: Record<string, string>;
  assessments?: Assessment[];
}

// OpenTelemetry's AnyValue in proto JSON (snake_case as Slipway writes it;
// camelCase as OTLP/JSON allows).
export type AnyValue = Record<string, unknown>;

interface OtelSpan {
  span_id: string;
  parent_span_id?: string;
  name: string;
  start_time_unix_nano: number | string;
  end_time_unix_nano?: number | string;
  attributes?: { key: string; value: AnyValue }[];
  status?: { code?: string; message?: string };
  events?: { name: string; time_unix_nano?: number | string; attributes?: { key: string; value: AnyValue }[] }[];
}

export interface Span {
  id: string;
  parentId?: string;
  name: string;
  startNs: number;
  endNs?: number;
  type: string;
  status: string;
  statusMessage?: string;
  inputs: unknown;
  outputs: unknown;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
}

export interface Trace {
  info: TraceInfo;
  spans: Span[];
}

function field(value: AnyValue, snake: string, camel: string): unknown {
  return snake in value ? value[snake] : value[camel];
}

export function plainValue(value: AnyValue | undefined): unknown {
  if (!value || typeof value !== 'object') return value;
  const text = field(value, 'string_value', 'stringValue');
  if (text !== undefined) return text;
  const bool = field(value, 'bool_value', 'boolValue');
  if (bool !== undefined) return bool;
  const int = field(value, 'int_value', 'intValue');
  if (int !== undefined) return Number(int);
  const double = field(value, 'double_value', 'doubleValue');
  if (double !== undefined) return Number(double);
  const array = field(value, 'array_value', 'arrayValue') as { values?: AnyValue[] } | undefined;
  if (array !== undefined) return (array.values ?? []).map(plainValue);
  const list = field(value, 'kvlist_value', 'kvlistValue') as { values?: { key: string; value: AnyValue }[] } | undefined;
  if (list !== undefined) return attributeMap(list.values);
  const bytes = field(value, 'bytes_value', 'bytesValue');
  if (bytes !== undefined) return bytes;
  return null;
}

function attributeMap(values: { key: string; value: AnyValue }[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of values ?? []) out[kv.key] = plainValue(kv.value);
  return out;
}

// MLflow's span attributes are JSON text when a client sent them as strings.
function parsed(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const STATUS: Record<string, string> = { STATUS_CODE_OK: 'OK', STATUS_CODE_ERROR: 'ERROR', STATUS_CODE_UNSET: 'UNSET' };

function toSpan(raw: OtelSpan): Span {
  const attributes = attributeMap(raw.attributes);
  const inputs = parsed(attributes['mlflow.spanInputs']);
  const outputs = parsed(attributes['mlflow.spanOutputs']);
  const type = parsed(attributes['mlflow.spanType']);
  delete attributes['mlflow.spanInputs'];
  delete attributes['mlflow.spanOutputs'];
  const code = raw.status?.code ?? 'STATUS_CODE_UNSET';
  return {
    id: raw.span_id,
    parentId: raw.parent_span_id || undefined,
    name: raw.name,
    startNs: Number(raw.start_time_unix_nano),
    endNs: raw.end_time_unix_nano === undefined ? undefined : Number(raw.end_time_unix_nano),
    type: typeof type === 'string' && type ? type : 'UNKNOWN',
    status: STATUS[code] ?? code,
    statusMessage: raw.status?.message || undefined,
    inputs,
    outputs,
    attributes,
    events: (raw.events ?? []).map((e) => ({ name: e.name, attributes: attributeMap(e.attributes) })),
  };
}

// `orderBy`: MLflow's order_by terms (`execution_time_ms ASC`), newest first by default.
export function searchTraces(
  options: { experimentId: string; filter?: string; orderBy?: string[]; maxResults?: number; pageToken?: string },
  signal?: AbortSignal,
) {
  return api.post<{ traces?: TraceInfo[]; next_page_token?: string }>(
    `${BASE}/search`,
    {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: options.experimentId } }],
      filter: options.filter || undefined,
      order_by: options.orderBy ?? ['timestamp_ms DESC'],
      max_results: options.maxResults ?? 100,
      page_token: options.pageToken,
    },
    signal,
  );
}

export async function getTrace(traceId: string, signal?: AbortSignal): Promise<Trace> {
  const reply = await api.get<{ trace: { trace_info: TraceInfo; spans?: OtelSpan[] } }>(
    `${BASE}/get`,
    // A trace whose last spans are still on their way is shown as it is.
    { trace_id: traceId, allow_partial: true },
    signal,
  );
  return { info: reply.trace.trace_info, spans: (reply.trace.spans ?? []).map(toSpan) };
}

// "0.218s" (protobuf's Duration in JSON) as milliseconds.
export function durationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const seconds = Number.parseFloat(text);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

export function assessmentValue(a: Assessment): unknown {
  if (a.feedback) return a.feedback.error ? `error: ${a.feedback.error.error_code ?? ''} ${a.feedback.error.error_message ?? ''}` : a.feedback.value;
  if (a.expectation) {
    if (a.expectation.serialized_value) return parsed(a.expectation.serialized_value.value);
    return a.expectation.value;
  }
  return undefined;
}
