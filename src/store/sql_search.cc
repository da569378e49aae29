#include "store/sql_search.h"

#include <cctype>
#include <cmath>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "tracking/entities.h"

namespace slipway::store {
namespace {

using tracking::CompareOp;
using tracking::Comparison;
using tracking::EntityKind;
using tracking::OrderTerm;
using Fragment = SqlFragment;

// Converts a LIKE pattern (`%`, `_`, no escape character) into the GLOB
// pattern matching the same strings. GLOB is case-sensitive whatever the
// connection's case_sensitive_like setting, which LIKE is not.
std::string LikeToGlob(std::string_view like) {
  std::string glob;
  for (const char c : like) {
    switch (c) {
      case '%':
        glob += '*';
        break;
      case '_':
        glob += '?';
        break;
      case '*':
        glob += "[*]";
        break;
      case '?':
        glob += "[?]";
        break;
      case '[':
        glob += "[[]";
        break;
      default:
        glob += c;
    }
  }
  return glob;
}

class SqliteDialect final : public SqlDialect {
 public:
  std::string_view name() const override { return "sqlite"; }
  std::string Placeholder(size_t) const override { return "?"; }
  Fragment Like(std::string_view column, const std::string& pattern) const override {
    Fragment f;
    return f.Add(column).Add(" GLOB ").Bind(LikeToGlob(pattern));
  }
  Fragment ILike(std::string_view column, const std::string& pattern) const override {
    Fragment f;
    return f.Add("lower(").Add(column).Add(") LIKE lower(").Bind(pattern).Add(")");
  }
  Fragment LimitOffset(int64_t limit, int64_t offset) const override {
    Fragment f;
    return f.Add(" LIMIT ").Bind(limit).Add(" OFFSET ").Bind(offset);
  }
  std::string_view Flag(bool value) const override { return value ? "1" : "0"; }
  std::string_view InnerLoopJoin() const override { return "CROSS JOIN"; }
  std::string TextOrder(std::string_view column) const override { return std::string(column); }
  std::string_view Greatest() const override { return "MAX"; }
  std::string_view Least() const override { return "MIN"; }
  std::string_view RowLock() const override { return ""; }
  std::string AfterExplicitKey(std::string_view, std::string_view) const override { return {}; }
  Fragment JsonArrayElements(std::string json_array, bool) const override {
    // json_each gives JSON integers as INTEGER and strings as TEXT.
    Fragment f;
    return f.Add("SELECT value FROM json_each(").Bind(std::move(json_array)).Add(")");
  }
};

class PostgresDialect final : public SqlDialect {
 public:
  std::string_view name() const override { return "postgresql"; }
  std::string Placeholder(size_t n) const override { return "$" + std::to_string(n); }
  Fragment Like(std::string_view column, const std::string& pattern) const override {
    Fragment f;
    return f.Add(column).Add(" LIKE ").Bind(pattern).Add(" ESCAPE ''");
  }
  Fragment ILike(std::string_view column, const std::string& pattern) const override {
    Fragment f;
    return f.Add(column).Add(" ILIKE ").Bind(pattern).Add(" ESCAPE ''");
  }
  Fragment LimitOffset(int64_t limit, int64_t offset) const override {
    Fragment f;
    if (limit < 0) {
      f.Add(" LIMIT ALL");
    } else {
      f.Add(" LIMIT ").Bind(limit);
    }
    return f.Add(" OFFSET ").Bind(offset);
  }
  std::string_view Flag(bool value) const override { return value ? "TRUE" : "FALSE"; }
  std::string_view InnerLoopJoin() const override { return "JOIN"; }
  std::string_view Greatest() const override { return "GREATEST"; }
  std::string_view Least() const override { return "LEAST"; }
  std::string_view RowLock() const override { return " FOR NO KEY UPDATE"; }
  std::string AfterExplicitKey(std::string_view table, std::string_view column) const override {
    const std::string t(table), c(column);
    return "SELECT setval(pg_get_serial_sequence('" + t + "', '" + c + "'), GREATEST(MAX(" + c +
           "), 1), MAX(" + c + ") >= 1) FROM " + t;
  }
  std::string TextOrder(std::string_view column) const override {
    return std::string(column) + " COLLATE \"C\"";
  }
  Fragment JsonArrayElements(std::string json_array, bool integers) const override {
    Fragment f;
    f.Add(integers ? "SELECT CAST(j.v AS BIGINT)" : "SELECT j.v")
        .Add(" FROM json_array_elements_text(CAST(")
        .Bind(std::move(json_array))
        .Add(" AS JSON)) AS j(v)");
    return f;
  }
};

}  // namespace

std::string_view SqlOperator(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return " = ";
    case CompareOp::kNe:
      return " != ";
    case CompareOp::kLt:
      return " < ";
    case CompareOp::kLe:
      return " <= ";
    case CompareOp::kGt:
      return " > ";
    case CompareOp::kGe:
      return " >= ";
    default:
      break;
  }
  ThrowInvalid("Comparator is not numeric");
}

namespace {

SqlValue NumberBind(double value) {
  if (std::nearbyint(value) == value && std::fabs(value) < 9.2e18) {
    return static_cast<int64_t>(value);
  }
  return value;
}

double NumberOf(const Comparison& c) {
  if (const auto* number = std::get_if<double>(&c.value)) return *number;
  ThrowInvalid("Expected a number to compare " + c.key + " with");
}

std::string_view DescSuffix(bool ascending) { return ascending ? "" : " DESC"; }

// `column op ?` for a string comparison; LIKE is case-sensitive, ILIKE is
// not (which letters fold is the dialect's: see SqlDialect).
Fragment StringCompare(const SqlDialect& d, std::string_view column, const Comparison& c) {
  Fragment f;
  const auto* one = std::get_if<std::string>(&c.value);
  const auto* list = std::get_if<std::vector<std::string>>(&c.value);
  const auto need_one = [&]() -> const std::string& {
    if (!one) ThrowInvalid("Expected one quoted string to compare " + c.key + " with");
    return *one;
  };
  switch (c.op) {
    case CompareOp::kEq:
      f.Add(column).Add(" = ").Bind(need_one());
      break;
    case CompareOp::kNe:
      f.Add(column).Add(" != ").Bind(need_one());
      break;
    case CompareOp::kLike:
      f.Add(d.Like(column, need_one()));
      break;
    case CompareOp::kILike:
      f.Add(d.ILike(column, need_one()));
      break;
    case CompareOp::kIn:
    case CompareOp::kNotIn: {
      if (!list || list->empty()) ThrowInvalid("Expected a list of values for IN / NOT IN");
      f.Add(column).Add(c.op == CompareOp::kIn ? " IN (" : " NOT IN (");
      for (size_t i = 0; i < list->size(); ++i) {
        if (i > 0) f.Add(", ");
        f.Bind((*list)[i]);
      }
      f.Add(")");
      break;
    }
    default:
      ThrowInvalid("Invalid comparator for string value of " + c.key);
  }
  return f;
}

Fragment NumericCompare(std::string_view column, const Comparison& c) {
  Fragment f;
  f.Add(column).Add(SqlOperator(c.op)).Bind(NumberBind(NumberOf(c)));
  return f;
}

// A metric value compared as MLflow does: NaN (flagged is_nan) fails every
// comparison but `!=`.
Fragment MetricCompare(const SqlDialect& d, const std::string& alias, const Comparison& c) {
  Fragment f;
  const double value = NumberOf(c);
  const std::string is_nan = alias + ".is_nan = ";
  if (c.op == CompareOp::kNe) {
    f.Add("(" + alias + ".value != ").Bind(value).Add(" OR " + is_nan).Add(d.Flag(true)).Add(")");
  } else {
    f.Add(alias + ".value")
        .Add(SqlOperator(c.op))
        .Bind(value)
        .Add(" AND " + is_nan)
        .Add(d.Flag(false));
  }
  return f;
}

}  // namespace

std::string JsonArray(const std::vector<int64_t>& ids) {
  std::string json = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) json += ',';
    json += std::to_string(ids[i]);
  }
  return json + "]";
}

std::string JsonArray(const std::vector<std::string>& ids) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string json = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) json += ',';
    json += '"';
    for (const char c : ids[i]) {
      const auto byte = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        json += '\\';
        json += c;
      } else if (byte < 0x20) {
        json += "\\u00";
        json += kHex[byte >> 4];
        json += kHex[byte & 0xf];
      } else {
        json += c;
      }
    }
    json += '"';
  }
  return json + "]";
}

std::optional<SqlFragment> VisibleCondition(const SqlDialect& d, std::string_view column,
                                            const Visibility& visible, bool integer_ids) {
  if (visible.IsAll()) return std::nullopt;
  std::string json;
  size_t count = visible.except.size();
  if (integer_ids) {
    std::vector<int64_t> ids;
    ids.reserve(visible.except.size());
    for (const std::string& id : visible.except) {
      if (auto parsed = tracking::ParseExperimentId(id)) ids.push_back(*parsed);
    }
    count = ids.size();
    json = JsonArray(ids);
  } else {
    json = JsonArray(visible.except);
  }
  Fragment f;
  if (count == 0) {
    if (visible.all_by_default) return std::nullopt;
    return f.Add("0 = 1");
  }
  f.Add(column).Add(visible.all_by_default ? " NOT IN (" : " IN (");
  return f.Add(d.JsonArrayElements(std::move(json), integer_ids)).Add(")");
}

namespace {

// The parts of one search, kept apart so that the placeholders of the final
// text come in the order their values were added: CTEs, joins, conditions.
class SearchBuilder {
 public:
  // `select_from` is e.g. "SELECT r.run_uuid FROM runs r"; `owner` is the
  // column that child tables key on, e.g. "r.run_pk".
  SearchBuilder(const SqlDialect& dialect, std::string select_from, std::string owner)
      : dialect_(dialect), select_from_(std::move(select_from)), owner_(std::move(owner)) {}

  const SqlDialect& dialect() const { return dialect_; }

  std::string NewAlias(std::string_view prefix) {
    return std::string(prefix) + std::to_string(next_alias_++);
  }

  void AddCte(const Fragment& cte) { ctes_.Add(ctes_.sql.empty() ? "WITH " : ", ").Add(cte); }
  void AddJoin(const Fragment& join) { joins_.Add(" ").Add(join); }
  void AddWhere(const Fragment& condition) { where_.push_back(condition); }
  void AddWhere(const std::optional<Fragment>& condition) {
    if (condition) AddWhere(*condition);
  }
  void AddOrder(std::string term) { order_.push_back(std::move(term)); }
  // An order term on a text column, in byte order on every engine.
  void AddTextOrder(std::string_view column, bool ascending) {
    AddOrder(dialect_.TextOrder(column) + std::string(DescSuffix(ascending)));
  }

  // A filter on a key/value child table (params, tags, ...) as an inner join,
  // which matches at most one row since (owner, key) is unique there.
  // Returns the join's alias, or nothing for IS [NOT] NULL.
  std::optional<std::string> AddKeyValueFilter(std::string_view table, std::string_view fk,
                                               const Comparison& c) {
    if (c.op == CompareOp::kIsNull || c.op == CompareOp::kIsNotNull) {
      Fragment f;
      f.Add(c.op == CompareOp::kIsNull ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ")
          .Add(table)
          .Add(" x WHERE x.")
          .Add(fk)
          .Add(" = " + owner_ + " AND x.key = ")
          .Bind(c.key)
          .Add(")");
      AddWhere(f);
      return std::nullopt;
    }
    const std::string alias = NewAlias("f");
    Fragment f;
    f.Add("JOIN ").Add(table).Add(" " + alias + " ON " + alias + ".").Add(fk);
    f.Add(" = " + owner_ + " AND " + alias + ".key = ").Bind(c.key).Add(" AND ");
    f.Add(StringCompare(dialect_, alias + ".value", c));
    AddJoin(f);
    return alias;
  }

  // Order by a key/value child table's value, rows without the key last.
  void AddKeyValueOrder(std::string_view table, std::string_view fk, const OrderTerm& term) {
    const std::string alias = NewAlias("o");
    Fragment f;
    f.Add("LEFT JOIN ").Add(table).Add(" " + alias + " ON " + alias + ".").Add(fk);
    f.Add(" = " + owner_ + " AND " + alias + ".key = ").Bind(term.key);
    AddJoin(f);
    AddOrder(alias + "." + std::string(fk) + " IS NULL");
    AddTextOrder(alias + ".value", term.ascending);
  }

  // Order by a metric read from `source` (a table with a `key` column to match
  // when `bind_key`, or a per-key CTE): values first, then NaN, then rows
  // without the metric, as MLflow does.
  void AddMetricOrder(std::string_view source, std::string_view fk, const OrderTerm& term,
                      bool bind_key) {
    const std::string alias = NewAlias("o");
    Fragment f;
    f.Add("LEFT JOIN ").Add(source).Add(" " + alias + " ON " + alias + ".").Add(fk);
    f.Add(" = " + owner_);
    if (bind_key) f.Add(" AND " + alias + ".key = ").Bind(term.key);
    AddJoin(f);
    AddOrder("CASE WHEN " + alias + ".is_nan = " + std::string(dialect_.Flag(true)) +
             " THEN 1 WHEN " + alias + "." + std::string(fk) + " IS NULL THEN 2 ELSE 0 END");
    AddOrder(alias + ".value" + std::string(DescSuffix(term.ascending)));
  }

  SqlQuery Build(int64_t offset, int64_t limit) const {
    Fragment q;
    if (!ctes_.sql.empty()) q.Add(ctes_).Add(" ");
    q.Add(select_from_).Add(joins_);
    for (size_t i = 0; i < where_.size(); ++i) {
      q.Add(i == 0 ? " WHERE " : " AND ").Add(where_[i]);
    }
    for (size_t i = 0; i < order_.size(); ++i) {
      q.Add(i == 0 ? " ORDER BY " : ", ").Add(order_[i]);
    }
    q.Add(dialect_.LimitOffset(limit, offset));
    return dialect_.Finish(std::move(q));
  }

 private:
  const SqlDialect& dialect_;
  std::string select_from_;
  std::string owner_;
  int next_alias_ = 0;
  Fragment ctes_;
  Fragment joins_;
  std::vector<Fragment> where_;
  std::vector<std::string> order_;
};

Fragment InIntegers(std::string_view column, const std::vector<int64_t>& ids) {
  Fragment f;
  if (ids.empty()) return f.Add("0 = 1");
  f.Add(column).Add(" IN (");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) f.Add(", ");
    f.Bind(ids[i]);
  }
  return f.Add(")");
}

void AddLifecycleCondition(SearchBuilder* b, std::string_view column, ViewType view) {
  if (view == ViewType::kAll) return;
  Fragment f;
  f.Add(column).Add(view == ViewType::kActiveOnly ? " = 'active'" : " = 'deleted'");
  b->AddWhere(f);
}

// A filter join whose value can stand in for an order term on the same key:
// the row is present, and for metrics not NaN.
using OrderableJoins = std::map<std::pair<EntityKind, std::string>, std::string>;

[[noreturn]] void ThrowBadEntity(std::string_view search, const std::string& key) {
  ThrowInvalid("Invalid search key for " + std::string(search) + ": " + key);
}

// --- runs ------------------------------------------------------------------

struct RunAttribute {
  std::string_view column;
  bool numeric;
  bool nullable;
};

RunAttribute RunAttributeColumn(const std::string& key) {
  if (key == "run_id") return {"r.run_uuid", false, false};
  if (key == "run_name") return {"r.name", false, false};
  if (key == "status") return {"r.status", false, false};
  if (key == "user_id") return {"r.user_id", false, false};
  if (key == "artifact_uri") return {"r.artifact_uri", false, false};
  if (key == "start_time") return {"r.start_time", true, false};
  if (key == "end_time") return {"r.end_time", true, true};
  ThrowBadEntity("runs", "attributes." + key);
}

std::string_view RunChildTable(EntityKind kind) {
  return kind == EntityKind::kParam ? "params" : "tags";
}

// `first_order` is the first order term, if any. A metric filter may drive
// the query from the latest_metrics (key, value) index only when the same
// metric is the first order term: the index then yields rows in order and
// LIMIT stops the scan early. Otherwise it is the dialect's InnerLoopJoin (a
// CROSS JOIN), which SQLite keeps as an inner loop: runs are walked (in
// start_time order through runs_by_experiment when that is the order,
// stopping after LIMIT matches) and each probes its metric by primary key.
// Left to itself without ANALYZE statistics, SQLite picks the index and sorts
// every match: at 100k runs, 0.1-0.4 s of CPU against under 0.1 s.
// PostgreSQL has no such hint and plans from its statistics.
void AddRunFilter(SearchBuilder* b, const Comparison& c, const OrderTerm* first_order,
                  OrderableJoins* orderable) {
  switch (c.kind) {
    case EntityKind::kMetric: {
      const bool indexable = first_order && first_order->kind == EntityKind::kMetric &&
                             first_order->key == c.key && c.op != CompareOp::kNe;
      const std::string alias = b->NewAlias("f");
      Fragment f;
      f.Add(indexable ? "JOIN" : b->dialect().InnerLoopJoin())
          .Add(" latest_metrics " + alias + " ON " + alias + ".run_pk = r.run_pk AND " + alias +
               ".key = ")
          .Bind(c.key)
          .Add(" AND ")
          .Add(MetricCompare(b->dialect(), alias, c));
      b->AddJoin(f);
      if (c.op != CompareOp::kNe) orderable->emplace(std::pair{c.kind, c.key}, alias);
      return;
    }
    case EntityKind::kParam:
    case EntityKind::kTag:
      if (auto alias = b->AddKeyValueFilter(RunChildTable(c.kind), "run_pk", c)) {
        orderable->emplace(std::pair{c.kind, c.key}, *alias);
      }
      return;
    case EntityKind::kAttribute: {
      const RunAttribute attr = RunAttributeColumn(c.key);
      b->AddWhere(attr.numeric ? NumericCompare(attr.column, c)
                               : StringCompare(b->dialect(), attr.column, c));
      return;
    }
    case EntityKind::kDataset: {
      Fragment f;
      if (c.key == "context") {
        f.Add("EXISTS (SELECT 1 FROM run_input_tags dt WHERE dt.run_pk = r.run_pk AND dt.key = ")
            .Bind(std::string("mlflow.data.context"))
            .Add(" AND ")
            .Add(StringCompare(b->dialect(), "dt.value", c));
      } else if (c.key == "name" || c.key == "digest") {
        f.Add(
             "EXISTS (SELECT 1 FROM run_inputs di JOIN datasets d ON d.dataset_pk = "
             "di.dataset_pk WHERE di.run_pk = r.run_pk AND ")
            .Add(StringCompare(b->dialect(), "d." + c.key, c));
      } else {
        ThrowBadEntity("runs", "datasets." + c.key);
      }
      b->AddWhere(f.Add(")"));
      return;
    }
  }
}

void AddRunOrder(SearchBuilder* b, const OrderTerm& term, const OrderableJoins& orderable) {
  const auto joined = orderable.find({term.kind, term.key});
  switch (term.kind) {
    case EntityKind::kAttribute: {
      const RunAttribute attr = RunAttributeColumn(term.key);
      if (attr.nullable) b->AddOrder(std::string(attr.column) + " IS NULL");
      if (attr.numeric) {
        b->AddOrder(std::string(attr.column) + std::string(DescSuffix(term.ascending)));
      } else {
        b->AddTextOrder(attr.column, term.ascending);
      }
      return;
    }
    case EntityKind::kMetric:
    case EntityKind::kParam:
    case EntityKind::kTag:
      if (joined != orderable.end() && term.kind == EntityKind::kMetric) {
        b->AddOrder(joined->second + ".value" + std::string(DescSuffix(term.ascending)));
      } else if (joined != orderable.end()) {
        b->AddTextOrder(joined->second + ".value", term.ascending);
      } else if (term.kind == EntityKind::kMetric) {
        b->AddMetricOrder("latest_metrics", "run_pk", term, /*bind_key=*/true);
      } else {
        b->AddKeyValueOrder(RunChildTable(term.kind), "run_pk", term);
      }
      return;
    case EntityKind::kDataset:
      break;
  }
  ThrowInvalid("Invalid identifier type 'dataset' in order_by: runs cannot be ordered by datasets");
}

// --- logged models -----------------------------------------------------------

struct ModelAttribute {
  std::string_view column;
  bool numeric;
  bool nullable;
};

ModelAttribute ModelAttributeColumn(const std::string& key) {
  if (key == "name") return {"m.name", false, false};
  if (key == "model_id") return {"m.model_id", false, false};
  if (key == "model_type") return {"m.model_type", false, true};
  if (key == "status") return {"m.status", false, false};
  if (key == "source_run_id") return {"m.source_run_id", false, true};
  // The parser gives canonical keys; MLflow's aliases are accepted too, for
  // order terms made without tracking::ParseLoggedModelOrderBy.
  if (key == "creation_timestamp" || key == "creation_time" || key == "creation_timestamp_ms") {
    return {"m.creation_timestamp_ms", true, false};
  }
  if (key == "last_updated_timestamp" || key == "last_updated_time" ||
      key == "last_updated_timestamp_ms") {
    return {"m.last_updated_timestamp_ms", true, false};
  }
  ThrowBadEntity("logged models", "attributes." + key);
}

std::string_view ModelChildTable(EntityKind kind) {
  return kind == EntityKind::kParam ? "logged_model_params" : "logged_model_tags";
}

// The latest point (highest timestamp, then step) of one metric key per
// model, as MLflow's order-by subquery picks it.
// `(dataset_name = ? AND dataset_digest = ?) OR (dataset_name = ?) ...`:
// a metric logged against one of the datasets of a logged-model search.
Fragment OnDatasets(const std::vector<tracking::DatasetRef>& datasets) {
  Fragment f;
  f.Add("(");
  for (size_t i = 0; i < datasets.size(); ++i) {
    f.Add(i ? " OR (dataset_name = " : "(dataset_name = ").Bind(datasets[i].name);
    if (datasets[i].digest) f.Add(" AND dataset_digest = ").Bind(*datasets[i].digest);
    f.Add(")");
  }
  f.Add(")");
  return f;
}

Fragment LatestModelMetricCte(const std::string& name, const std::string& key,
                              const std::vector<tracking::DatasetRef>& datasets) {
  Fragment f;
  f.Add(name +
        " AS (SELECT model_id, value, is_nan FROM (SELECT model_id, value, is_nan, ROW_NUMBER() "
        "OVER (PARTITION BY model_id ORDER BY timestamp DESC, step DESC, run_pk, value DESC) AS "
        "rn FROM metrics WHERE model_id IS NOT NULL AND key = ")
      .Bind(key);
  if (!datasets.empty()) f.Add(" AND ").Add(OnDatasets(datasets));
  f.Add(") AS ranked WHERE rn = 1)");
  return f;
}

// --- model registry ----------------------------------------------------------

// MLflow keeps prompts in the registry as models whose tag
// mlflow.prompt.is_prompt is 'true', and searches leave them out unless the
// first clause on that tag is `= 'true'` or `!= 'false'` (in any case). When
// they are left out, every clause on the tag is dropped: `= 'false'` matches
// all models that are not prompts, tagged or not.
constexpr std::string_view kPromptTagKey = "mlflow.prompt.is_prompt";

bool AsksForPrompts(const tracking::Filter& filter) {
  for (const Comparison& c : filter.clauses) {
    if (c.kind != EntityKind::kTag || c.key != kPromptTagKey) continue;
    const auto* value = std::get_if<std::string>(&c.value);
    if (!value) return false;
    std::string lower = *value;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return (c.op == CompareOp::kEq && lower == "true") ||
           (c.op == CompareOp::kNe && lower == "false");
  }
  return false;
}

bool IsPromptClause(const Comparison& c) {
  return c.kind == EntityKind::kTag && c.key == kPromptTagKey;
}

// Leaves out prompts: one primary-key probe of registered_model_tags per model.
Fragment NotPromptModel() {
  Fragment f;
  f.Add("NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.name = m.name AND p.key = ")
      .Bind(std::string(kPromptTagKey))
      .Add(" AND p.value = ")
      .Bind(std::string("true"))
      .Add(")");
  return f;
}

// Leaves out versions of prompts, a name being a prompt when any of its
// versions has the tag. model_version_tags is keyed (name, version, key), so
// a per-version probe would read every tag of every version of the name; the
// names are listed once instead (at 3000 versions of one model, 5 ms against
// 3.6 s).
Fragment NotPromptVersion() {
  Fragment f;
  f.Add("v.name NOT IN (SELECT p.name FROM model_version_tags p WHERE p.key = ")
      .Bind(std::string(kPromptTagKey))
      .Add(" AND p.value = ")
      .Bind(std::string("true"))
      .Add(")");
  return f;
}

std::string_view RegisteredModelOrderColumn(const OrderTerm& term) {
  if (term.kind == EntityKind::kAttribute) {
    if (term.key == "name") return "m.name";
    if (term.key == "last_updated_timestamp" || term.key == "timestamp") {
      return "m.last_updated_timestamp";
    }
  }
  ThrowInvalid("Invalid order by key '" + term.key + "' for registered models");
}

std::string_view ModelVersionFilterColumn(const std::string& key) {
  if (key == "name") return "v.name";
  if (key == "run_id") return "v.run_id";
  if (key == "source_path") return "v.source";
  ThrowBadEntity("model versions", key);
}

std::string_view ModelVersionOrderColumn(const OrderTerm& term) {
  if (term.kind == EntityKind::kAttribute) {
    if (term.key == "name") return "v.name";
    if (term.key == "version_number") return "v.version";
    if (term.key == "creation_timestamp") return "v.creation_timestamp";
    if (term.key == "last_updated_timestamp") return "v.last_updated_timestamp";
  }
  ThrowInvalid("Invalid order by key '" + term.key + "' for model versions");
}

// A tag filter as an inner join; (name, version, key) is unique in the table.
void AddModelVersionTagFilter(SearchBuilder* b, const Comparison& c) {
  const std::string alias = b->NewAlias("f");
  Fragment f;
  f.Add("JOIN model_version_tags " + alias + " ON " + alias + ".name = v.name AND " + alias +
        ".version = v.version AND " + alias + ".key = ")
      .Bind(c.key)
      .Add(" AND ")
      .Add(StringCompare(b->dialect(), alias + ".value", c));
  b->AddJoin(f);
}

}  // namespace

SqlQuery BuildRunSearch(const SqlDialect& dialect, const std::vector<int64_t>& experiment_ids,
                        ViewType view, const tracking::Filter& filter,
                        const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                        int64_t limit) {
  SearchBuilder b(dialect, "SELECT r.run_uuid FROM runs r", "r.run_pk");
  b.AddWhere(InIntegers("r.experiment_id", experiment_ids));
  AddLifecycleCondition(&b, "r.lifecycle_stage", view);
  OrderableJoins orderable;
  const OrderTerm* first_order = order_by.empty() ? nullptr : &order_by.front();
  for (const Comparison& c : filter.clauses) AddRunFilter(&b, c, first_order, &orderable);
  bool ordered_by_start_time = false;
  for (const OrderTerm& term : order_by) {
    AddRunOrder(&b, term, orderable);
    ordered_by_start_time |= term.kind == EntityKind::kAttribute && term.key == "start_time";
  }
  if (!ordered_by_start_time) b.AddOrder("r.start_time DESC");
  b.AddTextOrder("r.run_uuid", true);
  return b.Build(offset, limit);
}

SqlQuery BuildExperimentSearch(const SqlDialect& dialect, ViewType view,
                               const tracking::Filter& filter,
                               const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                               int64_t limit, const Visibility& visible) {
  SearchBuilder b(dialect, "SELECT e.experiment_id FROM experiments e", "e.experiment_id");
  AddLifecycleCondition(&b, "e.lifecycle_stage", view);
  for (const Comparison& c : filter.clauses) {
    if (c.kind == EntityKind::kTag) {
      b.AddKeyValueFilter("experiment_tags", "experiment_id", c);
    } else if (c.kind != EntityKind::kAttribute) {
      ThrowBadEntity("experiments", c.key);
    } else if (c.key == "name") {
      b.AddWhere(StringCompare(dialect, "e.name", c));
    } else if (c.key == "creation_time" || c.key == "last_update_time") {
      b.AddWhere(NumericCompare("e." + c.key, c));
    } else if (c.key == "experiment_id") {
      // Integers, checked by the parser; compared as integers so the primary key serves.
      std::vector<std::string> ids;
      if (const auto* one = std::get_if<std::string>(&c.value)) ids.push_back(*one);
      if (const auto* list = std::get_if<std::vector<std::string>>(&c.value)) ids = *list;
      Fragment f;
      f.Add("e.experiment_id");
      switch (c.op) {
        case CompareOp::kEq:
          f.Add(" = ");
          break;
        case CompareOp::kNe:
          f.Add(" != ");
          break;
        case CompareOp::kIn:
          f.Add(" IN (");
          break;
        case CompareOp::kNotIn:
          f.Add(" NOT IN (");
          break;
        default:
          ThrowInvalid("Invalid comparator for experiment_id");
      }
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) f.Add(", ");
        try {
          f.Bind(static_cast<int64_t>(std::stoll(ids[i])));
        } catch (const std::exception&) {
          ThrowInvalid("Invalid experiment ID '" + ids[i] +
                       "'. Experiment ID must be a valid integer.");
        }
      }
      if (c.op == CompareOp::kIn || c.op == CompareOp::kNotIn) f.Add(")");
      b.AddWhere(f);
    } else {
      ThrowBadEntity("experiments", c.key);
    }
  }
  b.AddWhere(VisibleCondition(dialect, "e.experiment_id", visible, /*integer_ids=*/true));
  if (order_by.empty()) {
    b.AddOrder("e.creation_time DESC");
    b.AddOrder("e.experiment_id");
  } else {
    bool ordered_by_id = false;
    for (const OrderTerm& term : order_by) {
      if (term.kind != EntityKind::kAttribute ||
          (term.key != "name" && term.key != "experiment_id" && term.key != "creation_time" &&
           term.key != "last_update_time")) {
        ThrowInvalid("Invalid order_by entity for experiments: " + term.key);
      }
      if (term.key == "name") {
        b.AddTextOrder("e.name", term.ascending);
      } else {
        b.AddOrder("e." + term.key + std::string(DescSuffix(term.ascending)));
      }
      ordered_by_id |= term.key == "experiment_id";
    }
    if (!ordered_by_id) b.AddOrder("e.experiment_id DESC");
  }
  return b.Build(offset, limit);
}

SqlQuery BuildLoggedModelSearch(const SqlDialect& dialect,
                                const std::vector<int64_t>& experiment_ids,
                                const tracking::Filter& filter,
                                const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                                int64_t limit) {
  SearchBuilder b(dialect, "SELECT m.model_id FROM logged_models m", "m.model_id");
  std::map<std::string, std::string> metric_ctes;  // metric key -> CTE name
  const auto cte_for = [&](const std::string& key) {
    auto it = metric_ctes.find(key);
    if (it == metric_ctes.end()) {
      const std::string name = "lm" + std::to_string(metric_ctes.size());
      b.AddCte(LatestModelMetricCte(name, key, filter.datasets));
      it = metric_ctes.emplace(key, name).first;
    }
    return it->second;
  };
  for (const Comparison& c : filter.clauses) {
    if (c.kind == EntityKind::kMetric) cte_for(c.key);
  }
  for (const OrderTerm& term : order_by) {
    if (term.kind == EntityKind::kMetric) cte_for(term.key);
  }

  b.AddWhere(InIntegers("m.experiment_id", experiment_ids));
  b.AddWhere(Fragment{"m.lifecycle_stage != 'deleted'", {}});
  const bool metric_clauses =
      std::any_of(filter.clauses.begin(), filter.clauses.end(),
                  [](const Comparison& c) { return c.kind == EntityKind::kMetric; });
  if (!filter.datasets.empty() && !metric_clauses) {
    // As MLflow: datasets without metric clauses keep the models that have
    // a metric logged against one of them.
    Fragment f;
    f.Add("EXISTS (SELECT 1 FROM metrics d WHERE d.model_id = m.model_id AND ")
        .Add(OnDatasets(filter.datasets))
        .Add(")");
    b.AddWhere(f);
  }
  OrderableJoins orderable;
  for (const Comparison& c : filter.clauses) {
    switch (c.kind) {
      case EntityKind::kMetric: {
        const std::string alias = b.NewAlias("f");
        Fragment f;
        f.Add("JOIN " + cte_for(c.key) + " " + alias + " ON " + alias +
              ".model_id = m.model_id AND ")
            .Add(MetricCompare(dialect, alias, c));
        b.AddJoin(f);
        if (c.op != CompareOp::kNe) orderable.emplace(std::pair{c.kind, c.key}, alias);
        break;
      }
      case EntityKind::kParam:
      case EntityKind::kTag:
        b.AddKeyValueFilter(ModelChildTable(c.kind), "model_id", c);
        break;
      case EntityKind::kAttribute: {
        const ModelAttribute attr = ModelAttributeColumn(c.key);
        b.AddWhere(attr.numeric ? NumericCompare(attr.column, c)
                                : StringCompare(dialect, attr.column, c));
        break;
      }
      case EntityKind::kDataset:
        ThrowBadEntity("logged models", "datasets." + c.key);
    }
  }

  bool ordered_by_creation = false;
  bool ordered_by_id = false;
  for (const OrderTerm& term : order_by) {
    if (term.kind == EntityKind::kMetric) {
      const auto joined = orderable.find({term.kind, term.key});
      if (joined != orderable.end()) {
        b.AddOrder(joined->second + ".value" + std::string(DescSuffix(term.ascending)));
      } else {
        b.AddMetricOrder(cte_for(term.key), "model_id", term, /*bind_key=*/false);
      }
    } else if (term.kind == EntityKind::kAttribute) {
      const ModelAttribute attr = ModelAttributeColumn(term.key);
      if (attr.nullable) b.AddOrder(std::string(attr.column) + " IS NULL");
      if (attr.numeric) {
        b.AddOrder(std::string(attr.column) + std::string(DescSuffix(term.ascending)));
      } else {
        b.AddTextOrder(attr.column, term.ascending);
      }
      ordered_by_creation |= attr.column == "m.creation_timestamp_ms";
      ordered_by_id |= term.key == "model_id";
    } else {
      ThrowInvalid(
          "Invalid order by field name: logged models are ordered by attributes or "
          "metrics, not " +
          term.key);
    }
  }
  if (!ordered_by_creation) b.AddOrder("m.creation_timestamp_ms DESC");
  if (!ordered_by_id) b.AddTextOrder("m.model_id", true);
  return b.Build(offset, limit);
}

SqlQuery BuildRegisteredModelSearch(const SqlDialect& dialect, const tracking::Filter& filter,
                                    const std::vector<tracking::OrderTerm>& order_by,
                                    int64_t offset, int64_t limit, const Visibility& visible) {
  SearchBuilder b(dialect, "SELECT m.name FROM registered_models m", "m.name");
  const bool prompts = AsksForPrompts(filter);
  for (const Comparison& c : filter.clauses) {
    if (c.kind == EntityKind::kTag) {
      if (!prompts && IsPromptClause(c)) continue;
      b.AddKeyValueFilter("registered_model_tags", "name", c);
    } else if (c.kind == EntityKind::kAttribute && c.key == "name") {
      b.AddWhere(StringCompare(dialect, "m.name", c));
    } else {
      ThrowBadEntity("registered models", c.key);
    }
  }
  if (!prompts) b.AddWhere(NotPromptModel());
  b.AddWhere(VisibleCondition(dialect, "m.name", visible, /*integer_ids=*/false));
  bool ordered_by_name = false;
  for (const OrderTerm& term : order_by) {
    const std::string_view column = RegisteredModelOrderColumn(term);
    if (column == "m.name") {
      b.AddTextOrder(column, term.ascending);
    } else {
      b.AddOrder(std::string(column) + std::string(DescSuffix(term.ascending)));
    }
    ordered_by_name |= column == "m.name";
  }
  if (!ordered_by_name) b.AddTextOrder("m.name", true);
  return b.Build(offset, limit);
}

SqlQuery BuildModelVersionSearch(const SqlDialect& dialect, const tracking::Filter& filter,
                                 const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                                 int64_t limit, const Visibility& visible) {
  SearchBuilder b(dialect, "SELECT v.name, v.version FROM model_versions v", "v.name");
  b.AddWhere(Fragment{"v.current_stage != 'Deleted_Internal'", {}});
  const bool prompts = AsksForPrompts(filter);
  for (const Comparison& c : filter.clauses) {
    if (c.kind == EntityKind::kTag) {
      if (!prompts && IsPromptClause(c)) continue;
      AddModelVersionTagFilter(&b, c);
    } else if (c.kind == EntityKind::kAttribute && c.key == "version_number") {
      b.AddWhere(NumericCompare("v.version", c));
    } else if (c.kind == EntityKind::kAttribute) {
      b.AddWhere(StringCompare(dialect, ModelVersionFilterColumn(c.key), c));
    } else {
      ThrowBadEntity("model versions", c.key);
    }
  }
  if (!prompts) b.AddWhere(NotPromptVersion());
  b.AddWhere(VisibleCondition(dialect, "v.name", visible, /*integer_ids=*/false));
  static const std::vector<OrderTerm> kDefaultOrder = {
      {EntityKind::kAttribute, "last_updated_timestamp", false},
      {EntityKind::kAttribute, "name", true},
      {EntityKind::kAttribute, "version_number", false}};
  bool ordered_by_name = false;
  bool ordered_by_version = false;
  for (const OrderTerm& term : order_by.empty() ? kDefaultOrder : order_by) {
    const std::string_view column = ModelVersionOrderColumn(term);
    if (column == "v.name") {
      b.AddTextOrder(column, term.ascending);
    } else {
      b.AddOrder(std::string(column) + std::string(DescSuffix(term.ascending)));
    }
    ordered_by_name |= column == "v.name";
    ordered_by_version |= column == "v.version";
  }
  if (!ordered_by_name) b.AddTextOrder("v.name", true);
  if (!ordered_by_version) b.AddOrder("v.version DESC");
  return b.Build(offset, limit);
}

SqlQuery BuildDatasetList(const SqlDialect& dialect, const Visibility& visible) {
  Fragment q;
  q.Add(
      "SELECT d.name, d.latest_version, (SELECT COUNT(*) FROM data_versions v WHERE v.name = "
      "d.name), d.created_ms, d.updated_ms FROM data_datasets d");
  if (auto visible_only = VisibleCondition(dialect, "d.name", visible, /*integer_ids=*/false)) {
    q.Add(" WHERE ").Add(*visible_only);
  }
  q.Add(" ORDER BY ").Add(dialect.TextOrder("d.name"));
  return dialect.Finish(std::move(q));
}

const SqlDialect& SqlDialect::Sqlite() {
  static const SqliteDialect dialect;
  return dialect;
}

const SqlDialect& SqlDialect::Postgres() {
  static const PostgresDialect dialect;
  return dialect;
}

SqlQuery SqlDialect::Finish(SqlFragment fragment) const {
  SqlQuery query;
  query.sql.reserve(fragment.sql.size() + fragment.binds.size() * 3);
  size_t placeholders = 0;
  for (const char c : fragment.sql) {
    if (c == '?') {
      query.sql += Placeholder(++placeholders);
    } else {
      query.sql += c;
    }
  }
  if (placeholders != fragment.binds.size()) {
    throw Error(ErrorCode::kInternalError, "search SQL has " + std::to_string(placeholders) +
                                               " placeholders for " +
                                               std::to_string(fragment.binds.size()) + " values");
  }
  query.binds = std::move(fragment.binds);
  return query;
}

}  // namespace slipway::store
