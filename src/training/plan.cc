#include "training/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

#include "core/error.h"
#include "data/csv_reader.h"
#include "data/yaml_reader.h"
#include "training/fairness.h"
#include "training/robustness.h"
#include "training/tuning.h"

namespace slipway::training {
namespace {

const data::ColumnProfile& Column(const TrainingSpec& spec, const data::DatasetProfile& profile,
                                  const std::string& dataset, const Named& name,
                                  const std::string& path) {
  const data::ColumnProfile* column = profile.Find(name.name);
  if (column == nullptr) {
    std::string known;
    for (const data::ColumnProfile& c : profile.columns) {
      if (known.size() > 200) {
        known += ", ...";
        break;
      }
      known += (known.empty() ? "" : ", ") + c.name;
    }
    FailAt(spec, name.at, path,
           "no column '" + name.name + "' in " + dataset + " (it has: " + known + ")");
  }
  return *column;
}

// The classes of a target column, from its exact frequent items.
std::vector<PlannedClass> ClassesOf(const data::ColumnProfile& target) {
  std::vector<PlannedClass> classes;
  for (const auto& item : target.top_items.Top(SIZE_MAX))
    classes.push_back({item.value, item.lower_bound});
  return classes;
}

// The class a binary task's fairness compares by default: the second in
// label order (numbers by value, as EncodeTarget orders them).
std::string SecondClass(const std::vector<PlannedClass>& classes) {
  std::vector<std::string> labels;
  for (const PlannedClass& c : classes) labels.push_back(c.label);
  const auto number = [](const std::string& text) -> std::optional<double> {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
    return v;
  };
  std::sort(labels.begin(), labels.end(), [&](const std::string& a, const std::string& b) {
    const auto x = number(a), y = number(b);
    return x && y ? *x < *y : a < b;
  });
  return labels.size() > 1 ? labels[1] : "?";
}

}  // namespace

void FailAt(const TrainingSpec& spec, const Position& at, const std::string& path,
            const std::string& what) {
  YAML::Mark mark = YAML::Mark::null_mark();
  if (at.line > 0) {
    mark.line = at.line - 1;
    mark.column = at.column - 1;
  }
  data::YamlReader(spec.source).Fail(mark, path, what);
}

TrainingPlan PlanTraining(const TrainingSpec& spec, const data::DatasetVersion& version,
                          const data::DatasetProfile& profile) {
  TrainingPlan plan;
  plan.dataset = version.name + "@" + std::to_string(version.version);
  plan.content_digest = version.content_digest;
  if (version.format != "csv" || profile.columns.empty()) {
    FailAt(spec, spec.data.at, "data",
           plan.dataset + " is not a table (a CSV file with a header): nothing to train on");
  }
  plan.rows = profile.row_count;

  // The target.
  const data::ColumnProfile& target = Column(spec, profile, plan.dataset, spec.target, "target");
  if (target.missing > 0) {
    FailAt(spec, spec.target.at, "target",
           fmt::format("'{}' has {} missing values in {}; drop or fill those rows first",
                       target.name, target.missing, plan.dataset));
  }
  if (spec.task == Task::kRegression) {
    if (!data::IsNumeric(target.type)) {
      FailAt(spec, spec.target.at, "target",
             fmt::format("'{}' holds {} values; a regression needs numbers", target.name,
                         data::ColumnTypeName(target.type)));
    }
  } else {
    if (!target.top_items.exact()) {
      FailAt(spec, spec.target.at, "target",
             fmt::format("'{}' has too many distinct values (~{:.0f}) to be classes", target.name,
                         target.DistinctEstimate()));
    }
    plan.classes = ClassesOf(target);
    const size_t n = plan.classes.size();
    if (n < 2) {
      FailAt(spec, spec.target.at, "target",
             fmt::format("'{}' has one class only ({}) in {}: there is nothing to tell apart",
                         target.name, n ? plan.classes[0].label : "no rows", plan.dataset));
    }
    if (spec.task == Task::kBinary && n != 2) {
      FailAt(spec, spec.target.at, "target",
             fmt::format("'{}' has {} classes; task binary needs 2 (use task: multiclass)",
                         target.name, n));
    }
    if (spec.task == Task::kMulticlass && n == 2) {
      FailAt(spec, spec.target.at, "target",
             fmt::format("'{}' has 2 classes; use task: binary", target.name));
    }
  }

  // Features: named, or every other column.
  std::set<std::string> excluded;
  for (const Named& e : spec.exclude) {
    Column(spec, profile, plan.dataset, e, "exclude");
    excluded.insert(e.name);
  }
  std::vector<Named> features = spec.features;
  if (features.empty()) {
    for (const data::ColumnProfile& c : profile.columns) {
      if (c.name != target.name && !excluded.count(c.name)) features.push_back({c.name, {}});
    }
  }
  std::set<std::string> used{target.name};
  for (const Named& f : features) {
    const data::ColumnProfile& c = Column(spec, profile, plan.dataset, f, "features");
    if (c.name == target.name) {
      FailAt(spec, f.at, "features", "'" + f.name + "' is the target; it cannot be a feature");
    }
    if (excluded.count(c.name)) {
      FailAt(spec, f.at, "features", "'" + f.name + "' is both a feature and excluded");
    }
    if (c.type == data::ColumnType::kEmpty) {
      FailAt(spec, f.at.line ? f.at : spec.data.at, "features",
             "'" + f.name + "' has no values in " + plan.dataset + "; exclude it");
    }
    PlannedFeature feature;
    feature.name = c.name;
    feature.type = c.type;
    feature.categorical = c.type == data::ColumnType::kString;
    feature.missing = c.missing;
    feature.distinct = static_cast<int64_t>(std::llround(c.DistinctEstimate()));
    plan.features.push_back(std::move(feature));
    used.insert(c.name);
  }
  if (plan.features.empty()) {
    FailAt(spec, spec.target.at, "features",
           "no features left: " + plan.dataset + " has no column besides the target");
  }
  if (spec.fairness) {
    for (const Named& f : spec.fairness->sensitive) {
      const data::ColumnProfile& c = Column(spec, profile, plan.dataset, f, "fairness.sensitive");
      if (c.name == target.name) {
        FailAt(spec, f.at, "fairness.sensitive",
               "'" + f.name + "' is the target; a sensitive column groups the rows");
      }
      const double groups = c.DistinctEstimate();
      if (groups > kMaxSensitiveGroups) {
        FailAt(spec, f.at, "fairness.sensitive",
               fmt::format("'{}' has ~{:.0f} distinct values: too many groups to compare (at "
                           "most {}); bin it into a column of bands first",
                           f.name, groups, kMaxSensitiveGroups));
      }
      used.insert(c.name);
    }
    if (spec.fairness->positive_class && !plan.classes.empty()) {
      std::vector<std::string> labels;
      for (const PlannedClass& c : plan.classes) labels.push_back(c.label);
      const Named& positive = *spec.fairness->positive_class;
      if (!ClassIndex(labels, positive.name)) {
        std::string known;
        for (const std::string& l : labels) known += (known.empty() ? "" : ", ") + l;
        FailAt(spec, positive.at, "fairness.positive_class",
               "no class '" + positive.name + "' in '" + target.name + "' (its classes: " + known +
                   ")");
      }
    }
  }
  // Gates on one feature's robustness name a feature of the model.
  for (size_t i = 0; i < spec.gates.size() && spec.robustness; ++i) {
    const std::optional<FeatureMetric> m =
        FeatureMetricOf(spec.task, *spec.robustness, spec.gates[i].metric);
    if (!m) continue;
    const auto f = std::find_if(plan.features.begin(), plan.features.end(),
                                [&](const PlannedFeature& p) { return p.name == m->feature; });
    const std::string path = fmt::format("gates[{}].metric", i);
    if (f == plan.features.end()) {
      std::string names;
      for (const PlannedFeature& p : plan.features) names += (names.empty() ? "" : ", ") + p.name;
      FailAt(spec, spec.gates[i].at, path,
             "'" + m->feature + "' is not a feature of the model (its features: " + names + ")");
    }
    if (m->noise && (f->categorical || f->type == data::ColumnType::kBool)) {
      FailAt(spec, spec.gates[i].at, path,
             "'" + m->feature + "' is not numeric: noise goes on numeric features only");
    }
  }
  if (spec.cv.group) {
    Column(spec, profile, plan.dataset, *spec.cv.group, "cv.group");
    used.insert(spec.cv.group->name);
  }
  if (spec.cv.time) {
    const data::ColumnProfile& t = Column(spec, profile, plan.dataset, *spec.cv.time, "cv.time");
    if (t.missing > 0) {
      FailAt(spec, spec.cv.time->at, "cv.time",
             fmt::format("'{}' has {} missing values; rows without a time cannot be ordered",
                         t.name, t.missing));
    }
    used.insert(t.name);
  }
  for (const data::ColumnProfile& c : profile.columns)
    if (!used.count(c.name)) plan.ignored.push_back(c.name);

  // Rows for the holdout and the folds.
  plan.holdout_rows = static_cast<int64_t>(std::llround(spec.holdout * plan.rows));
  plan.training_rows = plan.rows - plan.holdout_rows;
  if (plan.holdout_rows < 1 || plan.training_rows < spec.cv.folds * 2) {
    FailAt(spec, spec.data.at, "data",
           fmt::format("{} has {} rows: too few for a holdout of {} and {} folds", plan.dataset,
                       plan.rows, spec.holdout, spec.cv.folds));
  }
  if (spec.cv.scheme == CvScheme::kStratified) {
    for (const PlannedClass& c : plan.classes) {
      // The holdout is stratified too: each fold of the rest needs the class.
      const double in_training = c.rows * (1 - spec.holdout);
      if (in_training < spec.cv.folds) {
        FailAt(spec, spec.target.at, "target",
               fmt::format("class '{}' has {} rows: too few for {} stratified folds after the "
                           "holdout (fewer folds, or cv.scheme: kfold)",
                           c.label, c.rows, spec.cv.folds));
      }
    }
  }
  plan.trials = spec.search.algorithm == SearchAlgorithm::kNone ? 1 : spec.search.trials;
  plan.fits = plan.trials * spec.cv.folds + 1;
  if (HalvingResourceOf(spec) != HalvingResource::kNone) {
    plan.fits = 1;
    const bool folds = HalvingResourceOf(spec) == HalvingResource::kFolds;
    for (const Rung& r : TuningRungs(spec))
      plan.fits += r.trials * (folds ? r.resource : spec.cv.folds);
  }
  return plan;
}

std::string FormatPlan(const TrainingSpec& spec, const TrainingPlan& plan) {
  std::string out;
  auto line = [&](const std::string& text) { out += text + "\n"; };
  line(fmt::format("data      {} (sha256 {}...), {} rows", plan.dataset,
                   plan.content_digest.substr(0, 12), plan.rows));
  line(fmt::format("split     holdout {} rows ({:.0f}%), training {} rows", plan.holdout_rows,
                   spec.holdout * 100, plan.training_rows));
  std::string task = fmt::format("task      {} on '{}'", TaskName(spec.task), spec.target.name);
  if (!plan.classes.empty()) {
    task += ": classes";
    for (const PlannedClass& c : plan.classes) task += fmt::format(" {} ({})", c.label, c.rows);
  }
  line(task);
  int numeric = 0, categorical = 0;
  for (const PlannedFeature& f : plan.features) (f.categorical ? categorical : numeric)++;
  line(fmt::format("features  {} ({} numeric, {} categorical)", plan.features.size(), numeric,
                   categorical));
  const Preprocessing& p = spec.preprocessing;
  for (const PlannedFeature& f : plan.features) {
    std::string how;
    if (f.categorical) {
      how = p.categorical == CategoricalEncoding::kOneHot
                ? fmt::format("one-hot (~{} values)", f.distinct)
                : std::string("native categorical");
      if (f.missing) {
        how += p.categorical_missing == CategoricalImputation::kMostFrequent
                   ? ", missing -> most frequent"
                   : ", missing -> own category";
      }
    } else {
      how = std::string(data::ColumnTypeName(f.type));
      if (f.missing) {
        how += p.numeric == NumericImputation::kMedian ? ", missing -> median"
               : p.numeric == NumericImputation::kMean ? ", missing -> mean"
                                                       : ", missing kept (the model's own)";
      }
      if (p.scale == Scaling::kStandard) how += ", standardized";
      if (p.scale == Scaling::kMinMax) how += ", scaled to [0, 1]";
    }
    if (f.missing) how += fmt::format(" ({} missing)", f.missing);
    line(fmt::format("  {:<20} {}", f.name, how));
  }
  if (!plan.ignored.empty()) {
    std::string names;
    for (const std::string& n : plan.ignored) names += (names.empty() ? "" : ", ") + n;
    line("ignored   " + names);
  }
  std::string model = fmt::format("model     {}", ModelTypeName(spec.model));
  for (const auto& [name, value] : spec.params) {
    model += " " + name + "=";
    model += std::holds_alternative<double>(value) ? fmt::format("{}", std::get<double>(value))
                                                   : std::get<std::string>(value);
  }
  line(model);
  if (spec.search.algorithm != SearchAlgorithm::kNone) {
    line(fmt::format("search    {}, {} trials", SearchAlgorithmName(spec.search.algorithm),
                     spec.search.trials));
    if (HalvingResourceOf(spec) != HalvingResource::kNone) {
      std::string rungs = "rungs    ";
      const char* unit = HalvingResourceOf(spec) == HalvingResource::kRounds ? "rounds" : "folds";
      for (const Rung& r : TuningRungs(spec))
        rungs += fmt::format(" {} trials x {} {},", r.trials, r.resource, unit);
      rungs.pop_back();
      line(rungs + " (the best third goes on)");
    }
    for (const SearchDimension& d : spec.search.space) {
      std::string range;
      switch (d.kind) {
        case SearchDimension::Kind::kInt:
          range = fmt::format("int [{}, {}]", d.low, d.high);
          break;
        case SearchDimension::Kind::kUniform:
          range = fmt::format("uniform [{}, {}]", d.low, d.high);
          break;
        case SearchDimension::Kind::kLogUniform:
          range = fmt::format("log-uniform [{}, {}]", d.low, d.high);
          break;
        case SearchDimension::Kind::kChoice:
          range = "choice of";
          for (const ParamValue& v : d.choices) {
            range += " ";
            range += std::holds_alternative<double>(v) ? fmt::format("{}", std::get<double>(v))
                                                       : std::get<std::string>(v);
          }
          break;
      }
      line(fmt::format("  {:<20} {}", d.name, range));
    }
  }
  std::string cv =
      fmt::format("cv        {} folds, {}", spec.cv.folds, CvSchemeName(spec.cv.scheme));
  if (spec.cv.group) cv += " by '" + spec.cv.group->name + "'";
  if (spec.cv.time) cv += " ordered by '" + spec.cv.time->name + "'";
  line(cv);
  line(fmt::format("optimise  {} ({} is better); {} model fits, seed {}", spec.metric,
                   GreaterIsBetter(spec.metric) ? "greater" : "smaller", plan.fits, spec.seed));
  if (spec.fairness) {
    std::string sensitive;
    for (const Named& f : spec.fairness->sensitive) {
      const bool feature = std::any_of(plan.features.begin(), plan.features.end(),
                                       [&](const PlannedFeature& p) { return p.name == f.name; });
      sensitive += fmt::format("{}{}{}", sensitive.empty() ? "" : ", ", f.name,
                               feature ? "" : " (not a feature)");
    }
    std::string positive;
    if (spec.task != Task::kRegression) {
      positive = spec.fairness->positive_class
                     ? spec.fairness->positive_class->name
                     : (plan.classes.size() == 2 ? SecondClass(plan.classes) : std::string("?"));
      positive = ", positive class " + positive;
    }
    line("fairness  groups of " + sensitive + " on the holdout" + positive);
  }
  if (spec.robustness) {
    std::string what;
    if (spec.robustness->noise > 0)
      what = fmt::format("noise of {} x each numeric feature's std", spec.robustness->noise);
    if (spec.robustness->missing)
      what += std::string(what.empty() ? "" : ", ") + "each feature missing in turn";
    line("robustness " + what + " on the holdout");
  }
  for (const Gate& g : spec.gates) {
    std::string gate = "gate      " + g.metric;
    if (g.min) gate += fmt::format(" >= {}", *g.min);
    if (g.max) gate += fmt::format(" <= {}", *g.max);
    if (g.champion) {
      gate += fmt::format(" beats @{} by {} ({:.0f}% paired bootstrap interval)", *g.champion,
                          g.margin, g.confidence * 100);
    }
    line(gate);
  }
  if (spec.register_as) {
    line("register  " + spec.register_as->model +
         (spec.register_as->alias.empty()
              ? ""
              : ", alias @" + spec.register_as->alias + " when every gate passes"));
  }
  return out;
}

}  // namespace slipway::training
