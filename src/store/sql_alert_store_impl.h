// The definitions of SqlAlertStore (sql_alert_store.h), included by the one file of each
// engine that instantiates it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>

#include "store/sql_alert_store.h"

namespace slipway::store {

using monitoring::ActiveAlert;
using monitoring::AlertDelivery;
using monitoring::AlertRuleSetRecord;
using monitoring::AlertTransition;
using nlohmann::json;

namespace sql_alert_store {

inline std::string LabelsText(const monitoring::Labels& labels) {
  json out = json::array();
  for (const auto& [k, v] : labels) out.push_back({k, v});
  return out.dump();
}

inline monitoring::Labels LabelsFrom(const std::string& text) {
  monitoring::Labels out;
  for (const json& pair : json::parse(text)) {
    out.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  }
  return out;
}

inline std::string MapText(const std::map<std::string, std::string>& map) {
  return json(map).dump();
}

inline std::map<std::string, std::string> MapFrom(const std::string& text) {
  return json::parse(text).get<std::map<std::string, std::string>>();
}

constexpr const char* kTransitionColumns =
    "id, deployment, rule, fingerprint, labels, annotations, state, starts_at_ms, ends_at_ms, "
    "time_ms, value, idempotency_key, owner";

template <class Row>
AlertTransition TransitionFrom(const Row& row) {
  AlertTransition t;
  t.id = row.Int(0);
  t.deployment = row.Text(1);
  t.rule = row.Text(2);
  t.fingerprint = row.Text(3);
  t.labels = LabelsFrom(row.Text(4));
  t.annotations = MapFrom(row.Text(5));
  t.state = row.Text(6);
  t.starts_at_ms = row.Int(7);
  t.ends_at_ms = row.Int(8);
  t.time_ms = row.Int(9);
  t.value = row.Double(10);
  t.idempotency_key = row.Text(11);
  t.owner = row.Text(12);
  return t;
}

constexpr const char* kDeliveryColumns =
    "transition_id, receiver, kind, url, headers, headers_from_env, status, attempts, "
    "next_attempt_ms, delivered_ms, last_error";

template <class Row>
AlertDelivery DeliveryFrom(const Row& row) {
  AlertDelivery d;
  d.transition_id = row.Int(0);
  d.receiver = row.Text(1);
  d.kind = row.Text(2);
  d.url = row.Text(3);
  d.headers = MapFrom(row.Text(4));
  d.headers_from_env = MapFrom(row.Text(5));
  d.status = row.Text(6);
  d.attempts = static_cast<int>(row.Int(7));
  d.next_attempt_ms = row.Int(8);
  d.delivered_ms = row.Int(9);
  d.last_error = row.Text(10);
  return d;
}

// The deliveries of transitions `first`..`last` (ids), by transition id.
template <class Session>
std::map<int64_t, std::vector<AlertDelivery>> DeliveriesOf(Session& db, int64_t first, int64_t last,
                                                           bool pending_only) {
  std::map<int64_t, std::vector<AlertDelivery>> out;
  auto row = db.Prepare(std::string("SELECT ") + kDeliveryColumns +
                        " FROM alert_deliveries WHERE transition_id BETWEEN ? AND ?" +
                        (pending_only ? " AND status = 'pending'" : "") +
                        " ORDER BY transition_id, receiver");
  row.Bind(1, first).Bind(2, last);
  while (row.Step()) {
    AlertDelivery d = DeliveryFrom(row);
    out[d.transition_id].push_back(std::move(d));
  }
  return out;
}

}  // namespace sql_alert_store

template <class Engine>
void SqlAlertStore<Engine>::PutRuleSet(const AlertRuleSetRecord& r) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare(
          "INSERT INTO alert_rule_sets (deployment, yaml, owner, owner_user_id, updated_ms) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (deployment) DO UPDATE SET yaml = excluded.yaml, "
          "owner = excluded.owner, owner_user_id = excluded.owner_user_id, "
          "updated_ms = excluded.updated_ms")
        .Bind(1, r.deployment)
        .Bind(2, r.yaml)
        .Bind(3, r.owner)
        .Bind(4, r.owner_user_id)
        .Bind(5, r.updated_ms)
        .Run();
  });
}

namespace sql_alert_store {
constexpr const char* kRuleSetSelect =
    "SELECT deployment, yaml, owner, owner_user_id, updated_ms FROM alert_rule_sets";
template <class Row>
AlertRuleSetRecord RuleSetFrom(const Row& row) {
  return {row.Text(0), row.Text(1), row.Text(2), row.Int(3), row.Int(4)};
}
}  // namespace sql_alert_store

template <class Engine>
std::optional<AlertRuleSetRecord> SqlAlertStore<Engine>::GetRuleSet(const std::string& deployment) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<AlertRuleSetRecord> {
    typename Engine::Row row =
        db.Prepare(std::string(sql_alert_store::kRuleSetSelect) + " WHERE deployment = ?");
    row.Bind(1, deployment);
    if (!row.Step()) return std::nullopt;
    return sql_alert_store::RuleSetFrom(row);
  });
}

template <class Engine>
bool SqlAlertStore<Engine>::DeleteRuleSet(const std::string& deployment) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row exists = db.Prepare("SELECT 1 FROM alert_rule_sets WHERE deployment = ?");
    exists.Bind(1, deployment);
    if (!exists.Step()) return;
    db.Prepare("DELETE FROM alert_rule_sets WHERE deployment = ?").Bind(1, deployment).Run();
    deleted = true;
  });
  return deleted;
}

template <class Engine>
std::vector<AlertRuleSetRecord> SqlAlertStore<Engine>::ListRuleSets() {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<AlertRuleSetRecord> out;
    typename Engine::Row row =
        db.Prepare(std::string(sql_alert_store::kRuleSetSelect) + " ORDER BY deployment");
    while (row.Step()) out.push_back(sql_alert_store::RuleSetFrom(row));
    return out;
  });
}

template <class Engine>
std::vector<ActiveAlert> SqlAlertStore<Engine>::LoadFiring() {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<ActiveAlert> out;
    typename Engine::Row row = db.Prepare(
        "SELECT deployment, rule, fingerprint, labels, annotations, active_since_ms, fired_ms, "
        "value, last_seen_ms FROM alerts_firing ORDER BY deployment, rule, fingerprint");
    while (row.Step()) {
      ActiveAlert a;
      a.deployment = row.Text(0);
      a.rule = row.Text(1);
      a.fingerprint = row.Text(2);
      a.labels = sql_alert_store::LabelsFrom(row.Text(3));
      a.annotations = sql_alert_store::MapFrom(row.Text(4));
      a.state = "firing";
      a.active_since_ms = row.Int(5);
      a.fired_ms = row.Int(6);
      a.value = row.Double(7);
      a.last_seen_ms = row.Int(8);
      out.push_back(std::move(a));
    }
    return out;
  });
}

template <class Engine>
void SqlAlertStore<Engine>::Commit(const std::vector<ActiveAlert>& firing,
                                   const std::vector<ActiveAlert>& resolved,
                                   std::vector<AlertTransition>& transitions) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    for (const ActiveAlert& a : firing) {
      db.Prepare(
            "INSERT INTO alerts_firing (deployment, rule, fingerprint, labels, "
            "annotations, active_since_ms, fired_ms, value, last_seen_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment, rule, fingerprint) DO "
            "UPDATE SET labels = excluded.labels, annotations = excluded.annotations, "
            "active_since_ms = excluded.active_since_ms, fired_ms = excluded.fired_ms, "
            "value = excluded.value, last_seen_ms = excluded.last_seen_ms")
          .Bind(1, a.deployment)
          .Bind(2, a.rule)
          .Bind(3, a.fingerprint)
          .Bind(4, sql_alert_store::LabelsText(a.labels))
          .Bind(5, sql_alert_store::MapText(a.annotations))
          .Bind(6, a.active_since_ms)
          .Bind(7, a.fired_ms)
          .Bind(8, a.value)
          .Bind(9, a.last_seen_ms)
          .Run();
    }
    for (const ActiveAlert& a : resolved) {
      db.Prepare("DELETE FROM alerts_firing WHERE deployment = ? AND rule = ? AND fingerprint = ?")
          .Bind(1, a.deployment)
          .Bind(2, a.rule)
          .Bind(3, a.fingerprint)
          .Run();
    }
    for (AlertTransition& t : transitions) {
      typename Engine::Row insert = db.Prepare(
          "INSERT INTO alert_transitions (deployment, rule, fingerprint, labels, annotations, "
          "state, starts_at_ms, ends_at_ms, time_ms, value, idempotency_key, owner) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
      insert.Bind(1, t.deployment)
          .Bind(2, t.rule)
          .Bind(3, t.fingerprint)
          .Bind(4, sql_alert_store::LabelsText(t.labels))
          .Bind(5, sql_alert_store::MapText(t.annotations))
          .Bind(6, t.state)
          .Bind(7, t.starts_at_ms)
          .Bind(8, t.ends_at_ms)
          .Bind(9, t.time_ms)
          .Bind(10, t.value)
          .Bind(11, t.idempotency_key)
          .Bind(12, t.owner);
      insert.Step();
      t.id = insert.Int(0);
      for (AlertDelivery& d : t.deliveries) {
        d.transition_id = t.id;
        db.Prepare(std::string("INSERT INTO alert_deliveries (") +
                   sql_alert_store::kDeliveryColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .Bind(1, d.transition_id)
            .Bind(2, d.receiver)
            .Bind(3, d.kind)
            .Bind(4, d.url)
            .Bind(5, sql_alert_store::MapText(d.headers))
            .Bind(6, sql_alert_store::MapText(d.headers_from_env))
            .Bind(7, d.status)
            .Bind(8, d.attempts)
            .Bind(9, d.next_attempt_ms)
            .Bind(10, d.delivered_ms)
            .Bind(11, d.last_error)
            .Run();
      }
    }
  });
}

template <class Engine>
std::vector<AlertTransition> SqlAlertStore<Engine>::PendingDeliveries() {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<AlertTransition> out;
    typename Engine::Row row = db.Prepare(
        std::string("SELECT ") + sql_alert_store::kTransitionColumns +
        " FROM alert_transitions WHERE id IN (SELECT transition_id FROM alert_deliveries "
        "WHERE status = 'pending') ORDER BY id");
    while (row.Step()) out.push_back(sql_alert_store::TransitionFrom(row));
    if (out.empty()) return out;
    auto deliveries =
        sql_alert_store::DeliveriesOf(db, out.front().id, out.back().id, /*pending_only=*/true);
    for (AlertTransition& t : out) t.deliveries = std::move(deliveries[t.id]);
    return out;
  });
}

template <class Engine>
void SqlAlertStore<Engine>::UpdateDelivery(const AlertDelivery& d) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare(
          "UPDATE alert_deliveries SET status = ?, attempts = ?, next_attempt_ms = ?, "
          "delivered_ms = ?, last_error = ? WHERE transition_id = ? AND receiver = ?")
        .Bind(1, d.status)
        .Bind(2, d.attempts)
        .Bind(3, d.next_attempt_ms)
        .Bind(4, d.delivered_ms)
        .Bind(5, d.last_error)
        .Bind(6, d.transition_id)
        .Bind(7, d.receiver)
        .Run();
  });
}

template <class Engine>
std::vector<AlertTransition> SqlAlertStore<Engine>::History(const std::string& deployment,
                                                            size_t limit) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<AlertTransition> out;
    typename Engine::Row row =
        db.Prepare(std::string("SELECT ") + sql_alert_store::kTransitionColumns +
                   " FROM alert_transitions WHERE deployment = ? ORDER BY id DESC "
                   "LIMIT ?");
    row.Bind(1, deployment).Bind(2, static_cast<int64_t>(limit));
    while (row.Step()) out.push_back(sql_alert_store::TransitionFrom(row));
    if (out.empty()) return out;
    auto deliveries =
        sql_alert_store::DeliveriesOf(db, out.back().id, out.front().id, /*pending_only=*/false);
    for (AlertTransition& t : out) t.deliveries = std::move(deliveries[t.id]);
    return out;
  });
}

}  // namespace slipway::store
