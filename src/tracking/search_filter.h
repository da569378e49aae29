// MLflow's search grammar for runs, experiments and logged models.
//
// A filter is clauses joined by AND, e.g.
//   metrics.rmse < 0.5 AND params.model = 'xgb' AND tags.`my key` LIKE 'a%'
//   attributes.status IN ('FINISHED', 'FAILED') AND datasets.digest = 'abc'
// Parsing checks the grammar, the entity prefixes and the operators each
// entity allows, and throws slipway::Error(INVALID_PARAMETER_VALUE) with
// MLflow's wording when the input is wrong. No SQL here: the store turns a
// parsed filter into its own dialect (store/sql_search.h).
//
// MLflow's grammar is parsed with `sqlparse` in Python; no C++ library parses
// it, so this is a small hand-written tokenizer and parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace slipway::tracking {

enum class EntityKind { kMetric, kParam, kTag, kAttribute, kDataset };

// kLike is case-sensitive and kILike is not; in both `%` matches any run of
// characters, `_` one character, and there is no escape character (as with
// MLflow on SQLite). kIsNull / kIsNotNull test whether a param or tag exists.
enum class CompareOp {
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLike,
  kILike,
  kIn,
  kNotIn,
  kIsNull,
  kIsNotNull
};

// One `entity.key op value` clause. Keys are normalised: `attr.`, `run.`,
// `attribute.` all become kAttribute; attribute aliases become their
// canonical name (`created` -> `start_time`, `run name` -> `run_name`, ...).
// `value` is a double for numeric comparisons (metrics, numeric attributes),
// a string for string comparisons, a list for IN / NOT IN, and an empty
// string (unused) for IS NULL / IS NOT NULL. Experiments' `experiment_id` is
// compared as a string (or list of strings) already checked to be an integer.
struct Comparison {
  EntityKind kind;
  std::string key;
  CompareOp op;
  std::variant<double, std::string, std::vector<std::string>> value;
};

// Clauses joined by AND; empty means "match everything".
// A dataset a logged-model search restricts metrics to (MLflow's `datasets`
// clause): its name, and its digest when given.
struct DatasetRef {
  std::string name;
  std::optional<std::string> digest;
};

struct Filter {
  std::vector<Comparison> clauses;
  // Logged models only: metrics count only when logged against one of these
  // datasets, and without metric clauses a model must have such a metric.
  std::vector<DatasetRef> datasets;
};

// One `order_by` term such as `metrics.rmse DESC` or `start_time`, with the
// key normalised as in Comparison.
struct OrderTerm {
  EntityKind kind;
  std::string key;
  bool ascending = true;
};

// Runs: metrics, params, tags, attributes (run_id, run_name, status, user_id,
// artifact_uri, start_time, end_time), datasets (name, digest, context).
// Order terms are checked together: a key ordered twice is an error.
Filter ParseRunFilter(std::string_view filter);
std::vector<OrderTerm> ParseRunOrderBy(const std::vector<std::string>& order_by);

// Experiments: attributes (name, experiment_id, creation_time,
// last_update_time) and tags; only attributes can be ordered by.
Filter ParseExperimentFilter(std::string_view filter);
std::vector<OrderTerm> ParseExperimentOrderBy(const std::vector<std::string>& order_by);

// Logged models: attributes (name, model_id, model_type, status,
// source_run_id, creation_timestamp, last_updated_timestamp), metrics,
// params, tags. A metric compares its latest point (highest timestamp, then
// step) for that model.
Filter ParseLoggedModelFilter(std::string_view filter);

// Logged models are ordered by MLflow's {field_name, ascending} objects:
// `field_name` is an attribute or `metrics.<key>`.
OrderTerm ParseLoggedModelOrderBy(std::string_view field_name, bool ascending);

// Registered models, as MLflow's SQL store searches them: the attribute
// `name` (prefix `attribute.` optional) with = != LIKE ILIKE IN NOT IN, and
// `tag.<key>` / `tags.<key>` with = != LIKE ILIKE. Order terms are `name`, or
// `timestamp` / `last_updated_timestamp`, which both mean the last update
// time and come back keyed `last_updated_timestamp`; there is no order by
// creation time. A field ordered twice is an error. Empty order_by gives no
// terms: the store's default is name ASC.
Filter ParseRegisteredModelFilter(std::string_view filter);
std::vector<OrderTerm> ParseRegisteredModelOrderBy(const std::vector<std::string>& order_by);

// Model versions, as MLflow's SQL store searches them: `name` and `run_id`
// with = != LIKE ILIKE IN NOT IN, `source_path` with = != LIKE ILIKE,
// `version_number` with numeric comparators against an integer (written bare
// or quoted, `'3'`), and tags as for registered models. Order terms are
// attributes: name, version_number, creation_timestamp,
// last_updated_timestamp (MLflow also takes `tags.<one of those>` as the
// attribute). Empty order_by gives no terms: the store's default is
// last_updated_timestamp DESC, name ASC, version_number DESC.
Filter ParseModelVersionFilter(std::string_view filter);
std::vector<OrderTerm> ParseModelVersionOrderBy(const std::vector<std::string>& order_by);

}  // namespace slipway::tracking
