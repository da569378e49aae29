// Turns parsed search filters into SQL over the schema of sqlite_schema.cc.
//
// The SQL dialect lives here and in the store implementation only: the
// filter grammar (tracking/search_filter.h) knows nothing of SQL. Every value
// from a user is a bound parameter, never spliced into the text.
//
// Each builder returns one SELECT of ids, ending in `LIMIT ? OFFSET ?`
// (a negative limit means no limit, as in SQLite). Callers that want to know
// whether a further page exists ask for one row more than they return. The
// builders are pure functions; they throw INVALID_PARAMETER_VALUE only for a
// term the filter parser would not have produced.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tracking/search_filter.h"

namespace slipway::store {

using SqlValue = std::variant<int64_t, double, std::string>;

struct SqlQuery {
  std::string sql;
  std::vector<SqlValue> binds;  // in the order of the `?` placeholders
};

enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

// `SELECT r.run_uuid FROM runs r ... ORDER BY ... LIMIT ? OFFSET ?` selecting
// the ids of matching runs in the requested order, within `experiment_ids`.
// As in MLflow: each order term puts runs without the key last (for metrics,
// NaN before missing), then start_time DESC unless ordered by, then run_uuid.
// Metric filters never match NaN except through `!=`.
SqlQuery BuildRunSearch(const std::vector<int64_t>& experiment_ids, ViewType view,
                        const tracking::Filter& filter,
                        const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                        int64_t limit);

// `SELECT e.experiment_id FROM experiments e ...`. As in MLflow the default
// order is creation_time DESC, experiment_id ASC; a given order gets
// experiment_id DESC as tie-breaker unless it orders by experiment_id.
SqlQuery BuildExperimentSearch(ViewType view, const tracking::Filter& filter,
                               const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                               int64_t limit);

// `SELECT m.model_id FROM logged_models m ...` within `experiment_ids`,
// leaving out deleted models. Metric terms read each model's latest point of
// the key from `metrics`. Order terms put models without the value last, then
// creation_timestamp DESC and model_id ASC unless ordered by.
SqlQuery BuildLoggedModelSearch(const std::vector<int64_t>& experiment_ids,
                                const tracking::Filter& filter,
                                const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                                int64_t limit);

// `SELECT m.name FROM registered_models m ...`, ordered by the terms of
// tracking::ParseRegisteredModelOrderBy, then name ASC unless ordered by name
// (so name ASC alone by default), as in MLflow. Also as in MLflow, prompts
// (models tagged mlflow.prompt.is_prompt = 'true') are left out unless the
// filter asks for them with that tag `= 'true'` or `!= 'false'`.
SqlQuery BuildRegisteredModelSearch(const tracking::Filter& filter,
                                    const std::vector<tracking::OrderTerm>& order_by,
                                    int64_t offset, int64_t limit);

// `SELECT v.name, v.version FROM model_versions v ...`, never returning
// versions in the stage 'Deleted_Internal'. Ordered by the terms of
// tracking::ParseModelVersionOrderBy (by default last_updated_timestamp
// DESC), then name ASC and version DESC unless ordered by, as in MLflow.
// Versions of prompts are left out as BuildRegisteredModelSearch leaves
// prompts out, a name being a prompt when any of its versions has the tag.
SqlQuery BuildModelVersionSearch(const tracking::Filter& filter,
                                 const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                                 int64_t limit);

}  // namespace slipway::store
