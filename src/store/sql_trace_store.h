// The trace store (traces, their spans, tags, metadata and assessments),
// written once for both engines over an Engine (store/sql_engine.h).
// SqliteTraceStore (sqlite_trace_store.h) and PgTraceStore
// (postgres/pg_trace_store.h) are its two instances; the definitions are in
// sql_trace_store_impl.h, compiled once per engine. Thread-safe: writes go
// through the Engine's write transactions (SQLite's single writer with group
// commit, PostgreSQL's SERIALIZABLE transactions run again on a conflict),
// reads through its read transactions.
#pragma once

#include <memory>
#include <string>

#include "tracing/trace_store.h"

namespace slipway::store {

template <class Engine>
class SqlTraceStore : public tracing::TraceStore {
 public:
  explicit SqlTraceStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

  tracing::TraceInfo UpsertTraceInfo(const tracing::TraceInfo& info) override;
  void LogSpans(const std::vector<tracing::SpanWrite>& writes) override;
  std::optional<tracing::TraceInfo> GetTraceInfo(const std::string& trace_id) override;
  std::optional<std::string> ExperimentOfTrace(const std::string& trace_id) override;
  std::vector<tracing::Span> GetSpans(const std::string& trace_id) override;
  tracking::PageOf<tracing::TraceInfo> SearchTraces(const std::vector<std::string>& experiment_ids,
                                                    const tracing::TraceFilter& filter,
                                                    const std::vector<tracing::TraceOrder>& order,
                                                    tracking::Page page) override;
  int64_t CountTraces(const std::vector<std::string>& experiment_ids,
                      const std::vector<tracing::TraceFilter>& all_of) override;
  std::vector<tracing::MetricRow> ScanMetricRows(const std::string& view_type,
                                                 const std::vector<std::string>& experiment_ids,
                                                 const tracing::TraceFilter& filter,
                                                 const std::vector<tracing::MetricRowFilter>& rows,
                                                 std::optional<int64_t> start_ms,
                                                 std::optional<int64_t> end_ms) override;
  void SetTraceTag(const std::string& trace_id, const std::string& key,
                   const std::string& value) override;
  bool DeleteTraceTag(const std::string& trace_id, const std::string& key) override;
  int64_t DeleteTraces(const std::string& experiment_id, const std::vector<std::string>& ids,
                       std::optional<int64_t> max_timestamp,
                       std::optional<int64_t> max_traces) override;
  void LinkTracesToRun(const std::vector<std::string>& trace_ids,
                       const std::string& run_id) override;
  void LinkPromptsToTrace(const std::string& trace_id,
                          const std::vector<std::string>& prompts) override;
  void CreateAssessment(const tracing::Assessment& assessment) override;
  std::optional<tracing::Assessment> GetAssessment(const std::string& trace_id,
                                                   const std::string& assessment_id) override;
  void UpdateAssessment(const tracing::Assessment& assessment) override;
  bool DeleteAssessment(const std::string& trace_id, const std::string& assessment_id) override;

 private:
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
