// The definitions of SqlGenaiStore (sql_genai_store.h), included by the one file of each
// engine that instantiates it.
#pragma once

#include "core/error.h"
#include "genai/dataset_records.h"
#include "genai/issue_service.h"
#include "store/sql_genai_search.h"
#include "store/sql_genai_store.h"
#include "store/sqlite_paging.h"

namespace slipway::store {

using genai::DatasetRecord;
using genai::EvaluationDataset;
using genai::Issue;
using genai::Json;
using genai::ScorerVersion;

namespace sql_genai_store {

inline std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <class Row>
std::optional<std::string> OptionalText(const Row& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  return row.Text(column);
}

template <class Row>
std::optional<Json> OptionalJson(const Row& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  return Json::parse(row.Text(column), nullptr, /*allow_exceptions=*/false);
}

template <class Row>
void BindOptional(Row& statement, int index, const std::optional<std::string>& value) {
  if (value) {
    statement.Bind(index, *value);
  } else {
    statement.BindNull(index);
  }
}

constexpr const char* kDatasetColumns =
    "SELECT dataset_id, name, schema, profile, digest, created_time, last_update_time, "
    "created_by, last_updated_by FROM evaluation_datasets ";

template <class Session>
std::optional<EvaluationDataset> ReadDataset(Session& db, const std::string& dataset_id) {
  auto row = db.Prepare(std::string(kDatasetColumns) + "WHERE dataset_id = ?");
  row.Bind(1, dataset_id);
  if (!row.Step()) return std::nullopt;
  EvaluationDataset d;
  d.dataset_id = row.Text(0);
  d.name = row.Text(1);
  d.schema = OptionalText(row, 2);
  d.profile = OptionalText(row, 3);
  d.digest = row.Text(4);
  d.created_time = row.Int(5);
  d.last_update_time = row.Int(6);
  d.created_by = OptionalText(row, 7);
  d.last_updated_by = OptionalText(row, 8);
  auto tags = db.Prepare("SELECT key, value FROM evaluation_dataset_tags WHERE dataset_id = ?");
  tags.Bind(1, dataset_id);
  while (tags.Step()) d.tags[tags.Text(0)] = tags.Text(1);
  auto links = db.Prepare(
      "SELECT experiment_id FROM evaluation_dataset_experiments WHERE dataset_id = ? "
      "ORDER BY created_time, link_pk");
  links.Bind(1, dataset_id);
  while (links.Step()) d.experiment_ids.push_back(std::to_string(links.Int(0)));
  return d;
}

template <class Session>
bool DatasetExists(Session& db, const std::string& dataset_id) {
  auto row = db.Prepare("SELECT 1 FROM evaluation_datasets WHERE dataset_id = ?");
  row.Bind(1, dataset_id);
  return row.Step();
}

template <class Session>
void RequireDataset(Session& db, const std::string& dataset_id) {
  if (!DatasetExists(db, dataset_id)) {
    ThrowNotFound("Evaluation dataset with id '" + dataset_id + "' not found");
  }
}

template <class Session>
void PutTags(Session& db, const std::string& dataset_id,
             const std::map<std::string, std::string>& tags) {
  for (const auto& [key, value] : tags) {
    db.Prepare(
          "INSERT INTO evaluation_dataset_tags (dataset_id, key, value) VALUES (?, ?, ?) "
          "ON CONFLICT (dataset_id, key) DO UPDATE SET value = excluded.value")
        .Bind(1, dataset_id)
        .Bind(2, key)
        .Bind(3, value)
        .Run();
  }
}

template <class Session>
void LinkExperiments(Session& db, const std::string& dataset_id,
                     const std::vector<std::string>& experiment_ids, int64_t now) {
  for (const std::string& id : experiment_ids) {
    db.Prepare(
          "INSERT INTO evaluation_dataset_experiments (dataset_id, experiment_id, created_time) "
          "VALUES (?, ?, ?) ON CONFLICT (dataset_id, experiment_id) DO NOTHING")
        .Bind(1, dataset_id)
        .Bind(2, static_cast<int64_t>(std::stoll(id)))
        .Bind(3, now)
        .Run();
  }
}

constexpr const char* kRecordColumns =
    "SELECT dataset_record_id, dataset_id, inputs, outputs, expectations, tags, source, "
    "source_type, source_id, created_time, last_update_time, created_by, last_updated_by, "
    "record_pk FROM evaluation_dataset_records ";

template <class Row>
DatasetRecord ReadRecord(const Row& row) {
  DatasetRecord r;
  r.dataset_record_id = row.Text(0);
  r.dataset_id = row.Text(1);
  r.inputs = OptionalJson(row, 2).value_or(Json::object());
  r.outputs = OptionalJson(row, 3);
  r.expectations = OptionalJson(row, 4);
  r.tags = OptionalJson(row, 5).value_or(Json::object());
  r.source = OptionalJson(row, 6);
  r.source_type = row.Text(7);
  r.source_id = row.Text(8);
  r.created_time = row.Int(9);
  r.last_update_time = row.Int(10);
  r.created_by = OptionalText(row, 11);
  r.last_updated_by = OptionalText(row, 12);
  return r;
}

template <class Row>
void BindRecordBody(Row& s, const DatasetRecord& r) {
  s.Bind(1, Dump(r.inputs));
  BindOptional(s, 2, r.outputs ? std::optional<std::string>(Dump(*r.outputs)) : std::nullopt);
  BindOptional(s, 3,
               r.expectations ? std::optional<std::string>(Dump(*r.expectations)) : std::nullopt);
  s.Bind(4, Dump(r.tags));
  s.Bind(5, r.last_update_time);
  BindOptional(s, 6, r.last_updated_by);
}

template <class Session>
void UpdateProfile(Session& db, const std::string& dataset_id) {
  auto count = db.Prepare("SELECT COUNT(*) FROM evaluation_dataset_records WHERE dataset_id = ?");
  count.Bind(1, dataset_id);
  count.Step();
  const int64_t n = count.Int(0);
  auto update = db.Prepare("UPDATE evaluation_datasets SET profile = ? WHERE dataset_id = ?");
  // No records: no profile (MLflow writes the text "null" here).
  BindOptional(update, 1, n > 0 ? std::optional<std::string>(genai::ProfileOf(n)) : std::nullopt);
  update.Bind(2, dataset_id);
  update.Run();
}

// ------------------------------------------------------------------ issues

constexpr const char* kIssueColumns =
    "SELECT i.issue_id, i.experiment_id, i.name, i.description, i.status, i.severity, "
    "i.root_causes, i.categories, i.source_run_id, i.created_timestamp, "
    "i.last_updated_timestamp, i.created_by, "
    // The traces an issue affects carry an assessment of kind "issue" named by its id.
    "(SELECT COUNT(DISTINCT a.trace_pk) FROM assessments a WHERE a.name = i.issue_id AND "
    "a.kind = 'issue') FROM issues i ";

inline std::vector<std::string> StringList(const std::string& json) {
  std::vector<std::string> out;
  Json parsed = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return out;
  for (const Json& item : parsed) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

template <class Row>
Issue ReadIssue(const Row& row) {
  Issue issue;
  issue.issue_id = row.Text(0);
  issue.experiment_id = std::to_string(row.Int(1));
  issue.name = row.Text(2);
  issue.description = row.Text(3);
  issue.status = row.Text(4);
  issue.severity = row.Text(5);
  issue.root_causes = StringList(row.Text(6));
  issue.categories = StringList(row.Text(7));
  issue.source_run_id = row.Text(8);
  issue.created_timestamp = row.Int(9);
  issue.last_updated_timestamp = row.Int(10);
  issue.created_by = row.Text(11);
  issue.trace_count = row.Int(12);
  return issue;
}

inline std::optional<std::string> NonEmpty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

// ------------------------------------------------------------------ scorers

constexpr const char* kScorerColumns =
    "SELECT s.scorer_id, s.experiment_id, s.name, v.version, v.serialized_scorer, "
    "v.creation_time FROM scorers s JOIN scorer_versions v ON v.scorer_id = s.scorer_id ";

template <class Row>
ScorerVersion ReadScorer(const Row& row) {
  ScorerVersion v;
  v.scorer_id = row.Text(0);
  v.experiment_id = std::to_string(row.Int(1));
  v.name = row.Text(2);
  v.version = row.Int(3);
  v.serialized_scorer = row.Text(4);
  v.creation_time = row.Int(5);
  return v;
}

template <class Session>
std::vector<ScorerVersion> ReadScorers(Session& db, const SqlQuery& sql) {
  auto rows = db.Prepare(sql.sql);
  BindAll(rows, sql.binds);
  std::vector<ScorerVersion> out;
  while (rows.Step()) out.push_back(ReadScorer(rows));
  return out;
}

template <class Session>
std::optional<std::string> ScorerIdOf(Session& db, const std::string& experiment_id,
                                      const std::string& name) {
  auto row = db.Prepare("SELECT scorer_id FROM scorers WHERE experiment_id = ? AND name = ?");
  row.Bind(1, static_cast<int64_t>(std::stoll(experiment_id))).Bind(2, name);
  if (!row.Step()) return std::nullopt;
  return row.Text(0);
}

}  // namespace sql_genai_store

template <class Engine>
void SqlGenaiStore<Engine>::CreateDataset(const EvaluationDataset& d) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row insert = db.Prepare(
        "INSERT INTO evaluation_datasets (dataset_id, name, schema, profile, digest, "
        "created_time, last_update_time, created_by, last_updated_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, d.dataset_id).Bind(2, d.name);
    sql_genai_store::BindOptional(insert, 3, d.schema);
    sql_genai_store::BindOptional(insert, 4, d.profile);
    insert.Bind(5, d.digest).Bind(6, d.created_time).Bind(7, d.last_update_time);
    sql_genai_store::BindOptional(insert, 8, d.created_by);
    sql_genai_store::BindOptional(insert, 9, d.last_updated_by);
    insert.Run();
    sql_genai_store::PutTags(db, d.dataset_id, d.tags);
    sql_genai_store::LinkExperiments(db, d.dataset_id, d.experiment_ids, d.created_time);
  });
}

template <class Engine>
std::optional<EvaluationDataset> SqlGenaiStore<Engine>::GetDataset(const std::string& dataset_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return sql_genai_store::ReadDataset(db, dataset_id);
  });
}

template <class Engine>
bool SqlGenaiStore<Engine>::DeleteDataset(const std::string& dataset_id) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    for (const char* table : {"evaluation_dataset_records", "evaluation_dataset_tags",
                              "evaluation_dataset_experiments"}) {
      typename Engine::Row del =
          db.Prepare(std::string("DELETE FROM ") + table + " WHERE dataset_id = ?");
      del.Bind(1, dataset_id);
      del.Run();
    }
    typename Engine::Row del = db.Prepare("DELETE FROM evaluation_datasets WHERE dataset_id = ?");
    del.Bind(1, dataset_id);
    del.Run();
    deleted = db.Changes() > 0;
  });
  return deleted;
}

template <class Engine>
tracking::PageOf<EvaluationDataset> SqlGenaiStore<Engine>::SearchDatasets(
    const genai::DatasetQuery& query, tracking::Page page) {
  // One row more than the page says whether another page follows.
  SqlQuery sql =
      BuildEvaluationDatasetSearch(Engine::Dialect(), query, page.limit + 1, page.offset);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return LoadPage<EvaluationDataset>(
        db, sql, page, [](const typename Engine::Row& row) { return row.Text(0); },
        [](typename Engine::Session& c, const std::string& id) {
          return sql_genai_store::ReadDataset(c, id);
        });
  });
}

template <class Engine>
void SqlGenaiStore<Engine>::SetDatasetTags(const std::string& dataset_id,
                                           const std::map<std::string, std::string>& tags) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_genai_store::RequireDataset(db, dataset_id);
    sql_genai_store::PutTags(db, dataset_id, tags);
  });
}

template <class Engine>
bool SqlGenaiStore<Engine>::DeleteDatasetTag(const std::string& dataset_id,
                                             const std::string& key) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row del =
        db.Prepare("DELETE FROM evaluation_dataset_tags WHERE dataset_id = ? AND key = ?");
    del.Bind(1, dataset_id).Bind(2, key);
    del.Run();
    deleted = db.Changes() > 0;
  });
  return deleted;
}

template <class Engine>
genai::UpsertCounts SqlGenaiStore<Engine>::UpsertRecords(const std::string& dataset_id,
                                                         const std::vector<Json>& records,
                                                         int64_t now) {
  genai::UpsertCounts counts;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    counts = {};  // a retried write starts over
    std::optional<EvaluationDataset> dataset = sql_genai_store::ReadDataset(db, dataset_id);
    if (!dataset) ThrowNotFound("Evaluation dataset with id '" + dataset_id + "' not found");
    for (const Json& incoming : records) {
      const std::string key = genai::InputsKey(incoming.value("inputs", Json::object()));
      // (a record earlier in this batch counts: the lookup sees this write)
      std::optional<DatasetRecord> existing;
      int64_t pk = 0;
      {
        typename Engine::Row find = db.Prepare(std::string(sql_genai_store::kRecordColumns) +
                                               "WHERE dataset_id = ? AND input_hash = ?");
        find.Bind(1, dataset_id).Bind(2, key);
        if (find.Step()) {
          existing = sql_genai_store::ReadRecord(find);
          pk = find.Int(13);
        }
      }
      if (existing) {
        genai::MergeRecord(*existing, incoming, now);
        typename Engine::Row update = db.Prepare(
            "UPDATE evaluation_dataset_records SET inputs = ?, outputs = ?, expectations = ?, "
            "tags = ?, last_update_time = ?, last_updated_by = ? WHERE record_pk = ?");
        sql_genai_store::BindRecordBody(update, *existing);
        update.Bind(7, pk);
        update.Run();
        ++counts.updated;
      } else {
        DatasetRecord record = genai::NewRecord(incoming, dataset_id, now);
        typename Engine::Row insert = db.Prepare(
            "INSERT INTO evaluation_dataset_records (inputs, outputs, expectations, tags, "
            "last_update_time, last_updated_by, dataset_record_id, dataset_id, input_hash, "
            "source, source_type, source_id, created_time, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        sql_genai_store::BindRecordBody(insert, record);
        insert.Bind(7, record.dataset_record_id).Bind(8, dataset_id).Bind(9, key);
        sql_genai_store::BindOptional(
            insert, 10,
            record.source ? std::optional<std::string>(sql_genai_store::Dump(*record.source))
                          : std::nullopt);
        insert.Bind(11, record.source_type).Bind(12, record.source_id).Bind(13, now);
        sql_genai_store::BindOptional(insert, 14, record.created_by);
        insert.Run();
        ++counts.inserted;
      }
    }
    typename Engine::Row touch = db.Prepare(
        "UPDATE evaluation_datasets SET last_update_time = ?, digest = ?, schema = ?, "
        "last_updated_by = COALESCE(?, last_updated_by) WHERE dataset_id = ?");
    touch.Bind(1, now).Bind(2, genai::DatasetDigest(dataset->name, now));
    touch.Bind(3, genai::ExtendSchema(dataset->schema, records));
    sql_genai_store::BindOptional(touch, 4, genai::AuthorOf(records));
    touch.Bind(5, dataset_id);
    touch.Run();
    sql_genai_store::UpdateProfile(db, dataset_id);
  });
  return counts;
}

template <class Engine>
tracking::PageOf<DatasetRecord> SqlGenaiStore<Engine>::GetRecords(const std::string& dataset_id,
                                                                  tracking::Page page) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row rows =
        db.Prepare(std::string(sql_genai_store::kRecordColumns) +
                   "WHERE dataset_id = ? ORDER BY created_time, dataset_record_id "
                   "LIMIT ? OFFSET ?");
    rows.Bind(1, dataset_id).Bind(2, page.limit + 1).Bind(3, page.offset);
    tracking::PageOf<DatasetRecord> out;
    while (rows.Step()) out.items.push_back(sql_genai_store::ReadRecord(rows));
    out.has_more = static_cast<int64_t>(out.items.size()) > page.limit;
    if (out.has_more) out.items.pop_back();
    return out;
  });
}

template <class Engine>
int64_t SqlGenaiStore<Engine>::DeleteRecords(const std::string& dataset_id,
                                             const std::vector<std::string>& record_ids) {
  int64_t deleted = 0;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    deleted = 0;
    sql_genai_store::RequireDataset(db, dataset_id);
    for (const std::string& id : record_ids) {
      db.Prepare(
            "DELETE FROM evaluation_dataset_records WHERE dataset_id = ? AND dataset_record_id = "
            "?")
          .Bind(1, dataset_id)
          .Bind(2, id)
          .Run();
      deleted += db.Changes();
    }
    sql_genai_store::UpdateProfile(db, dataset_id);
  });
  return deleted;
}

template <class Engine>
void SqlGenaiStore<Engine>::AddExperiments(const std::string& dataset_id,
                                           const std::vector<std::string>& experiment_ids,
                                           int64_t now) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_genai_store::RequireDataset(db, dataset_id);
    sql_genai_store::LinkExperiments(db, dataset_id, experiment_ids, now);
    typename Engine::Row touch =
        db.Prepare("UPDATE evaluation_datasets SET last_update_time = ? WHERE dataset_id = ?");
    touch.Bind(1, now).Bind(2, dataset_id);
    touch.Run();
  });
}

template <class Engine>
void SqlGenaiStore<Engine>::RemoveExperiments(const std::string& dataset_id,
                                              const std::vector<std::string>& experiment_ids,
                                              int64_t now) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_genai_store::RequireDataset(db, dataset_id);
    int removed = 0;
    for (const std::string& id : experiment_ids) {
      db.Prepare(
            "DELETE FROM evaluation_dataset_experiments WHERE dataset_id = ? AND experiment_id = "
            "?")
          .Bind(1, dataset_id)
          .Bind(2, static_cast<int64_t>(std::stoll(id)))
          .Run();
      removed += db.Changes();
    }
    if (removed > 0) {
      typename Engine::Row touch =
          db.Prepare("UPDATE evaluation_datasets SET last_update_time = ? WHERE dataset_id = ?");
      touch.Bind(1, now).Bind(2, dataset_id);
      touch.Run();
    }
  });
}

// ------------------------------------------------------------------ issues

template <class Engine>
void SqlGenaiStore<Engine>::CreateIssue(const Issue& issue) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row insert = db.Prepare(
        "INSERT INTO issues (issue_id, experiment_id, name, description, status, severity, "
        "severity_rank, root_causes, categories, source_run_id, created_timestamp, "
        "last_updated_timestamp, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, issue.issue_id)
        .Bind(2, static_cast<int64_t>(std::stoll(issue.experiment_id)))
        .Bind(3, issue.name)
        .Bind(4, issue.description)
        .Bind(5, issue.status);
    sql_genai_store::BindOptional(insert, 6, sql_genai_store::NonEmpty(issue.severity));
    insert.Bind(7, genai::SeverityRank(issue.severity).value_or(-1))
        .Bind(8, sql_genai_store::Dump(Json(issue.root_causes)))
        .Bind(9, sql_genai_store::Dump(Json(issue.categories)));
    sql_genai_store::BindOptional(insert, 10, sql_genai_store::NonEmpty(issue.source_run_id));
    insert.Bind(11, issue.created_timestamp).Bind(12, issue.last_updated_timestamp);
    sql_genai_store::BindOptional(insert, 13, sql_genai_store::NonEmpty(issue.created_by));
    insert.Run();
  });
}

template <class Engine>
std::optional<Issue> SqlGenaiStore<Engine>::GetIssue(const std::string& issue_id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<Issue> {
    typename Engine::Row row =
        db.Prepare(std::string(sql_genai_store::kIssueColumns) + "WHERE i.issue_id = ?");
    row.Bind(1, issue_id);
    if (!row.Step()) return std::nullopt;
    return sql_genai_store::ReadIssue(row);
  });
}

template <class Engine>
void SqlGenaiStore<Engine>::UpdateIssue(const Issue& issue) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row update = db.Prepare(
        "UPDATE issues SET name = ?, description = ?, status = ?, severity = ?, "
        "severity_rank = ?, root_causes = ?, categories = ?, source_run_id = ?, "
        "last_updated_timestamp = ? WHERE issue_id = ?");
    update.Bind(1, issue.name).Bind(2, issue.description).Bind(3, issue.status);
    sql_genai_store::BindOptional(update, 4, sql_genai_store::NonEmpty(issue.severity));
    update.Bind(5, genai::SeverityRank(issue.severity).value_or(-1))
        .Bind(6, sql_genai_store::Dump(Json(issue.root_causes)))
        .Bind(7, sql_genai_store::Dump(Json(issue.categories)));
    sql_genai_store::BindOptional(update, 8, sql_genai_store::NonEmpty(issue.source_run_id));
    update.Bind(9, issue.last_updated_timestamp).Bind(10, issue.issue_id);
    update.Run();
    if (db.Changes() == 0) ThrowNotFound("Issue with ID '" + issue.issue_id + "' not found");
  });
}

template <class Engine>
tracking::PageOf<Issue> SqlGenaiStore<Engine>::SearchIssues(const genai::IssueQuery& query,
                                                            tracking::Page page) {
  const SqlDialect& dialect = Engine::Dialect();
  SqlFragment f;
  f.Add(sql_genai_store::kIssueColumns).Add("WHERE 1 = 1");
  if (query.experiment_id) {
    f.Add(" AND i.experiment_id = ").Bind(static_cast<int64_t>(std::stoll(*query.experiment_id)));
  } else if (auto visible = VisibleCondition(dialect, "i.experiment_id", query.visible, true)) {
    f.Add(" AND ").Add(*visible);
  }
  for (const genai::IssueQuery::Clause& c : query.clauses) {
    f.Add(c.field == "status" ? " AND i.status" : " AND i.source_run_id")
        .Add(c.equal ? " = " : " != ")
        .Bind(c.value);
  }
  f.Add(" ORDER BY i.severity_rank DESC, ");
  if (query.include_trace_count) f.Add("13 DESC, ");
  f.Add("i.created_timestamp DESC, i.issue_id DESC");
  f.Add(dialect.LimitOffset(page.limit + 1, page.offset));
  SqlQuery sql = dialect.Finish(std::move(f));
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row rows = db.Prepare(sql.sql);
    BindAll(rows, sql.binds);
    tracking::PageOf<Issue> out;
    while (rows.Step()) out.items.push_back(sql_genai_store::ReadIssue(rows));
    out.has_more = static_cast<int64_t>(out.items.size()) > page.limit;
    if (out.has_more) out.items.pop_back();
    if (!query.include_trace_count) {
      for (Issue& issue : out.items) issue.trace_count.reset();
    }
    return out;
  });
}

// ------------------------------------------------------------------ scorers

template <class Engine>
ScorerVersion SqlGenaiStore<Engine>::RegisterScorer(const std::string& experiment_id,
                                                    const std::string& name,
                                                    const std::string& serialized_scorer,
                                                    int64_t now, const std::string& new_scorer_id) {
  ScorerVersion v;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    std::optional<std::string> scorer_id = sql_genai_store::ScorerIdOf(db, experiment_id, name);
    if (!scorer_id) {
      db.Prepare("INSERT INTO scorers (scorer_id, experiment_id, name) VALUES (?, ?, ?)")
          .Bind(1, new_scorer_id)
          .Bind(2, static_cast<int64_t>(std::stoll(experiment_id)))
          .Bind(3, name)
          .Run();
      scorer_id = new_scorer_id;
    }
    typename Engine::Row highest =
        db.Prepare("SELECT COALESCE(MAX(version), 0) FROM scorer_versions WHERE scorer_id = ?");
    highest.Bind(1, *scorer_id);
    highest.Step();
    v = {*scorer_id, experiment_id, name, highest.Int(0) + 1, serialized_scorer, now};
    db.Prepare(
          "INSERT INTO scorer_versions (scorer_id, version, serialized_scorer, creation_time) "
          "VALUES (?, ?, ?, ?)")
        .Bind(1, v.scorer_id)
        .Bind(2, v.version)
        .Bind(3, v.serialized_scorer)
        .Bind(4, v.creation_time)
        .Run();
  });
  return v;
}

template <class Engine>
std::vector<ScorerVersion> SqlGenaiStore<Engine>::ListScorers(
    const std::vector<std::string>& experiment_ids, const Visibility& visible) {
  const SqlDialect& dialect = Engine::Dialect();
  SqlFragment f;
  f.Add(sql_genai_store::kScorerColumns)
      .Add(
          "WHERE v.version = (SELECT MAX(w.version) FROM scorer_versions w WHERE w.scorer_id = "
          "s.scorer_id)");
  if (!experiment_ids.empty()) {
    std::vector<int64_t> ids;
    for (const std::string& id : experiment_ids) ids.push_back(std::stoll(id));
    f.Add(" AND s.experiment_id IN (")
        .Add(dialect.JsonArrayElements(JsonArray(ids), true))
        .Add(")");
  } else {
    f.Add(
        " AND s.experiment_id IN (SELECT experiment_id FROM experiments WHERE lifecycle_stage = "
        "'active')");
    if (auto condition = VisibleCondition(dialect, "s.experiment_id", visible, true)) {
      f.Add(" AND ").Add(*condition);
    }
  }
  f.Add(" ORDER BY s.experiment_id, ").Add(dialect.TextOrder("s.name"));
  SqlQuery sql = dialect.Finish(std::move(f));
  return Engine::Read(
      *db_, [&](typename Engine::Session& db) { return sql_genai_store::ReadScorers(db, sql); });
}

template <class Engine>
std::vector<ScorerVersion> SqlGenaiStore<Engine>::ListScorerVersions(
    const std::string& experiment_id, const std::string& name) {
  SqlFragment f;
  f.Add(sql_genai_store::kScorerColumns)
      .Add("WHERE s.experiment_id = ")
      .Bind(static_cast<int64_t>(std::stoll(experiment_id)))
      .Add(" AND s.name = ")
      .Bind(name)
      .Add(" ORDER BY v.version");
  SqlQuery sql = Engine::Dialect().Finish(std::move(f));
  return Engine::Read(
      *db_, [&](typename Engine::Session& db) { return sql_genai_store::ReadScorers(db, sql); });
}

template <class Engine>
std::optional<ScorerVersion> SqlGenaiStore<Engine>::GetScorer(const std::string& experiment_id,
                                                              const std::string& name,
                                                              std::optional<int64_t> version) {
  SqlFragment f;
  f.Add(sql_genai_store::kScorerColumns)
      .Add("WHERE s.experiment_id = ")
      .Bind(static_cast<int64_t>(std::stoll(experiment_id)))
      .Add(" AND s.name = ")
      .Bind(name);
  if (version) f.Add(" AND v.version = ").Bind(*version);
  f.Add(" ORDER BY v.version DESC LIMIT 1");
  SqlQuery sql = Engine::Dialect().Finish(std::move(f));
  std::vector<ScorerVersion> found = Engine::Read(
      *db_, [&](typename Engine::Session& db) { return sql_genai_store::ReadScorers(db, sql); });
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

template <class Engine>
int64_t SqlGenaiStore<Engine>::DeleteScorer(const std::string& experiment_id,
                                            const std::string& name,
                                            std::optional<int64_t> version) {
  int64_t deleted = 0;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    deleted = 0;
    std::optional<std::string> scorer_id = sql_genai_store::ScorerIdOf(db, experiment_id, name);
    if (!scorer_id) return;
    if (version) {
      db.Prepare("DELETE FROM scorer_versions WHERE scorer_id = ? AND version = ?")
          .Bind(1, *scorer_id)
          .Bind(2, *version)
          .Run();
      deleted = db.Changes();
      return;
    }
    db.Prepare("DELETE FROM scorer_versions WHERE scorer_id = ?").Bind(1, *scorer_id).Run();
    deleted = db.Changes();
    db.Prepare("DELETE FROM scorers WHERE scorer_id = ?").Bind(1, *scorer_id).Run();
  });
  return deleted;
}

}  // namespace slipway::store
