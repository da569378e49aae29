#include "cli/train_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/app.h"
#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/git_commit.h"
#include "cli/table.h"
#include "cli/tracked_run.h"
#include "cli/train_reproduce.h"
#include "cli/workspace.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/executor.h"
#include "core/sha256.h"
#include "ml/mlmodel.h"
#include "ml/model_loader.h"
#include "training/champion.h"
#include "training/evaluation.h"
#include "training/fairness.h"
#include "training/gates.h"
#include "training/metrics.h"
#include "training/model_card.h"
#include "training/model_folder.h"
#include "training/plan.h"
#include "training/provenance.h"
#include "training/robustness.h"
#include "training/search.h"
#include "training/spec.h"
#include "training/table.h"
#include "training/training_run.h"
#include "training/tuning.h"

namespace slipway::cli {
namespace {

using nlohmann::json;

struct TrainOptions {
  std::string spec;
  std::string workspace;
  std::string data;  // --data: overrides the spec's
  std::vector<std::string> set;
  bool dry_run = false;
  std::string tracking_uri;
  std::string experiment = "Default";
  std::string run_name;
  bool no_tracking = false;
  int jobs = 1;
  int64_t max_trials = -1;
  std::string reproduce;  // --reproduce: a run id
  std::string data_dir;   // --data-dir: a server's data folder instead of a workspace
  std::string store;  // with --data-dir: the server's --store and --datasets, if not the default
  std::string datasets;
  std::vector<std::string> tags;  // --tag KEY=VALUE: on the run and the registered version
  std::string result_file;        // --result-file: the outcome as JSON
  bool no_alias = false;          // --no-alias: register without moving the spec's alias
};

// Where the dataset versions come from: the local workspace, or (--data-dir)
// the data folder of a server, opened beside it as its other CLI commands do
// (the closed loop trains on the server's own datasets this way).
struct DataSource {
  std::unique_ptr<Workspace> workspace;
  std::unique_ptr<app::App> server;
  std::string where;

  static DataSource Open(const TrainOptions& options) {
    DataSource source;
    if (options.data_dir.empty() && (!options.store.empty() || !options.datasets.empty()))
      ThrowInvalid("--store and --datasets go with --data-dir");
    if (options.data_dir.empty()) {
      source.workspace = Workspace::Open(options.workspace, false);
      source.where = "the workspace " + source.workspace->root().parent_path().string();
      return source;
    }
    if (!options.workspace.empty()) ThrowInvalid("give --workspace or --data-dir, not both");
    if (!std::filesystem::is_directory(options.data_dir))
      ThrowInvalid("--data-dir: no folder '" + options.data_dir + "'");
    app::App::Options app_options;
    app_options.data_dir = options.data_dir;
    app_options.store = options.store;
    app_options.datasets = options.datasets;
    source.server = app::App::Create(std::move(app_options));
    source.where = "the server data folder " + options.data_dir;
    return source;
  }
  data::DatasetService& service() { return server ? server->datasets() : workspace->service(); }
};

// --tag KEY=VALUE, as tags of a run or a model version.
json TagsOf(const std::vector<std::string>& settings) {
  json tags = json::array();
  for (const std::string& setting : settings) {
    const size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0)
      ThrowInvalid("--tag '" + setting + "': expected KEY=VALUE");
    tags.push_back(KeyValue(setting.substr(0, eq), setting.substr(eq + 1)));
  }
  return tags;
}

// --result-file: what a program that ran `slipway train` needs to know,
// written once the outcome is known (not when training failed to run).
void WriteResult(const std::string& path, const json& result) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << result.dump(2) << "\n";
  if (!out) throw Error(ErrorCode::kInternalError, "cannot write --result-file '" + path + "'");
}

std::string ReadSpec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kResourceDoesNotExist, "Cannot read spec file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Number(double value) { return fmt::format("{:.4f}", value); }

std::string UtcNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &utc);
  return fmt::format("{}.{:06d}", text, micros);
}

// Every run of `experiment_id` that `filter` selects, newest first.
std::vector<json> SearchRuns(ApiClient& client, const std::string& experiment_id,
                             const std::string& filter) {
  std::vector<json> runs;
  std::string token;
  do {
    json body = {{"experiment_ids", {experiment_id}},
                 {"filter", filter},
                 {"max_results", 1000},
                 {"order_by", {"attributes.start_time DESC"}}};
    if (!token.empty()) body["page_token"] = token;
    const json page = client.Post(Endpoint("runs/search"), body);
    if (page.contains("runs"))
      for (const json& run : page.at("runs")) runs.push_back(run);
    token = page.value("next_page_token", "");
  } while (!token.empty());
  return runs;
}

// A run's tags (or metrics) as a map from a runs/search or runs/get reply.
std::map<std::string, std::string> TagsOf(const json& run) {
  std::map<std::string, std::string> tags;
  if (run.contains("data") && run.at("data").contains("tags"))
    for (const json& t : run.at("data").at("tags")) tags[t.at("key")] = t.at("value");
  return tags;
}

std::map<std::string, std::string> ParamsOf(const json& run) {
  std::map<std::string, std::string> params;
  if (run.contains("data") && run.at("data").contains("params"))
    for (const json& p : run.at("data").at("params")) params[p.at("key")] = p.at("value");
  return params;
}

std::map<std::string, double> MetricsOf(const json& run) {
  std::map<std::string, double> metrics;
  if (run.contains("data") && run.at("data").contains("metrics"))
    for (const json& m : run.at("data").at("metrics")) metrics[m.at("key")] = m.at("value");
  return metrics;
}

std::string ParamText(const training::ParamValue& value) {
  return std::holds_alternative<double>(value) ? fmt::format("{}", std::get<double>(value))
                                               : std::get<std::string>(value);
}

json Params(const training::TrainingSpec& spec, const training::TrainingPlan& plan) {
  const training::Preprocessing& p = spec.preprocessing;
  json params = json::array({
      KeyValue("data", plan.dataset),
      KeyValue("target", spec.target.name),
      KeyValue("task", std::string(training::TaskName(spec.task))),
      KeyValue("model.type", std::string(training::ModelTypeName(spec.model))),
      KeyValue("cv.scheme", std::string(training::CvSchemeName(spec.cv.scheme))),
      KeyValue("cv.folds", std::to_string(spec.cv.folds)),
      KeyValue("holdout", fmt::format("{}", spec.holdout)),
      KeyValue("metric", spec.metric),
      KeyValue("seed", std::to_string(spec.seed)),
      KeyValue("features", std::to_string(plan.features.size())),
      KeyValue("preprocessing.impute.numeric",
               p.numeric == training::NumericImputation::kMedian ? "median"
               : p.numeric == training::NumericImputation::kMean ? "mean"
                                                                 : "none"),
      KeyValue("preprocessing.impute.categorical",
               p.categorical_missing == training::CategoricalImputation::kMostFrequent
                   ? "most_frequent"
                   : "missing_category"),
      KeyValue("preprocessing.categorical",
               p.categorical == training::CategoricalEncoding::kOneHot ? "onehot" : "native"),
      KeyValue("preprocessing.scale", p.scale == training::Scaling::kStandard ? "standard"
                                      : p.scale == training::Scaling::kMinMax ? "minmax"
                                                                              : "none"),
  });
  for (const auto& [name, value] : spec.params)
    params.push_back(KeyValue("model.params." + name, ParamText(value)));
  return params;
}

// Every fold's and the holdout's metrics; MLflow takes no NaN (an AUC of a
// fold with one class), so those are left out.
json Metrics(const training::TrainingOutcome& outcome) {
  json metrics = json::array();
  auto add = [&](const std::string& key, double value, int64_t step) {
    if (std::isfinite(value)) metrics.push_back(Metric(key, value, step));
  };
  for (const training::FoldReport& fold : outcome.folds)
    for (const auto& [name, value] : fold.metrics)
      add("cv." + name, value, static_cast<int64_t>(fold.fold));
  for (const auto& [name, value] : outcome.cv_mean) add("cv." + name + ".mean", value, 0);
  for (const auto& [name, value] : outcome.cv_std) add("cv." + name + ".std", value, 0);
  for (const auto& [name, value] : outcome.holdout.metrics) add("holdout." + name, value, 0);
  return metrics;
}

// A text as one CSV field: quoted when it holds a comma, a quote or a line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The holdout's rows (0-based data rows of the version), their labels (the
// class's text and its index y, which indexes the prediction columns), and
// the final model's predictions: what a check outside Slipway recomputes.
std::string HoldoutCsv(const training::TrainingSpec& spec,
                       const training::TrainingOutcome& outcome) {
  const training::Matrix& p = outcome.holdout_predictions;
  const bool classes = !outcome.target.classes.empty();
  std::string out = classes ? "row,label,y" : "row,y";
  if (spec.task == training::Task::kMulticlass) {
    for (size_t c = 0; c < p.cols; ++c) out += fmt::format(",p{}", c);
  } else {
    out += ",prediction";
  }
  out += "\n";
  for (size_t i = 0; i < p.rows; ++i) {
    const size_t row = outcome.split.holdout[i];
    out += std::to_string(row);
    if (classes)
      out += "," + CsvField(outcome.target.classes[static_cast<size_t>(outcome.target.y[row])]);
    out += fmt::format(",{}", outcome.target.y[row]);
    for (size_t c = 0; c < p.cols; ++c) out += fmt::format(",{:.17g}", p(i, c));
    out += "\n";
  }
  return out;
}

void PrintResults(const training::TrainingSpec& spec, const training::TrainingOutcome& outcome) {
  Table table({{"metric"},
               {"cv mean", Table::Align::kRight},
               {"cv std", Table::Align::kRight},
               {"holdout", Table::Align::kRight}});
  for (const auto& [name, mean] : outcome.cv_mean) {
    table.AddRow({name + (name == spec.metric ? " *" : ""), Number(mean),
                  Number(outcome.cv_std.at(name)), Number(outcome.holdout.metrics.at(name))});
  }
  std::cout << "\n";
  table.Print(std::cout);
  if (!outcome.holdout.confusion.empty()) {
    std::cout << "\nholdout confusion matrix (rows: true class, columns: predicted)\n";
    std::vector<Table::Column> columns{{""}};
    for (const std::string& c : outcome.target.classes)
      columns.push_back({c, Table::Align::kRight});
    Table confusion(columns);
    for (size_t r = 0; r < outcome.holdout.confusion.size(); ++r) {
      std::vector<std::string> cells{outcome.target.classes[r]};
      for (int64_t n : outcome.holdout.confusion[r]) cells.push_back(std::to_string(n));
      confusion.AddRow(cells);
    }
    confusion.Print(std::cout);
  }
}

// The tags that find a tuning session's runs again: the session is a digest
// of the spec's text, the --set and --data overrides, and the data's content.
constexpr const char* kSessionTag = "slipway.tuning.session";
constexpr const char* kRoleTag = "slipway.tuning.role";
constexpr const char* kTrialTag = "slipway.tuning.trial";
constexpr const char* kRungTag = "slipway.tuning.rung";
constexpr const char* kStoppedTag = "slipway.tuning.stopped_at";

std::string SessionOf(const std::string& spec_text, const std::vector<std::string>& overrides,
                      const std::string& content_digest) {
  std::string text = spec_text;
  for (const std::string& o : overrides) text += '\0' + o;
  text += '\0' + content_digest;
  return Sha256::Hex(text);
}

std::string ParamsText(const training::Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", name, training::ParamValueText(value));
  }
  return out;
}

// The trials a session's earlier runs finished: children of `parent` with
// their trial, rung, cv means, where halving stopped them, and the sampled
// params as they ran (TPE proposes again only what it cannot read back).
std::vector<training::TrialResult> FinishedTrials(ApiClient& client,
                                                  const training::TrainingSpec& spec,
                                                  const std::string& experiment_id,
                                                  const std::string& parent) {
  std::vector<training::TrialResult> done;
  for (const json& run :
       SearchRuns(client, experiment_id, "tags.mlflow.parentRunId = '" + parent + "'")) {
    const json& info = run.at("info");
    const std::string status = info.value("status", "");
    if (status == "RUNNING") {
      // A trial the killed session was still logging: it runs again, and
      // this child is marked as MLflow marks a run that was stopped.
      client.Post(Endpoint("runs/update"), {{"run_id", StringField(info, "run_id")},
                                            {"status", "KILLED"},
                                            {"end_time", NowMillis()}});
      continue;
    }
    if (status != "FINISHED") continue;
    const auto tags = TagsOf(run);
    if (!tags.count(kTrialTag)) continue;
    training::TrialResult t;
    t.trial = std::stoll(tags.at(kTrialTag));
    t.rung = tags.count(kRungTag) ? std::stoll(tags.at(kRungTag)) : 0;
    t.stopped_at = tags.count(kStoppedTag) ? std::stoll(tags.at(kStoppedTag)) : 0;
    t.params = training::ParseParams(spec.search.space, ParamsOf(run), "model.params.");
    for (const auto& [key, value] : MetricsOf(run)) {
      const std::string_view k = key;
      if (k.rfind("cv.", 0) != 0) continue;
      if (k.size() > 8 && k.substr(k.size() - 5) == ".mean") {
        t.cv.mean[std::string(k.substr(3, k.size() - 8))] = value;
      } else if (k.size() > 7 && k.substr(k.size() - 4) == ".std") {
        t.cv.std[std::string(k.substr(3, k.size() - 7))] = value;
      }
    }
    done.push_back(std::move(t));
  }
  return done;
}

json TrialMetrics(const training::TrainingSpec& spec, const training::TrialResult& t) {
  json metrics = json::array();
  auto add = [&](const std::string& key, double value, int64_t step) {
    if (std::isfinite(value)) metrics.push_back(Metric(key, value, step));
  };
  for (const training::FoldReport& fold : t.cv.folds)
    for (const auto& [name, value] : fold.metrics)
      add("cv." + name, value, static_cast<int64_t>(fold.fold));
  for (const auto& [name, value] : t.cv.mean) add("cv." + name + ".mean", value, 0);
  for (const auto& [name, value] : t.cv.std) add("cv." + name + ".std", value, 0);
  // The learning curve: the folds' mean of the metric after each round
  // (XGBoost) or Newton iteration (logistic), and a logistic model's
  // training objective after each iteration.
  for (size_t i = 0; i < t.cv.curve.size(); ++i)
    add("curve." + spec.metric, t.cv.curve[i], static_cast<int64_t>(i + 1));
  for (size_t i = 0; i < t.cv.objective.size(); ++i)
    add("curve.objective", t.cv.objective[i], static_cast<int64_t>(i + 1));
  return metrics;
}

// What a champion is evaluated on: the candidate's holdout.
struct HoldoutRows {
  const training::Table* table = nullptr;
  std::vector<std::string> features;
  std::vector<size_t> rows;
  std::vector<double> y;
  int64_t classes = 0;
  const training::Matrix* candidate = nullptr;  // the candidate's predictions of `rows`
};

// The champion of a champion gate: the version at the alias of the spec's
// registered model, downloaded, loaded as serving loads it (ml::LoadModel)
// and evaluated on the candidate's holdout rows. A champion that cannot be
// evaluated (a source that is not runs:/, columns it needs that the spec
// does not read, another task) fails the gate, saying why.
training::ChampionMetric Champion(ApiClient* client, const training::TrainingSpec& spec,
                                  const training::Gate& gate, const HoldoutRows& holdout) {
  training::ChampionMetric champion;
  if (client == nullptr || !spec.register_as) return champion;
  json version;
  try {
    version = Field(client->Get(Endpoint("registered-models/alias"),
                                {{"name", spec.register_as->model}, {"alias", *gate.champion}}),
                    "model_version");
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    return champion;
  }
  champion.exists = true;
  champion.version = StringField(version, "version");
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    fmt::format("slipway-champion-{}-{}", getpid(), NowMillis());
  struct Remove {
    std::filesystem::path path;
    ~Remove() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove{dir};
  try {
    const std::string source = StringField(version, "source");
    if (source.rfind("runs:/", 0) != 0) {
      ThrowInvalid("its source '" + source + "' is not a runs:/ URI");
    }
    const std::string rest = source.substr(6);
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) ThrowInvalid("its source '" + source + "' names no folder");
    DownloadArtifacts(*client, rest.substr(0, slash), rest.substr(slash + 1), dir);
    const std::unique_ptr<ml::Model> model = ml::LoadModel(dir, {});
    ml::Frame frame = training::FrameOf(*holdout.table, holdout.features, holdout.rows);
    if (model->mlmodel().signature && !model->mlmodel().signature->inputs.empty()) {
      frame = ml::ConformToSchema(model->mlmodel().signature->inputs, std::move(frame));
    }
    const bool regression = spec.task == training::Task::kRegression;
    const training::Matrix predictions = training::MatrixOf(
        model->Predict(frame, regression ? "" : R"({"predict_method": "predict_proba"})"),
        spec.task, static_cast<size_t>(holdout.classes));
    const training::Evaluation evaluation =
        training::Evaluate(spec.task, holdout.classes, holdout.y, predictions);
    champion.value = evaluation.metrics.at(gate.metric);
    champion.interval =
        training::BootstrapImprovement(spec.task, holdout.classes, holdout.y, *holdout.candidate,
                                       predictions, gate.metric, gate.confidence, spec.seed);
  } catch (const Error& error) {
    champion.unevaluated = fmt::format("could not be evaluated: {}", error.what());
  }
  return champion;
}

void PrintGates(const std::vector<training::GateResult>& results) {
  Table table({{"gate"}, {"value"}, {"result"}});
  for (const training::GateResult& r : results) {
    table.AddRow({r.rule, r.detail, r.passed ? "passed" : "FAILED"});
  }
  table.Print(std::cout);
}

// Registers the run's model and moves the alias: the registered model made
// when missing, a version from runs:/<run>/model carrying `version_tags`,
// with the model card as its description.
// Returns the version.
std::string Register(ApiClient& client, const training::Registration& reg,
                     const std::string& run_id, const json& version_tags,
                     const std::string& description) {
  try {
    client.Post(Endpoint("registered-models/create"), {{"name", reg.model}});
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceAlreadyExists) throw;
  }
  const json created =
      client.Post(Endpoint("model-versions/create"), {{"name", reg.model},
                                                      {"source", "runs:/" + run_id + "/model"},
                                                      {"run_id", run_id},
                                                      {"tags", version_tags},
                                                      {"description", description}});
  const std::string version = StringField(Field(created, "model_version"), "version");
  std::cout << fmt::format("registered {} version {} from runs:/{}/model\n", reg.model, version,
                           run_id);
  if (!reg.alias.empty()) {
    client.Post(Endpoint("registered-models/alias"),
                {{"name", reg.model}, {"alias", reg.alias}, {"version", version}});
    std::cout << fmt::format("alias     {}@{} -> version {}\n", reg.model, reg.alias, version);
  }
  return version;
}

void Train(const TrainOptions& options) {
  std::vector<std::string> overrides = options.set;
  if (!options.data.empty()) overrides.push_back("data=" + options.data);
  // --reproduce: the run's recorded spec, overrides, data version and seed,
  // trained again without tracking; its model files compared at the end.
  std::optional<RecordedTraining> recorded;
  if (!options.reproduce.empty()) {
    if (!options.spec.empty() || !options.set.empty() || !options.data.empty())
      ThrowInvalid("--reproduce takes the spec, --set and --data the run recorded: give none");
    ApiClient client(ResolveTrackingUri(options.tracking_uri));
    recorded = FetchRecordedTraining(client, options.reproduce);
    overrides = recorded->RetrainOverrides();
    std::cout << fmt::format(
        "reproduce run {}: {} on {}, seed {}{}\n", recorded->run_id, recorded->spec_source,
        recorded->dataset, recorded->seed,
        recorded->overrides_recorded ? "" : " (the run recorded no --set overrides)");
  } else if (options.spec.empty()) {
    ThrowInvalid("slipway train needs a spec file, or --reproduce RUN_ID");
  }
  const std::string spec_text = recorded ? recorded->spec_text : ReadSpec(options.spec);
  const std::string spec_source = recorded ? recorded->spec_source : options.spec;
  if (recorded && !recorded->spec_sha256.empty() && Sha256::Hex(spec_text) != recorded->spec_sha256)
    ThrowInvalid("run " + recorded->run_id + "'s spec.yaml does not have the digest it recorded");
  const training::TrainingSpec spec = training::ParseSpec(spec_text, spec_source, overrides);
  const json extra_tags = TagsOf(options.tags);
  DataSource source = DataSource::Open(options);
  data::DatasetService& datasets = source.service();
  data::DatasetVersion version;
  try {
    version = datasets.Resolve(data::ParseDatasetRef(spec.data.name));
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    training::FailAt(spec, spec.data.at, "data",
                     std::string(error.what()) + " (in " + source.where + ")");
  }
  if (version.profile_json.empty()) {
    training::FailAt(spec, spec.data.at, "data",
                     spec.data.name + " is not a table (a CSV file with a header)");
  }
  const data::DatasetProfile profile = datasets.ProfileOf(version);
  const training::TrainingPlan plan = training::PlanTraining(spec, version, profile);
  training::CheckTrainable(spec, plan);
  std::cout << training::FormatPlan(spec, plan);
  if (options.dry_run) {
    std::cout << "dry run: the spec and the data agree; nothing trained\n";
    return;
  }
  if (options.jobs < 1) ThrowInvalid("--jobs must be at least 1");
  const bool tuning = spec.search.algorithm != training::SearchAlgorithm::kNone;
  std::cout << std::flush;

  // The tracking server: the (parent) run, new or, for a tuning session
  // that an earlier command left unfinished, that one reopened.
  const std::string session = SessionOf(spec_text, overrides, version.content_digest);
  std::optional<TrackedRun> run;
  std::optional<ApiClient> client;
  std::string experiment_id;
  std::vector<training::TrialResult> done;
  json base_tags = json::array(
      {KeyValue("mlflow.source.type", "LOCAL"), KeyValue("mlflow.source.name", "slipway train")});
  for (const json& tag : extra_tags) base_tags.push_back(tag);
  if (!options.no_tracking && !recorded) {
    const std::string uri = ResolveTrackingUri(options.tracking_uri);
    client.emplace(uri);
    experiment_id = ExperimentId(*client, options.experiment);
    std::string resumed;
    if (tuning) {
      for (const json& parent : SearchRuns(*client, experiment_id,
                                           fmt::format("tags.`{}` = '{}' and tags.`{}` = 'parent'",
                                                       kSessionTag, session, kRoleTag))) {
        if (parent.at("info").value("status", "") != "FINISHED") {
          resumed = StringField(parent.at("info"), "run_id");
          break;
        }
      }
    }
    if (!resumed.empty()) {
      run.emplace(uri, resumed);
      done = FinishedTrials(*client, spec, experiment_id, resumed);
      std::cout << fmt::format("resume    tuning session {}: run {}, {} trials already done\n",
                               session.substr(0, 12), resumed, done.size());
    } else {
      json tags = base_tags;
      if (tuning) {
        tags.push_back(KeyValue(kSessionTag, session));
        tags.push_back(KeyValue(kRoleTag, "parent"));
      }
      run.emplace(uri, experiment_id, options.run_name, tags, NowMillis());
    }
    std::cout << fmt::format("run       {} on {}\n", run->run_id(), run->uri()) << std::flush;
  }
  const training::Table table =
      ReadRows(datasets, version, profile, training::ColumnsToRead(spec, plan));
  training::PreparedTraining prepared = training::PrepareTraining(spec, table);
  const size_t folds = static_cast<size_t>(spec.cv.folds);

  training::Params final_params = spec.params;
  training::CvResult cv;
  std::optional<training::TuningOutcome> tuned;
  if (tuning) {
    training::TuningOptions tuning_options;
    tuning_options.jobs = options.jobs;
    tuning_options.max_new_trials = options.max_trials;
    tuning_options.done = done;
    const std::string resource_name =
        training::HalvingResourceOf(spec) == training::HalvingResource::kRounds ? "rounds"
                                                                                : "folds";
    const bool halving = spec.search.algorithm == training::SearchAlgorithm::kHalving;
    // Trials are logged on a thread of their own, so tuning never waits for
    // the tracking server; a trial's progress line is printed once its
    // child run is logged (a killed session has logged what it printed).
    std::mutex log_mu;  // guards log_error
    std::exception_ptr log_error;
    std::optional<core::Executor> logger;
    if (run) logger.emplace(core::Executor::Options{"trial-log", 1, 4096});
    tuning_options.on_trial = [&](const training::TrialResult& t,
                                  const training::TuningProgress& progress) {
      {
        std::lock_guard lock(log_mu);
        if (log_error) std::rethrow_exception(log_error);
      }
      std::string line = fmt::format(
          "trial {}/{}  {}{}  {} {}  best {} (trial {}){}{}\n", progress.finished, progress.total,
          halving ? fmt::format("rung {} ({} {})  ", t.rung, t.resource, resource_name) : "",
          ParamsText(t.params), spec.metric, Number(t.score), Number(progress.best->score),
          progress.best->trial,
          t.stopped_at > 0 ? fmt::format("  stopped at round {}", t.stopped_at) : "",
          t.resumed ? "  (done before: resumed)" : "");
      if (!logger) {
        std::cout << line << std::flush;
        return;
      }
      std::function<void()> log_child;
      if (!t.resumed) {
        json tags = base_tags;
        tags.push_back(KeyValue("mlflow.parentRunId", run->run_id()));
        tags.push_back(KeyValue(kSessionTag, session));
        tags.push_back(KeyValue(kRoleTag, "trial"));
        tags.push_back(KeyValue(kTrialTag, std::to_string(t.trial)));
        tags.push_back(KeyValue(kRungTag, std::to_string(t.rung)));
        if (t.stopped_at > 0) tags.push_back(KeyValue(kStoppedTag, std::to_string(t.stopped_at)));
        json params = json::array();
        for (const auto& [name, value] : training::TrialParams(spec, t))
          params.push_back(KeyValue("model.params." + name, training::ParamValueText(value)));
        params.push_back(KeyValue("trial", std::to_string(t.trial)));
        if (halving) {
          params.push_back(KeyValue("rung", std::to_string(t.rung)));
          params.push_back(KeyValue("rung." + resource_name, std::to_string(t.resource)));
        }
        const std::string name = halving ? fmt::format("trial-{}-rung-{}", t.trial, t.rung)
                                         : fmt::format("trial-{}", t.trial);
        const int64_t start = NowMillis() - static_cast<int64_t>(t.seconds * 1000);
        log_child = [&, tags, params, name, start, metrics = TrialMetrics(spec, t)] {
          TrackedRun child(run->uri(), experiment_id, name, tags, start);
          child.Log(params, metrics, json::array());
          child.Finish();
        };
      }
      auto task = [&, log_child, line] {
        try {
          if (log_child) log_child();
          std::cout << line << std::flush;
        } catch (...) {
          std::lock_guard lock(log_mu);
          if (!log_error) log_error = std::current_exception();
        }
      };
      if (!logger->TrySubmit(task)) task();
    };
    tuned = training::RunTuning(spec, plan, table, prepared, tuning_options);
    if (logger) logger->Stop();  // every trial logged
    if (log_error) std::rethrow_exception(log_error);
    if (!tuned->note.empty()) std::cout << "note      " << tuned->note << "\n";
    if (tuned->stopped > 0) {
      std::cout << fmt::format("stopped   {} trials inside their rung (behind the ones promoted)\n",
                               tuned->stopped);
    }
    if (!tuned->complete) {
      if (run) run->Stop();
      std::cout << fmt::format(
          "stopped   after {} new trials (--max-trials): {} of {} trials done; run the same "
          "command again to resume{}\n",
          options.max_trials, tuned->trials.size(), tuned->total,
          run ? "" : " (not tracked: a resume starts over)");
      return;
    }
    const training::TrialResult& best = tuned->trials[*tuned->best];
    final_params = training::TrialParams(spec, best);
    std::cout << fmt::format("best      trial {}: {}  {} {}\n", best.trial, ParamsText(best.params),
                             spec.metric, Number(best.score));
    if (best.cv.folds.empty()) {
      // Done by an earlier session: its folds again (deterministic) for the report.
      cv = training::CrossValidate(spec, plan, table, prepared, final_params, 0, {}, {});
    } else {
      cv = best.cv;
    }
  } else {
    const bool early_stopping = spec.params.count("early_stopping_rounds") > 0;
    cv = training::CrossValidate(
        spec, plan, table, prepared, spec.params, 0, {}, [&](const training::FoldReport& fold) {
          std::cout << fmt::format(
                           "fold {}/{}  train {} rows, validate {} rows  {} {}{}  ({:.2f} s)\n",
                           fold.fold + 1, folds, fold.training_rows, fold.validation_rows,
                           spec.metric, Number(fold.metrics.at(spec.metric)),
                           early_stopping ? fmt::format("  kept {} rounds", fold.rounds) : "",
                           fold.seconds)
                    << std::flush;
        });
  }
  const training::TrainingOutcome outcome =
      training::FinishTraining(spec, plan, table, std::move(prepared), final_params, std::move(cv));
  std::cout << fmt::format("final     trained on {} rows, evaluated on {} holdout rows{}\n",
                           outcome.split.training.size(), outcome.split.holdout.size(),
                           outcome.final_rounds > 0
                               ? fmt::format(", {} rounds (the folds' mean)", outcome.final_rounds)
                               : "");
  PrintResults(spec, outcome);
  if (recorded) {
    if (!recorded->dataset_sha256.empty() && recorded->dataset_sha256 != plan.content_digest) {
      std::cout << fmt::format(
          "\ndata      {} holds other content than the run's: sha256 {} here, "
          "{} recorded\n",
          plan.dataset, plan.content_digest, recorded->dataset_sha256);
    }
    if (!ReportReproduction(*recorded,
                            training::ModelFolder(spec, outcome, {"", "model", plan.dataset, ""}),
                            std::cout))
      throw Error(ErrorCode::kInvalidState,
                  "the retrained model differs from run " + recorded->run_id + "'s");
    return;
  }
  training::Provenance provenance = training::BuildProvenance();
  provenance.spec_sha256 = Sha256::Hex(spec_text);
  provenance.overrides = overrides;
  provenance.dataset = plan.dataset;
  provenance.dataset_sha256 = plan.content_digest;
  provenance.git_commit = GitCommitOf(std::filesystem::path(options.spec).parent_path());

  // Fairness and robustness of the final model on the holdout; gates name their metrics.
  std::optional<training::FairnessReport> fairness;
  std::optional<training::RobustnessReport> robustness;
  std::map<std::string, double> gated = outcome.holdout.metrics;
  if (spec.fairness) {
    fairness = training::AssessFairness(spec, table, outcome);
    std::cout << training::FormatFairness(*fairness);
    gated.insert(fairness->metrics.begin(), fairness->metrics.end());
  }
  if (spec.robustness) {
    robustness = training::AssessRobustness(spec, table, outcome);
    std::cout << training::FormatRobustness(*robustness);
    gated.insert(robustness->metrics.begin(), robustness->metrics.end());
  }

  HoldoutRows holdout{&table, {}, outcome.split.holdout, {}, 0, &outcome.holdout_predictions};
  for (const training::PlannedFeature& f : plan.features) holdout.features.push_back(f.name);
  for (size_t row : outcome.split.holdout) holdout.y.push_back(outcome.target.y[row]);
  holdout.classes = static_cast<int64_t>(outcome.target.classes.size());
  // The holdout's curves, charts and explanation: gates may name their metrics too.
  const training::EvaluationReport evaluation =
      training::EvaluateTraining(spec, table, outcome, plan.dataset + " holdout");
  gated.insert(evaluation.explanation.begin(), evaluation.explanation.end());
  const std::vector<training::GateResult> gates =
      training::EvaluateGates(spec.gates, gated, [&](const training::Gate& gate) {
        return Champion(client ? &*client : nullptr, spec, gate, holdout);
      });
  const bool passed = training::AllPassed(gates);

  training::ModelCardInfo card_info{run ? run->run_id() : std::string(), provenance, {}, {}};
  if (fairness) card_info.fairness = fairness->metrics;
  if (robustness) card_info.robustness = robustness->metrics;
  const std::string model_card = training::ModelCard(spec, outcome, gates, card_info);
  if (run) {
    json tags = base_tags;
    for (const auto& [key, value] : training::ProvenanceTags(provenance))
      tags.push_back(KeyValue(key, value));
    tags.push_back(KeyValue("slipway.spec", options.spec));
    if (tuned && !tuned->note.empty()) tags.push_back(KeyValue("slipway.tuning", tuned->note));
    if (!gates.empty()) {
      tags.push_back(KeyValue("slipway.gates", passed ? "PASSED" : "FAILED"));
      for (size_t i = 0; i < gates.size(); ++i) {
        tags.push_back(KeyValue(fmt::format("slipway.gate.{}", i),
                                fmt::format("{}: {}: {}", gates[i].rule, gates[i].detail,
                                            gates[i].passed ? "passed" : "FAILED")));
      }
    }
    json params = Params(spec, plan);
    if (tuned) {
      const training::TrialResult& best = tuned->trials[*tuned->best];
      params.push_back(
          KeyValue("search.algorithm", std::string(SearchAlgorithmName(spec.search.algorithm))));
      params.push_back(KeyValue("search.trials", std::to_string(spec.search.trials)));
      params.push_back(KeyValue("tuning.best_trial", std::to_string(best.trial)));
      for (const auto& [name, value] : final_params) {
        if (!spec.params.count(name))
          params.push_back(KeyValue("model.params." + name, training::ParamValueText(value)));
      }
    }
    if (outcome.final_rounds > 0) {
      params.push_back(KeyValue("final.num_boost_round", std::to_string(outcome.final_rounds)));
    }
    json metrics = Metrics(outcome);
    for (const auto& [name, value] : gated) {
      if (!outcome.holdout.metrics.count(name) && std::isfinite(value))
        metrics.push_back(Metric(name, value, 0));
    }
    for (size_t i = 0; i < gates.size(); ++i)
      metrics.push_back(Metric(fmt::format("gate.{}.passed", i), gates[i].passed ? 1 : 0, 0));
    for (size_t i = 0; i < gates.size(); ++i) {
      if (gates[i].champion && std::isfinite(*gates[i].champion))
        metrics.push_back(Metric(fmt::format("gate.{}.champion", i), *gates[i].champion, 0));
    }
    run->Log(params, metrics, tags);
    run->LogInput({{"name", version.name},
                   {"digest", data::RunInputDigest(version)},
                   {"source_type", "slipway"},
                   {"source", json({{"uri", "slipway-dataset://" + plan.dataset},
                                    {"sha256", version.content_digest}})
                                  .dump()}},
                  "training");
    const std::vector<training::ModelFile> files =
        training::ModelFolder(spec, outcome, {run->run_id(), "model", plan.dataset, UtcNow()});
    for (const training::ModelFile& file : files)
      run->PutArtifact("model/" + file.name, file.bytes);
    json digests = json::array();
    for (const auto& [name, digest] : training::ModelFileDigests(files))
      digests.push_back(KeyValue(training::kModelDigestTagPrefix + name, digest));
    run->Log(json::array(), json::array(), digests);
    run->PutArtifact("spec.yaml", spec_text);
    run->PutArtifact("model_card.md", model_card);
    run->PutArtifact("evaluation/holdout_predictions.csv", HoldoutCsv(spec, outcome));
    for (const training::EvaluationFile& file : evaluation.files)
      run->PutArtifact("evaluation/" + file.name, file.bytes);
    if (!outcome.holdout.confusion.empty()) {
      run->PutArtifact(
          "evaluation/confusion_matrix.json",
          json({{"classes", outcome.target.classes}, {"counts", outcome.holdout.confusion}})
              .dump(2));
    }
    if (fairness) run->PutArtifact("fairness/report.json", fairness->ToJson().dump(2));
    if (robustness) run->PutArtifact("robustness/report.json", robustness->ToJson().dump(2));
    run->Finish();
    std::cout << fmt::format("\nlogged    run {}: model at runs:/{}/model\n", run->run_id(),
                             run->run_id());
  } else {
    std::cout << "\nnot tracked (--no-tracking): the model was not saved\n";
  }

  json result = {{"passed", passed},
                 {"run_id", run ? run->run_id() : std::string()},
                 {"data", plan.dataset},
                 {"gates", json::array()}};
  for (const training::GateResult& g : gates)
    result["gates"].push_back({{"rule", g.rule}, {"detail", g.detail}, {"passed", g.passed}});
  if (spec.register_as) {
    if (!passed) {
      std::cout << fmt::format("not registered: a gate failed, {} is unchanged\n",
                               spec.register_as->model);
    } else if (!run) {
      std::cout << "not registered: --no-tracking\n";
    } else {
      // Lineage and the gates on the version itself.
      json version_tags =
          json::array({KeyValue("slipway.dataset", plan.dataset),
                       KeyValue("slipway.dataset.sha256", plan.content_digest),
                       KeyValue("slipway.spec.sha256", Sha256::Hex(spec_text)),
                       KeyValue("slipway.gates", gates.empty() ? "none" : "PASSED")});
      for (size_t i = 0; i < gates.size(); ++i) {
        version_tags.push_back(KeyValue(fmt::format("slipway.gate.{}", i),
                                        fmt::format("{}: {}", gates[i].rule, gates[i].detail)));
      }
      for (const json& tag : extra_tags) version_tags.push_back(tag);
      training::Registration registration = *spec.register_as;
      if (options.no_alias) registration.alias.clear();
      result["model"] = registration.model;
      result["version"] =
          Register(run->client(), registration, run->run_id(), version_tags, model_card);
      result["alias"] = registration.alias;
    }
  }
  WriteResult(options.result_file, result);
  if (!gates.empty()) {
    std::cout << fmt::format("\ngates     {}\n", passed ? "PASSED" : "FAILED");
    PrintGates(gates);
    std::cout << std::flush;
    if (!passed) {
      size_t failed = 0;
      for (const training::GateResult& g : gates) failed += !g.passed;
      throw Error(ErrorCode::kInvalidState,
                  fmt::format("{} of {} gates FAILED", failed, gates.size()));
    }
  }
}

}  // namespace

void AddTrainCommands(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* train = app.add_subcommand("train", "Train a model from a training spec (YAML)");
  train->add_option("spec", options->spec, "The spec file (not with --reproduce)");
  train->add_option("--data", options->data, "Dataset version instead of the spec's, e.g. churn@7");
  train->add_option("--set", options->set,
                    "Override a key of the spec: key.path=value (YAML), e.g. "
                    "model.params.max_depth=4; repeatable");
  train->add_flag("--dry-run", options->dry_run,
                  "Check the spec against the data and print the plan; train nothing");
  train->add_option("--workspace", options->workspace,
                    "Folder holding the .slipway workspace (default: the nearest one above "
                    "here, or $SLIPWAY_WORKSPACE)");
  AddTrackingUriOption(train, &options->tracking_uri);
  train
      ->add_option("--experiment", options->experiment, "Experiment of the run (made when missing)")
      ->capture_default_str();
  train->add_option("--run-name", options->run_name, "Name of the run");
  train->add_flag("--no-tracking", options->no_tracking,
                  "Train and print the metrics without a tracking server (nothing is saved)");
  train->add_option("--jobs,-j", options->jobs, "Tuning trials run at once")->capture_default_str();
  train->add_option("--max-trials", options->max_trials,
                    "Stop a tuning session after this many new trials (rerun to resume)");
  train->add_option("--data-dir", options->data_dir,
                    "Read the dataset from a server's data folder (its --data-dir) instead of "
                    "a workspace");
  train->add_option("--store", options->store,
                    "With --data-dir: the server's --store, when not the folder's default");
  train->add_option("--datasets", options->datasets,
                    "With --data-dir: the server's --datasets, when not the folder's default");
  train->add_option("--tag", options->tags,
                    "KEY=VALUE tag of the run and of the registered version; repeatable");
  train->add_flag("--no-alias", options->no_alias,
                  "Register a passing model without moving the spec's alias");
  train->add_option("--result-file", options->result_file,
                    "Write the outcome (passed, run, registered version, gates) as JSON here");
  train->add_option("--reproduce", options->reproduce,
                    "Train a tracked run again from what it recorded (spec, --set, data version, "
                    "seed) and compare the model files' digests; exit 1 on a mismatch");
  train->callback([options] { Train(*options); });
}

}  // namespace slipway::cli
