#include "cli/evaluate_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/registered_model.h"
#include "cli/table.h"
#include "cli/tracked_run.h"
#include "cli/workspace.h"
#include "core/clock.h"
#include "core/error.h"
#include "ml/mlmodel.h"
#include "ml/model_loader.h"
#include "ml/preprocessing.h"
#include "training/champion.h"
#include "training/evaluation.h"
#include "training/explain.h"
#include "training/fairness.h"
#include "training/gates.h"
#include "training/metrics.h"
#include "training/plan.h"
#include "training/robustness.h"
#include "training/spec.h"
#include "training/splits.h"
#include "training/table.h"
#include "training/training_run.h"

namespace slipway::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct EvaluateOptions {
  std::string model;
  std::string data;
  std::string against;
  std::string spec;
  std::string target;
  std::string task;
  bool holdout = false;                // only the spec's holdout rows
  std::vector<std::string> sensitive;  // fairness: columns besides the spec's
  std::string positive_class;          // fairness: instead of the spec's
  bool robustness = false;             // robustness without a spec asking for it
  double margin = 0;
  std::string workspace;
  std::string tracking_uri;
  std::string experiment = "Default";
  std::string run_name;
  std::string cache_dir;
  bool no_tracking = false;
  std::string python = "python3";
  std::string env_manager = "local";
};

std::string ReadFile(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorCode::kResourceDoesNotExist,
                "Cannot read " + what + " '" + path.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

training::Task ParseTask(const std::string& text) {
  if (text == "binary") return training::Task::kBinary;
  if (text == "multiclass") return training::Task::kMulticlass;
  if (text == "regression") return training::Task::kRegression;
  ThrowInvalid("--task: expected binary, multiclass or regression, got '" + text + "'");
}

// A registered model, fetched and loaded as serving loads it.
struct LoadedModel {
  std::string reference;  // as the user wrote it
  RegisteredModel registered;
  std::unique_ptr<ml::Model> model;
  std::vector<std::string> inputs;  // the columns it reads; empty: unknown
  const json* slipway = nullptr;    // its `slipway` flavor, when it has one

  std::string Name() const {
    return fmt::format("models:/{}/{}", registered.name, registered.version);
  }
};

LoadedModel Load(ApiClient& client, const std::string& reference, const fs::path& cache,
                 const ml::LoadOptions& options) {
  LoadedModel m;
  m.reference = reference;
  m.registered = FetchRegisteredModel(client, reference, cache);
  m.model = ml::LoadModel(m.registered.dir, options);
  const ml::MlModel& mlmodel = m.model->mlmodel();
  m.slipway = mlmodel.Flavor("slipway");
  if (m.slipway != nullptr && m.slipway->contains("inputs")) {
    m.inputs = m.slipway->at("inputs").get<std::vector<std::string>>();
  } else if (mlmodel.signature && !mlmodel.signature->inputs.is_tensor()) {
    for (const ml::ColumnSpec& c : mlmodel.signature->inputs.columns)
      if (!c.name.empty()) m.inputs.push_back(c.name);
  }
  return m;
}

std::string FlavorText(const LoadedModel& m, const char* key) {
  if (m.slipway == nullptr || !m.slipway->contains(key) || !m.slipway->at(key).is_string())
    return "";
  return m.slipway->at(key).get<std::string>();
}

// The labels and classes: the data's classes (training's order), or, for a
// model that names its classes (the `slipway` flavor), the model's, so the
// index of a class is the column of its probability.
training::EncodedTarget Labels(const training::Table& table, const std::string& target,
                               training::Task task, const LoadedModel& model) {
  training::EncodedTarget encoded = training::EncodeTarget(table.Get(target), task);
  if (task == training::Task::kRegression || model.slipway == nullptr ||
      !model.slipway->contains("classes")) {
    return encoded;
  }
  // The flavor's YAML may have turned a label into a number or a boolean.
  std::vector<std::string> classes;
  for (const json& label : model.slipway->at("classes")) {
    classes.push_back(label.is_string()    ? label.get<std::string>()
                      : label.is_boolean() ? std::string(label.get<bool>() ? "true" : "false")
                      : label.is_number_integer() ? std::to_string(label.get<int64_t>())
                                                  : fmt::format("{}", label.get<double>()));
  }
  std::vector<double> index_of;
  for (const std::string& label : encoded.classes) {
    const auto at = std::find(classes.begin(), classes.end(), label);
    if (at == classes.end()) {
      ThrowInvalid(fmt::format("the data's label '{}' of '{}' is not a class of {} (classes: {})",
                               label, target, model.Name(), fmt::join(classes, ", ")));
    }
    index_of.push_back(static_cast<double>(at - classes.begin()));
  }
  for (double& y : encoded.y) y = index_of[static_cast<size_t>(y)];
  encoded.classes = classes;
  return encoded;
}

std::vector<double> Select(const std::vector<double>& values, const std::vector<size_t>& rows) {
  std::vector<double> out;
  out.reserve(rows.size());
  for (size_t row : rows) out.push_back(values[row]);
  return out;
}

// The model's predictions of `rows`, as metrics.h reads them.
training::Matrix Predict(const LoadedModel& m, const training::Table& table,
                         const std::vector<std::string>& columns, training::Task task,
                         size_t classes, const std::vector<size_t>& rows) {
  ml::Frame frame = training::FrameOf(table, columns, rows);
  const ml::MlModel& mlmodel = m.model->mlmodel();
  if (mlmodel.signature && !mlmodel.signature->inputs.empty())
    frame = ml::ConformToSchema(mlmodel.signature->inputs, std::move(frame));
  const bool regression = task == training::Task::kRegression;
  try {
    return training::MatrixOf(
        m.model->Predict(frame, regression ? "" : R"({"predict_method": "predict_proba"})"), task,
        classes);
  } catch (const Error& error) {
    throw Error(
        error.code(),
        fmt::format("{}: {}{}", m.Name(), error.what(),
                    regression ? ""
                               : " (a classifier must answer with class probabilities: log a "
                                 "scikit-learn model with pyfunc_predict_fn='predict_proba')"));
  }
}

// An XGBClassifier logged with mlflow.xgboost (not one Slipway trained).
bool IsXgboostClassifier(const LoadedModel& m) {
  const json* flavor = m.model->mlmodel().Flavor("xgboost");
  if (m.slipway != nullptr || flavor == nullptr || !flavor->contains("model_class")) return false;
  const json& model_class = flavor->at("model_class");
  return model_class.is_string() &&
         model_class.get<std::string>().find("XGBClassifier") != std::string::npos;
}

// A binary model whose every score is 0 or 1 answered with labels.
bool LooksLikeLabels(const training::Matrix& p, training::Task task) {
  if (task != training::Task::kBinary || p.rows < 2) return false;
  for (double v : p.values)
    if (v != 0 && v != 1) return false;
  return true;
}

// `rows` as the model's own columns: what SHAP explains. For the
// `slipway` flavor, its preprocessing.json applied; for a bare XGBoost
// model, its features by name (numeric columns only). Empty when neither.
std::optional<training::Matrix> ModelInputs(const LoadedModel& m, const training::Table& table,
                                            const std::vector<std::string>& booster_features,
                                            const std::vector<size_t>& rows, std::string* why) {
  const ml::MlModel& mlmodel = m.model->mlmodel();
  if (m.slipway != nullptr) {
    const std::string file = FlavorText(m, "preprocessing");
    if (file.empty()) return std::nullopt;
    const ml::Preprocessing preprocessing =
        ml::Preprocessing::FromJson(json::parse(ReadFile(mlmodel.dir / file, "preprocessing")));
    training::Matrix x;
    x.rows = rows.size();
    x.cols = preprocessing.output_width();
    x.values = preprocessing.Apply(training::FrameOf(table, m.inputs, rows));
    return x;
  }
  training::Matrix x;
  x.rows = rows.size();
  x.cols = booster_features.size();
  x.values.resize(x.rows * x.cols);
  for (size_t c = 0; c < x.cols; ++c) {
    const std::string& name = booster_features[c];
    const training::TableColumn* column = table.Find(name);
    if (column == nullptr && !m.inputs.empty() && c < m.inputs.size())
      column = table.Find(m.inputs[c]);  // a model without names: by position
    if (column == nullptr || column->categorical) {
      *why = "the model's feature '" + name + "' is not a numeric column of the data";
      return std::nullopt;
    }
    for (size_t r = 0; r < x.rows; ++r) x(r, c) = column->values[rows[r]];
  }
  return x;
}

// Feature importance, coefficients and SHAP, where the model is XGBoost or
// a Slipway linear model; `note` says why there are none otherwise.
training::Explanation ExplainModel(const LoadedModel& m, const training::Table& table,
                                   const std::vector<size_t>& rows, training::Task task,
                                   const std::vector<std::string>& classes,
                                   const std::string& title, std::string* note) {
  const ml::MlModel& mlmodel = m.model->mlmodel();
  training::ExplanationInput in;
  in.task = task;
  in.classes = classes;
  in.title = title;
  fs::path file;
  if (m.slipway != nullptr) {
    const std::string type = FlavorText(m, "model_type");
    in.xgboost = type == "xgboost";
    file = mlmodel.FlavorFile("slipway");
  } else if (mlmodel.Flavor("xgboost") != nullptr) {
    file = mlmodel.FlavorFile("xgboost");
  } else {
    *note = "no feature importance or SHAP: only XGBoost and Slipway's linear models are explained";
    return {};
  }
  in.model_name = file.filename().string();
  in.model_bytes = ReadFile(file, "model file");
  std::optional<training::Matrix> x;
  if (in.xgboost) {
    x = ModelInputs(m, table, training::XgboostFeatureNames(in.model_bytes), rows, note);
    if (x) {
      in.x = &*x;
      in.row_ids = rows;
    } else if (note->empty()) {
      *note = "no SHAP values: the model's inputs could not be built";
    } else {
      *note = "no SHAP values: " + *note;
    }
  }
  return training::Explain(in);
}

// Whether PredictRows reads an XGBClassifier's probabilities through XGBoost.
bool ProbabilitiesFromXgboost(const LoadedModel& m, training::Task task) {
  return task != training::Task::kRegression && IsXgboostClassifier(m);
}

// The predictions of `rows`: as the model is served, or, for an
// XGBClassifier (served, it answers labels), its probabilities from the same
// file through XGBoost itself.
training::Matrix PredictRows(const LoadedModel& m, const training::Table& table,
                             const std::vector<std::string>& columns, training::Task task,
                             size_t classes, const std::vector<size_t>& rows) {
  if (!ProbabilitiesFromXgboost(m, task)) return Predict(m, table, columns, task, classes, rows);
  std::string why;
  const fs::path file = m.model->mlmodel().FlavorFile("xgboost");
  const std::string bytes = ReadFile(file, "model file");
  const std::optional<training::Matrix> x =
      ModelInputs(m, table, training::XgboostFeatureNames(bytes), rows, &why);
  if (!x) ThrowInvalid(m.Name() + ": " + why);
  training::Matrix p = training::XgboostPredict(bytes, *x);
  const size_t expected = task == training::Task::kBinary ? 1 : classes;
  if (p.cols != expected) {
    ThrowInvalid(
        fmt::format("{} predicts {} values per row, the task has {}", m.Name(), p.cols, expected));
  }
  return p;
}

void NoteXgboostClassifier(const LoadedModel& m, training::Task task) {
  if (!ProbabilitiesFromXgboost(m, task)) return;
  std::cout << fmt::format("note      {} is an XGBClassifier: probabilities from XGBoost on {}\n",
                           m.Name(), m.model->mlmodel().FlavorFile("xgboost").filename().string());
}

// One line per scored row: its row in the dataset version, its label and
// the model's prediction.
std::string PredictionsCsv(const std::vector<size_t>& rows, const std::vector<double>& y,
                           const std::vector<std::string>& classes, const training::Matrix& p,
                           training::Task task) {
  std::string out = classes.empty() ? "row,y" : "row,label,y";
  if (task == training::Task::kMulticlass) {
    for (size_t c = 0; c < p.cols; ++c) out += fmt::format(",p{}", c);
  } else {
    out += ",prediction";
  }
  out += "\n";
  for (size_t i = 0; i < p.rows; ++i) {
    out += std::to_string(rows[i]);
    if (!classes.empty()) {
      const std::string& label = classes[static_cast<size_t>(y[i])];
      out += label.find_first_of(",\"\n") == std::string::npos ? "," + label : ",\"" + label + "\"";
    }
    out += fmt::format(",{}", y[i]);
    for (size_t c = 0; c < p.cols; ++c) out += fmt::format(",{:.17g}", p(i, c));
    out += "\n";
  }
  return out;
}

void PrintMetrics(const std::map<std::string, double>& metrics,
                  const std::map<std::string, double>* against) {
  std::vector<Table::Column> columns{{"metric"}, {"value", Table::Align::kRight}};
  if (against) columns.push_back({"against", Table::Align::kRight});
  Table table(columns);
  for (const auto& [name, value] : metrics) {
    std::vector<std::string> row{name, fmt::format("{:.4f}", value)};
    if (against) {
      const auto found = against->find(name);
      row.push_back(found == against->end() ? "" : fmt::format("{:.4f}", found->second));
    }
    table.AddRow(row);
  }
  table.Print(std::cout);
}

void PrintGates(const std::vector<training::GateResult>& results) {
  Table table({{"gate"}, {"value"}, {"result"}});
  for (const training::GateResult& r : results)
    table.AddRow({r.rule, r.detail, r.passed ? "passed" : "FAILED"});
  table.Print(std::cout);
}

// Why `name` cannot be a sensitive column of the version (as PlanTraining
// says it of a spec's); "" when it can.
std::string SensitiveProblem(const data::DatasetProfile& profile, const std::string& dataset,
                             const std::string& target, const std::string& name) {
  const auto column = std::find_if(profile.columns.begin(), profile.columns.end(),
                                   [&](const data::ColumnProfile& c) { return c.name == name; });
  if (column == profile.columns.end()) return fmt::format("no column '{}' in {}", name, dataset);
  if (name == target) return "'" + name + "' is the target; a sensitive column groups the rows";
  const double groups = column->DistinctEstimate();
  if (groups > training::kMaxSensitiveGroups) {
    return fmt::format(
        "'{}' has ~{:.0f} distinct values: too many groups to compare (at most {}); bin it into "
        "a column of bands first",
        name, groups, training::kMaxSensitiveGroups);
  }
  return "";
}

// What AssessFairness reads: the spec (or an empty one) with the task, and
// as `fairness:` the spec's sensitive columns followed by --sensitive's,
// with --positive-class over the spec's. nullopt when no column is named.
std::optional<training::TrainingSpec> FairnessSpec(
    const EvaluateOptions& options, const std::optional<training::TrainingSpec>& spec,
    training::Task task, const data::DatasetProfile& profile, const std::string& dataset,
    const std::string& target) {
  const bool from_spec = spec && spec->fairness;
  if (!from_spec && options.sensitive.empty()) {
    if (!options.positive_class.empty())
      ThrowInvalid("--positive-class: no sensitive column to assess; give --sensitive COLUMN");
    return std::nullopt;
  }
  training::TrainingSpec out = spec ? *spec : training::TrainingSpec{};
  if (!spec) out.source = "--sensitive";
  out.task = task;
  training::Fairness fairness = from_spec ? *spec->fairness : training::Fairness{};
  for (const training::Named& f : fairness.sensitive) {
    const std::string problem = SensitiveProblem(profile, dataset, target, f.name);
    if (!problem.empty()) training::FailAt(*spec, f.at, "fairness.sensitive", problem);
  }
  for (const std::string& name : options.sensitive) {
    const std::string problem = SensitiveProblem(profile, dataset, target, name);
    if (!problem.empty()) ThrowInvalid("--sensitive: " + problem);
    const bool listed = std::any_of(fairness.sensitive.begin(), fairness.sensitive.end(),
                                    [&](const training::Named& f) { return f.name == name; });
    if (!listed) fairness.sensitive.push_back({name, {}});
  }
  if (!options.positive_class.empty()) fairness.positive_class = {options.positive_class, {}};
  if (task == training::Task::kMulticlass && !fairness.positive_class) {
    ThrowInvalid(
        "--sensitive on a multiclass task needs --positive-class: the class whose selection the "
        "groups compare");
  }
  out.fairness = std::move(fairness);
  return out;
}

// A matrix of `rows` x `cols` NaN: predictions a model could not make.
training::Matrix Unpredicted(size_t rows, size_t cols) {
  training::Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.values.assign(rows * cols, std::nan(""));
  return m;
}

void Evaluate(const EvaluateOptions& options) {
  if (options.model.rfind("models:/", 0) != 0)
    ThrowInvalid("'" + options.model + "' is not a models:/NAME@ALIAS or models:/NAME/VERSION");
  if (!options.against.empty() && options.against.rfind("models:/", 0) != 0)
    ThrowInvalid("--against: '" + options.against + "' is not a models:/ reference");
  if (options.holdout && options.spec.empty()) {
    ThrowInvalid(
        "--holdout needs --spec: the holdout is the spec's (its holdout share, cv scheme and "
        "seed)");
  }

  // The spec, when given: target, task, gates (its data is --data's).
  std::optional<training::TrainingSpec> spec;
  if (!options.spec.empty()) {
    spec = training::ParseSpec(ReadFile(options.spec, "spec file"), options.spec,
                               {"data=" + options.data});
  }

  // The dataset version first: a wrong --data fails before any download.
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& datasets = workspace->service();
  const data::DatasetVersion version = datasets.Resolve(data::ParseDatasetRef(options.data));
  if (version.profile_json.empty())
    ThrowInvalid(options.data + " is not a table (a CSV file with a header)");
  const data::DatasetProfile profile = datasets.ProfileOf(version);
  const std::string dataset = fmt::format("{}@{}", version.name, version.version);
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  const fs::path cache = options.cache_dir.empty() ? fs::temp_directory_path() / "slipway-evaluate"
                                                   : fs::path(options.cache_dir);
  ml::LoadOptions load;
  load.python.python = options.python;
  load.python.env_manager = options.env_manager;
  const LoadedModel model = Load(client, options.model, cache, load);
  // The champion: --against, or for the spec's champion gates the version
  // at their alias of the evaluated model's name (as `slipway train` finds
  // it); none there is "no champion".
  std::string against_reference = options.against;
  if (against_reference.empty() && spec) {
    for (const training::Gate& gate : spec->gates) {
      if (!gate.champion) continue;
      against_reference = fmt::format("models:/{}@{}", model.registered.name, *gate.champion);
      break;
    }
  }
  std::optional<LoadedModel> against;
  if (!against_reference.empty()) {
    try {
      against.emplace(Load(client, against_reference, cache, load));
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kResourceDoesNotExist || !options.against.empty()) throw;
    }
  }

  // Target and task: the spec, the flags, the model's flavor.
  std::string target = spec ? spec->target.name : options.target;
  if (target.empty()) target = FlavorText(model, "target");
  if (target.empty())
    ThrowInvalid(model.Name() + " does not name its target: give --target or --spec");
  std::string task_text = spec ? std::string(training::TaskName(spec->task)) : options.task;
  if (task_text.empty()) task_text = FlavorText(model, "task");
  if (task_text.empty())
    ThrowInvalid(model.Name() + " does not name its task: give --task or --spec");
  const training::Task task = ParseTask(task_text);
  const std::string flavor_task = FlavorText(model, "task");
  if (!flavor_task.empty() && flavor_task != task_text) {
    ThrowInvalid(fmt::format("{} is a {} model, not {}", model.Name(), flavor_task, task_text));
  }

  // The rows: the dataset version's, with every column either model reads.
  auto columns_of = [&](const LoadedModel& m) {
    std::vector<std::string> columns = m.inputs;
    if (columns.empty()) {
      for (const data::ColumnProfile& c : profile.columns)
        if (c.name != target) columns.push_back(c.name);
    }
    return columns;
  };
  const std::vector<std::string> inputs = columns_of(model);
  const std::vector<std::string> against_inputs =
      against ? columns_of(*against) : std::vector<std::string>{};
  // Fairness's sensitive columns, and the split's group or time column.
  const std::optional<training::TrainingSpec> fairness_spec =
      FairnessSpec(options, spec, task, profile, dataset, target);
  std::vector<std::string> read = inputs;
  auto read_also = [&](const std::string& c) {
    if (std::find(read.begin(), read.end(), c) == read.end()) read.push_back(c);
  };
  for (const std::string& c : against_inputs) read_also(c);
  read_also(target);
  if (fairness_spec)
    for (const training::Named& f : fairness_spec->fairness->sensitive) read_also(f.name);
  if (options.holdout && spec->cv.group) read_also(spec->cv.group->name);
  if (options.holdout && spec->cv.time) read_also(spec->cv.time->name);
  const training::Table table = ReadRows(datasets, version, profile, read);
  if (task == training::Task::kRegression && table.Get(target).categorical)
    ThrowInvalid("'" + target + "' holds text in " + dataset + ": a regression needs numbers");
  const training::EncodedTarget labels = Labels(table, target, task, model);
  const size_t classes = labels.classes.size();
  if (!options.positive_class.empty() && task != training::Task::kRegression &&
      !training::ClassIndex(labels.classes, options.positive_class)) {
    ThrowInvalid(fmt::format("--positive-class: no class '{}' in '{}' (its classes: {})",
                             options.positive_class, target, fmt::join(labels.classes, ", ")));
  }

  // The rows scored: every row, or the holdout `slipway train` kept out
  // with this spec and seed (training_run.h's split of the same table).
  std::vector<size_t> rows(table.rows);
  std::iota(rows.begin(), rows.end(), size_t{0});
  std::vector<size_t> training_rows = rows;  // robustness: the noise's scale
  if (options.holdout) {
    training::Holdout split = training::HoldoutOf(*spec, table);
    rows = std::move(split.holdout);
    training_rows = std::move(split.training);
  }
  const std::vector<double> y = Select(labels.y, rows);
  const std::string scope = options.holdout ? "holdout" : "all";

  std::cout << fmt::format("model     {} ({}, {})\n", model.Name(), options.model,
                           model.model->native() ? "native" : "Python worker");
  if (against) std::cout << fmt::format("against   {} ({})\n", against->Name(), against_reference);
  std::cout << fmt::format("data      {} (sha256 {}), {} rows\n", dataset,
                           version.content_digest.substr(0, 12), table.rows);
  std::cout << fmt::format(
      "task      {} on '{}'{}\n", task_text, target,
      classes ? fmt::format(": classes {}", fmt::join(labels.classes, " ")) : "");
  if (options.holdout) {
    std::cout << fmt::format(
        "rows      the holdout of {}: {} of {} rows (holdout {}, {} split, seed {}); the rest "
        "are the training rows\n",
        options.spec, rows.size(), table.rows, spec->holdout, CvSchemeName(spec->cv.scheme),
        spec->seed);
  } else {
    std::cout << fmt::format("rows      all {} rows of {}\n", rows.size(), dataset);
  }
  std::cout << std::flush;

  NoteXgboostClassifier(model, task);
  const training::Matrix predictions = PredictRows(model, table, inputs, task, classes, rows);
  if (LooksLikeLabels(predictions, task)) {
    std::cout << "note      every score is 0 or 1: the model may answer with labels, not "
                 "probabilities (a scikit-learn model: log it with "
                 "pyfunc_predict_fn='predict_proba')\n";
  }
  const std::string title =
      fmt::format("{} on {}{}", model.Name().substr(8), dataset, options.holdout ? " holdout" : "");
  training::EvaluationReport report =
      training::EvaluatePredictions({task, labels.classes, y, &predictions, title});
  std::string note;
  training::Explanation explanation =
      ExplainModel(model, table, rows, task, labels.classes, title, &note);
  if (!note.empty()) std::cout << "note      " << note << "\n";

  std::optional<training::Matrix> against_predictions;
  std::optional<training::Evaluation> against_evaluation;
  if (against) {
    NoteXgboostClassifier(*against, task);
    against_predictions = PredictRows(*against, table, against_inputs, task, classes, rows);
    against_evaluation =
        training::Evaluate(task, static_cast<int64_t>(classes), y, *against_predictions);
  }

  // Fairness and robustness as `slipway train` assesses its holdout; gates
  // name their metrics.
  const std::string metric = spec ? spec->metric : std::string(training::DefaultMetric(task));
  const uint64_t seed = spec ? spec->seed : 0;
  const std::string shown_scope = options.holdout ? "holdout" : "evaluated";
  std::optional<training::FairnessReport> fairness;
  if (fairness_spec) {
    fairness = training::AssessFairness(*fairness_spec, inputs, labels.classes, table, rows, y,
                                        predictions);
    fairness->scope = shown_scope;
  }
  std::optional<training::RobustnessReport> robustness;
  if ((spec && spec->robustness) || options.robustness) {
    const training::Robustness asked =
        spec && spec->robustness ? *spec->robustness : training::Robustness{};
    std::vector<size_t> local(rows.size());
    std::iota(local.begin(), local.end(), size_t{0});
    bool unperturbed = true;
    std::string refused;  // the first perturbation the model could not predict
    const training::PredictTable predict = [&](const training::Table& t) {
      if (unperturbed) {
        unperturbed = false;
        return PredictRows(model, t, inputs, task, classes, local);
      }
      try {
        return PredictRows(model, t, inputs, task, classes, local);
      } catch (const Error& error) {
        if (refused.empty()) refused = error.what();
        return Unpredicted(t.rows, predictions.cols);
      }
    };
    robustness = training::AssessRobustness(asked, seed, task, static_cast<int64_t>(classes),
                                            metric, table, training_rows, rows, y, inputs, predict);
    robustness->scope = shown_scope;
    if (!refused.empty()) {
      std::cout << "note      robustness: the model could not predict a perturbation (NaN in "
                   "the report): "
                << refused << "\n";
    }
  }

  // Gates: the spec's, or with --against alone one champion gate.
  std::vector<training::Gate> gates = spec ? spec->gates : std::vector<training::Gate>{};
  if (!spec && against) {
    training::Gate gate;
    gate.metric = metric;
    gate.champion = options.against.substr(options.against.find_last_of("@/") + 1);
    gate.margin = options.margin;
    gates.push_back(gate);
  }
  std::map<std::string, double> gated = report.evaluation.metrics;
  gated.insert(explanation.metrics.begin(), explanation.metrics.end());
  if (fairness) gated.insert(fairness->metrics.begin(), fairness->metrics.end());
  if (robustness) gated.insert(robustness->metrics.begin(), robustness->metrics.end());
  const std::vector<training::GateResult> results =
      training::EvaluateGates(gates, gated, [&](const training::Gate& gate) {
        training::ChampionMetric champion;
        if (!against) return champion;  // no version at the alias
        champion.exists = true;
        champion.version = against->registered.version;
        champion.value = against_evaluation->metrics.at(gate.metric);
        champion.interval = training::BootstrapImprovement(task, static_cast<int64_t>(classes), y,
                                                           predictions, *against_predictions,
                                                           gate.metric, gate.confidence, seed);
        return champion;
      });
  const bool passed = training::AllPassed(results);

  if (fairness) std::cout << training::FormatFairness(*fairness);
  if (robustness) std::cout << training::FormatRobustness(*robustness);
  std::cout << "\n";
  PrintMetrics(report.evaluation.metrics,
               against_evaluation ? &against_evaluation->metrics : nullptr);

  if (!options.no_tracking) {
    const std::string experiment_id = ExperimentId(client, options.experiment);
    json tags = json::array({KeyValue("mlflow.source.type", "LOCAL"),
                             KeyValue("mlflow.source.name", "slipway evaluate"),
                             KeyValue("slipway.evaluation.model", model.Name()),
                             KeyValue("slipway.dataset", dataset),
                             KeyValue("slipway.dataset.sha256", version.content_digest),
                             KeyValue("slipway.evaluation.rows", scope)});
    if (against) tags.push_back(KeyValue("slipway.evaluation.against", against->Name()));
    if (!results.empty()) {
      tags.push_back(KeyValue("slipway.gates", passed ? "PASSED" : "FAILED"));
      for (size_t i = 0; i < results.size(); ++i) {
        tags.push_back(KeyValue(fmt::format("slipway.gate.{}", i),
                                fmt::format("{}: {}: {}", results[i].rule, results[i].detail,
                                            results[i].passed ? "passed" : "FAILED")));
      }
    }
    TrackedRun run(client.uri(), experiment_id,
                   options.run_name.empty() ? fmt::format("evaluate-{}-v{}", model.registered.name,
                                                          model.registered.version)
                                            : options.run_name,
                   tags, NowMillis());
    json params = json::array(
        {KeyValue("model", options.model), KeyValue("model.version", model.Name()),
         KeyValue("data", dataset), KeyValue("target", target), KeyValue("task", task_text),
         KeyValue("rows", scope), KeyValue("rows.count", std::to_string(rows.size()))});
    if (options.holdout) {
      params.push_back(KeyValue("holdout", fmt::format("{}", spec->holdout)));
      params.push_back(KeyValue("cv.scheme", std::string(training::CvSchemeName(spec->cv.scheme))));
      params.push_back(KeyValue("seed", std::to_string(spec->seed)));
    }
    if (against) params.push_back(KeyValue("against", against_reference));
    json metrics = json::array();
    auto add = [&](const std::string& key, double value) {
      if (std::isfinite(value)) metrics.push_back(Metric(key, value, 0));
    };
    for (const auto& [name, value] : report.evaluation.metrics) add(name, value);
    for (const auto& [name, value] : explanation.metrics) add(name, value);
    if (fairness)
      for (const auto& [name, value] : fairness->metrics) add(name, value);
    if (robustness)
      for (const auto& [name, value] : robustness->metrics) add(name, value);
    if (against_evaluation)
      for (const auto& [name, value] : against_evaluation->metrics) add("against." + name, value);
    for (size_t i = 0; i < results.size(); ++i) {
      add(fmt::format("gate.{}.passed", i), results[i].passed ? 1 : 0);
      if (results[i].champion) add(fmt::format("gate.{}.champion", i), *results[i].champion);
    }
    run.Log(params, metrics, tags);
    run.LogInput({{"name", version.name},
                  {"digest", data::RunInputDigest(version)},
                  {"source_type", "slipway"},
                  {"source", json({{"uri", "slipway-dataset://" + dataset},
                                   {"sha256", version.content_digest}})
                                 .dump()}},
                 "evaluation");
    for (const training::EvaluationFile& f : report.files)
      run.PutArtifact("evaluation/" + f.name, f.bytes);
    for (const training::EvaluationFile& f : explanation.files)
      run.PutArtifact("evaluation/" + f.name, f.bytes);
    run.PutArtifact("evaluation/predictions.csv",
                    PredictionsCsv(rows, y, labels.classes, predictions, task));
    if (fairness) run.PutArtifact("fairness/report.json", fairness->ToJson().dump(2));
    if (robustness) run.PutArtifact("robustness/report.json", robustness->ToJson().dump(2));
    if (!options.spec.empty()) run.PutArtifact("spec.yaml", ReadFile(options.spec, "spec file"));
    run.Finish();
    std::cout << fmt::format("\nlogged    run {}: evaluation/ holds the curves and charts\n",
                             run.run_id());
  }

  if (!results.empty()) {
    std::cout << fmt::format("\ngates     {}\n", passed ? "PASSED" : "FAILED");
    PrintGates(results);
    std::cout << std::flush;
    if (!passed) {
      size_t failed = 0;
      for (const training::GateResult& g : results) failed += !g.passed;
      throw Error(ErrorCode::kInvalidState,
                  fmt::format("{} of {} gates FAILED", failed, results.size()));
    }
  }
}

}  // namespace

void AddEvaluateCommand(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  CLI::App* evaluate = app.add_subcommand(
      "evaluate", "Evaluate a registered model on a dataset version: metrics, charts, gates");
  evaluate->add_option("model", options->model, "models:/NAME@ALIAS or models:/NAME/VERSION")
      ->required();
  evaluate->add_option("--data", options->data, "Dataset version to evaluate on, e.g. churn@7")
      ->required();
  evaluate->add_option("--against", options->against,
                       "A second model (models:/NAME@production) evaluated on the same rows: the "
                       "champion of the champion gates");
  evaluate->add_option("--spec", options->spec,
                       "A training spec: its target, task, metric and gates");
  evaluate->add_option("--target", options->target,
                       "The label column (default: the spec's, or the model's own)");
  evaluate->add_option("--task", options->task,
                       "binary, multiclass or regression (default: the spec's, or the model's)");
  evaluate->add_flag("--holdout", options->holdout,
                     "With --spec: score only the rows `slipway train` held out with that spec "
                     "and seed (default: every row)");
  evaluate
      ->add_option("--sensitive", options->sensitive,
                   "Fairness: a column whose groups are compared, besides the spec's; "
                   "repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  evaluate->add_option("--positive-class", options->positive_class,
                       "Fairness: the class whose selection the groups compare (default: the "
                       "spec's, or a binary task's second class)");
  evaluate->add_flag("--robustness", options->robustness,
                     "Assess robustness (noise 0.05, each feature missing) when the spec does "
                     "not ask for it");
  evaluate
      ->add_option("--margin", options->margin,
                   "Without --spec: by how much the model must beat --against's")
      ->capture_default_str();
  evaluate->add_option("--workspace", options->workspace,
                       "Folder holding the .slipway workspace (default: the nearest one above "
                       "here, or $SLIPWAY_WORKSPACE)");
  AddTrackingUriOption(evaluate, &options->tracking_uri);
  evaluate
      ->add_option("--experiment", options->experiment,
                   "Experiment of the evaluation run (made when missing)")
      ->capture_default_str();
  evaluate->add_option("--run-name", options->run_name, "Name of the evaluation run");
  evaluate->add_flag("--no-tracking", options->no_tracking,
                     "Print the metrics and gates; log no run");
  evaluate->add_option("--cache-dir", options->cache_dir, "Where models:/ downloads are kept");
  evaluate->add_option("--python", options->python, "Python for models served by a Python worker")
      ->capture_default_str();
  evaluate
      ->add_option("--env-manager", options->env_manager,
                   "Python flavors: local (this environment) or virtualenv (the model's own)")
      ->capture_default_str()
      ->check(CLI::IsMember({"local", "virtualenv"}));
  evaluate->callback([options] { Evaluate(*options); });
}

}  // namespace slipway::cli
