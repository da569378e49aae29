#include "cli/train_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "cli/workspace.h"
#include "core/clock.h"
#include "core/error.h"
#include "training/model_folder.h"
#include "training/plan.h"
#include "training/spec.h"
#include "training/table.h"
#include "training/training_run.h"

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
};

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

// The dataset version's rows: the version written out to a scratch file
// (the user's temporary folder; removed after) and read by CsvReader.
training::Table ReadRows(data::DatasetService& datasets, const data::DatasetVersion& version,
                         const data::DatasetProfile& profile,
                         const std::vector<std::string>& columns) {
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() /
      fmt::format("slipway-train-{}-{}.csv", getpid(), NowMillis());
  struct Remove {
    std::filesystem::path path;
    ~Remove() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } remove{scratch};
  datasets.Materialize(version, scratch);
  return training::ReadTable(scratch, profile, columns);
}

// One tracked run on a tracking server, through its MLflow REST API: what
// `slipway train` logs. Ends the run FAILED when destroyed before Finish.
class TrackedRun {
 public:
  TrackedRun(const std::string& uri, const std::string& experiment, const std::string& run_name)
      : client_(uri) {
    std::string experiment_id;
    try {
      experiment_id = StringField(
          Field(client_.Get(Endpoint("experiments/get-by-name"), {{"experiment_name", experiment}}),
                "experiment"),
          "experiment_id");
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
      experiment_id = StringField(
          client_.Post(Endpoint("experiments/create"), {{"name", experiment}}), "experiment_id");
    }
    json body = {{"experiment_id", experiment_id}, {"start_time", NowMillis()}};
    if (!run_name.empty()) body["run_name"] = run_name;
    const json info = Field(Field(client_.Post(Endpoint("runs/create"), body), "run"), "info");
    run_id_ = StringField(info, "run_id");
    const std::string artifact_uri = StringField(info, "artifact_uri");
    const std::string scheme = "mlflow-artifacts:";
    if (artifact_uri.rfind(scheme, 0) != 0) {
      ThrowInvalid("run " + run_id_ + " keeps artifacts at '" + artifact_uri +
                   "', which is not behind this server's artifact proxy");
    }
    artifact_root_ = artifact_uri.substr(scheme.size());
    while (!artifact_root_.empty() && artifact_root_.front() == '/') artifact_root_.erase(0, 1);
  }

  ~TrackedRun() {
    if (finished_) return;
    try {
      End("FAILED");
    } catch (const Error&) {
      // The training's own error is what the user needs to see.
    }
  }

  const std::string& run_id() const { return run_id_; }
  const std::string& uri() const { return client_.uri(); }

  void Log(const json& params, const json& metrics, const json& tags) {
    // MLflow's limits per batch: 100 params, 1000 metrics.
    for (size_t i = 0; i < params.size(); i += 100) {
      json batch(params.begin() + i, params.begin() + std::min(params.size(), i + 100));
      client_.Post(Endpoint("runs/log-batch"), {{"run_id", run_id_}, {"params", batch}});
    }
    for (size_t i = 0; i < metrics.size(); i += 1000) {
      json batch(metrics.begin() + i, metrics.begin() + std::min(metrics.size(), i + 1000));
      client_.Post(Endpoint("runs/log-batch"), {{"run_id", run_id_}, {"metrics", batch}});
    }
    if (!tags.empty())
      client_.Post(Endpoint("runs/log-batch"), {{"run_id", run_id_}, {"tags", tags}});
  }

  void LogInput(const json& dataset, const std::string& context) {
    client_.Post(Endpoint("runs/log-inputs"),
                 {{"run_id", run_id_},
                  {"datasets",
                   {{{"tags", {{{"key", "mlflow.data.context"}, {"value", context}}}},
                     {"dataset", dataset}}}}});
  }

  void PutArtifact(const std::string& path, const std::string& bytes) {
    client_.Put("/api/2.0/mlflow-artifacts/artifacts/" + artifact_root_ + "/" + path, bytes);
  }

  void Finish() {
    End("FINISHED");
    finished_ = true;
  }

 private:
  void End(const std::string& status) {
    client_.Post(Endpoint("runs/update"),
                 {{"run_id", run_id_}, {"status", status}, {"end_time", NowMillis()}});
  }

  ApiClient client_;
  std::string run_id_;
  std::string artifact_root_;
  bool finished_ = false;
};

json Metric(const std::string& key, double value, int64_t step) {
  return {{"key", key}, {"value", value}, {"timestamp", NowMillis()}, {"step", step}};
}

json KeyValue(const std::string& key, const std::string& value) {
  return {{"key", key}, {"value", value}};
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

void Train(const TrainOptions& options) {
  std::vector<std::string> overrides = options.set;
  if (!options.data.empty()) overrides.push_back("data=" + options.data);
  const std::string spec_text = ReadSpec(options.spec);
  const training::TrainingSpec spec = training::ParseSpec(spec_text, options.spec, overrides);
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& datasets = workspace->service();
  data::DatasetVersion version;
  try {
    version = datasets.Resolve(data::ParseDatasetRef(spec.data.name));
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    training::FailAt(spec, spec.data.at, "data",
                     std::string(error.what()) + " (in the workspace " +
                         workspace->root().parent_path().string() + ")");
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
  const bool tuning_asked = spec.search.algorithm != training::SearchAlgorithm::kNone;
  if (tuning_asked) {
    std::cout << "note      tuning (search:) is not built yet: training once with the fixed "
                 "params of model.params\n";
  }
  std::cout << std::flush;

  std::optional<TrackedRun> run;
  if (!options.no_tracking) {
    run.emplace(ResolveTrackingUri(options.tracking_uri), options.experiment, options.run_name);
    std::cout << fmt::format("run       {} on {}\n", run->run_id(), run->uri()) << std::flush;
  }
  const training::Table table =
      ReadRows(datasets, version, profile, training::ColumnsToRead(spec, plan));
  const size_t folds = static_cast<size_t>(spec.cv.folds);
  const bool early_stopping = spec.params.count("early_stopping_rounds") > 0;
  const training::TrainingOutcome outcome =
      training::RunTraining(spec, plan, table, [&](const training::FoldReport& fold) {
        std::cout << fmt::format(
                         "fold {}/{}  train {} rows, validate {} rows  {} {}{}  ({:.2f} s)\n",
                         fold.fold + 1, folds, fold.training_rows, fold.validation_rows,
                         spec.metric, Number(fold.metrics.at(spec.metric)),
                         early_stopping ? fmt::format("  kept {} rounds", fold.rounds) : "",
                         fold.seconds)
                  << std::flush;
      });
  std::cout << fmt::format("final     trained on {} rows, evaluated on {} holdout rows{}\n",
                           outcome.split.training.size(), outcome.split.holdout.size(),
                           outcome.final_rounds > 0
                               ? fmt::format(", {} rounds (the folds' mean)", outcome.final_rounds)
                               : "");
  PrintResults(spec, outcome);
  if (!run) {
    std::cout << "\nnot tracked (--no-tracking): the model was not saved\n";
    return;
  }

  json tags =
      json::array({KeyValue("slipway.dataset", plan.dataset),
                   KeyValue("slipway.dataset.sha256", plan.content_digest),
                   KeyValue("slipway.spec", options.spec), KeyValue("mlflow.source.type", "LOCAL"),
                   KeyValue("mlflow.source.name", "slipway train")});
  if (tuning_asked) {
    tags.push_back(KeyValue("slipway.tuning", "not built yet: trained with the fixed params"));
  }
  json params = Params(spec, plan);
  if (outcome.final_rounds > 0) {
    params.push_back(KeyValue("final.num_boost_round", std::to_string(outcome.final_rounds)));
  }
  run->Log(params, Metrics(outcome), tags);
  run->LogInput({{"name", version.name},
                 {"digest", data::RunInputDigest(version)},
                 {"source_type", "slipway"},
                 {"source", json({{"uri", "slipway-dataset://" + plan.dataset},
                                  {"sha256", version.content_digest}})
                                .dump()}},
                "training");
  const std::vector<training::ModelFile> files =
      training::ModelFolder(spec, outcome, {run->run_id(), "model", plan.dataset, UtcNow()});
  for (const training::ModelFile& file : files) run->PutArtifact("model/" + file.name, file.bytes);
  run->PutArtifact("spec.yaml", spec_text);
  run->PutArtifact("evaluation/holdout_predictions.csv", HoldoutCsv(spec, outcome));
  if (!outcome.holdout.confusion.empty()) {
    run->PutArtifact(
        "evaluation/confusion_matrix.json",
        json({{"classes", outcome.target.classes}, {"counts", outcome.holdout.confusion}}).dump(2));
  }
  run->Finish();
  std::cout << fmt::format("\nlogged    run {}: model at runs:/{}/model\n", run->run_id(),
                           run->run_id());
}

}  // namespace

void AddTrainCommands(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* train = app.add_subcommand("train", "Train a model from a training spec (YAML)");
  train->add_option("spec", options->spec, "The spec file")->required();
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
  train->callback([options] { Train(*options); });
}

}  // namespace slipway::cli
