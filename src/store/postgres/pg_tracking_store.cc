#include "store/postgres/pg_tracking_store.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/clock.h"
#include "core/error.h"
#include "store/postgres/pg_paging.h"
#include "store/sql_search.h"

namespace slipway::store::postgres {

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

namespace {

// Upserts a key's latest_metrics row from one batch: $1-$6 the batch's
// newest point (kept if newer than the stored one), $7 the points the batch
// added, $8-$9 the highest (timestamp, step) among them (the tail moves
// there if it is past it), $10 whether the key is in step order now
// (KeepsStepOrder). As SqliteTrackingStore's.
const std::string& LatestMetricUpsert() {
  static const std::string sql = [] {
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
           "tail_timestamp, tail_step, in_step_order) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
           "$9, $10) ON CONFLICT (run_pk, key) DO UPDATE SET " +
           take_if(newer, "value") + take_if(newer, "timestamp") + take_if(newer, "step") +
           take_if(newer, "is_nan") + take_if(longer, "tail_timestamp") +
           take_if(longer, "tail_step") +
           "points = latest_metrics.points + excluded.points, "
           "in_step_order = excluded.in_step_order";
  }();
  return sql;
}

using TimeStep = std::pair<int64_t, int64_t>;  // (timestamp, step)

// See SqliteTrackingStore's KeepsStepOrder: the same reads.
bool KeepsStepOrder(PgConnection& db, int64_t run_pk, const std::string& key,
                    const std::vector<TimeStep>& added) {
  for (size_t i = 1; i < added.size(); ++i) {
    if (added[i].second < added[i - 1].second) return false;
  }
  PgResult state = db.Exec(
      "SELECT tail_timestamp, tail_step, in_step_order FROM latest_metrics WHERE run_pk = $1 AND "
      "key = $2",
      PgParams().Add(run_pk).Add(key));
  if (state.Rows() == 0) return true;  // a new key: its points are all there is
  if (!state.Bool(0, 2)) return false;
  if (added.empty()) return true;
  const TimeStep tail{state.Int(0, 0), state.Int(0, 1)};
  const TimeStep& first = added.front();
  const TimeStep& last = added.back();
  if (first >= tail) return first.second >= tail.second;
  const std::string where = " FROM metrics WHERE run_pk = $1 AND key = $2 AND ";
  PgResult among = db.Exec(
      "SELECT count(*)" + where + "(timestamp, step) >= ($3, $4) AND (timestamp, step) <= ($5, $6)",
      PgParams()
          .Add(run_pk)
          .Add(key)
          .Add(first.first)
          .Add(first.second)
          .Add(last.first)
          .Add(last.second));
  if (among.Rows() == 0 || among.Int(0, 0) != static_cast<int64_t>(added.size())) return false;
  PgResult before = db.Exec("SELECT step" + where +
                                "(timestamp, step) < ($3, $4) ORDER BY timestamp DESC, step DESC "
                                "LIMIT 1",
                            PgParams().Add(run_pk).Add(key).Add(first.first).Add(first.second));
  if (before.Rows() > 0 && before.Int(0, 0) > first.second) return false;
  PgResult after = db.Exec(
      "SELECT step" + where + "(timestamp, step) > ($3, $4) ORDER BY timestamp, step LIMIT 1",
      PgParams().Add(run_pk).Add(key).Add(last.first).Add(last.second));
  return after.Rows() == 0 || after.Int(0, 0) >= last.second;
}

constexpr const char* kRunNameTag = "mlflow.runName";

std::optional<int64_t> ParseId(const std::string& text) {
  return tracking::ParseExperimentId(text);
}

int64_t ExperimentIdOrThrow(const std::string& experiment_id) {
  auto id = ParseId(experiment_id);
  if (!id) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
  return *id;
}

ViewType ToSqlView(tracking::ViewType view) {
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

std::vector<Tag> ReadPairs(const PgResult& rows) {
  std::vector<Tag> out;
  out.reserve(rows.Rows());
  for (int row = 0; row < rows.Rows(); ++row) {
    out.push_back({std::string(rows.Text(row, 0)), std::string(rows.Text(row, 1))});
  }
  return out;
}

constexpr const char* kExperimentColumns =
    "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
    "last_update_time FROM experiments ";

Experiment ReadExperimentRow(PgConnection& db, const PgResult& row) {
  Experiment experiment;
  experiment.experiment_id = std::to_string(row.Int(0, 0));
  experiment.name = row.Text(0, 1);
  experiment.artifact_location = row.Text(0, 2);
  experiment.lifecycle_stage = row.Text(0, 3);
  experiment.creation_time = row.Int(0, 4);
  experiment.last_update_time = row.Int(0, 5);
  experiment.tags = ReadPairs(
      db.Exec("SELECT key, value FROM experiment_tags WHERE experiment_id = $1 ORDER BY key",
              PgParams().Add(row.Int(0, 0))));
  return experiment;
}

std::optional<Experiment> LoadExperiment(PgConnection& db, int64_t id) {
  PgResult row =
      db.Exec(std::string(kExperimentColumns) + "WHERE experiment_id = $1", PgParams().Add(id));
  if (row.Rows() == 0) return std::nullopt;
  return ReadExperimentRow(db, row);
}

struct RunKey {
  int64_t pk;
  int64_t experiment_id;
  std::string lifecycle_stage;
};

RunKey LoadRunKey(PgConnection& db, const std::string& run_id) {
  PgResult row =
      db.Exec("SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = $1",
              PgParams().Add(run_id));
  if (row.Rows() == 0) ThrowNotFound("Run with id=" + run_id + " not found");
  return {row.Int(0, 0), row.Int(0, 1), std::string(row.Text(0, 2))};
}

RunKey LoadActiveRunKey(PgConnection& db, const std::string& run_id) {
  RunKey key = LoadRunKey(db, run_id);
  if (key.lifecycle_stage != tracking::kLifecycleActive) {
    ThrowInvalid("The run " + run_id + " must be in the 'active' state. Current state is " +
                 key.lifecycle_stage + ".");
  }
  return key;
}

std::optional<Run> LoadRun(PgConnection& db, const std::string& run_id) {
  PgResult row = db.Exec(
      "SELECT run_pk, run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
      "artifact_uri, lifecycle_stage FROM runs WHERE run_uuid = $1",
      PgParams().Add(run_id));
  if (row.Rows() == 0) return std::nullopt;
  Run run;
  int64_t pk = row.Int(0, 0);
  run.info.run_id = row.Text(0, 1);
  run.info.experiment_id = std::to_string(row.Int(0, 2));
  run.info.run_name = row.Text(0, 3);
  run.info.user_id = row.Text(0, 4);
  run.info.status = row.Text(0, 5);
  run.info.start_time = row.Int(0, 6);
  if (!row.IsNull(0, 7)) run.info.end_time = row.Int(0, 7);
  run.info.artifact_uri = row.Text(0, 8);
  run.info.lifecycle_stage = row.Text(0, 9);

  PgResult metrics = db.Exec(
      "SELECT key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_pk = $1 "
      "ORDER BY key COLLATE \"C\"",
      PgParams().Add(pk));
  for (int r = 0; r < metrics.Rows(); ++r) {
    MetricPoint point;
    point.key = metrics.Text(r, 0);
    point.value = metrics.Bool(r, 4) ? std::nan("") : metrics.Double(r, 1);
    point.timestamp = metrics.Int(r, 2);
    point.step = metrics.Int(r, 3);
    point.run_id = run.info.run_id;
    run.metrics.push_back(std::move(point));
  }
  run.params = [&] {
    std::vector<Param> out;
    for (Tag& t : ReadPairs(
             db.Exec("SELECT key, value FROM params WHERE run_pk = $1 ORDER BY key COLLATE \"C\"",
                     PgParams().Add(pk)))) {
      out.push_back({std::move(t.key), std::move(t.value)});
    }
    return out;
  }();
  run.tags =
      ReadPairs(db.Exec("SELECT key, value FROM tags WHERE run_pk = $1 ORDER BY key COLLATE \"C\"",
                        PgParams().Add(pk)));

  PgResult inputs = db.Exec(
      "SELECT d.dataset_pk, d.name, d.digest, d.source_type, d.source, d.schema, d.profile "
      "FROM run_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk WHERE i.run_pk = $1 "
      "ORDER BY d.dataset_pk",
      PgParams().Add(pk));
  for (int r = 0; r < inputs.Rows(); ++r) {
    DatasetInput input;
    input.dataset = {std::string(inputs.Text(r, 1)), std::string(inputs.Text(r, 2)),
                     std::string(inputs.Text(r, 3)), std::string(inputs.Text(r, 4)),
                     std::string(inputs.Text(r, 5)), std::string(inputs.Text(r, 6))};
    input.tags = ReadPairs(
        db.Exec("SELECT key, value FROM run_input_tags WHERE run_pk = $1 AND dataset_pk = $2 "
                "ORDER BY key COLLATE \"C\"",
                PgParams().Add(pk).Add(inputs.Int(r, 0))));
    run.dataset_inputs.push_back(std::move(input));
  }
  PgResult links = db.Exec(
      "SELECT model_id, direction, step FROM run_model_links WHERE run_pk = $1 "
      "ORDER BY direction COLLATE \"C\", model_id COLLATE \"C\"",
      PgParams().Add(pk));
  for (int r = 0; r < links.Rows(); ++r) {
    ModelLink link{std::string(links.Text(r, 0)), links.Int(r, 2)};
    (links.Text(r, 1) == "input" ? run.model_inputs : run.model_outputs).push_back(std::move(link));
  }
  return run;
}

std::optional<LoggedModel> LoadLoggedModel(PgConnection& db, const std::string& model_id) {
  PgResult row = db.Exec(
      "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
      "last_updated_timestamp_ms, status, status_message, model_type, source_run_id, "
      "lifecycle_stage FROM logged_models WHERE model_id = $1",
      PgParams().Add(model_id));
  if (row.Rows() == 0) return std::nullopt;
  LoggedModel model;
  model.model_id = row.Text(0, 0);
  model.experiment_id = std::to_string(row.Int(0, 1));
  model.name = row.Text(0, 2);
  model.artifact_uri = row.Text(0, 3);
  model.creation_timestamp_ms = row.Int(0, 4);
  model.last_updated_timestamp_ms = row.Int(0, 5);
  model.status = row.Text(0, 6);
  model.status_message = row.Text(0, 7);
  model.model_type = row.Text(0, 8);
  model.source_run_id = row.Text(0, 9);
  model.lifecycle_stage = row.Text(0, 10);
  model.tags = ReadPairs(db.Exec(
      "SELECT key, value FROM logged_model_tags WHERE model_id = $1 ORDER BY key COLLATE \"C\"",
      PgParams().Add(model_id)));
  for (Tag& t : ReadPairs(db.Exec("SELECT key, value FROM logged_model_params WHERE model_id = "
                                  "$1 ORDER BY key COLLATE \"C\"",
                                  PgParams().Add(model_id)))) {
    model.params.push_back({std::move(t.key), std::move(t.value)});
  }
  // Each key's latest point by (step, timestamp), as on SQLite.
  PgResult metrics = db.Exec(
      "SELECT m.key, m.value, m.timestamp, m.step, m.is_nan, r.run_uuid, m.dataset_name, "
      "m.dataset_digest FROM metrics m JOIN runs r ON r.run_pk = m.run_pk "
      "WHERE m.model_id = $1 ORDER BY m.key COLLATE \"C\", m.step, m.timestamp",
      PgParams().Add(model_id));
  for (int r = 0; r < metrics.Rows(); ++r) {
    MetricPoint point;
    point.key = metrics.Text(r, 0);
    point.value = metrics.Bool(r, 4) ? std::nan("") : metrics.Double(r, 1);
    point.timestamp = metrics.Int(r, 2);
    point.step = metrics.Int(r, 3);
    point.run_id = metrics.Text(r, 5);
    point.model_id = model_id;
    point.dataset_name = metrics.Text(r, 6);
    point.dataset_digest = metrics.Text(r, 7);
    if (!model.metrics.empty() && model.metrics.back().key == point.key) {
      model.metrics.back() = std::move(point);
    } else {
      model.metrics.push_back(std::move(point));
    }
  }
  return model;
}

void RequireLoggedModel(PgConnection& db, const std::string& model_id) {
  if (db.Exec("SELECT 1 FROM logged_models WHERE model_id = $1", PgParams().Add(model_id)).Rows() ==
      0) {
    ThrowNotFound("Logged model with ID '" + model_id + "' not found.");
  }
}

std::vector<int64_t> ExperimentIds(const std::vector<std::string>& ids) {
  std::vector<int64_t> out;
  for (const std::string& id : ids) {
    if (auto parsed = ParseId(id)) out.push_back(*parsed);
  }
  return out;
}

void UpsertModelEntry(PgConnection& db, const char* table, const std::string& model_id,
                      const std::string& key, const std::string& value) {
  db.Exec(std::string("INSERT INTO ") + table +
              " (model_id, key, value) VALUES ($1, $2, $3) "
              "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
          PgParams().Add(model_id).Add(key).Add(value));
}

void UpsertTag(PgConnection& db, const char* table, const char* owner_column, int64_t owner,
               const Tag& tag) {
  db.Exec(std::string("INSERT INTO ") + table + " (" + owner_column +
              ", key, value) VALUES ($1, $2, $3) ON CONFLICT (" + owner_column +
              ", key) DO UPDATE SET value = excluded.value",
          PgParams().Add(owner).Add(tag.key).Add(tag.value));
}

PgParams& AddOptionalText(PgParams& params, const std::string& text) {
  return text.empty() ? params.AddNull(PgType::kText) : params.Add(text);
}

}  // namespace

// ---- Experiments -----------------------------------------------------------

std::string PgTrackingStore::CreateExperiment(const Experiment& experiment,
                                              const std::string& artifact_root) {
  auto explicit_id = ParseId(experiment.experiment_id);
  int64_t id = 0;
  try {
    id = db_->Write([&](PgConnection& db) {
      PgResult existing = db.Exec("SELECT lifecycle_stage FROM experiments WHERE name = $1",
                                  PgParams().Add(experiment.name));
      if (existing.Rows() > 0) {
        throw Error(ErrorCode::kResourceAlreadyExists,
                    "Experiment '" + experiment.name + "' already exists" +
                        (existing.Text(0, 0) == tracking::kLifecycleDeleted
                             ? " in deleted state. You can restore the experiment, or "
                               "permanently delete the experiment to create a new one."
                             : "."));
      }
      int64_t now = NowMillis();
      int64_t new_id;
      if (explicit_id) {
        new_id = db.Exec(
                       "INSERT INTO experiments (experiment_id, name, artifact_location, "
                       "lifecycle_stage, creation_time, last_update_time) VALUES ($1, $2, $3, "
                       "'active', $4, $5) RETURNING experiment_id",
                       PgParams()
                           .Add(*explicit_id)
                           .Add(experiment.name)
                           .Add(experiment.artifact_location)
                           .Add(now)
                           .Add(now))
                     .Int(0, 0);
        // Ids given explicitly (the default experiment's 0) do not move the
        // identity's sequence; SQLite's next rowid is the largest plus one,
        // so the sequence continues after the largest.
        db.Exec(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
            "GREATEST(MAX(experiment_id), 1), MAX(experiment_id) >= 1) FROM experiments");
      } else {
        new_id = db.Exec(
                       "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                       "creation_time, last_update_time) VALUES ($1, $2, 'active', $3, $4) "
                       "RETURNING experiment_id",
                       PgParams()
                           .Add(experiment.name)
                           .Add(experiment.artifact_location)
                           .Add(now)
                           .Add(now))
                     .Int(0, 0);
      }
      if (experiment.artifact_location.empty()) {
        db.Exec("UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2",
                PgParams().Add(artifact_root + "/" + std::to_string(new_id)).Add(new_id));
      }
      for (const Tag& tag : experiment.tags) {
        UpsertTag(db, "experiment_tags", "experiment_id", new_id, tag);
      }
      return new_id;
    });
  } catch (const PgError& e) {
    // Two creates of one name at once: the second meets the first's row.
    if (!e.IsUniqueViolation()) throw;
    throw Error(ErrorCode::kResourceAlreadyExists,
                "Experiment '" + experiment.name + "' already exists.");
  }
  return std::to_string(id);
}

std::optional<Experiment> PgTrackingStore::GetExperiment(const std::string& experiment_id) {
  auto id = ParseId(experiment_id);
  if (!id) return std::nullopt;
  return db_->Read([&](PgConnection& db) { return LoadExperiment(db, *id); });
}

std::optional<Experiment> PgTrackingStore::GetExperimentByName(const std::string& name) {
  return db_->Read([&](PgConnection& db) -> std::optional<Experiment> {
    PgResult row =
        db.Exec(std::string(kExperimentColumns) + "WHERE name = $1", PgParams().Add(name));
    if (row.Rows() == 0) return std::nullopt;
    return ReadExperimentRow(db, row);
  });
}

PageOf<Experiment> PgTrackingStore::SearchExperiments(
    tracking::ViewType view, const tracking::Filter& filter,
    const std::vector<tracking::OrderTerm>& order_by, Page page, const Visibility& visible) {
  SqlQuery query = BuildExperimentSearch(SqlDialect::Postgres(), ToSqlView(view), filter, order_by,
                                         page.offset, page.limit + 1, visible);
  return db_->Read([&](PgConnection& db) {
    return LoadPage<Experiment>(
        db, query, page, [](const PgResult& rows, int row) { return rows.Int(row, 0); },
        LoadExperiment);
  });
}

void PgTrackingStore::RenameExperiment(const std::string& experiment_id, const std::string& name) {
  int64_t id = ExperimentIdOrThrow(experiment_id);
  try {
    db_->Write([&](PgConnection& db) {
      auto experiment = LoadExperiment(db, id);
      if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
      if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
        ThrowInvalid("Cannot rename a non-active experiment.");
      }
      if (db.Exec("SELECT 1 FROM experiments WHERE name = $1 AND experiment_id != $2",
                  PgParams().Add(name).Add(id))
              .Rows() > 0) {
        throw Error(ErrorCode::kResourceAlreadyExists, "Experiment '" + name + "' already exists.");
      }
      db.Exec("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
              PgParams().Add(name).Add(NowMillis()).Add(id));
    });
  } catch (const PgError& e) {
    if (!e.IsUniqueViolation()) throw;
    throw Error(ErrorCode::kResourceAlreadyExists, "Experiment '" + name + "' already exists.");
  }
}

void PgTrackingStore::SetExperimentLifecycle(const std::string& experiment_id,
                                             const std::string& stage) {
  int64_t id = ExperimentIdOrThrow(experiment_id);
  db_->Write([&](PgConnection& db) {
    auto experiment = LoadExperiment(db, id);
    if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
    if (stage == tracking::kLifecycleDeleted && id == 0) {
      ThrowInvalid(
          "Cannot delete the default experiment '0'. This is an internally reserved "
          "experiment.");
    }
    int64_t now = NowMillis();
    db.Exec(
        "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 "
        "WHERE experiment_id = $3",
        PgParams().Add(stage).Add(now).Add(id));
    // Deleting an experiment deletes its runs; restoring it restores them.
    PgParams runs;
    runs.Add(stage);
    if (stage == tracking::kLifecycleDeleted) {
      runs.Add(now);
    } else {
      runs.AddNull(PgType::kInt8);
    }
    runs.Add(id);
    db.Exec("UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3",
            runs);
  });
}

void PgTrackingStore::SetExperimentTag(const std::string& experiment_id, const Tag& tag) {
  int64_t id = ExperimentIdOrThrow(experiment_id);
  db_->Write([&](PgConnection& db) {
    auto experiment = LoadExperiment(db, id);
    if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
    if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
      ThrowInvalid("The experiment " + experiment_id +
                   " must be in the 'active' state. Current state is " +
                   experiment->lifecycle_stage + ".");
    }
    UpsertTag(db, "experiment_tags", "experiment_id", id, tag);
  });
}

void PgTrackingStore::DeleteExperimentTag(const std::string& experiment_id,
                                          const std::string& key) {
  int64_t id = ExperimentIdOrThrow(experiment_id);
  db_->Write([&](PgConnection& db) {
    if (!LoadExperiment(db, id)) {
      ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
    }
    if (db.Exec("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2",
                PgParams().Add(id).Add(key))
            .Affected() == 0) {
      ThrowNotFound("No tag with name: " + key + " in experiment with id " + experiment_id);
    }
  });
}

// ---- Runs ------------------------------------------------------------------

void PgTrackingStore::CreateRun(const RunInfo& info, const std::vector<Tag>& tags) {
  int64_t experiment_id = ExperimentIdOrThrow(info.experiment_id);
  db_->Write([&](PgConnection& db) {
    auto experiment = LoadExperiment(db, experiment_id);
    if (!experiment) ThrowNotFound("No Experiment with id=" + info.experiment_id + " exists");
    if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
      ThrowInvalid("The experiment " + info.experiment_id +
                   " must be in the 'active' state. Current state is " +
                   experiment->lifecycle_stage + ".");
    }
    int64_t pk =
        db.Exec(
              "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
              "end_time, artifact_uri, lifecycle_stage) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, "
              "'active') RETURNING run_pk",
              PgParams()
                  .Add(info.run_id)
                  .Add(experiment_id)
                  .Add(info.run_name)
                  .Add(info.user_id)
                  .Add(info.status)
                  .Add(info.start_time)
                  .Add(experiment->artifact_location + "/" + info.run_id + "/artifacts"))
            .Int(0, 0);
    for (const Tag& tag : tags) UpsertTag(db, "tags", "run_pk", pk, tag);
  });
}

std::optional<Run> PgTrackingStore::GetRun(const std::string& run_id) {
  return db_->Read([&](PgConnection& db) { return LoadRun(db, run_id); });
}

void PgTrackingStore::UpdateRun(const std::string& run_id, const tracking::RunUpdate& update) {
  db_->Write([&](PgConnection& db) {
    RunKey key = LoadActiveRunKey(db, run_id);
    if (update.status) {
      db.Exec("UPDATE runs SET status = $1 WHERE run_pk = $2",
              PgParams().Add(*update.status).Add(key.pk));
    }
    if (update.end_time) {
      db.Exec("UPDATE runs SET end_time = $1 WHERE run_pk = $2",
              PgParams().Add(*update.end_time).Add(key.pk));
    }
    if (update.run_name) {
      db.Exec("UPDATE runs SET name = $1 WHERE run_pk = $2",
              PgParams().Add(*update.run_name).Add(key.pk));
      UpsertTag(db, "tags", "run_pk", key.pk, {kRunNameTag, *update.run_name});
    }
  });
}

void PgTrackingStore::SetRunLifecycle(const std::string& run_id, const std::string& stage) {
  db_->Write([&](PgConnection& db) {
    RunKey key = LoadRunKey(db, run_id);
    PgParams params;
    params.Add(stage);
    if (stage == tracking::kLifecycleDeleted) {
      params.Add(NowMillis());
    } else {
      params.AddNull(PgType::kInt8);
    }
    params.Add(key.pk);
    db.Exec("UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_pk = $3", params);
  });
}

// READ COMMITTED under a lock on the run's row, not SERIALIZABLE: clients
// log to one run from many threads at once (MLflow's asynchronous logging),
// and under SERIALIZABLE each batch that met another on the run's
// latest_metrics rows would fail and run again, over and over. The lock
// makes the batches of a run take turns, and at READ COMMITTED each
// statement after it reads what the previous batch committed. Everything
// written here belongs to the run, and every other write to those rows
// either takes the same lock (this) or updates the run's row, which the lock
// also waits for.
void PgTrackingStore::LogRunWrites(const std::string& run_id, const tracking::RunWrites& writes) {
  db_->Run(PgDb::Isolation::kReadCommitted, [&](PgConnection& db) {
    PgResult locked = db.Exec(
        "SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = $1 "
        "FOR NO KEY UPDATE",
        PgParams().Add(run_id));
    if (locked.Rows() == 0) ThrowNotFound("Run with id=" + run_id + " not found");
    RunKey key{locked.Int(0, 0), locked.Int(0, 1), std::string(locked.Text(0, 2))};
    if (key.lifecycle_stage != tracking::kLifecycleActive) {
      ThrowInvalid("The run " + run_id + " must be in the 'active' state. Current state is " +
                   key.lifecycle_stage + ".");
    }
    for (const Param& param : writes.params) {
      PgResult existing = db.Exec("SELECT value FROM params WHERE run_pk = $1 AND key = $2",
                                  PgParams().Add(key.pk).Add(param.key));
      if (existing.Rows() > 0) {
        std::string old_value(existing.Text(0, 0));
        if (old_value != param.value) {
          ThrowInvalid("Changing param values is not allowed. Param with key='" + param.key +
                       "' was already logged with value='" + old_value + "' for run ID='" + run_id +
                       "'. Attempted logging new value '" + param.value + "'.");
        }
        continue;
      }
      db.Exec("INSERT INTO params (run_pk, key, value) VALUES ($1, $2, $3)",
              PgParams().Add(key.pk).Add(param.key).Add(param.value));
    }
    struct KeyWrites {
      const MetricPoint* newest = nullptr;
      std::vector<TimeStep> added;
    };
    std::vector<KeyWrites> keys;
    for (const MetricPoint& point : writes.metrics) {
      bool is_nan = std::isnan(point.value);
      PgParams params;
      params.Add(key.pk)
          .Add(point.key)
          .Add(point.step)
          .Add(point.timestamp)
          .Add(is_nan ? 0.0 : point.value)
          .Add(is_nan);
      AddOptionalText(params, point.model_id);
      AddOptionalText(params, point.dataset_name);
      AddOptionalText(params, point.dataset_digest);
      int64_t added = db.Exec(
                            "INSERT INTO metrics (run_pk, key, step, timestamp, value, is_nan, "
                            "model_id, dataset_name, dataset_digest) VALUES ($1, $2, $3, $4, $5, "
                            "$6, $7, $8, $9) ON CONFLICT DO NOTHING",
                            params)
                          .Affected();
      auto same_key = std::find_if(keys.begin(), keys.end(),
                                   [&](const KeyWrites& k) { return k.newest->key == point.key; });
      if (same_key == keys.end()) {
        same_key = keys.insert(keys.end(), KeyWrites{&point, {}});
      } else if (std::tuple(point.step, point.timestamp, point.value) >
                 std::tuple(same_key->newest->step, same_key->newest->timestamp,
                            same_key->newest->value)) {
        same_key->newest = &point;
      }
      if (added > 0) same_key->added.emplace_back(point.timestamp, point.step);
    }
    for (KeyWrites& k : keys) {
      const MetricPoint* point = k.newest;
      bool is_nan = std::isnan(point->value);
      std::sort(k.added.begin(), k.added.end());
      const bool in_step_order = KeepsStepOrder(db, key.pk, point->key, k.added);
      const TimeStep tail = k.added.empty() ? TimeStep{} : k.added.back();
      db.Exec(LatestMetricUpsert(), PgParams()
                                        .Add(key.pk)
                                        .Add(point->key)
                                        .Add(is_nan ? 0.0 : point->value)
                                        .Add(point->timestamp)
                                        .Add(point->step)
                                        .Add(is_nan)
                                        .Add(static_cast<int64_t>(k.added.size()))
                                        .Add(tail.first)
                                        .Add(tail.second)
                                        .Add(in_step_order));
    }
    for (const Tag& tag : writes.tags) {
      UpsertTag(db, "tags", "run_pk", key.pk, tag);
      if (tag.key == kRunNameTag) {
        db.Exec("UPDATE runs SET name = $1 WHERE run_pk = $2",
                PgParams().Add(tag.value).Add(key.pk));
      }
    }
  });
}

void PgTrackingStore::DeleteRunTag(const std::string& run_id, const std::string& key_name) {
  db_->Write([&](PgConnection& db) {
    RunKey key = LoadActiveRunKey(db, run_id);
    if (db.Exec("DELETE FROM tags WHERE run_pk = $1 AND key = $2",
                PgParams().Add(key.pk).Add(key_name))
            .Affected() == 0) {
      ThrowNotFound("No tag with name: " + key_name + " in run with id " + run_id);
    }
  });
}

void PgTrackingStore::LogRunInputs(const std::string& run_id,
                                   const std::vector<DatasetInput>& datasets,
                                   const std::vector<ModelLink>& models) {
  db_->Write([&](PgConnection& db) {
    RunKey key = LoadActiveRunKey(db, run_id);
    for (const DatasetInput& input : datasets) {
      const tracking::Dataset& d = input.dataset;
      db.Exec(
          "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, "
          "profile) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (experiment_id, name, digest) "
          "DO NOTHING",
          PgParams()
              .Add(key.experiment_id)
              .Add(d.name)
              .Add(d.digest)
              .Add(d.source_type)
              .Add(d.source)
              .Add(d.schema)
              .Add(d.profile));
      int64_t dataset_pk =
          db.Exec(
                "SELECT dataset_pk FROM datasets WHERE experiment_id = $1 AND name = $2 AND "
                "digest = $3",
                PgParams().Add(key.experiment_id).Add(d.name).Add(d.digest))
              .Int(0, 0);
      // As MLflow: a dataset the run already has an input of is left as it
      // is, tags (the context) included.
      if (db.Exec("INSERT INTO run_inputs (run_pk, dataset_pk) VALUES ($1, $2) "
                  "ON CONFLICT DO NOTHING",
                  PgParams().Add(key.pk).Add(dataset_pk))
              .Affected() == 0) {
        continue;
      }
      for (const Tag& tag : input.tags) {
        db.Exec(
            "INSERT INTO run_input_tags (run_pk, dataset_pk, key, value) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (run_pk, dataset_pk, key) DO UPDATE SET value = excluded.value",
            PgParams().Add(key.pk).Add(dataset_pk).Add(tag.key).Add(tag.value));
      }
    }
    for (const ModelLink& model : models) {
      db.Exec(
          "INSERT INTO run_model_links (run_pk, model_id, direction, step) "
          "VALUES ($1, $2, 'input', 0) ON CONFLICT DO NOTHING",
          PgParams().Add(key.pk).Add(model.model_id));
    }
  });
}

void PgTrackingStore::LogRunOutputs(const std::string& run_id,
                                    const std::vector<ModelLink>& models) {
  db_->Write([&](PgConnection& db) {
    RunKey key = LoadActiveRunKey(db, run_id);
    for (const ModelLink& model : models) {
      RequireLoggedModel(db, model.model_id);
      db.Exec(
          "INSERT INTO run_model_links (run_pk, model_id, direction, step) "
          "VALUES ($1, $2, 'output', $3) ON CONFLICT (run_pk, direction, model_id) "
          "DO UPDATE SET step = excluded.step",
          PgParams().Add(key.pk).Add(model.model_id).Add(model.step));
    }
  });
}

PageOf<MetricPoint> PgTrackingStore::GetMetricHistory(const std::string& run_id,
                                                      const std::string& key_name, Page page) {
  return db_->Read([&](PgConnection& db) {
    RunKey key = LoadRunKey(db, run_id);
    PgResult rows = db.Exec(
        "SELECT value, timestamp, step, is_nan, model_id, dataset_name, dataset_digest "
        "FROM metrics WHERE run_pk = $1 AND key = $2 ORDER BY timestamp, step, value "
        "LIMIT $3 OFFSET $4",
        PgParams().Add(key.pk).Add(key_name).Add(page.limit + 1).Add(page.offset));
    PageOf<MetricPoint> result;
    result.items.reserve(static_cast<size_t>(std::min<int64_t>(page.limit, rows.Rows())));
    for (int r = 0; r < rows.Rows(); ++r) {
      if (result.items.size() == static_cast<size_t>(page.limit)) {
        result.has_more = true;
        break;
      }
      MetricPoint point;  // key and run_id are the caller's: not repeated per point
      point.value = rows.Bool(r, 3) ? std::nan("") : rows.Double(r, 0);
      point.timestamp = rows.Int(r, 1);
      point.step = rows.Int(r, 2);
      point.model_id = rows.Text(r, 4);
      point.dataset_name = rows.Text(r, 5);
      point.dataset_digest = rows.Text(r, 6);
      result.items.push_back(std::move(point));
    }
    return result;
  });
}

std::vector<tracking::DatasetSummary> PgTrackingStore::SearchDatasetSummaries(
    const std::vector<std::string>& experiment_ids, int64_t limit) {
  const std::vector<int64_t> ids = ExperimentIds(experiment_ids);
  if (ids.empty()) return {};
  return db_->Read([&](PgConnection& db) {
    PgResult rows = db.Exec(
        "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value FROM datasets d "
        "JOIN run_inputs i ON i.dataset_pk = d.dataset_pk "
        "LEFT JOIN run_input_tags t ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk "
        "AND t.key = 'mlflow.data.context' WHERE d.experiment_id IN "
        "(SELECT CAST(j.v AS BIGINT) FROM json_array_elements_text(CAST($1 AS JSON)) AS j(v)) "
        "LIMIT $2",
        PgParams().Add(JsonArray(ids)).Add(limit));
    std::vector<tracking::DatasetSummary> out;
    for (int r = 0; r < rows.Rows(); ++r) {
      tracking::DatasetSummary summary;
      summary.experiment_id = std::to_string(rows.Int(r, 0));
      summary.name = rows.Text(r, 1);
      summary.digest = rows.Text(r, 2);
      if (!rows.IsNull(r, 3)) summary.context = rows.Text(r, 3);
      out.push_back(std::move(summary));
    }
    return out;
  });
}

// The sample SqliteTrackingStore::SampleMetricHistory takes (the first
// point of each of NTILE's buckets, and the last point), from the same
// reads: by rank through a seek and OFFSET where the history is known to be
// in step order, else streamed once.
std::vector<MetricPoint> PgTrackingStore::SampleMetricHistory(
    const std::string& run_id, const std::string& key_name, int64_t max_points,
    std::optional<std::pair<int64_t, int64_t>> steps) {
  const std::string where = " FROM metrics WHERE run_pk = $1 AND key = $2" +
                            std::string(steps ? " AND step >= $3 AND step <= $4" : "");
  struct Row {
    int64_t step, timestamp;
    double value;  // as stored: 0 for NaN, which is_nan marks
    bool is_nan;
    auto operator<=>(const Row&) const = default;
  };
  return db_->Read([&](PgConnection& db) {
    RunKey key = LoadRunKey(db, run_id);
    auto base = [&] {
      PgParams params;
      params.Add(key.pk).Add(key_name);
      if (steps) params.Add(steps->first).Add(steps->second);
      return params;
    };
    bool in_step_order = false;
    int64_t total = 0;
    if (!steps) {
      PgResult stats =
          db.Exec("SELECT points, in_step_order FROM latest_metrics WHERE run_pk = $1 AND key = $2",
                  PgParams().Add(key.pk).Add(key_name));
      if (stats.Rows() > 0 && stats.Bool(0, 1)) {
        in_step_order = true;
        total = stats.Int(0, 0);
      }
    }
    if (!in_step_order) {
      PgResult count = db.Exec("SELECT count(*)" + where, base());
      total = count.Rows() > 0 ? count.Int(0, 0) : 0;
    }
    if (total == 0) return std::vector<MetricPoint>{};
    const int64_t buckets = std::min(max_points, total);
    const int64_t size = total / max_points, longer = total % max_points;
    auto bucket_start = [&](int64_t b) { return b * size + std::min(b, longer); };
    auto read_row = [](const PgResult& rows, int r) {
      return Row{rows.Int(r, 0), rows.Int(r, 1), rows.Double(r, 2), rows.Bool(r, 3)};
    };
    std::vector<Row> sample;
    Row last{};
    auto stream = [&](const char* order, bool check) {
      sample.clear();
      PgResult rows = db.Exec("SELECT step, timestamp, value, is_nan" + where + order, base());
      int64_t next = 0, previous_step = 0;
      for (int64_t rank = 0; rank < rows.Rows(); ++rank) {
        const int r = static_cast<int>(rank);
        const int64_t step = rows.Int(r, 0);
        if (check && rank > 0 && step < previous_step) return false;
        const bool kept = next < buckets && rank == bucket_start(next);
        if (kept || rank == total - 1) {
          Row row = read_row(rows, r);
          if (kept) {
            sample.push_back(row);
            ++next;
          }
          last = row;
        }
        previous_step = step;
      }
      return true;
    };
    if (in_step_order) {
      PgResult first = db.Exec("SELECT step, timestamp, value, is_nan" + where +
                                   " ORDER BY timestamp, step, value, is_nan LIMIT 1",
                               base());
      PgResult newest = db.Exec("SELECT step, timestamp, value, is_nan" + where +
                                    " ORDER BY timestamp DESC, step DESC, value DESC, is_nan "
                                    "DESC LIMIT 1",
                                base());
      if (first.Rows() == 0 || newest.Rows() == 0) return std::vector<MetricPoint>{};
      sample.push_back(read_row(first, 0));
      for (int64_t b = 1; b < buckets; ++b) {
        const Row previous = sample.back();
        PgResult after = db.Exec(
            "SELECT step, timestamp, value, is_nan" + where +
                " AND (timestamp, step, value, is_nan) > ($3, $4, $5, $6) ORDER BY timestamp, "
                "step, value, is_nan LIMIT 1 OFFSET $7",
            PgParams()
                .Add(key.pk)
                .Add(key_name)
                .Add(previous.timestamp)
                .Add(previous.step)
                .Add(previous.value)
                .Add(previous.is_nan)
                .Add(bucket_start(b) - bucket_start(b - 1) - 1));
        if (after.Rows() == 0) break;  // fewer rows than counted: keep what was found
        sample.push_back(read_row(after, 0));
      }
      last = read_row(newest, 0);
    } else if (!stream(" ORDER BY timestamp, step, value, is_nan", true)) {
      stream(" ORDER BY step, timestamp, value, is_nan", false);
    }
    if (sample.empty()) return std::vector<MetricPoint>{};
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

PageOf<Run> PgTrackingStore::SearchRuns(const std::vector<std::string>& experiment_ids,
                                        tracking::ViewType view, const tracking::Filter& filter,
                                        const std::vector<tracking::OrderTerm>& order_by,
                                        Page page) {
  SqlQuery query = BuildRunSearch(SqlDialect::Postgres(), ExperimentIds(experiment_ids),
                                  ToSqlView(view), filter, order_by, page.offset, page.limit + 1);
  return db_->Read([&](PgConnection& db) {
    return LoadPage<Run>(
        db, query, page,
        [](const PgResult& rows, int row) { return std::string(rows.Text(row, 0)); }, LoadRun);
  });
}

// ---- Logged models ---------------------------------------------------------

void PgTrackingStore::CreateLoggedModel(const LoggedModel& model) {
  int64_t experiment_id = ExperimentIdOrThrow(model.experiment_id);
  db_->Write([&](PgConnection& db) {
    if (!LoadExperiment(db, experiment_id)) {
      ThrowNotFound("No Experiment with id=" + model.experiment_id + " exists");
    }
    db.Exec(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
        "creation_timestamp_ms, last_updated_timestamp_ms, status, status_message, model_type, "
        "source_run_id, lifecycle_stage) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "'active')",
        PgParams()
            .Add(model.model_id)
            .Add(experiment_id)
            .Add(model.name)
            .Add(model.artifact_uri)
            .Add(model.creation_timestamp_ms)
            .Add(model.last_updated_timestamp_ms)
            .Add(model.status)
            .Add(model.status_message)
            .Add(model.model_type)
            .Add(model.source_run_id));
    for (const Tag& tag : model.tags) {
      UpsertModelEntry(db, "logged_model_tags", model.model_id, tag.key, tag.value);
    }
    for (const Param& param : model.params) {
      UpsertModelEntry(db, "logged_model_params", model.model_id, param.key, param.value);
    }
  });
}

std::optional<LoggedModel> PgTrackingStore::GetLoggedModel(const std::string& model_id) {
  return db_->Read([&](PgConnection& db) -> std::optional<LoggedModel> {
    auto model = LoadLoggedModel(db, model_id);
    if (model && model->lifecycle_stage != tracking::kLifecycleActive) return std::nullopt;
    return model;
  });
}

void PgTrackingStore::SetLoggedModelStatus(const std::string& model_id, const std::string& status,
                                           const std::string& message) {
  db_->Write([&](PgConnection& db) {
    RequireLoggedModel(db, model_id);
    db.Exec(
        "UPDATE logged_models SET status = $1, status_message = $2, "
        "last_updated_timestamp_ms = $3 WHERE model_id = $4",
        PgParams().Add(status).Add(message).Add(NowMillis()).Add(model_id));
  });
}

void PgTrackingStore::SetLoggedModelTags(const std::string& model_id,
                                         const std::vector<Tag>& tags) {
  db_->Write([&](PgConnection& db) {
    RequireLoggedModel(db, model_id);
    for (const Tag& tag : tags) {
      UpsertModelEntry(db, "logged_model_tags", model_id, tag.key, tag.value);
    }
  });
}

void PgTrackingStore::DeleteLoggedModelTag(const std::string& model_id, const std::string& key) {
  db_->Write([&](PgConnection& db) {
    RequireLoggedModel(db, model_id);
    if (db.Exec("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2",
                PgParams().Add(model_id).Add(key))
            .Affected() == 0) {
      ThrowNotFound("No tag with key '" + key + "' found for logged model '" + model_id + "'.");
    }
  });
}

void PgTrackingStore::LogLoggedModelParams(const std::string& model_id,
                                           const std::vector<Param>& params) {
  db_->Write([&](PgConnection& db) {
    RequireLoggedModel(db, model_id);
    for (const Param& param : params) {
      UpsertModelEntry(db, "logged_model_params", model_id, param.key, param.value);
    }
  });
}

void PgTrackingStore::DeleteLoggedModel(const std::string& model_id) {
  db_->Write([&](PgConnection& db) {
    RequireLoggedModel(db, model_id);
    db.Exec(
        "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = $1 "
        "WHERE model_id = $2",
        PgParams().Add(NowMillis()).Add(model_id));
  });
}

PageOf<LoggedModel> PgTrackingStore::SearchLoggedModels(
    const std::vector<std::string>& experiment_ids, const tracking::Filter& filter,
    const std::vector<tracking::OrderTerm>& order_by, Page page) {
  SqlQuery query = BuildLoggedModelSearch(SqlDialect::Postgres(), ExperimentIds(experiment_ids),
                                          filter, order_by, page.offset, page.limit + 1);
  return db_->Read([&](PgConnection& db) {
    return LoadPage<LoggedModel>(
        db, query, page,
        [](const PgResult& rows, int row) { return std::string(rows.Text(row, 0)); },
        LoadLoggedModel);
  });
}

}  // namespace slipway::store::postgres
