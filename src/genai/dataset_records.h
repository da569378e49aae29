// The rules of evaluation dataset records, as MLflow 3.17.2's SQL store
// applies them (sqlalchemy_store.py upsert_dataset_records and
// _update_dataset_schema): how an incoming record is checked, which stored
// record it is merged into, how a merge changes it, and how the dataset's
// schema and digest follow. The stores call these inside their write
// transactions, so the rules live here once.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "genai/entities.h"

namespace slipway::genai {

// The most records one upsert takes (MLflow sets none; the request's body
// limit bounds it too).
inline constexpr size_t kMaxRecordsPerUpsert = 10000;

// The `records` text of an upsert: a JSON array of record objects with
// `inputs` (an object; missing: {}), `outputs` (any), `expectations` and
// `tags` (objects or null), and `source` ({"source_type": one of TRACE,
// HUMAN, DOCUMENT, CODE, UNSPECIFIED in any case, "source_data": {...}}).
// Returns the records, source types upper-cased; anything else is
// INVALID_PARAMETER_VALUE naming the record (records[3].inputs) and, for
// JSON that does not parse, the line and column.
std::vector<Json> ParseRecords(const std::string& text);

// The key that makes two records the same record: SHA-256 of the inputs as
// canonical JSON (keys sorted, no spaces), so key order does not matter and
// 1, 1.0 and true stay different.
std::string InputsKey(const Json& inputs);

// The record `incoming` (checked by ParseRecords) creates.
DatasetRecord NewRecord(const Json& incoming, const std::string& dataset_id, int64_t now);

// Merges `incoming` into the record with the same inputs: outputs replaced
// when given (null clears them), expectations and tags merged key by key
// (new values win), the source and creation fields kept.
void MergeRecord(DatasetRecord& record, const Json& incoming, int64_t now);

// The mlflow.user tag of the last record that has one, as MLflow takes the
// batch's author.
std::optional<std::string> AuthorOf(const std::vector<Json>& records);

// The dataset's schema after `records` were added: the field types of
// inputs, outputs and expectations keys not seen before (null, boolean,
// integer, float, string, array, object); types already recorded never
// change. `schema` is the current one (nullopt: none yet).
std::string ExtendSchema(const std::optional<std::string>& schema,
                         const std::vector<Json>& records);

// {"num_records": N}, as MLflow writes the profile.
std::string ProfileOf(int64_t record_count);

// The first 8 hex digits of SHA-256("<name>:<time>").
std::string DatasetDigest(const std::string& name, int64_t time);

}  // namespace slipway::genai
