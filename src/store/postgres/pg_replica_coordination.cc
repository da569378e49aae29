#include "store/postgres/pg_replica_coordination.h"

#include <spdlog/spdlog.h>

#include <set>
#include <utility>

#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {
namespace {

constexpr const char* kChannel = "slipway_changes";
constexpr int kConnectTimeoutSeconds = 5;

}  // namespace

PgReplicaCoordination::PgReplicaCoordination(std::string uri)
    : uri_(std::move(uri)), description_(DescribePostgresUri(uri_)) {}

PgReplicaCoordination::~PgReplicaCoordination() {
  if (leader_) spdlog::info("replicas: this server stops leading (it is stopping)");
  leader_ = false;
  Disconnect();
}

std::string PgReplicaCoordination::Describe() const {
  return description_ + (conn_ ? "" : " (no session)") + (leader_ ? ", leading" : "");
}

bool PgReplicaCoordination::Connect() {
  const std::string timeout = std::to_string(kConnectTimeoutSeconds);
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {uri_.c_str(), timeout.c_str(), "slipway replica", nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (!outage_logged_) {
      spdlog::warn("replicas: no session to {} for change notifications and leadership: {}",
                   description_, conn_ ? PQerrorMessage(conn_) : "out of memory");
      outage_logged_ = true;
    }
    Disconnect();
    return false;
  }
  PGresult* result = PQexec(conn_, (std::string("LISTEN ") + kChannel).c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  if (!ok) spdlog::warn("replicas: LISTEN on {} failed: {}", description_, PQerrorMessage(conn_));
  PQclear(result);
  if (!ok) {
    Disconnect();
    return false;
  }
  if (outage_logged_) spdlog::info("replicas: session to {} open again", description_);
  outage_logged_ = false;
  return true;
}

void PgReplicaCoordination::Disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  if (leader_) spdlog::warn("replicas: this server no longer leads (its session ended)");
  leader_ = false;
}

bool PgReplicaCoordination::QueryBool(const char* sql, bool& value) {
  PGresult* result = PQexec(conn_, sql);
  const bool ok = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1;
  if (ok) {
    const char* text = PQgetvalue(result, 0, 0);
    value = text[0] == 't' || text[0] == '1';
  } else {
    spdlog::warn("replicas: session to {} failed: {}", description_, PQerrorMessage(conn_));
  }
  PQclear(result);
  if (!ok) Disconnect();
  return ok;
}

ReplicaCoordination::PollResult PgReplicaCoordination::Poll() {
  PollResult out;
  if (conn_ == nullptr) {
    out.missed = true;
    if (!Connect()) return out;
  }
  // The round trip first: notifications that arrive with its answer are
  // read below, in the same poll.
  bool value = false;
  if (!leader_) {
    const std::string sql = "SELECT pg_try_advisory_lock(" + std::to_string(kLeaderLock) + ")";
    if (!QueryBool(sql.c_str(), value)) {
      out.missed = true;
      return out;
    }
    if (value) {
      leader_ = true;
      spdlog::info("replicas: this server now leads the background work on {}", description_);
    }
  } else if (!QueryBool("SELECT true", value)) {
    out.missed = true;
    return out;
  }
  if (PQconsumeInput(conn_) == 0) {
    spdlog::warn("replicas: session to {} failed: {}", description_, PQerrorMessage(conn_));
    Disconnect();
    out.missed = true;
    return out;
  }
  std::set<std::string> seen;
  while (PGnotify* notify = PQnotifies(conn_)) {
    std::string payload = notify->extra ? notify->extra : "";
    PQfreemem(notify);
    if (!seen.insert(payload).second) continue;
    const size_t colon = payload.find(':');
    if (colon == std::string::npos) continue;
    out.changes.push_back({payload.substr(0, colon), payload.substr(colon + 1)});
  }
  out.leader = leader_;
  return out;
}

}  // namespace slipway::store::postgres
