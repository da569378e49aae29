// The trace store on PostgreSQL.
// Carried over from the SQLite store of the same name with its SQL, through
// pg_statement.h; writes are PgDb's SERIALIZABLE transactions, run again on
// a conflict.
#pragma once

#include <memory>
#include <string>

#include "store/postgres/pg_db.h"
#include "tracing/trace_store.h"

namespace slipway::store::postgres {

// Implements TraceStore over a PgDb shared with the other stores. Thread-safe.
class PgTraceStore : public tracing::TraceStore {
 public:
  explicit PgTraceStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

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
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
