// The definitions of SqlTrackingStore (sql_tracking_store.h), included by
// the one file of each engine that instantiates it.
#pragma once

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/clock.h"
#include "core/error.h"
#include "store/sql_search.h"
#include "store/sql_tracking_store.h"
#include "store/sqlite_paging.h"

namespace slipway::store {

using tracking::DatasetInput;
using tracking::Experiment;
using tracking::LoggedModel;
using tracking::MetricPoint;
using tracking::ModelLink;
using tracking::Page;
using tracking::PageOf;
using tracking::Param;
using tracking::Run;
using tracking::RunInfo;
using tracking::Tag;

namespace sql_tracking_store {

// Upserts a key's latest_metrics row from one batch: ?1-?6 the batch's
// newest point (kept if newer than the stored one), ?7 the points the batch
// added, ?8-?9 the highest (timestamp, step) among them (the tail moves
// there if it is past it), ?10 whether the key is in step order now
// (KeepsStepOrder).
inline const std::string& LatestMetricUpsert() {
  static const std::string sql = [] {
    // `column` takes the batch's value when `condition` holds.
    auto take_if = [](const std::string& condition, const std::string& column) {
      return column + " = CASE WHEN " + condition + " THEN excluded." + column +
             " ELSE latest_metrics." + column + " END, ";
    };
    const std::string newer =
        "(excluded.step, excluded.timestamp, excluded.value) > (latest_metrics.step, "
        "latest_metrics.timestamp, latest_metrics.value)";
    const std::string longer =
        "(excluded.points > 0 AND (excluded.tail_timestamp, excluded.tail_step) > "
        "(latest_metrics.tail_timestamp, latest_metrics.tail_step))";
    return "INSERT INTO latest_metrics (run_pk, key, value, timestamp, step, is_nan, points, "
           "tail_timestamp, tail_step, in_step_order) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
           "?9, ?10) ON CONFLICT (run_pk, key) DO UPDATE SET " +
           take_if(newer, "value") + take_if(newer, "timestamp") + take_if(newer, "step") +
           take_if(newer, "is_nan") + take_if(longer, "tail_timestamp") +
           take_if(longer, "tail_step") +
           "points = latest_metrics.points + excluded.points, "
           "in_step_order = excluded.in_step_order";
  }();
  return sql;
}

using TimeStep = std::pair<int64_t, int64_t>;  // (timestamp, step)

// Whether a key's history, in step order before this batch (or new), still
// is with the batch's `added` points, sorted by (timestamp, step), already
// inserted. Where they all come at or after the old tail that is a
// comparison; where they come before it, their neighbours are read: no
// older point may lie among them, the one before them may not have a
// higher step, nor the one after them a lower one. Points at one
// (timestamp, step) sit together whatever their values, so they never break
// the order.
template <class Session>
bool KeepsStepOrder(Session& db, int64_t run_pk, const std::string& key,
                    const std::vector<TimeStep>& added) {
  for (size_t i = 1; i < added.size(); ++i) {
    if (added[i].second < added[i - 1].second) return false;
  }
  auto state = db.Prepare(
      "SELECT tail_timestamp, tail_step, in_step_order FROM latest_metrics WHERE run_pk = ? AND "
      "key = ?");
  state.Bind(1, run_pk).Bind(2, key);
  if (!state.Step()) return true;  // a new key: its points are all there is
  if (state.Int(2) != 1) return false;
  if (added.empty()) return true;
  const TimeStep tail{state.Int(0), state.Int(1)};
  const TimeStep& first = added.front();
  const TimeStep& last = added.back();
  if (first >= tail) return first.second >= tail.second;
  const std::string where = " FROM metrics WHERE run_pk = ? AND key = ? AND ";
  auto among = db.Prepare("SELECT count(*)" + where +
                          "(timestamp, step) >= (?, ?) AND (timestamp, step) <= (?, ?)");
  among.Bind(1, run_pk).Bind(2, key).Bind(3, first.first).Bind(4, first.second);
  among.Bind(5, last.first).Bind(6, last.second);
  if (!among.Step() || among.Int(0) != static_cast<int64_t>(added.size())) return false;
  auto before = db.Prepare("SELECT step" + where +
                           "(timestamp, step) < (?, ?) ORDER BY timestamp DESC, step DESC "
                           "LIMIT 1");
  before.Bind(1, run_pk).Bind(2, key).Bind(3, first.first).Bind(4, first.second);
  if (before.Step() && before.Int(0) > first.second) return false;
  auto after = db.Prepare("SELECT step" + where +
                          "(timestamp, step) > (?, ?) ORDER BY timestamp, step LIMIT 1");
  after.Bind(1, run_pk).Bind(2, key).Bind(3, last.first).Bind(4, last.second);
  return !after.Step() || after.Int(0) >= last.second;
}

inline constexpr const char* kRunNameTag = "mlflow.runName";

// Only the canonical spelling names an experiment (see tracking::ParseExperimentId).
inline std::optional<int64_t> ParseId(const std::string& text) {
  return tracking::ParseExperimentId(text);
}

inline int64_t ExperimentIdOrThrow(const std::string& experiment_id) {
  auto id = ParseId(experiment_id);
  if (!id) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
  return *id;
}

inline ViewType ToSqlView(tracking::ViewType view) {
  switch (view) {
    case tracking::ViewType::kActiveOnly:
      return ViewType::kActiveOnly;
    case tracking::ViewType::kDeletedOnly:
      return ViewType::kDeletedOnly;
    case tracking::ViewType::kAll:
      return ViewType::kAll;
  }
  return ViewType::kActiveOnly;
}

// `select` ORDER BY `columns`, text compared byte by byte on every engine
// (SqlDialect::TextOrder). The loaders keep the result in a static: each
// engine's text is built once.
template <class Engine>
std::string OrderedByText(std::string select, std::initializer_list<const char*> columns) {
  select += " ORDER BY ";
  bool first = true;
  for (const char* column : columns) {
    if (!first) select += ", ";
    first = false;
    select += Engine::Dialect().TextOrder(column);
  }
  return select;
}

template <class Engine>
Experiment ReadExperimentRow(typename Engine::Session& db, const typename Engine::Row& row) {
  static const std::string tags_sql = OrderedByText<Engine>(
      "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", {"key"});
  Experiment experiment;
  experiment.experiment_id = std::to_string(row.Int(0));
  experiment.name = row.Text(1);
  experiment.artifact_location = row.Text(2);
  experiment.lifecycle_stage = row.Text(3);
  experiment.creation_time = row.Int(4);
  experiment.last_update_time = row.Int(5);
  auto tags = db.Prepare(tags_sql);
  tags.Bind(1, row.Int(0));
  while (tags.Step()) experiment.tags.push_back({tags.Text(0), tags.Text(1)});
  return experiment;
}

inline constexpr const char* kExperimentColumns =
    "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
    "last_update_time FROM experiments ";

template <class Engine>
std::optional<Experiment> LoadExperiment(typename Engine::Session& db, int64_t id) {
  auto row = db.Prepare(std::string(kExperimentColumns) + "WHERE experiment_id = ?");
  row.Bind(1, id);
  if (!row.Step()) return std::nullopt;
  return ReadExperimentRow<Engine>(db, row);
}

// What a write needs to know of a run before touching it.
struct RunKey {
  int64_t pk;
  int64_t experiment_id;
  std::string lifecycle_stage;
};

// `lock`: the dialect's RowLock, for a write that must lock the run's row.
template <class Session>
RunKey LoadRunKey(Session& db, const std::string& run_id, const std::string& lock = {}) {
  auto row = db.Prepare(
      lock.empty() ? "SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?"
                   : lock);
  row.Bind(1, run_id);
  if (!row.Step()) ThrowNotFound("Run with id=" + run_id + " not found");
  return {row.Int(0), row.Int(1), row.Text(2)};
}

template <class Session>
RunKey LoadActiveRunKey(Session& db, const std::string& run_id, const std::string& lock = {}) {
  RunKey key = LoadRunKey(db, run_id, lock);
  if (key.lifecycle_stage != tracking::kLifecycleActive) {
    ThrowInvalid("The run " + run_id + " must be in the 'active' state. Current state is " +
                 key.lifecycle_stage + ".");
  }
  return key;
}

template <class Engine>
std::optional<Run> LoadRun(typename Engine::Session& db, const std::string& run_id) {
  static const std::string metrics_sql = OrderedByText<Engine>(
      "SELECT key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_pk = ?", {"key"});
  static const std::string params_sql =
      OrderedByText<Engine>("SELECT key, value FROM params WHERE run_pk = ?", {"key"});
  static const std::string tags_sql =
      OrderedByText<Engine>("SELECT key, value FROM tags WHERE run_pk = ?", {"key"});
  static const std::string input_tags_sql = OrderedByText<Engine>(
      "SELECT key, value FROM run_input_tags WHERE run_pk = ? AND dataset_pk = ?", {"key"});
  static const std::string links_sql = OrderedByText<Engine>(
      "SELECT model_id, direction, step FROM run_model_links WHERE run_pk = ?",
      {"direction", "model_id"});
  auto row = db.Prepare(
      "SELECT run_pk, run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
      "artifact_uri, lifecycle_stage FROM runs WHERE run_uuid = ?");
  row.Bind(1, run_id);
  if (!row.Step()) return std::nullopt;
  Run run;
  int64_t pk = row.Int(0);
  run.info.run_id = row.Text(1);
  run.info.experiment_id = std::to_string(row.Int(2));
  run.info.run_name = row.Text(3);
  run.info.user_id = row.Text(4);
  run.info.status = row.Text(5);
  run.info.start_time = row.Int(6);
  if (!row.IsNull(7)) run.info.end_time = row.Int(7);
  run.info.artifact_uri = row.Text(8);
  run.info.lifecycle_stage = row.Text(9);

  auto metrics = db.Prepare(metrics_sql);
  metrics.Bind(1, pk);
  while (metrics.Step()) {
    MetricPoint point;
    point.key = metrics.Text(0);
    point.value = metrics.Int(4) ? std::nan("") : metrics.Double(1);
    point.timestamp = metrics.Int(2);
    point.step = metrics.Int(3);
    point.run_id = run.info.run_id;
    run.metrics.push_back(std::move(point));
  }
  auto params = db.Prepare(params_sql);
  params.Bind(1, pk);
  while (params.Step()) run.params.push_back({params.Text(0), params.Text(1)});
  auto tags = db.Prepare(tags_sql);
  tags.Bind(1, pk);
  while (tags.Step()) run.tags.push_back({tags.Text(0), tags.Text(1)});

  auto inputs = db.Prepare(
      "SELECT d.dataset_pk, d.name, d.digest, d.source_type, d.source, d.schema, d.profile "
      "FROM run_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk WHERE i.run_pk = ? "
      "ORDER BY d.dataset_pk");
  inputs.Bind(1, pk);
  while (inputs.Step()) {
    DatasetInput input;
    input.dataset = {inputs.Text(1), inputs.Text(2), inputs.Text(3),
                     inputs.Text(4), inputs.Text(5), inputs.Text(6)};
    auto input_tags = db.Prepare(input_tags_sql);
    input_tags.Bind(1, pk).Bind(2, inputs.Int(0));
    while (input_tags.Step()) input.tags.push_back({input_tags.Text(0), input_tags.Text(1)});
    run.dataset_inputs.push_back(std::move(input));
  }
  auto links = db.Prepare(links_sql);
  links.Bind(1, pk);
  while (links.Step()) {
    ModelLink link{links.Text(0), links.Int(2)};
    (links.Text(1) == "input" ? run.model_inputs : run.model_outputs).push_back(std::move(link));
  }
  return run;
}

template <class Engine>
std::optional<LoggedModel> LoadLoggedModel(typename Engine::Session& db,
                                           const std::string& model_id) {
  static const std::string tags_sql =
      OrderedByText<Engine>("SELECT key, value FROM logged_model_tags WHERE model_id = ?", {"key"});
  static const std::string params_sql = OrderedByText<Engine>(
      "SELECT key, value FROM logged_model_params WHERE model_id = ?", {"key"});
  // A logged model's metrics are the points logged with its id; each key's
  // latest point by (step, timestamp).
  static const std::string metrics_sql =
      OrderedByText<Engine>(
          "SELECT m.key, m.value, m.timestamp, m.step, m.is_nan, r.run_uuid, m.dataset_name, "
          "m.dataset_digest FROM metrics m JOIN runs r ON r.run_pk = m.run_pk "
          "WHERE m.model_id = ?",
          {"m.key"}) +
      ", m.step, m.timestamp";
  auto row = db.Prepare(
      "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
      "last_updated_timestamp_ms, status, status_message, model_type, source_run_id, "
      "lifecycle_stage FROM logged_models WHERE model_id = ?");
  row.Bind(1, model_id);
  if (!row.Step()) return std::nullopt;
  LoggedModel model;
  model.model_id = row.Text(0);
  model.experiment_id = std::to_string(row.Int(1));
  model.name = row.Text(2);
  model.artifact_uri = row.Text(3);
  model.creation_timestamp_ms = row.Int(4);
  model.last_updated_timestamp_ms = row.Int(5);
  model.status = row.Text(6);
  model.status_message = row.Text(7);
  model.model_type = row.Text(8);
  model.source_run_id = row.Text(9);
  model.lifecycle_stage = row.Text(10);
  auto tags = db.Prepare(tags_sql);
  tags.Bind(1, model_id);
  while (tags.Step()) model.tags.push_back({tags.Text(0), tags.Text(1)});
  auto params = db.Prepare(params_sql);
  params.Bind(1, model_id);
  while (params.Step()) model.params.push_back({params.Text(0), params.Text(1)});
  auto metrics = db.Prepare(metrics_sql);
  metrics.Bind(1, model_id);
  while (metrics.Step()) {
    MetricPoint point;
    point.key = metrics.Text(0);
    point.value = metrics.Int(4) ? std::nan("") : metrics.Double(1);
    point.timestamp = metrics.Int(2);
    point.step = metrics.Int(3);
    point.run_id = metrics.Text(5);
    point.model_id = model_id;
    point.dataset_name = metrics.Text(6);
    point.dataset_digest = metrics.Text(7);
    if (!model.metrics.empty() && model.metrics.back().key == point.key) {
      model.metrics.back() = std::move(point);
    } else {
      model.metrics.push_back(std::move(point));
    }
  }
  return model;
}

template <class Session>
void RequireLoggedModel(Session& db, const std::string& model_id) {
  auto row = db.Prepare("SELECT 1 FROM logged_models WHERE model_id = ?");
  row.Bind(1, model_id);
  if (!row.Step()) ThrowNotFound("Logged model with ID '" + model_id + "' not found.");
}

inline std::vector<int64_t> ExperimentIds(const std::vector<std::string>& ids) {
  std::vector<int64_t> out;
  for (const std::string& id : ids) {
    if (auto parsed = ParseId(id)) out.push_back(*parsed);
  }
  return out;
}

// Logged models' tags and params: last write wins.
template <class Session>
void UpsertModelEntry(Session& db, const char* table, const std::string& model_id,
                      const std::string& key, const std::string& value) {
  db.Prepare(std::string("INSERT INTO ") + table +
             " (model_id, key, value) VALUES (?, ?, ?) "
             "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value")
      .Bind(1, model_id)
      .Bind(2, key)
      .Bind(3, value)
      .Run();
}

template <class Session>
void UpsertTag(Session& db, const char* table, const char* owner_column, int64_t owner,
               const Tag& tag) {
  db.Prepare(std::string("INSERT INTO ") + table + " (" + owner_column +
             ", key, value) VALUES (?, ?, ?) ON CONFLICT (" + owner_column +
             ", key) DO UPDATE SET value = excluded.value")
      .Bind(1, owner)
      .Bind(2, tag.key)
      .Bind(3, tag.value)
      .Run();
}

}  // namespace sql_tracking_store

// ---- Experiments -----------------------------------------------------------

template <class Engine>
std::string SqlTrackingStore<Engine>::CreateExperiment(const Experiment& experiment,
                                                       const std::string& artifact_root) {
  const std::optional<int64_t> explicit_id = sql_tracking_store::ParseId(experiment.experiment_id);
  int64_t id = 0;
  try {
    Engine::Write(*db_, [&](typename Engine::Session& db) {
      {
        auto existing = db.Prepare("SELECT lifecycle_stage FROM experiments WHERE name = ?");
        existing.Bind(1, experiment.name);
        if (existing.Step()) {
          std::string stage = existing.Text(0);
          throw Error(ErrorCode::kResourceAlreadyExists,
                      "Experiment '" + experiment.name + "' already exists" +
                          (stage == tracking::kLifecycleDeleted
                               ? " in deleted state. You can restore the experiment, or "
                                 "permanently delete the experiment to create a new one."
                               : "."));
        }
      }
      int64_t now = NowMillis();
      if (explicit_id) {
        auto insert = db.Prepare(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
            "creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?) "
            "RETURNING experiment_id");
        insert.Bind(1, *explicit_id).Bind(2, experiment.name);
        insert.Bind(3, experiment.artifact_location).Bind(4, now).Bind(5, now);
        insert.Step();
        id = insert.Int(0);
        // Generated ids continue after the largest, as SQLite's rowid does.
        static const std::string after =
            Engine::Dialect().AfterExplicitKey("experiments", "experiment_id");
        if (!after.empty()) db.Prepare(after).Run();
      } else {
        auto insert = db.Prepare(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time) VALUES (?, ?, 'active', ?, ?) RETURNING experiment_id");
        insert.Bind(1, experiment.name).Bind(2, experiment.artifact_location);
        insert.Bind(3, now).Bind(4, now);
        insert.Step();
        id = insert.Int(0);
      }
      if (experiment.artifact_location.empty()) {
        db.Prepare("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?")
            .Bind(1, artifact_root + "/" + std::to_string(id))
            .Bind(2, id)
            .Run();
      }
      for (const Tag& tag : experiment.tags)
        sql_tracking_store::UpsertTag(db, "experiment_tags", "experiment_id", id, tag);
    });
  } catch (const std::exception& e) {
    // Two creates of one name at once on an engine with concurrent writers:
    // the second meets the first's row.
    if (!Engine::IsUniqueViolation(e)) throw;
    throw Error(ErrorCode::kResourceAlreadyExists,
                "Experiment '" + experiment.name + "' already exists.");
  }
  return std::to_string(id);
}

template <class Engine>
std::optional<Experiment> SqlTrackingStore<Engine>::GetExperiment(
    const std::string& experiment_id) {
  auto id = sql_tracking_store::ParseId(experiment_id);
  if (!id) return std::nullopt;
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return sql_tracking_store::LoadExperiment<Engine>(db, *id);
  });
}

template <class Engine>
std::optional<Experiment> SqlTrackingStore<Engine>::GetExperimentByName(const std::string& name) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<Experiment> {
    auto row = db.Prepare(std::string(sql_tracking_store::kExperimentColumns) + "WHERE name = ?");
    row.Bind(1, name);
    if (!row.Step()) return std::nullopt;
    return sql_tracking_store::ReadExperimentRow<Engine>(db, row);
  });
}

template <class Engine>
PageOf<Experiment> SqlTrackingStore<Engine>::SearchExperiments(
    tracking::ViewType view, const tracking::Filter& filter,
    const std::vector<tracking::OrderTerm>& order_by, Page page, const Visibility& visible) {
  SqlQuery query = BuildExperimentSearch(Engine::Dialect(), sql_tracking_store::ToSqlView(view),
                                         filter, order_by, page.offset, page.limit + 1, visible);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return LoadPage<Experiment>(
        db, query, page, [](const typename Engine::Row& row) { return row.Int(0); },
        sql_tracking_store::LoadExperiment<Engine>);
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::RenameExperiment(const std::string& experiment_id,
                                                const std::string& name) {
  int64_t id = sql_tracking_store::ExperimentIdOrThrow(experiment_id);
  try {
    Engine::Write(*db_, [&](typename Engine::Session& db) {
      auto experiment = sql_tracking_store::LoadExperiment<Engine>(db, id);
      if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
      if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
        ThrowInvalid("Cannot rename a non-active experiment.");
      }
      auto clash = db.Prepare("SELECT 1 FROM experiments WHERE name = ? AND experiment_id != ?");
      clash.Bind(1, name).Bind(2, id);
      if (clash.Step()) {
        throw Error(ErrorCode::kResourceAlreadyExists, "Experiment '" + name + "' already exists.");
      }
      db.Prepare("UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?")
          .Bind(1, name)
          .Bind(2, NowMillis())
          .Bind(3, id)
          .Run();
    });
  } catch (const std::exception& e) {
    if (!Engine::IsUniqueViolation(e)) throw;
    throw Error(ErrorCode::kResourceAlreadyExists, "Experiment '" + name + "' already exists.");
  }
}

template <class Engine>
void SqlTrackingStore<Engine>::SetExperimentLifecycle(const std::string& experiment_id,
                                                      const std::string& stage) {
  int64_t id = sql_tracking_store::ExperimentIdOrThrow(experiment_id);
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    auto experiment = sql_tracking_store::LoadExperiment<Engine>(db, id);
    if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
    if (stage == tracking::kLifecycleDeleted && id == 0) {
      ThrowInvalid(
          "Cannot delete the default experiment '0'. This is an internally reserved "
          "experiment.");
    }
    int64_t now = NowMillis();
    db.Prepare(
          "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
          "WHERE experiment_id = ?")
        .Bind(1, stage)
        .Bind(2, now)
        .Bind(3, id)
        .Run();
    // Deleting an experiment deletes its runs; restoring it restores them.
    auto runs =
        db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?");
    runs.Bind(1, stage);
    if (stage == tracking::kLifecycleDeleted) {
      runs.Bind(2, now);
    } else {
      runs.BindNull(2);
    }
    runs.Bind(3, id).Run();
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::SetExperimentTag(const std::string& experiment_id, const Tag& tag) {
  int64_t id = sql_tracking_store::ExperimentIdOrThrow(experiment_id);
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    auto experiment = sql_tracking_store::LoadExperiment<Engine>(db, id);
    if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
    if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
      ThrowInvalid("The experiment " + experiment_id +
                   " must be in the 'active' state. Current state is " +
                   experiment->lifecycle_stage + ".");
    }
    sql_tracking_store::UpsertTag(db, "experiment_tags", "experiment_id", id, tag);
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::DeleteExperimentTag(const std::string& experiment_id,
                                                   const std::string& key) {
  int64_t id = sql_tracking_store::ExperimentIdOrThrow(experiment_id);
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    if (!sql_tracking_store::LoadExperiment<Engine>(db, id))
      ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
    auto del = db.Prepare("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?");
    del.Bind(1, id).Bind(2, key).Run();
    if (db.Changes() == 0) {
      ThrowNotFound("No tag with name: " + key + " in experiment with id " + experiment_id);
    }
  });
}

// ---- Runs ------------------------------------------------------------------

template <class Engine>
void SqlTrackingStore<Engine>::CreateRun(const RunInfo& info, const std::vector<Tag>& tags) {
  int64_t experiment_id = sql_tracking_store::ExperimentIdOrThrow(info.experiment_id);
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    auto experiment = sql_tracking_store::LoadExperiment<Engine>(db, experiment_id);
    if (!experiment) ThrowNotFound("No Experiment with id=" + info.experiment_id + " exists");
    if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
      ThrowInvalid("The experiment " + info.experiment_id +
                   " must be in the 'active' state. Current state is " +
                   experiment->lifecycle_stage + ".");
    }
    auto insert = db.Prepare(
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
        "end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'active') "
        "RETURNING run_pk");
    insert.Bind(1, info.run_id)
        .Bind(2, experiment_id)
        .Bind(3, info.run_name)
        .Bind(4, info.user_id)
        .Bind(5, info.status)
        .Bind(6, info.start_time)
        .Bind(7, experiment->artifact_location + "/" + info.run_id + "/artifacts");
    insert.Step();
    const int64_t pk = insert.Int(0);
    for (const Tag& tag : tags) sql_tracking_store::UpsertTag(db, "tags", "run_pk", pk, tag);
  });
}

template <class Engine>
std::optional<Run> SqlTrackingStore<Engine>::GetRun(const std::string& run_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return sql_tracking_store::LoadRun<Engine>(db, run_id);
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::UpdateRun(const std::string& run_id,
                                         const tracking::RunUpdate& update) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadActiveRunKey(db, run_id);
    if (update.status) {
      db.Prepare("UPDATE runs SET status = ? WHERE run_pk = ?")
          .Bind(1, *update.status)
          .Bind(2, key.pk)
          .Run();
    }
    if (update.end_time) {
      db.Prepare("UPDATE runs SET end_time = ? WHERE run_pk = ?")
          .Bind(1, *update.end_time)
          .Bind(2, key.pk)
          .Run();
    }
    if (update.run_name) {
      db.Prepare("UPDATE runs SET name = ? WHERE run_pk = ?")
          .Bind(1, *update.run_name)
          .Bind(2, key.pk)
          .Run();
      sql_tracking_store::UpsertTag(db, "tags", "run_pk", key.pk,
                                    {sql_tracking_store::kRunNameTag, *update.run_name});
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::SetRunLifecycle(const std::string& run_id,
                                               const std::string& stage) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadRunKey(db, run_id);
    auto update =
        db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_pk = ?");
    update.Bind(1, stage);
    if (stage == tracking::kLifecycleDeleted) {
      update.Bind(2, NowMillis());
    } else {
      update.BindNull(2);
    }
    update.Bind(3, key.pk).Run();
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::LogRunWrites(const std::string& run_id,
                                            const tracking::RunWrites& writes) {
  // The run's row is locked first (where the engine has concurrent writers):
  // clients log to one run from many threads at once (MLflow's asynchronous
  // logging), and its batches take turns (Engine::WriteLocking).
  static const std::string lock_run =
      "SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?" +
      std::string(Engine::Dialect().RowLock());
  Engine::WriteLocking(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadActiveRunKey(db, run_id, lock_run);
    for (const Param& param : writes.params) {
      auto existing = db.Prepare("SELECT value FROM params WHERE run_pk = ? AND key = ?");
      existing.Bind(1, key.pk).Bind(2, param.key);
      if (existing.Step()) {
        std::string old_value = existing.Text(0);
        if (old_value != param.value) {
          ThrowInvalid("Changing param values is not allowed. Param with key='" + param.key +
                       "' was already logged with value='" + old_value + "' for run ID='" + run_id +
                       "'. Attempted logging new value '" + param.value + "'.");
        }
        continue;
      }
      db.Prepare("INSERT INTO params (run_pk, key, value) VALUES (?, ?, ?)")
          .Bind(1, key.pk)
          .Bind(2, param.key)
          .Bind(3, param.value)
          .Run();
    }
    // Per key of this batch: its newest point, and what the points it added
    // (not those already stored) do to the key's count and step order;
    // latest_metrics is updated once per key, not once per point.
    struct KeyWrites {
      const MetricPoint* newest = nullptr;
      std::vector<sql_tracking_store::TimeStep> added;
    };
    std::vector<KeyWrites> keys;
    for (const MetricPoint& point : writes.metrics) {
      bool is_nan = std::isnan(point.value);
      auto insert = db.Prepare(
          "INSERT INTO metrics (run_pk, key, step, timestamp, value, is_nan, model_id, "
          "dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT DO NOTHING");
      insert.Bind(1, key.pk)
          .Bind(2, point.key)
          .Bind(3, point.step)
          .Bind(4, point.timestamp)
          .Bind(5, is_nan ? 0.0 : point.value)
          .Bind(6, static_cast<int64_t>(is_nan));
      auto bind_optional = [&](int index, const std::string& text) {
        if (text.empty()) {
          insert.BindNull(index);
        } else {
          insert.Bind(index, text);
        }
      };
      bind_optional(7, point.model_id);
      bind_optional(8, point.dataset_name);
      bind_optional(9, point.dataset_digest);
      insert.Run();
      auto same_key = std::find_if(keys.begin(), keys.end(),
                                   [&](const KeyWrites& k) { return k.newest->key == point.key; });
      if (same_key == keys.end()) {
        same_key = keys.insert(keys.end(), KeyWrites{&point, {}});
      } else if (std::tuple(point.step, point.timestamp, point.value) >
                 std::tuple(same_key->newest->step, same_key->newest->timestamp,
                            same_key->newest->value)) {
        same_key->newest = &point;
      }
      if (db.Changes() > 0) same_key->added.emplace_back(point.timestamp, point.step);
    }
    for (KeyWrites& k : keys) {
      const MetricPoint* point = k.newest;
      bool is_nan = std::isnan(point->value);
      std::sort(k.added.begin(), k.added.end());
      const bool in_step_order =
          sql_tracking_store::KeepsStepOrder(db, key.pk, point->key, k.added);
      const sql_tracking_store::TimeStep tail =
          k.added.empty() ? sql_tracking_store::TimeStep{} : k.added.back();
      db.Prepare(sql_tracking_store::LatestMetricUpsert())
          .Bind(1, key.pk)
          .Bind(2, point->key)
          .Bind(3, is_nan ? 0.0 : point->value)
          .Bind(4, point->timestamp)
          .Bind(5, point->step)
          .Bind(6, static_cast<int64_t>(is_nan))
          .Bind(7, static_cast<int64_t>(k.added.size()))
          .Bind(8, tail.first)
          .Bind(9, tail.second)
          .Bind(10, static_cast<int64_t>(in_step_order))
          .Run();
    }
    for (const Tag& tag : writes.tags) {
      sql_tracking_store::UpsertTag(db, "tags", "run_pk", key.pk, tag);
      if (tag.key == sql_tracking_store::kRunNameTag) {
        db.Prepare("UPDATE runs SET name = ? WHERE run_pk = ?")
            .Bind(1, tag.value)
            .Bind(2, key.pk)
            .Run();
      }
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::DeleteRunTag(const std::string& run_id,
                                            const std::string& key_name) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadActiveRunKey(db, run_id);
    db.Prepare("DELETE FROM tags WHERE run_pk = ? AND key = ?")
        .Bind(1, key.pk)
        .Bind(2, key_name)
        .Run();
    if (db.Changes() == 0) {
      ThrowNotFound("No tag with name: " + key_name + " in run with id " + run_id);
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::LogRunInputs(const std::string& run_id,
                                            const std::vector<DatasetInput>& datasets,
                                            const std::vector<ModelLink>& models) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadActiveRunKey(db, run_id);
    for (const DatasetInput& input : datasets) {
      const tracking::Dataset& d = input.dataset;
      db.Prepare(
            "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, "
            "profile) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id, name, digest) "
            "DO NOTHING")
          .Bind(1, key.experiment_id)
          .Bind(2, d.name)
          .Bind(3, d.digest)
          .Bind(4, d.source_type)
          .Bind(5, d.source)
          .Bind(6, d.schema)
          .Bind(7, d.profile)
          .Run();
      auto find = db.Prepare(
          "SELECT dataset_pk FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?");
      find.Bind(1, key.experiment_id).Bind(2, d.name).Bind(3, d.digest);
      find.Step();
      int64_t dataset_pk = find.Int(0);
      db.Prepare("INSERT INTO run_inputs (run_pk, dataset_pk) VALUES (?, ?) ON CONFLICT DO NOTHING")
          .Bind(1, key.pk)
          .Bind(2, dataset_pk)
          .Run();
      // As MLflow: a dataset the run already has an input of is left as it
      // is, tags (the context) included.
      if (db.Changes() == 0) continue;
      for (const Tag& tag : input.tags) {
        db.Prepare(
              "INSERT INTO run_input_tags (run_pk, dataset_pk, key, value) VALUES (?, ?, ?, ?) "
              "ON CONFLICT (run_pk, dataset_pk, key) DO UPDATE SET value = excluded.value")
            .Bind(1, key.pk)
            .Bind(2, dataset_pk)
            .Bind(3, tag.key)
            .Bind(4, tag.value)
            .Run();
      }
    }
    for (const ModelLink& model : models) {
      db.Prepare(
            "INSERT INTO run_model_links (run_pk, model_id, direction, step) "
            "VALUES (?, ?, 'input', 0) ON CONFLICT DO NOTHING")
          .Bind(1, key.pk)
          .Bind(2, model.model_id)
          .Run();
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::LogRunOutputs(const std::string& run_id,
                                             const std::vector<ModelLink>& models) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadActiveRunKey(db, run_id);
    for (const ModelLink& model : models) {
      sql_tracking_store::RequireLoggedModel(db, model.model_id);
      db.Prepare(
            "INSERT INTO run_model_links (run_pk, model_id, direction, step) "
            "VALUES (?, ?, 'output', ?) ON CONFLICT (run_pk, direction, model_id) "
            "DO UPDATE SET step = excluded.step")
          .Bind(1, key.pk)
          .Bind(2, model.model_id)
          .Bind(3, model.step)
          .Run();
    }
  });
}

template <class Engine>
PageOf<MetricPoint> SqlTrackingStore<Engine>::GetMetricHistory(const std::string& run_id,
                                                               const std::string& key_name,
                                                               Page page) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadRunKey(db, run_id);
    auto rows = db.Prepare(
        "SELECT value, timestamp, step, is_nan, model_id, dataset_name, dataset_digest "
        "FROM metrics WHERE run_pk = ? AND key = ? ORDER BY timestamp, step, value "
        "LIMIT ? OFFSET ?");
    rows.Bind(1, key.pk).Bind(2, key_name).Bind(3, page.limit + 1).Bind(4, page.offset);
    PageOf<MetricPoint> result;
    result.items.reserve(static_cast<size_t>(std::min<int64_t>(page.limit, 1 << 16)));
    while (rows.Step()) {
      if (result.items.size() == static_cast<size_t>(page.limit)) {
        result.has_more = true;
        break;
      }
      MetricPoint point;  // key and run_id are the caller's: not repeated per point
      point.value = rows.Int(3) ? std::nan("") : rows.Double(0);
      point.timestamp = rows.Int(1);
      point.step = rows.Int(2);
      point.model_id = rows.Text(4);
      point.dataset_name = rows.Text(5);
      point.dataset_digest = rows.Text(6);
      result.items.push_back(std::move(point));
    }
    return result;
  });
}

template <class Engine>
std::vector<tracking::DatasetSummary> SqlTrackingStore<Engine>::SearchDatasetSummaries(
    const std::vector<std::string>& experiment_ids, int64_t limit) {
  const std::vector<int64_t> ids = sql_tracking_store::ExperimentIds(experiment_ids);
  if (ids.empty()) return {};
  // The ids bound as one JSON array: one text whatever their number.
  SqlFragment f;
  f.Add(
       "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value FROM datasets d "
       "JOIN run_inputs i ON i.dataset_pk = d.dataset_pk "
       "LEFT JOIN run_input_tags t ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk "
       "AND t.key = 'mlflow.data.context' WHERE d.experiment_id IN (")
      .Add(Engine::Dialect().JsonArrayElements(JsonArray(ids), true))
      .Add(") LIMIT ")
      .Bind(limit);
  const SqlQuery query = Engine::Dialect().Finish(std::move(f));
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    auto rows = db.Prepare(query.sql);
    BindAll(rows, query.binds);
    std::vector<tracking::DatasetSummary> out;
    while (rows.Step()) {
      tracking::DatasetSummary summary;
      summary.experiment_id = std::to_string(rows.Int(0));
      summary.name = rows.Text(1);
      summary.digest = rows.Text(2);
      if (!rows.IsNull(3)) summary.context = rows.Text(3);
      out.push_back(std::move(summary));
    }
    return out;
  });
}

template <class Engine>
std::vector<MetricPoint> SqlTrackingStore<Engine>::SampleMetricHistory(
    const std::string& run_id, const std::string& key_name, int64_t max_points,
    std::optional<std::pair<int64_t, int64_t>> steps) {
  // MLflow samples with NTILE in SQL, which sorts and numbers every point:
  // 2.5 s for a history of 1,000,000 here. The buckets' first rows are at
  // ranks known from the count alone, so the points are streamed once and
  // those ranks kept; and when the history's stored order (by timestamp,
  // its primary key) is also its order by step, which it is when steps grow
  // with time, the stream needs no sort either (0.2 s for 1,000,000).
  const std::string where = " FROM metrics WHERE run_pk = ? AND key = ?" +
                            std::string(steps ? " AND step >= ? AND step <= ?" : "");
  struct Row {
    int64_t step, timestamp;
    double value;  // as stored: 0 for NaN, which is_nan marks
    int64_t is_nan;
    auto operator<=>(const Row&) const = default;
  };
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RunKey key = sql_tracking_store::LoadRunKey(db, run_id);
    auto bind = [&](typename Engine::Row& statement) {
      statement.Bind(1, key.pk).Bind(2, key_name);
      if (steps) statement.Bind(3, steps->first).Bind(4, steps->second);
    };
    // A whole history known to be in step order has its count in
    // latest_metrics, and its ranks are reached by skipping rows inside
    // SQLite (a seek past the previous sampled row, then OFFSET), never
    // handing them to us: about 70 ms for 1,000,000 points where streaming
    // them took 180 ms (on a loaded 2-core machine).
    bool in_step_order = false;
    int64_t total = 0;
    if (!steps) {
      auto stats = db.Prepare(
          "SELECT points, in_step_order FROM latest_metrics WHERE run_pk = ? AND key = ?");
      stats.Bind(1, key.pk).Bind(2, key_name);
      if (stats.Step() && stats.Int(1) == 1) {
        in_step_order = true;
        total = stats.Int(0);
      }
    }
    if (!in_step_order) {
      auto count = db.Prepare("SELECT count(*)" + where);
      bind(count);
      total = count.Step() ? count.Int(0) : 0;
    }
    if (total == 0) return std::vector<MetricPoint>{};
    // NTILE(k) over `total` rows: the first total % k buckets hold one row
    // more than the others.
    const int64_t buckets = std::min(max_points, total);
    const int64_t size = total / max_points, longer = total % max_points;
    auto bucket_start = [&](int64_t b) { return b * size + std::min(b, longer); };
    // Streams the points in `order`, keeping the ranks wanted; false when
    // `check` finds the stream out of step order. Only the step is read
    // from most rows (the count and the stream are one read transaction, so
    // the last rank is known): half the time of reading every column.
    std::vector<Row> sample;
    Row last{};
    auto stream = [&](const char* order, bool check) {
      sample.clear();
      auto rows = db.Prepare("SELECT step, timestamp, value, is_nan" + where + order);
      bind(rows);
      int64_t rank = 0, next = 0, previous_step = 0;
      while (rows.Step()) {
        const int64_t step = rows.Int(0);
        // By timestamp, with (timestamp, step, value, is_nan) unique, a row
        // follows the one before in step order too unless its step is lower.
        if (check && rank > 0 && step < previous_step) return false;
        const bool kept = next < buckets && rank == bucket_start(next);
        if (kept || rank == total - 1) {
          Row row{step, rows.Int(1), rows.Double(2), rows.Int(3)};
          if (kept) {
            sample.push_back(row);
            ++next;
          }
          last = row;
        }
        previous_step = step;
        ++rank;
      }
      return true;
    };
    auto read_row = [](const typename Engine::Row& row) {
      return Row{row.Int(0), row.Int(1), row.Double(2), row.Int(3)};
    };
    if (in_step_order) {
      auto first = db.Prepare("SELECT step, timestamp, value, is_nan" + where +
                              " ORDER BY timestamp, step, value, is_nan LIMIT 1");
      bind(first);
      auto after = db.Prepare(
          "SELECT step, timestamp, value, is_nan" + where +
          " AND (timestamp, step, value, is_nan) > (?, ?, ?, ?) ORDER BY timestamp, step, value, "
          "is_nan LIMIT 1 OFFSET ?");
      auto newest = db.Prepare("SELECT step, timestamp, value, is_nan" + where +
                               " ORDER BY timestamp DESC, step DESC, value DESC, is_nan DESC "
                               "LIMIT 1");
      bind(newest);
      if (!first.Step() || !newest.Step()) return std::vector<MetricPoint>{};
      sample.push_back(read_row(first));
      for (int64_t b = 1; b < buckets; ++b) {
        const Row& previous = sample.back();
        bind(after);
        after.Bind(3, previous.timestamp)
            .Bind(4, previous.step)
            .Bind(5, previous.value)
            .Bind(6, previous.is_nan)
            .Bind(7, bucket_start(b) - bucket_start(b - 1) - 1);
        if (!after.Step()) break;  // fewer rows than counted: keep what was found
        sample.push_back(read_row(after));
        after.Reset();
      }
      last = read_row(newest);
    } else if (!stream(" ORDER BY timestamp, step, value, is_nan", true)) {
      stream(" ORDER BY step, timestamp, value, is_nan", false);
    }
    if (sample.empty()) return std::vector<MetricPoint>{};  // every row vanished
    // The last point always ends the sample.
    if (!(sample.back() == last)) {
      if (static_cast<int64_t>(sample.size()) >= max_points) {
        sample.back() = last;
      } else {
        sample.push_back(last);
      }
    }
    std::vector<MetricPoint> points;
    points.reserve(sample.size());
    for (const Row& row : sample) {
      MetricPoint point;
      point.value = row.is_nan ? std::nan("") : row.value;
      point.timestamp = row.timestamp;
      point.step = row.step;
      points.push_back(std::move(point));
    }
    return points;
  });
}

template <class Engine>
PageOf<Run> SqlTrackingStore<Engine>::SearchRuns(const std::vector<std::string>& experiment_ids,
                                                 tracking::ViewType view,
                                                 const tracking::Filter& filter,
                                                 const std::vector<tracking::OrderTerm>& order_by,
                                                 Page page) {
  SqlQuery query = BuildRunSearch(
      Engine::Dialect(), sql_tracking_store::ExperimentIds(experiment_ids),
      sql_tracking_store::ToSqlView(view), filter, order_by, page.offset, page.limit + 1);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return LoadPage<Run>(
        db, query, page, [](const typename Engine::Row& row) { return row.Text(0); },
        sql_tracking_store::LoadRun<Engine>);
  });
}

// ---- Logged models ---------------------------------------------------------

template <class Engine>
void SqlTrackingStore<Engine>::CreateLoggedModel(const LoggedModel& model) {
  int64_t experiment_id = sql_tracking_store::ExperimentIdOrThrow(model.experiment_id);
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    if (!sql_tracking_store::LoadExperiment<Engine>(db, experiment_id)) {
      ThrowNotFound("No Experiment with id=" + model.experiment_id + " exists");
    }
    // The source run is not checked, as MLflow does not check it: lineage
    // shows it only to who may read it, and skips it when it does not exist.
    db.Prepare(
          "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
          "creation_timestamp_ms, last_updated_timestamp_ms, status, status_message, model_type, "
          "source_run_id, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')")
        .Bind(1, model.model_id)
        .Bind(2, experiment_id)
        .Bind(3, model.name)
        .Bind(4, model.artifact_uri)
        .Bind(5, model.creation_timestamp_ms)
        .Bind(6, model.last_updated_timestamp_ms)
        .Bind(7, model.status)
        .Bind(8, model.status_message)
        .Bind(9, model.model_type)
        .Bind(10, model.source_run_id)
        .Run();
    for (const Tag& tag : model.tags) {
      sql_tracking_store::UpsertModelEntry(db, "logged_model_tags", model.model_id, tag.key,
                                           tag.value);
    }
    for (const Param& param : model.params) {
      sql_tracking_store::UpsertModelEntry(db, "logged_model_params", model.model_id, param.key,
                                           param.value);
    }
  });
}

template <class Engine>
std::optional<LoggedModel> SqlTrackingStore<Engine>::GetLoggedModel(const std::string& model_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<LoggedModel> {
    auto model = sql_tracking_store::LoadLoggedModel<Engine>(db, model_id);
    if (model && model->lifecycle_stage != tracking::kLifecycleActive) return std::nullopt;
    return model;
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::SetLoggedModelStatus(const std::string& model_id,
                                                    const std::string& status,
                                                    const std::string& message) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RequireLoggedModel(db, model_id);
    db.Prepare(
          "UPDATE logged_models SET status = ?, status_message = ?, "
          "last_updated_timestamp_ms = ? WHERE model_id = ?")
        .Bind(1, status)
        .Bind(2, message)
        .Bind(3, NowMillis())
        .Bind(4, model_id)
        .Run();
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::SetLoggedModelTags(const std::string& model_id,
                                                  const std::vector<Tag>& tags) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RequireLoggedModel(db, model_id);
    for (const Tag& tag : tags) {
      sql_tracking_store::UpsertModelEntry(db, "logged_model_tags", model_id, tag.key, tag.value);
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::DeleteLoggedModelTag(const std::string& model_id,
                                                    const std::string& key) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RequireLoggedModel(db, model_id);
    db.Prepare("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?")
        .Bind(1, model_id)
        .Bind(2, key)
        .Run();
    if (db.Changes() == 0) {
      ThrowNotFound("No tag with key '" + key + "' found for logged model '" + model_id + "'.");
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::LogLoggedModelParams(const std::string& model_id,
                                                    const std::vector<Param>& params) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RequireLoggedModel(db, model_id);
    for (const Param& param : params) {
      sql_tracking_store::UpsertModelEntry(db, "logged_model_params", model_id, param.key,
                                           param.value);
    }
  });
}

template <class Engine>
void SqlTrackingStore<Engine>::DeleteLoggedModel(const std::string& model_id) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_tracking_store::RequireLoggedModel(db, model_id);
    db.Prepare(
          "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? "
          "WHERE model_id = ?")
        .Bind(1, NowMillis())
        .Bind(2, model_id)
        .Run();
  });
}

template <class Engine>
PageOf<LoggedModel> SqlTrackingStore<Engine>::SearchLoggedModels(
    const std::vector<std::string>& experiment_ids, const tracking::Filter& filter,
    const std::vector<tracking::OrderTerm>& order_by, Page page) {
  SqlQuery query =
      BuildLoggedModelSearch(Engine::Dialect(), sql_tracking_store::ExperimentIds(experiment_ids),
                             filter, order_by, page.offset, page.limit + 1);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return LoadPage<LoggedModel>(
        db, query, page, [](const typename Engine::Row& row) { return row.Text(0); },
        sql_tracking_store::LoadLoggedModel<Engine>);
  });
}

}  // namespace slipway::store
