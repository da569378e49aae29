#include "store/sqlite_schema.h"

namespace slipway::store {
namespace {

// Runs and datasets get an integer surrogate key (`run_pk`, `dataset_pk`) so
// that the large tables (metrics above all) key on 8 bytes, not a 32-character
// id. Metric points are unique on (run, key, timestamp, step, value), as in
// MLflow, so a retried log-batch adds nothing twice; the key is in the order
// MLflow returns a history (timestamp, step, value), so reading one needs no
// sort. `latest_metrics` keeps the point with the highest (step, timestamp,
// value) per key: search filters and ordering on metrics read it.
constexpr Migration kMigrations[] = {
    {1, "tracking: experiments, runs, metrics, params, tags, inputs, logged models", R"sql(
CREATE TABLE experiments (
  experiment_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  creation_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
  run_pk INTEGER PRIMARY KEY,
  run_uuid TEXT NOT NULL UNIQUE,
  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
  name TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  artifact_uri TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  deleted_time INTEGER
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);
CREATE TABLE params (
  run_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_pk, key)
) WITHOUT ROWID;
CREATE TABLE tags (
  run_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_pk, key)
) WITHOUT ROWID;
CREATE TABLE metrics (
  run_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL NOT NULL,
  is_nan INTEGER NOT NULL DEFAULT 0,
  model_id TEXT,
  dataset_name TEXT,
  dataset_digest TEXT,
  PRIMARY KEY (run_pk, key, timestamp, step, value, is_nan)
) WITHOUT ROWID;
CREATE INDEX metrics_by_model ON metrics (model_id) WHERE model_id IS NOT NULL;
CREATE TABLE latest_metrics (
  run_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  value REAL NOT NULL,
  timestamp INTEGER NOT NULL,
  step INTEGER NOT NULL,
  is_nan INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_pk, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);
CREATE TABLE datasets (
  dataset_pk INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source TEXT NOT NULL,
  schema TEXT,
  profile TEXT,
  UNIQUE (experiment_id, name, digest)
);
CREATE TABLE run_inputs (
  run_pk INTEGER NOT NULL,
  dataset_pk INTEGER NOT NULL,
  PRIMARY KEY (run_pk, dataset_pk)
) WITHOUT ROWID;
CREATE TABLE run_input_tags (
  run_pk INTEGER NOT NULL,
  dataset_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_pk, dataset_pk, key)
) WITHOUT ROWID;
CREATE TABLE logged_models (
  model_id TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  artifact_location TEXT NOT NULL,
  creation_timestamp_ms INTEGER NOT NULL,
  last_updated_timestamp_ms INTEGER NOT NULL,
  status TEXT NOT NULL,
  status_message TEXT,
  model_type TEXT,
  source_run_id TEXT,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_timestamp_ms DESC);
CREATE TABLE logged_model_tags (
  model_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
) WITHOUT ROWID;
CREATE TABLE logged_model_params (
  model_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
) WITHOUT ROWID;
CREATE TABLE run_model_links (
  run_pk INTEGER NOT NULL,
  model_id TEXT NOT NULL,
  direction TEXT NOT NULL,
  step INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_pk, direction, model_id)
) WITHOUT ROWID;
)sql"},
    // Registered models are keyed by name, as in MLflow; a rename rewrites the
    // name in every table in one transaction. Deleted versions stay as rows in
    // the stage 'Deleted_Internal' so their numbers are never reused.
    {2, "registry: registered models, model versions, tags, aliases", R"sql(
CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  creation_timestamp INTEGER NOT NULL,
  last_updated_timestamp INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  user_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE registered_model_tags (
  name TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE TABLE model_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  creation_timestamp INTEGER NOT NULL,
  last_updated_timestamp INTEGER NOT NULL,
  user_id TEXT NOT NULL DEFAULT '',
  current_stage TEXT NOT NULL DEFAULT 'None',
  description TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  run_link TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'READY',
  status_message TEXT NOT NULL DEFAULT '',
  model_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, version, key)
) WITHOUT ROWID;
CREATE TABLE registered_model_aliases (
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias)
) WITHOUT ROWID;
)sql"},
    // The audit trail: one row per state-changing request, each holding the
    // SHA-256 of the previous row, and a one-row head naming the last entry so
    // that removing entries from the end is detected too.
    {3, "governance: hash-chained audit log", R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  principal TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome INTEGER NOT NULL,
  request_digest TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (time_ms);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq INTEGER NOT NULL,
  last_hash TEXT NOT NULL
);
)sql"},
    // Authentication and permissions: users with salted password hashes, API
    // tokens (only a salted hash of each secret), per-resource grants, and a
    // generation that every change advances so that servers reload.
    {4, "governance: users, API tokens and permissions", R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  salt TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER,
  revoked_ms INTEGER
) WITHOUT ROWID;
CREATE TABLE resource_permissions (
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (resource_type, resource_id, user_id)
) WITHOUT ROWID;
CREATE TABLE auth_generation (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
);
INSERT INTO auth_generation (id, generation) VALUES (1, 0);
)sql"},
    // Dataset versions: records of content kept in a content-addressed store
    // (the bytes are not in this database), with the profile of tables.
    {5, "data: datasets and their versions", R"sql(
CREATE TABLE data_datasets (
  name TEXT PRIMARY KEY,
  latest_version INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE data_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  manifest_digest TEXT NOT NULL,
  content_digest TEXT NOT NULL,
  kind TEXT NOT NULL,
  format TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  row_count INTEGER NOT NULL,
  column_count INTEGER NOT NULL,
  source TEXT NOT NULL,
  description TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  profile TEXT NOT NULL,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
)sql"},
    // Audit entries name the client's address and the number of requests
    // they stand for (more than 1 for a summary of repeated refusals).
    // Existing rows keep '' and 1, which their hashes were sealed without.
    {6, "governance: audit entries carry the source address and a count", R"sql(
ALTER TABLE audit_log ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
)sql"},
    // Serving: deployments survive a restart.
    {7, "serving: deployments", R"sql(
CREATE TABLE deployments (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    // Tracing (MLflow 3): traces, their tags and metadata, spans (MLflow's
    // span dictionary as `content`, the searched fields beside it),
    // assessments, links to runs. Traces and spans get integer keys, so
    // the span table keys on 8 bytes and its content stays out of the
    // index; a trace's rows all carry `trace_pk`.
    {8, "tracing: traces, spans, assessments", R"sql(
CREATE TABLE traces (
  trace_pk INTEGER PRIMARY KEY,
  trace_id TEXT NOT NULL UNIQUE,
  experiment_id INTEGER NOT NULL,
  request_time INTEGER NOT NULL,
  execution_duration INTEGER,
  state TEXT NOT NULL,
  client_request_id TEXT,
  request_preview TEXT,
  response_preview TEXT
);
CREATE INDEX traces_by_experiment ON traces (experiment_id, request_time DESC, trace_id);
CREATE TABLE trace_tags (
  trace_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (trace_pk, key)
) WITHOUT ROWID;
CREATE INDEX trace_tags_by_key ON trace_tags (key, value);
CREATE TABLE trace_metadata (
  trace_pk INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (trace_pk, key)
) WITHOUT ROWID;
CREATE INDEX trace_metadata_by_key ON trace_metadata (key, value);
CREATE TABLE spans (
  span_pk INTEGER PRIMARY KEY,
  trace_pk INTEGER NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  content TEXT NOT NULL,
  UNIQUE (trace_pk, span_id)
);
-- Span filters read this, never the spans' content.
CREATE INDEX spans_by_trace ON spans (trace_pk, type, status, name);
CREATE TABLE assessments (
  assessment_pk INTEGER PRIMARY KEY,
  assessment_id TEXT NOT NULL UNIQUE,
  trace_pk INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  number REAL,
  serialized INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  span_id TEXT NOT NULL DEFAULT '',
  source_type TEXT NOT NULL,
  source_id TEXT NOT NULL,
  rationale TEXT NOT NULL DEFAULT '',
  overrides TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '{}',
  valid INTEGER NOT NULL DEFAULT 1,
  create_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL
);
CREATE INDEX assessments_by_trace ON assessments (trace_pk);
CREATE INDEX assessments_by_name ON assessments (name, kind);
-- By trace id, not key: a link may come before its trace (the client's
-- export is asynchronous), as in MLflow.
CREATE TABLE trace_run_links (
  trace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (trace_id, run_id)
) WITHOUT ROWID;
CREATE INDEX trace_run_links_by_run ON trace_run_links (run_id);
CREATE TABLE trace_prompt_links (
  trace_pk INTEGER NOT NULL,
  prompt TEXT NOT NULL,
  PRIMARY KEY (trace_pk, prompt)
) WITHOUT ROWID;
CREATE INDEX trace_prompt_links_by_prompt ON trace_prompt_links (prompt);
)sql"},
    // MLflow 3's GenAI evaluation: evaluation datasets, their tags, the
    // experiments they belong to (in the order linked) and their records,
    // each record unique by its inputs' hash within its dataset; issues;
    // registered scorers and their versions.
    {9, "genai: evaluation datasets, issues, scorers", R"sql(
CREATE TABLE evaluation_datasets (
  dataset_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  schema TEXT,
  profile TEXT,
  digest TEXT NOT NULL,
  created_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL,
  created_by TEXT,
  last_updated_by TEXT
) WITHOUT ROWID;
CREATE INDEX evaluation_datasets_by_time ON evaluation_datasets (created_time DESC, dataset_id DESC);
CREATE INDEX evaluation_datasets_by_name ON evaluation_datasets (name);
CREATE TABLE evaluation_dataset_tags (
  dataset_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (dataset_id, key)
) WITHOUT ROWID;
CREATE TABLE evaluation_dataset_experiments (
  link_pk INTEGER PRIMARY KEY,
  dataset_id TEXT NOT NULL,
  experiment_id INTEGER NOT NULL,
  created_time INTEGER NOT NULL,
  UNIQUE (dataset_id, experiment_id)
);
CREATE INDEX evaluation_dataset_experiments_by_experiment
  ON evaluation_dataset_experiments (experiment_id, dataset_id);
CREATE TABLE evaluation_dataset_records (
  record_pk INTEGER PRIMARY KEY,
  dataset_record_id TEXT NOT NULL UNIQUE,
  dataset_id TEXT NOT NULL,
  input_hash TEXT NOT NULL,
  inputs TEXT NOT NULL,
  outputs TEXT,
  expectations TEXT,
  tags TEXT NOT NULL,
  source TEXT,
  source_type TEXT NOT NULL,
  source_id TEXT NOT NULL,
  created_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL,
  created_by TEXT,
  last_updated_by TEXT,
  UNIQUE (dataset_id, input_hash)
);
CREATE INDEX evaluation_dataset_records_by_time
  ON evaluation_dataset_records (dataset_id, created_time, dataset_record_id);
CREATE TABLE issues (
  issue_pk INTEGER PRIMARY KEY,
  issue_id TEXT NOT NULL UNIQUE,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  severity TEXT,
  severity_rank INTEGER NOT NULL,
  root_causes TEXT NOT NULL,
  categories TEXT NOT NULL,
  source_run_id TEXT,
  created_timestamp INTEGER NOT NULL,
  last_updated_timestamp INTEGER NOT NULL,
  created_by TEXT
);
CREATE INDEX issues_by_experiment
  ON issues (experiment_id, severity_rank DESC, created_timestamp DESC, issue_id DESC);
CREATE TABLE scorers (
  scorer_id TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  UNIQUE (experiment_id, name)
) WITHOUT ROWID;
CREATE TABLE scorer_versions (
  scorer_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  serialized_scorer TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  PRIMARY KEY (scorer_id, version)
) WITHOUT ROWID;
)sql"},
    // Browser sessions are tokens presented as a cookie (kind 'session'),
    // never as a Bearer token.
    {10, "auth: browser sessions", R"sql(
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
)sql"},
    // No search reads trace tags or metadata by key and value (filters are
    // correlated by trace_pk and use the primary keys), and these indexes
    // took a random insert per trace for values such as the trace's own
    // artifact location: about a tenth of the server's CPU per ingested span.
    {11, "tracing: drop the unused key-value indexes of trace tags and metadata", R"sql(
DROP INDEX trace_tags_by_key;
DROP INDEX trace_metadata_by_key;
)sql"},
    // What a chart's sample of a long history needs without reading all of
    // it (SqliteTrackingStore::SampleMetricHistory): how many points a key
    // has, and whether its history by timestamp is also by step, kept from
    // the tail (the highest (timestamp, step)) as points arrive. A key
    // written before this version starts out of step order (0), so it is
    // sampled by reading its history, as before; `points` and the tail mean
    // something only where in_step_order is 1.
    {12, "tracking: per-key point count and step order of metric histories", R"sql(
ALTER TABLE latest_metrics ADD COLUMN points INTEGER NOT NULL DEFAULT 0;
ALTER TABLE latest_metrics ADD COLUMN tail_timestamp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE latest_metrics ADD COLUMN tail_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE latest_metrics ADD COLUMN in_step_order INTEGER NOT NULL DEFAULT 0;
)sql"},
    // The closed loop (loop/loop_service.h): a policy per deployment and
    // the runs it made, each as JSON beside what they are looked up by.
    {13, "loop: policies and runs of the closed loop", R"sql(
CREATE TABLE loop_policies (
  deployment TEXT PRIMARY KEY,
  policy TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL
);
CREATE TABLE loop_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment TEXT NOT NULL,
  state TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  run TEXT NOT NULL
);
CREATE INDEX loop_runs_by_deployment ON loop_runs (deployment, id);
CREATE INDEX loop_runs_by_state ON loop_runs (state);
)sql"},
    // Alerting (monitoring/alerts.h): each deployment's rule file, the
    // alerts firing now (so a restart does not fire them again), and every
    // transition with one delivery row per receiver, written in the
    // transaction of the state change, so none is lost or sent twice.
    {14, "monitoring: alert rules, firing alerts, transitions and their deliveries", R"sql(
CREATE TABLE alert_rule_sets (
  deployment TEXT PRIMARY KEY,
  yaml TEXT NOT NULL,
  owner TEXT NOT NULL,
  owner_user_id INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE alerts_firing (
  deployment TEXT NOT NULL,
  rule TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  active_since_ms INTEGER NOT NULL,
  fired_ms INTEGER NOT NULL,
  value REAL NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (deployment, rule, fingerprint)
) WITHOUT ROWID;
CREATE TABLE alert_transitions (
  id INTEGER PRIMARY KEY,
  deployment TEXT NOT NULL,
  rule TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  state TEXT NOT NULL,
  starts_at_ms INTEGER NOT NULL,
  ends_at_ms INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  value REAL NOT NULL,
  idempotency_key TEXT NOT NULL,
  owner TEXT NOT NULL
);
CREATE INDEX alert_transitions_by_deployment ON alert_transitions (deployment, id);
CREATE TABLE alert_deliveries (
  transition_id INTEGER NOT NULL REFERENCES alert_transitions (id),
  receiver TEXT NOT NULL,
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  headers TEXT NOT NULL,
  headers_from_env TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  delivered_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  PRIMARY KEY (transition_id, receiver)
) WITHOUT ROWID;
CREATE INDEX alert_deliveries_pending ON alert_deliveries (status, transition_id);
)sql"},
    // Live monitoring of deployments (src/monitoring/live): each monitored
    // deployment's config and reference profile (JSON) with the position
    // its fold reached in the prediction log, its windows' profiles
    // (JSON), the predictions kept for feedback to join, and the feedback.
    {15, "monitoring: live windows, logged predictions and feedback", R"sql(
CREATE TABLE monitors (
  deployment TEXT PRIMARY KEY,
  config TEXT NOT NULL,
  generation INTEGER NOT NULL,
  reference_profile TEXT NOT NULL,
  folded_key TEXT NOT NULL DEFAULT '',
  folded_start_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE monitor_windows (
  deployment TEXT NOT NULL,
  seq INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  row_count INTEGER NOT NULL,
  inputs TEXT NOT NULL,
  outputs TEXT NOT NULL,
  PRIMARY KEY (deployment, seq)
);
CREATE INDEX monitor_windows_by_start ON monitor_windows (deployment, start_ms);
CREATE TABLE monitor_predictions (
  deployment TEXT NOT NULL,
  request_id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  predictions TEXT NOT NULL,
  PRIMARY KEY (deployment, request_id)
);
CREATE INDEX monitor_predictions_by_time ON monitor_predictions (deployment, time_ms);
CREATE TABLE monitor_feedback (
  deployment TEXT NOT NULL,
  request_id TEXT NOT NULL,
  labels TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY (deployment, request_id)
) WITHOUT ROWID;
)sql"},
    // The loop trains on labelled live traffic (loop/loop_service.h,
    // `data: windows:...`): a kept prediction also keeps its request's
    // inputs (a JSON object of columns). Rows kept before have ''.
    {16, "monitoring: kept predictions keep their inputs", R"sql(
ALTER TABLE monitor_predictions ADD COLUMN inputs TEXT NOT NULL DEFAULT '';
)sql"},
    // Replicas (several servers on one PostgreSQL, app/replica_sync.h):
    // every committed change of what serving follows is announced on the
    // channel `slipway_changes` as "KIND:NAME", by triggers, so it goes out
    // in the transaction that made it and only if that commits, whichever
    // store wrote it. KIND is `model` (the registry: models, versions,
    // aliases; NAME the registered model), `deployment`, `alerts` (a
    // deployment's alert rules) or `loop` (a loop run, NAME its
    // deployment). SQLite has one process and its in-process events: it
    // needs nothing.
    {17, "replicas: change notifications for other servers on the same PostgreSQL",
     "-- PostgreSQL only: triggers that NOTIFY other replicas.\n",
     R"sql(
CREATE FUNCTION slipway_notify_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM pg_notify('slipway_changes', TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]));
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('slipway_changes', TG_ARGV[0] || ':' || (to_jsonb(NEW) ->> TG_ARGV[1]));
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER registered_models_notify AFTER INSERT OR UPDATE OR DELETE ON registered_models
  FOR EACH ROW EXECUTE FUNCTION slipway_notify_change('model', 'name');
CREATE TRIGGER model_versions_notify AFTER INSERT OR UPDATE OR DELETE ON model_versions
  FOR EACH ROW EXECUTE FUNCTION slipway_notify_change('model', 'name');
CREATE TRIGGER registered_model_aliases_notify AFTER INSERT OR UPDATE OR DELETE
  ON registered_model_aliases
  FOR EACH ROW EXECUTE FUNCTION slipway_notify_change('model', 'name');
CREATE TRIGGER deployments_notify AFTER INSERT OR UPDATE OR DELETE ON deployments
  FOR EACH ROW EXECUTE FUNCTION slipway_notify_change('deployment', 'name');
CREATE TRIGGER alert_rule_sets_notify AFTER INSERT OR UPDATE OR DELETE ON alert_rule_sets
  FOR EACH ROW EXECUTE FUNCTION slipway_notify_change('alerts', 'deployment');
CREATE TRIGGER loop_runs_notify AFTER INSERT OR UPDATE OR DELETE ON loop_runs
  FOR EACH ROW EXECUTE FUNCTION slipway_notify_change('loop', 'deployment');
)sql"},
};

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

}  // namespace slipway::store
