// The definitions of SqlTraceStore (sql_trace_store.h), included by the one
// file of each engine that instantiates it.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/sql_trace_search.h"
#include "store/sql_trace_store.h"
#include "store/sqlite_paging.h"

namespace slipway::store {

using tracing::Assessment;
using tracing::Span;
using tracing::TraceInfo;
using Json = nlohmann::json;

namespace sql_trace_store {

inline std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <class Session>
std::optional<int64_t> TracePk(Session& db, const std::string& trace_id) {
  auto row = db.Prepare("SELECT trace_pk FROM traces WHERE trace_id = ?");
  row.Bind(1, trace_id);
  if (!row.Step()) return std::nullopt;
  return row.Int(0);
}

// The trace's key when it exists in `experiment`; INVALID_PARAMETER_VALUE when
// it exists in another (checked inside the write, so two writers cannot put
// one trace id in two experiments).
template <class Session>
std::optional<int64_t> TracePkIn(Session& db, const std::string& trace_id, int64_t experiment) {
  auto row = db.Prepare("SELECT trace_pk, experiment_id FROM traces WHERE trace_id = ?");
  row.Bind(1, trace_id);
  if (!row.Step()) return std::nullopt;
  if (row.Int(1) != experiment)
    ThrowInvalid("Trace '" + trace_id + "' belongs to experiment " + std::to_string(row.Int(1)) +
                 ", not " + std::to_string(experiment));
  return row.Int(0);
}

template <class Session>
int64_t TracePkOrThrow(Session& db, const std::string& trace_id) {
  auto pk = TracePk(db, trace_id);
  if (!pk) ThrowNotFound("Trace with ID '" + trace_id + "' not found.");
  return *pk;
}

// The value as a number for numeric comparisons: numbers, booleans (1/0),
// and the strings "yes"/"no" as MLflow counts them.
inline std::optional<double> NumberOf(const std::string& value_json) {
  const Json v = Json::parse(value_json, nullptr, false);
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "yes") return 1.0;
    if (s == "no") return 0.0;
  }
  return std::nullopt;
}

template <class Session>
void PutMap(Session& db, const char* table, int64_t pk,
            const std::map<std::string, std::string>& values) {
  const std::string sql = std::string("INSERT INTO ") + table +
                          " (trace_pk, key, value) VALUES (?, ?, ?) ON CONFLICT (trace_pk, key) "
                          "DO UPDATE SET value = excluded.value";
  // One statement handle per row: a handle is reset when it is destroyed.
  for (const auto& [key, value] : values)
    db.Prepare(sql).Bind(1, pk).Bind(2, key).Bind(3, value).Run();
}

template <class Session>
void InsertAssessment(Session& db, int64_t trace_pk, const Assessment& a) {
  auto insert = db.Prepare(
      "INSERT INTO assessments (assessment_id, trace_pk, name, kind, value, number, serialized, "
      "error, span_id, source_type, source_id, rationale, overrides, metadata, valid, "
      "create_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, a.assessment_id)
      .Bind(2, trace_pk)
      .Bind(3, a.name)
      .Bind(4, a.kind)
      .Bind(5, a.value);
  if (auto n = NumberOf(a.value))
    insert.Bind(6, *n);
  else
    insert.BindNull(6);
  insert.Bind(7, a.serialized ? 1 : 0)
      .Bind(8, a.error)
      .Bind(9, a.span_id)
      .Bind(10, a.source_type)
      .Bind(11, a.source_id)
      .Bind(12, a.rationale)
      .Bind(13, a.overrides)
      .Bind(14, Dump(Json(a.metadata)))
      .Bind(15, a.valid ? 1 : 0)
      .Bind(16, a.create_time)
      .Bind(17, a.last_update_time);
  insert.Run();
  if (!a.overrides.empty()) {
    auto invalidate =
        db.Prepare("UPDATE assessments SET valid = 0 WHERE trace_pk = ? AND assessment_id = ?");
    invalidate.Bind(1, trace_pk).Bind(2, a.overrides);
    invalidate.Run();
  }
}

constexpr const char* kAssessmentColumns =
    "SELECT assessment_id, name, kind, value, serialized, error, span_id, source_type, "
    "source_id, rationale, overrides, metadata, valid, create_time, last_update_time FROM "
    "assessments ";

template <class Row>
Assessment ReadAssessment(Row& row, const std::string& trace_id) {
  Assessment a;
  a.assessment_id = row.Text(0);
  a.trace_id = trace_id;
  a.name = row.Text(1);
  a.kind = row.Text(2);
  a.value = row.Text(3);
  a.serialized = row.Int(4) != 0;
  a.error = row.Text(5);
  a.span_id = row.Text(6);
  a.source_type = row.Text(7);
  a.source_id = row.Text(8);
  a.rationale = row.Text(9);
  a.overrides = row.Text(10);
  const Json metadata = Json::parse(row.Text(11), nullptr, false);
  if (metadata.is_object())
    for (const auto& [k, v] : metadata.items())
      if (v.is_string()) a.metadata[k] = v.template get<std::string>();
  a.valid = row.Int(12) != 0;
  a.create_time = row.Int(13);
  a.last_update_time = row.Int(14);
  return a;
}

template <class Session>
std::optional<TraceInfo> LoadTrace(Session& db, int64_t pk) {
  auto row = db.Prepare(
      "SELECT trace_id, experiment_id, request_time, execution_duration, state, "
      "client_request_id, request_preview, response_preview FROM traces WHERE trace_pk = ?");
  row.Bind(1, pk);
  if (!row.Step()) return std::nullopt;
  TraceInfo info;
  info.trace_id = row.Text(0);
  info.experiment_id = std::to_string(row.Int(1));
  info.request_time = row.Int(2);
  if (!row.IsNull(3)) info.execution_duration = row.Int(3);
  info.state = row.Text(4);
  if (!row.IsNull(5)) info.client_request_id = row.Text(5);
  if (!row.IsNull(6)) info.request_preview = row.Text(6);
  if (!row.IsNull(7)) info.response_preview = row.Text(7);
  auto tags = db.Prepare("SELECT key, value FROM trace_tags WHERE trace_pk = ?");
  tags.Bind(1, pk);
  while (tags.Step()) info.tags[tags.Text(0)] = tags.Text(1);
  auto metadata = db.Prepare("SELECT key, value FROM trace_metadata WHERE trace_pk = ?");
  metadata.Bind(1, pk);
  while (metadata.Step()) info.metadata[metadata.Text(0)] = metadata.Text(1);
  auto assessments = db.Prepare(std::string(kAssessmentColumns) +
                                "WHERE trace_pk = ? ORDER BY create_time, assessment_pk");
  assessments.Bind(1, pk);
  while (assessments.Step()) info.assessments.push_back(ReadAssessment(assessments, info.trace_id));
  return info;
}

template <class Row>
void BindOptional(Row& s, int index, const std::optional<std::string>& value) {
  if (value)
    s.Bind(index, *value);
  else
    s.BindNull(index);
}

template <class Row>
void BindOptional(Row& s, int index, const std::optional<int64_t>& value) {
  if (value)
    s.Bind(index, *value);
  else
    s.BindNull(index);
}

// A new trace's row (its tags and metadata are the caller's); its key.
template <class Session>
int64_t InsertTrace(Session& db, const TraceInfo& info, int64_t experiment) {
  auto insert = db.Prepare(
      "INSERT INTO traces (trace_id, experiment_id, request_time, execution_duration, state, "
      "client_request_id, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
      "RETURNING trace_pk");
  insert.Bind(1, info.trace_id).Bind(2, experiment).Bind(3, info.request_time);
  BindOptional(insert, 4, info.execution_duration);
  insert.Bind(5, info.state);
  BindOptional(insert, 6, info.client_request_id);
  BindOptional(insert, 7, info.request_preview);
  BindOptional(insert, 8, info.response_preview);
  insert.Step();
  return insert.Int(0);
}

template <class Session>
void DeleteTraceRows(Session& db, int64_t pk) {
  db.Prepare(
        "DELETE FROM trace_run_links WHERE trace_id = (SELECT trace_id FROM traces WHERE "
        "trace_pk = ?)")
      .Bind(1, pk)
      .Run();
  for (const char* table :
       {"trace_tags", "trace_metadata", "spans", "assessments", "trace_prompt_links", "traces"}) {
    auto del = db.Prepare(std::string("DELETE FROM ") + table + " WHERE trace_pk = ?");
    del.Bind(1, pk);
    del.Run();
  }
}

inline std::vector<int64_t> ExperimentKeys(const std::vector<std::string>& experiment_ids) {
  std::vector<int64_t> out;
  for (const std::string& id : experiment_ids) out.push_back(std::stoll(id));
  return out;
}

// A span attribute as MLflow keeps it in the span's JSON: the value's JSON
// text ("\"gpt-4o\""), read back as the value.
inline std::optional<Json> SpanAttribute(const Json& content, const char* key) {
  auto attributes = content.find("attributes");
  if (attributes == content.end() || !attributes->is_object()) return std::nullopt;
  auto it = attributes->find(key);
  if (it == attributes->end()) return std::nullopt;
  if (!it->is_string()) return *it;
  Json value = Json::parse(it->get<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return *it;
  return value;
}

// The numbers under `keys` of a JSON object given as an object or as its
// JSON text (mlflow.trace.tokenUsage, mlflow.llm.cost), into `values`.
inline void AddNumbers(const Json& object, std::initializer_list<const char*> keys,
                       std::map<std::string, double>& values) {
  const Json parsed =
      object.is_string() ? Json::parse(object.get<std::string>(), nullptr, false) : object;
  if (!parsed.is_object()) return;
  for (const char* key : keys) {
    auto value = parsed.find(key);
    if (value != parsed.end() && value->is_number()) values[key] = value->get<double>();
  }
}

// Widens a trace's times to cover a span write's, unless the client has
// finalized the trace's info. Its placeholders, in order: the write's
// duration (or NULL), its start, its duration again, its start twice more,
// the trace's key twice, the metadata key that marks the info finalized.
inline std::string WidenTimes(const SqlDialect& dialect) {
  const std::string greatest(dialect.Greatest()), least(dialect.Least());
  return "UPDATE traces SET "
         "execution_duration = CASE WHEN CAST(? AS BIGINT) IS NULL AND execution_duration IS "
         "NULL THEN NULL ELSE " +
         greatest +
         "(request_time + COALESCE(execution_duration, 0), "
         "CAST(? AS BIGINT) + COALESCE(CAST(? AS BIGINT), 0)) - " +
         least + "(request_time, CAST(? AS BIGINT)) END, request_time = " + least +
         "(request_time, CAST(? AS BIGINT)) WHERE trace_pk = ? AND NOT EXISTS (SELECT 1 FROM "
         "trace_metadata WHERE trace_pk = ? AND key = ?)";
}

}  // namespace sql_trace_store

template <class Engine>
TraceInfo SqlTraceStore<Engine>::UpsertTraceInfo(const TraceInfo& info) {
  const int64_t experiment = static_cast<int64_t>(std::stoll(info.experiment_id));
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    std::optional<int64_t> pk = sql_trace_store::TracePkIn(db, info.trace_id, experiment);
    if (!pk) {
      pk = sql_trace_store::InsertTrace(db, info, experiment);
    } else {
      auto update = db.Prepare(
          "UPDATE traces SET request_time = ?, execution_duration = ?, state = ?, "
          "client_request_id = ?, request_preview = COALESCE(?, request_preview), "
          "response_preview = COALESCE(?, response_preview) WHERE trace_pk = ?");
      update.Bind(1, info.request_time);
      sql_trace_store::BindOptional(update, 2, info.execution_duration);
      update.Bind(3, info.state);
      sql_trace_store::BindOptional(update, 4, info.client_request_id);
      sql_trace_store::BindOptional(update, 5, info.request_preview);
      sql_trace_store::BindOptional(update, 6, info.response_preview);
      update.Bind(7, *pk);
      update.Run();
    }
    sql_trace_store::PutMap(db, "trace_tags", *pk, info.tags);
    sql_trace_store::PutMap(db, "trace_metadata", *pk, info.metadata);
    for (const Assessment& a : info.assessments) sql_trace_store::InsertAssessment(db, *pk, a);
  });
  auto stored = GetTraceInfo(info.trace_id);
  if (!stored) ThrowNotFound("Trace with ID '" + info.trace_id + "' not found.");
  return *stored;
}

template <class Engine>
void SqlTraceStore<Engine>::LogSpans(const std::vector<tracing::SpanWrite>& writes) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    for (const tracing::SpanWrite& w : writes) {
      const TraceInfo& t = w.trace;
      std::optional<int64_t> pk = sql_trace_store::TracePkIn(
          db, t.trace_id, static_cast<int64_t>(std::stoll(t.experiment_id)));
      if (!pk) {
        pk = sql_trace_store::InsertTrace(db, t, static_cast<int64_t>(std::stoll(t.experiment_id)));
        sql_trace_store::PutMap(db, "trace_tags", *pk, t.tags);
      } else {
        // Times widen unless the client has finalized the trace's info.
        static const std::string widen_sql = sql_trace_store::WidenTimes(Engine::Dialect());
        auto widen = db.Prepare(widen_sql);
        sql_trace_store::BindOptional(widen, 1, t.execution_duration);
        widen.Bind(2, t.request_time);
        sql_trace_store::BindOptional(widen, 3, t.execution_duration);
        widen.Bind(4, t.request_time).Bind(5, t.request_time).Bind(6, *pk).Bind(7, *pk);
        widen.Bind(8, std::string(tracing::kInfoFinalizedKey));
        widen.Run();
        if (w.has_root) {
          auto root = db.Prepare(
              "UPDATE traces SET state = CASE WHEN state IN ('IN_PROGRESS', 'STATE_UNSPECIFIED') "
              "THEN ? ELSE state END, request_preview = COALESCE(request_preview, ?), "
              "response_preview = COALESCE(response_preview, ?) WHERE trace_pk = ?");
          root.Bind(1, t.state);
          sql_trace_store::BindOptional(root, 2, t.request_preview);
          sql_trace_store::BindOptional(root, 3, t.response_preview);
          root.Bind(4, *pk);
          root.Run();
        }
        // The trace's own tags stay; the spans' are added where missing.
        for (const auto& [key, value] : t.tags)
          db.Prepare(
                "INSERT INTO trace_tags (trace_pk, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (trace_pk, key) DO NOTHING")
              .Bind(1, *pk)
              .Bind(2, key)
              .Bind(3, value)
              .Run();
      }
      sql_trace_store::PutMap(db, "trace_tags", *pk,
                              {{tracing::kSpansLocationTag, tracing::kSpansInTrackingStore}});
      sql_trace_store::PutMap(db, "trace_metadata", *pk, t.metadata);
      const char* upsert_span =
          "INSERT INTO spans (trace_pk, span_id, parent_span_id, name, type, status, start_ns, "
          "end_ns, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_pk, span_id) DO "
          "UPDATE SET parent_span_id = excluded.parent_span_id, name = excluded.name, type = "
          "excluded.type, status = excluded.status, start_ns = excluded.start_ns, end_ns = "
          "excluded.end_ns, content = excluded.content";
      for (const Span& s : w.spans) {
        auto span = db.Prepare(upsert_span);
        span.Bind(1, *pk).Bind(2, s.span_id);
        if (s.parent_span_id.empty())
          span.BindNull(3);
        else
          span.Bind(3, s.parent_span_id);
        span.Bind(4, s.name).Bind(5, s.type).Bind(6, s.status).Bind(7, s.start_ns);
        span.Bind(8, s.end_ns).BindStatic(9, s.content);  // `writes` outlives `span`
        span.Run();
      }
    }
  });
}

template <class Engine>
std::optional<TraceInfo> SqlTraceStore<Engine>::GetTraceInfo(const std::string& trace_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<TraceInfo> {
    auto pk = sql_trace_store::TracePk(db, trace_id);
    if (!pk) return std::nullopt;
    return sql_trace_store::LoadTrace(db, *pk);
  });
}

template <class Engine>
std::optional<std::string> SqlTraceStore<Engine>::ExperimentOfTrace(const std::string& trace_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<std::string> {
    auto row = db.Prepare("SELECT experiment_id FROM traces WHERE trace_id = ?");
    row.Bind(1, trace_id);
    if (!row.Step()) return std::nullopt;
    return std::to_string(row.Int(0));
  });
}

template <class Engine>
std::vector<Span> SqlTraceStore<Engine>::GetSpans(const std::string& trace_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<Span> spans;
    auto pk = sql_trace_store::TracePk(db, trace_id);
    if (!pk) return spans;
    auto rows = db.Prepare(
        "SELECT span_id, parent_span_id, name, type, status, start_ns, end_ns, content FROM "
        "spans WHERE trace_pk = ? ORDER BY parent_span_id IS NOT NULL, start_ns, span_pk");
    rows.Bind(1, *pk);
    while (rows.Step()) {
      Span s;
      s.span_id = rows.Text(0);
      if (!rows.IsNull(1)) s.parent_span_id = rows.Text(1);
      s.name = rows.Text(2);
      s.type = rows.Text(3);
      s.status = rows.Text(4);
      s.start_ns = rows.Int(5);
      s.end_ns = rows.Int(6);
      s.content = rows.Text(7);
      spans.push_back(std::move(s));
    }
    return spans;
  });
}

template <class Engine>
tracking::PageOf<TraceInfo> SqlTraceStore<Engine>::SearchTraces(
    const std::vector<std::string>& experiment_ids, const tracing::TraceFilter& filter,
    const std::vector<tracing::TraceOrder>& order, tracking::Page page) {
  std::vector<int64_t> experiments;
  for (const std::string& id : experiment_ids) experiments.push_back(std::stoll(id));
  const SqlQuery query =
      BuildTraceSearch(Engine::Dialect(), experiments, filter, order, page.limit + 1, page.offset);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    tracking::PageOf<TraceInfo> out;
    auto rows = db.Prepare(query.sql);
    BindAll(rows, query.binds);
    std::vector<int64_t> pks;
    while (rows.Step()) pks.push_back(rows.Int(0));
    if (static_cast<int64_t>(pks.size()) > page.limit) {
      out.has_more = true;
      pks.pop_back();
    }
    for (int64_t pk : pks)
      if (auto info = sql_trace_store::LoadTrace(db, pk)) out.items.push_back(std::move(*info));
    return out;
  });
}

template <class Engine>
int64_t SqlTraceStore<Engine>::CountTraces(const std::vector<std::string>& experiment_ids,
                                           const std::vector<tracing::TraceFilter>& all_of) {
  if (all_of.empty()) return 0;
  const std::vector<int64_t> experiments = sql_trace_store::ExperimentKeys(experiment_ids);
  const std::vector<tracing::TraceOrder> order = tracing::ParseTraceOrderBy({});
  // One statement, numbered as a whole: each search's placeholders follow
  // the ones before.
  SqlFragment f;
  f.Add("SELECT COUNT(*) FROM (");
  for (size_t i = 0; i < all_of.size(); ++i) {
    f.Add(i ? " INTERSECT " : "").Add("SELECT trace_pk FROM (");
    f.Add(TraceSearchFragment(Engine::Dialect(), experiments, all_of[i], order, -1, 0));
    f.Add(") AS q" + std::to_string(i));
  }
  f.Add(") AS matching");
  const SqlQuery query = Engine::Dialect().Finish(std::move(f));
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    auto count = db.Prepare(query.sql);
    BindAll(count, query.binds);
    count.Step();
    return count.Int(0);
  });
}

template <class Engine>
std::vector<tracing::MetricRow> SqlTraceStore<Engine>::ScanMetricRows(
    const std::string& view_type, const std::vector<std::string>& experiment_ids,
    const tracing::TraceFilter& filter, const std::vector<tracing::MetricRowFilter>& row_filters,
    std::optional<int64_t> start_ms, std::optional<int64_t> end_ms) {
  SqlFragment matching =
      TraceSearchFragment(Engine::Dialect(), sql_trace_store::ExperimentKeys(experiment_ids),
                          filter, tracing::ParseTraceOrderBy({}), -1, 0);
  const std::string in_scope =
      "t.trace_pk IN (SELECT trace_pk FROM (" + matching.sql + ") AS matching)";
  std::string sql;
  // The row's time, in the view's unit, bounded below.
  std::string time_column = "t.request_time";
  int64_t time_scale = 1;
  if (view_type == "SPANS") {
    sql =
        "SELECT s.start_ns, s.name, s.type, s.status, s.end_ns, s.content FROM spans s JOIN "
        "traces t ON t.trace_pk = s.trace_pk WHERE " +
        in_scope;
    time_column = "s.start_ns";
    time_scale = 1'000'000;
  } else if (view_type == "ASSESSMENTS") {
    sql =
        "SELECT t.request_time, a.name, a.value, a.number FROM assessments a JOIN traces t ON "
        "t.trace_pk = a.trace_pk WHERE a.valid = 1 AND " +
        in_scope;
  } else {
    sql =
        "SELECT t.request_time, "
        "(SELECT value FROM trace_tags k WHERE k.trace_pk = t.trace_pk AND k.key = "
        "'mlflow.traceName'), t.state, t.execution_duration, "
        "(SELECT value FROM trace_metadata m WHERE m.trace_pk = t.trace_pk AND m.key = "
        "'mlflow.trace.session'), "
        "(SELECT value FROM trace_metadata m WHERE m.trace_pk = t.trace_pk AND m.key = "
        "'mlflow.trace.tokenUsage') FROM traces t WHERE " +
        in_scope;
  }
  std::vector<SqlValue> binds = std::move(matching.binds);
  for (const tracing::MetricRowFilter& f : row_filters) {
    // Fields SplitMetricFilters allows; an assessment's type is its kind.
    const bool spans = view_type == "SPANS";
    if (f.field == "name")
      sql += spans ? " AND s.name = ?" : " AND a.name = ?";
    else if (f.field == "status" && spans)
      sql += " AND s.status = ?";
    else if (f.field == "type")
      sql += spans ? " AND s.type = ?" : " AND a.kind = ?";
    else
      throw Error(ErrorCode::kInternalError, "no metric row filter on " + f.field);
    binds.emplace_back(f.value);
  }
  if (start_ms) {
    sql += " AND " + time_column + " >= ?";
    binds.emplace_back(*start_ms * time_scale);
  }
  if (end_ms) {
    sql += " AND " + time_column + " < ?";
    binds.emplace_back(*end_ms * time_scale);
  }
  const SqlQuery query = Engine::Dialect().Finish({std::move(sql), std::move(binds)});
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    auto rows = db.Prepare(query.sql);
    BindAll(rows, query.binds);
    std::vector<tracing::MetricRow> out;
    while (rows.Step()) {
      tracing::MetricRow row;
      if (view_type == "SPANS") {
        row.time_ms = rows.Int(0) / 1'000'000;
        row.dimensions["span_name"] = rows.Text(1);
        if (!rows.Text(2).empty()) row.dimensions["span_type"] = rows.Text(2);
        row.dimensions["span_status"] = rows.Text(3);
        row.values["span_count"] = 1;
        if (rows.Int(4) > 0) row.values["latency"] = (rows.Int(4) - rows.Int(0)) / 1'000'000;
        const Json content = Json::parse(rows.Text(5), nullptr, false);
        for (const auto& [dimension, key] :
             {std::pair{"span_model_name", "mlflow.llm.model"},
              std::pair{"span_model_provider", "mlflow.llm.provider"}}) {
          auto value = sql_trace_store::SpanAttribute(content, key);
          if (value && value->is_string())
            row.dimensions[dimension] = value->template get<std::string>();
        }
        if (auto cost = sql_trace_store::SpanAttribute(content, "mlflow.llm.cost"))
          sql_trace_store::AddNumbers(*cost, {"input_cost", "output_cost", "total_cost"},
                                      row.values);
      } else if (view_type == "ASSESSMENTS") {
        row.time_ms = rows.Int(0);
        row.dimensions["assessment_name"] = rows.Text(1);
        row.dimensions["assessment_value"] = rows.Text(2);
        row.values["assessment_count"] = 1;
        if (!rows.IsNull(3)) row.values["assessment_value"] = rows.Double(3);
      } else {
        row.time_ms = rows.Int(0);
        if (!rows.IsNull(1)) row.dimensions["trace_name"] = rows.Text(1);
        row.dimensions["trace_status"] = rows.Text(2);
        row.values["trace_count"] = 1;
        if (!rows.IsNull(3)) row.values["latency"] = static_cast<double>(rows.Int(3));
        if (!rows.IsNull(4)) row.session = rows.Text(4);
        if (!rows.IsNull(5))
          sql_trace_store::AddNumbers(Json(rows.Text(5)),
                                      {"input_tokens", "output_tokens", "total_tokens",
                                       "cache_read_input_tokens", "cache_creation_input_tokens"},
                                      row.values);
      }
      out.push_back(std::move(row));
    }
    return out;
  });
}

template <class Engine>
void SqlTraceStore<Engine>::SetTraceTag(const std::string& trace_id, const std::string& key,
                                        const std::string& value) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_trace_store::PutMap(db, "trace_tags", sql_trace_store::TracePkOrThrow(db, trace_id),
                            {{key, value}});
  });
}

template <class Engine>
bool SqlTraceStore<Engine>::DeleteTraceTag(const std::string& trace_id, const std::string& key) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    auto del = db.Prepare("DELETE FROM trace_tags WHERE trace_pk = ? AND key = ?");
    del.Bind(1, sql_trace_store::TracePkOrThrow(db, trace_id)).Bind(2, key);
    del.Run();
    deleted = db.Changes() > 0;
  });
  return deleted;
}

template <class Engine>
int64_t SqlTraceStore<Engine>::DeleteTraces(const std::string& experiment_id,
                                            const std::vector<std::string>& ids,
                                            std::optional<int64_t> max_timestamp,
                                            std::optional<int64_t> max_traces) {
  const int64_t experiment = static_cast<int64_t>(std::stoll(experiment_id));
  int64_t deleted = 0;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    std::vector<int64_t> pks;
    if (!ids.empty()) {
      for (const std::string& id : ids) {
        auto find =
            db.Prepare("SELECT trace_pk FROM traces WHERE experiment_id = ? AND trace_id = ?");
        find.Bind(1, experiment).Bind(2, id);
        if (find.Step()) pks.push_back(find.Int(0));
      }
    } else {
      // Without max_traces, every trace up to max_timestamp: the dialect
      // spells "no limit" (PostgreSQL refuses a negative LIMIT).
      const SqlDialect& dialect = Engine::Dialect();
      SqlFragment f;
      f.Add("SELECT trace_pk FROM traces WHERE experiment_id = ")
          .Bind(experiment)
          .Add(" AND request_time <= ")
          .Bind(*max_timestamp)
          .Add(" ORDER BY request_time, " + dialect.TextOrder("trace_id"))
          .Add(dialect.LimitOffset(max_traces.value_or(-1), 0));
      const SqlQuery query = dialect.Finish(std::move(f));
      auto find = db.Prepare(query.sql);
      BindAll(find, query.binds);
      while (find.Step()) pks.push_back(find.Int(0));
    }
    for (int64_t pk : pks) sql_trace_store::DeleteTraceRows(db, pk);
    deleted = static_cast<int64_t>(pks.size());
  });
  return deleted;
}

template <class Engine>
void SqlTraceStore<Engine>::LinkTracesToRun(const std::vector<std::string>& trace_ids,
                                            const std::string& run_id) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    for (const std::string& id : trace_ids)
      db.Prepare(
            "INSERT INTO trace_run_links (trace_id, run_id) VALUES (?, ?) ON CONFLICT DO "
            "NOTHING")
          .Bind(1, id)
          .Bind(2, run_id)
          .Run();
  });
}

template <class Engine>
void SqlTraceStore<Engine>::LinkPromptsToTrace(const std::string& trace_id,
                                               const std::vector<std::string>& prompts) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    const int64_t pk = sql_trace_store::TracePkOrThrow(db, trace_id);
    for (const std::string& prompt : prompts)
      db.Prepare(
            "INSERT INTO trace_prompt_links (trace_pk, prompt) VALUES (?, ?) ON CONFLICT DO "
            "NOTHING")
          .Bind(1, pk)
          .Bind(2, prompt)
          .Run();
  });
}

template <class Engine>
void SqlTraceStore<Engine>::CreateAssessment(const Assessment& assessment) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_trace_store::InsertAssessment(db, sql_trace_store::TracePkOrThrow(db, assessment.trace_id),
                                      assessment);
  });
}

template <class Engine>
std::optional<Assessment> SqlTraceStore<Engine>::GetAssessment(const std::string& trace_id,
                                                               const std::string& assessment_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<Assessment> {
    auto pk = sql_trace_store::TracePk(db, trace_id);
    if (!pk) return std::nullopt;
    auto row = db.Prepare(std::string(sql_trace_store::kAssessmentColumns) +
                          "WHERE trace_pk = ? AND assessment_id = ?");
    row.Bind(1, *pk).Bind(2, assessment_id);
    if (!row.Step()) return std::nullopt;
    return sql_trace_store::ReadAssessment(row, trace_id);
  });
}

template <class Engine>
void SqlTraceStore<Engine>::UpdateAssessment(const Assessment& a) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    const int64_t pk = sql_trace_store::TracePkOrThrow(db, a.trace_id);
    auto update = db.Prepare(
        "UPDATE assessments SET name = ?, value = ?, number = ?, serialized = ?, error = ?, "
        "rationale = ?, metadata = ?, valid = ?, last_update_time = ? WHERE trace_pk = ? AND "
        "assessment_id = ?");
    update.Bind(1, a.name).Bind(2, a.value);
    if (auto n = sql_trace_store::NumberOf(a.value))
      update.Bind(3, *n);
    else
      update.BindNull(3);
    update.Bind(4, a.serialized ? 1 : 0).Bind(5, a.error).Bind(6, a.rationale);
    update.Bind(7, sql_trace_store::Dump(Json(a.metadata)))
        .Bind(8, a.valid ? 1 : 0)
        .Bind(9, a.last_update_time);
    update.Bind(10, pk).Bind(11, a.assessment_id);
    update.Run();
    if (db.Changes() == 0)
      ThrowNotFound("Assessment with ID '" + a.assessment_id + "' not found for trace '" +
                    a.trace_id + "'");
  });
}

template <class Engine>
bool SqlTraceStore<Engine>::DeleteAssessment(const std::string& trace_id,
                                             const std::string& assessment_id) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    auto pk = sql_trace_store::TracePk(db, trace_id);
    if (!pk) return;
    auto find =
        db.Prepare("SELECT overrides FROM assessments WHERE trace_pk = ? AND assessment_id = ?");
    find.Bind(1, *pk).Bind(2, assessment_id);
    if (!find.Step()) return;
    const std::string overrides = find.Text(0);
    auto del = db.Prepare("DELETE FROM assessments WHERE trace_pk = ? AND assessment_id = ?");
    del.Bind(1, *pk).Bind(2, assessment_id);
    del.Run();
    deleted = true;
    if (!overrides.empty()) {
      auto restore =
          db.Prepare("UPDATE assessments SET valid = 1 WHERE trace_pk = ? AND assessment_id = ?");
      restore.Bind(1, *pk).Bind(2, overrides);
      restore.Run();
    }
  });
  return deleted;
}

}  // namespace slipway::store
