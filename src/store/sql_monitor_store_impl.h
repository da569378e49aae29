// The definitions of SqlMonitorStore (sql_monitor_store.h), included by the one file of each
// engine that instantiates it.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/sql_monitor_store.h"

namespace slipway::store {

using monitoring::live::FoldCommit;
using monitoring::live::JoinedRecord;
using monitoring::live::MonitorConfig;
using monitoring::live::MonitorWindow;
using monitoring::live::StoredMonitor;
using nlohmann::json;

namespace sql_monitor_store {

constexpr const char* kSelectMonitor =
    "SELECT config, reference_profile, folded_key, folded_start_ms, generation FROM monitors";
constexpr const char* kSelectWindow =
    "SELECT seq, start_ms, end_ms, row_count, inputs, outputs FROM monitor_windows";

template <class Row>
StoredMonitor MonitorOf(const Row& row) {
  StoredMonitor monitor;
  monitor.config = monitoring::live::MonitorConfigFromJson(json::parse(row.Text(0)));
  monitor.reference_profile = row.Text(1);
  monitor.folded_key = row.Text(2);
  monitor.folded_start_ms = row.Int(3);
  monitor.config.generation = row.Int(4);
  return monitor;
}

template <class Row>
MonitorWindow WindowOf(const Row& row) {
  MonitorWindow window;
  window.seq = row.Int(0);
  window.start_ms = row.Int(1);
  window.end_ms = row.Int(2);
  window.rows = row.Int(3);
  window.inputs = data::DatasetProfile::FromJson(json::parse(row.Text(4)));
  window.outputs = data::DatasetProfile::FromJson(json::parse(row.Text(5)));
  return window;
}

template <class Session>
void DeleteWindows(Session& db, const std::string& deployment) {
  db.Prepare("DELETE FROM monitor_windows WHERE deployment = ?").Bind(1, deployment).Run();
}

}  // namespace sql_monitor_store

template <class Engine>
void SqlMonitorStore<Engine>::Put(const MonitorConfig& config,
                                  const std::string& reference_profile) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare(
          "INSERT INTO monitors (deployment, config, generation, reference_profile, folded_key, "
          "folded_start_ms) VALUES (?, ?, ?, ?, '', 0) ON CONFLICT (deployment) DO UPDATE SET "
          "config = excluded.config, generation = excluded.generation, "
          "reference_profile = excluded.reference_profile, folded_key = '', folded_start_ms = 0")
        .Bind(1, config.deployment)
        .Bind(2, monitoring::live::ToJson(config).dump())
        .Bind(3, config.generation)
        .Bind(4, reference_profile)
        .Run();
    sql_monitor_store::DeleteWindows(db, config.deployment);
  });
}

template <class Engine>
std::optional<StoredMonitor> SqlMonitorStore<Engine>::Get(const std::string& deployment) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<StoredMonitor> {
    typename Engine::Row row =
        db.Prepare(std::string(sql_monitor_store::kSelectMonitor) + " WHERE deployment = ?");
    row.Bind(1, deployment);
    if (!row.Step()) return std::nullopt;
    return sql_monitor_store::MonitorOf(row);
  });
}

template <class Engine>
std::vector<StoredMonitor> SqlMonitorStore<Engine>::List() {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<StoredMonitor> monitors;
    typename Engine::Row row =
        db.Prepare(std::string(sql_monitor_store::kSelectMonitor) + " ORDER BY deployment");
    while (row.Step()) monitors.push_back(sql_monitor_store::MonitorOf(row));
    return monitors;
  });
}

template <class Engine>
bool SqlMonitorStore<Engine>::Delete(const std::string& deployment) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare("DELETE FROM monitors WHERE deployment = ?").Bind(1, deployment).Run();
    deleted = db.Changes() > 0;
    sql_monitor_store::DeleteWindows(db, deployment);
    db.Prepare("DELETE FROM monitor_predictions WHERE deployment = ?").Bind(1, deployment).Run();
    db.Prepare("DELETE FROM monitor_feedback WHERE deployment = ?").Bind(1, deployment).Run();
  });
  return deleted;
}

template <class Engine>
std::optional<MonitorWindow> SqlMonitorStore<Engine>::GetWindow(const std::string& deployment,
                                                                int64_t seq) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<MonitorWindow> {
    typename Engine::Row row = db.Prepare(std::string(sql_monitor_store::kSelectWindow) +
                                          " WHERE deployment = ? AND seq = ?");
    row.Bind(1, deployment).Bind(2, seq);
    if (!row.Step()) return std::nullopt;
    return sql_monitor_store::WindowOf(row);
  });
}

template <class Engine>
std::vector<MonitorWindow> SqlMonitorStore<Engine>::LastWindows(const std::string& deployment,
                                                                int count) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<MonitorWindow> windows;
    typename Engine::Row row = db.Prepare(std::string(sql_monitor_store::kSelectWindow) +
                                          " WHERE deployment = ? ORDER BY seq DESC LIMIT ?");
    row.Bind(1, deployment).Bind(2, int64_t{count});
    while (row.Step()) windows.push_back(sql_monitor_store::WindowOf(row));
    return windows;
  });
}

template <class Engine>
std::optional<MonitorWindow> SqlMonitorStore<Engine>::FirstWindow(const std::string& deployment) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<MonitorWindow> {
    typename Engine::Row row = db.Prepare(std::string(sql_monitor_store::kSelectWindow) +
                                          " WHERE deployment = ? ORDER BY seq LIMIT 1");
    row.Bind(1, deployment);
    if (!row.Step()) return std::nullopt;
    return sql_monitor_store::WindowOf(row);
  });
}

template <class Engine>
std::vector<MonitorWindow> SqlMonitorStore<Engine>::Windows(const std::string& deployment,
                                                            int64_t from_ms, int64_t to_ms) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<MonitorWindow> windows;
    typename Engine::Row row =
        db.Prepare(std::string(sql_monitor_store::kSelectWindow) +
                   " WHERE deployment = ? AND start_ms >= ? AND start_ms < ? "
                   "ORDER BY seq");
    row.Bind(1, deployment).Bind(2, from_ms).Bind(3, to_ms);
    while (row.Step()) windows.push_back(sql_monitor_store::WindowOf(row));
    return windows;
  });
}

template <class Engine>
bool SqlMonitorStore<Engine>::CommitFold(const FoldCommit& commit) {
  bool committed = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row current =
        db.Prepare("SELECT generation, folded_key FROM monitors WHERE deployment = ?");
    current.Bind(1, commit.deployment);
    if (!current.Step()) return;
    if (current.Int(0) != commit.generation || current.Text(1) != commit.previous_key) return;
    for (const MonitorWindow& window : commit.windows) {
      db.Prepare(
            "INSERT INTO monitor_windows (deployment, seq, start_ms, end_ms, "
            "row_count, inputs, outputs) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment, "
            "seq) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms, "
            "row_count = excluded.row_count, inputs = excluded.inputs, outputs = excluded.outputs")
          .Bind(1, commit.deployment)
          .Bind(2, window.seq)
          .Bind(3, window.start_ms)
          .Bind(4, window.end_ms)
          .Bind(5, window.rows)
          .Bind(6, window.inputs.ToJson(0, 0).dump())
          .Bind(7, window.outputs.ToJson(0, 0).dump())
          .Run();
    }
    for (const monitoring::live::LoggedPrediction& p : commit.predictions) {
      db.Prepare(
            "INSERT INTO monitor_predictions (deployment, request_id, time_ms, "
            "predictions, inputs) VALUES (?, ?, ?, ?, ?) ON CONFLICT (deployment, request_id) DO "
            "UPDATE SET time_ms = excluded.time_ms, predictions = excluded.predictions, "
            "inputs = excluded.inputs")
          .Bind(1, commit.deployment)
          .Bind(2, p.request_id)
          .Bind(3, p.time_ms)
          .Bind(4, p.predictions)
          .Bind(5, p.inputs)
          .Run();
    }
    db.Prepare("UPDATE monitors SET folded_key = ?, folded_start_ms = ? WHERE deployment = ?")
        .Bind(1, commit.folded_key)
        .Bind(2, commit.folded_start_ms)
        .Bind(3, commit.deployment)
        .Run();
    committed = true;
  });
  return committed;
}

template <class Engine>
std::vector<std::string> SqlMonitorStore<Engine>::KnownRequests(
    const std::string& deployment, const std::vector<std::string>& request_ids) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<std::string> known;
    typename Engine::Row row =
        db.Prepare("SELECT 1 FROM monitor_predictions WHERE deployment = ? AND request_id = ?");
    for (const std::string& id : request_ids) {
      row.Bind(1, deployment).Bind(2, id);
      if (row.Step()) known.push_back(id);
      row.Reset();
    }
    return known;
  });
}

template <class Engine>
void SqlMonitorStore<Engine>::AddFeedback(const std::string& deployment,
                                          const std::vector<monitoring::live::Feedback>& feedback) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    for (const monitoring::live::Feedback& f : feedback) {
      db.Prepare(
            "INSERT INTO monitor_feedback (deployment, request_id, labels, time_ms) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (deployment, request_id) DO UPDATE SET "
            "labels = excluded.labels, time_ms = excluded.time_ms")
          .Bind(1, deployment)
          .Bind(2, f.request_id)
          .Bind(3, f.labels)
          .Bind(4, f.time_ms)
          .Run();
    }
  });
}

template <class Engine>
int64_t SqlMonitorStore<Engine>::PruneKept(const std::string& deployment, int64_t before_ms) {
  int64_t pruned = 0;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare(
          "DELETE FROM monitor_feedback WHERE deployment = ?1 AND request_id IN (SELECT "
          "request_id FROM monitor_predictions WHERE deployment = ?1 AND time_ms < ?2)")
        .Bind(1, deployment)
        .Bind(2, before_ms)
        .Run();
    db.Prepare("DELETE FROM monitor_predictions WHERE deployment = ? AND time_ms < ?")
        .Bind(1, deployment)
        .Bind(2, before_ms)
        .Run();
    pruned = db.Changes();
  });
  return pruned;
}

template <class Engine>
monitoring::live::MonitorStore::Pruned SqlMonitorStore<Engine>::Prune(const std::string& deployment,
                                                                      int64_t before_ms,
                                                                      int64_t max_windows,
                                                                      int64_t max_predictions) {
  Pruned pruned;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare("DELETE FROM monitor_windows WHERE deployment = ? AND end_ms < ?")
        .Bind(1, deployment)
        .Bind(2, before_ms)
        .Run();
    pruned.windows = db.Changes();
    if (max_windows > 0) {
      db.Prepare(
            "DELETE FROM monitor_windows WHERE deployment = ?1 AND seq < (SELECT seq FROM "
            "monitor_windows WHERE deployment = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)")
          .Bind(1, deployment)
          .Bind(2, max_windows - 1)
          .Run();
      pruned.windows += db.Changes();
    }
    // The oldest kept prediction that stays.
    int64_t cut = before_ms;
    if (max_predictions > 0) {
      typename Engine::Row row = db.Prepare(
          "SELECT time_ms FROM monitor_predictions WHERE deployment = ? ORDER BY time_ms DESC "
          "LIMIT 1 OFFSET ?");
      row.Bind(1, deployment).Bind(2, max_predictions - 1);
      if (row.Step()) cut = std::max(cut, row.Int(0));
    }
    db.Prepare(
          "DELETE FROM monitor_feedback WHERE deployment = ?1 AND request_id IN (SELECT "
          "request_id FROM monitor_predictions WHERE deployment = ?1 AND time_ms < ?2)")
        .Bind(1, deployment)
        .Bind(2, cut)
        .Run();
    db.Prepare("DELETE FROM monitor_predictions WHERE deployment = ? AND time_ms < ?")
        .Bind(1, deployment)
        .Bind(2, cut)
        .Run();
    pruned.predictions = db.Changes();
  });
  return pruned;
}

template <class Engine>
std::vector<monitoring::live::LoggedPrediction> SqlMonitorStore<Engine>::Kept(
    const std::string& deployment, int64_t from_ms, int64_t to_ms) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<monitoring::live::LoggedPrediction> kept;
    typename Engine::Row row = db.Prepare(
        "SELECT request_id, time_ms, predictions FROM monitor_predictions "
        "WHERE deployment = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms");
    row.Bind(1, deployment).Bind(2, from_ms).Bind(3, to_ms);
    while (row.Step()) kept.push_back({row.Text(0), row.Int(1), row.Text(2), ""});
    return kept;
  });
}

template <class Engine>
std::vector<JoinedRecord> SqlMonitorStore<Engine>::Joined(const std::string& deployment,
                                                          int64_t from_ms, int64_t to_ms) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<JoinedRecord> joined;
    typename Engine::Row row = db.Prepare(
        "SELECT p.request_id, p.time_ms, p.predictions, f.labels, f.time_ms, p.inputs "
        "FROM monitor_predictions p JOIN monitor_feedback f "
        "ON f.deployment = p.deployment AND f.request_id = p.request_id "
        "WHERE p.deployment = ? AND p.time_ms >= ? AND p.time_ms < ? ORDER BY p.time_ms");
    row.Bind(1, deployment).Bind(2, from_ms).Bind(3, to_ms);
    while (row.Step()) {
      JoinedRecord record;
      record.prediction = {row.Text(0), row.Int(1), row.Text(2), row.Text(5)};
      record.feedback = {row.Text(0), row.Text(3), row.Int(4)};
      joined.push_back(std::move(record));
    }
    return joined;
  });
}

}  // namespace slipway::store
