#include "ml/python_model.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/sha256.h"
#include "http/scoring_codec.h"
#include "ml/model_loader.h"
#include "ml/python_env.h"
#include "test_util/temp_dir.h"

// The models are saved by tests/unit/testdata/make_python_models.py with the
// real mlflow, scikit-learn and pandas of `python3`, together with what
// mlflow.pyfunc's own predict gives for the inputs below.
#ifndef SLIPWAY_PYTHON_MODELS_SCRIPT
#error "tests/unit/CMakeLists.txt defines SLIPWAY_PYTHON_MODELS_SCRIPT"
#endif

namespace slipway::ml {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// True while `pid` exists, zombie included (a zombie would mean nobody
// reaped it).
bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// Waits (a minute at most) for a file a model's predict creates.
void WaitFor(const fs::path& file) {
  for (int i = 0; i < 6000 && !fs::exists(file); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(fs::exists(file)) << file;
}

class PythonModelTest : public ::testing::Test {
 protected:
  // Runs the generator once per version of the script: ctest starts every
  // test in its own process, and saving the models takes a while, so the
  // output is kept in the build folder under the script's hash (a lock keeps
  // parallel test processes from generating twice).
  static void SetUpTestSuite() {
    const fs::path script = SLIPWAY_PYTHON_MODELS_SCRIPT;
    const std::string key = Sha256::Hex(ReadFile(script)).substr(0, 16);
    const fs::path root = SLIPWAY_PYTHON_MODELS_DIR;
    fs::create_directories(root);
    models_ = root / key;
    const int lock = ::open((root / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(lock, 0);
    ASSERT_EQ(::flock(lock, LOCK_EX), 0);
    if (!fs::exists(models_ / "expected.json")) {
      const fs::path staging = root / (key + ".tmp");
      fs::remove_all(staging);
      const std::string command = "python3 '" + script.string() + "' '" + staging.string() +
                                  "' > '" + (root / "generate.log").string() + "' 2>&1";
      const int rc = std::system(command.c_str());
      if (rc != 0) {
        ::close(lock);
        FAIL() << "the generator failed (" << rc << "): " << ReadFile(root / "generate.log");
      }
      fs::rename(staging, models_);
    }
    ::close(lock);
    expected_ = json::parse(ReadFile(models_ / "expected.json"));
  }

  static PythonOptions Options(int workers = 1) {
    PythonOptions options;
    options.workers = workers;
    options.load_timeout = 180s;  // a shared, busy machine: importing mlflow is slow
    return options;
  }

  static std::unique_ptr<PythonModel> Load(const std::string& name,
                                           const PythonOptions& options = Options()) {
    LoadOptions load;
    load.python = options;
    std::unique_ptr<Model> model = LoadModel(models_ / name, load);
    EXPECT_FALSE(model->native());
    EXPECT_EQ(model->flavor(), "python_function");
    auto* python = dynamic_cast<PythonModel*>(model.get());
    EXPECT_NE(python, nullptr);
    model.release();
    return std::unique_ptr<PythonModel>(python);
  }

  // The case's input as a Frame, conformed to the model's signature as
  // serving does.
  static Frame Input(const std::string& name, const Model* model = nullptr) {
    Frame frame;
    for (const auto& c : expected_.at(name).at("input")) {
      Column col;
      col.name = c.at("name");
      col.width = c.value("width", 1);
      const std::string type = c.at("type");
      col.type = type == "long"     ? DataType::kLong
                 : type == "string" ? DataType::kString
                                    : DataType::kDouble;
      for (const auto& v : c.at("values")) {
        if (col.type == DataType::kString) {
          col.missing.push_back(v.is_null() ? 1 : 0);
          col.strings.push_back(v.is_null() ? "" : v.get<std::string>());
        } else {
          col.numbers.push_back(v.get<double>());
        }
      }
      frame.rows = (col.numbers.size() + col.strings.size()) / col.width;
      frame.columns.push_back(std::move(col));
    }
    if (model != nullptr && model->mlmodel().signature)
      return ConformToSchema(model->mlmodel().signature->inputs, std::move(frame));
    return frame;
  }

  // Predictions written the way MLflow's scoring server writes them.
  static json ToJson(const Predictions& p) {
    auto cell = [](const Column& col, size_t i) -> json {
      if (col.type == DataType::kJson) return json::parse(col.strings[i]);
      if (!IsNumeric(col.type))
        return !col.missing.empty() && col.missing[i] ? json(nullptr) : json(col.strings[i]);
      if (col.type == DataType::kBoolean) return json(col.numbers[i] != 0);
      if (col.type == DataType::kLong || col.type == DataType::kInteger)
        return json(static_cast<int64_t>(col.numbers[i]));
      return json(col.numbers[i]);
    };
    if (p.layout == OutputLayout::kValue) return {{"predictions", cell(p.frame.columns.at(0), 0)}};
    json rows = json::array();
    for (size_t r = 0; r < p.frame.rows; ++r) {
      if (p.layout == OutputLayout::kRecords) {
        json record = json::object();
        for (const auto& col : p.frame.columns) record[col.name] = cell(col, r);
        rows.push_back(record);
      } else {
        const Column& col = p.frame.columns.at(0);
        if (p.layout == OutputLayout::kVector) {
          rows.push_back(cell(col, r));
        } else {
          json row = json::array();
          for (size_t k = 0; k < col.width; ++k) row.push_back(cell(col, r * col.width + k));
          rows.push_back(row);
        }
      }
    }
    return {{"predictions", rows}};
  }

  // Equal, numbers within 1e-9 (relative for large values).
  static ::testing::AssertionResult Same(const json& actual, const json& expected) {
    if (actual.is_number() && expected.is_number()) {
      const double a = actual.get<double>(), e = expected.get<double>();
      if (std::fabs(a - e) <= 1e-9 * std::max(1.0, std::fabs(e)))
        return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << a << " != " << e;
    }
    if (actual.type() != expected.type())
      return ::testing::AssertionFailure() << actual.dump() << " != " << expected.dump();
    if (actual.is_array() || actual.is_object()) {
      if (actual.size() != expected.size())
        return ::testing::AssertionFailure() << actual.dump() << " != " << expected.dump();
      for (auto it = expected.begin(); it != expected.end(); ++it) {
        const json& other = actual.is_array()
                                ? actual[static_cast<size_t>(std::distance(expected.begin(), it))]
                                : (actual.contains(it.key()) ? actual[it.key()] : json());
        auto r = Same(other, *it);
        if (!r) return r << " in " << actual.dump();
      }
      return ::testing::AssertionSuccess();
    }
    if (actual == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << actual.dump() << " != " << expected.dump();
  }

  static void ExpectMatchesMlflow(const std::string& name, OutputLayout layout) {
    auto model = Load(name);
    const Predictions p = model->Predict(Input(name, model.get()), "");
    EXPECT_EQ(p.layout, layout);
    EXPECT_TRUE(Same(ToJson(p), expected_.at(name).at("expected")));
  }

  static fs::path models_;
  static json expected_;
};

fs::path PythonModelTest::models_;
json PythonModelTest::expected_;

TEST_F(PythonModelTest, SklearnPipelineLabelsMatchMlflow) {
  auto model = Load("sklearn_labels");
  const Predictions p = model->Predict(Input("sklearn_labels", model.get()), "");
  EXPECT_EQ(p.layout, OutputLayout::kVector);
  ASSERT_EQ(p.frame.columns.size(), 1u);
  EXPECT_EQ(p.frame.columns[0].type, DataType::kLong);
  EXPECT_EQ(p.frame.rows, 12u);
  EXPECT_TRUE(Same(ToJson(p), expected_.at("sklearn_labels").at("expected")));
}

TEST_F(PythonModelTest, SklearnPipelineProbabilitiesMatchMlflowAsAMatrix) {
  auto model = Load("sklearn_proba");
  const Predictions p = model->Predict(Input("sklearn_proba", model.get()), "");
  EXPECT_EQ(p.layout, OutputLayout::kMatrix);
  ASSERT_EQ(p.frame.columns.size(), 1u);
  EXPECT_EQ(p.frame.columns[0].width, 2u);
  EXPECT_EQ(p.frame.columns[0].type, DataType::kDouble);
  EXPECT_TRUE(Same(ToJson(p), expected_.at("sklearn_proba").at("expected")));
  // The signature is enforced by MLflow in the worker too: a long where a
  // double is declared widens, a string column where a number is declared
  // is the caller's fault.
  Frame bad = Input("sklearn_proba");
  bad.columns[0].type = DataType::kString;
  bad.columns[0].strings.assign(bad.rows, "x");
  bad.columns[0].numbers.clear();
  try {
    model->Predict(bad, "");
    ADD_FAILURE() << "a string column passed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("f0"), std::string::npos) << e.what();
  }
}

TEST_F(PythonModelTest, DataFrameResultIsRecordsWithTypedColumns) {
  auto model = Load("records");
  const Predictions p = model->Predict(Input("records"), "");
  EXPECT_EQ(p.layout, OutputLayout::kRecords);
  ASSERT_EQ(p.frame.columns.size(), 3u);
  EXPECT_EQ(p.frame.columns[0].name, "doubled");
  EXPECT_EQ(p.frame.columns[0].type, DataType::kDouble);
  EXPECT_EQ(p.frame.columns[1].type, DataType::kString);
  EXPECT_EQ(p.frame.columns[2].type, DataType::kLong);
  EXPECT_TRUE(Same(ToJson(p), expected_.at("records").at("expected")));
}

TEST_F(PythonModelTest, DictResultIsTheValueItselfAsMlflowWritesIt) {
  auto model = Load("summary");
  const Predictions p = model->Predict(Input("summary"), "");
  EXPECT_EQ(p.layout, OutputLayout::kValue);
  const json& want = expected_.at("summary").at("expected");
  ASSERT_TRUE(want.at("predictions").is_object()) << want.dump();  // not [{...}]
  EXPECT_TRUE(Same(ToJson(p), want));
  EXPECT_TRUE(Same(json::parse(http::WriteScoringResponse(p)), want));
}

TEST_F(PythonModelTest, StringResultsAndStringInputsWithMissingValues) {
  auto model = Load("strings");
  const Predictions p = model->Predict(Input("strings"), "");
  EXPECT_EQ(p.layout, OutputLayout::kVector);
  ASSERT_EQ(p.frame.columns.size(), 1u);
  EXPECT_EQ(p.frame.columns[0].type, DataType::kString);
  EXPECT_EQ(p.frame.columns[0].strings.at(1), "hello zo\xc3\xab!");
  EXPECT_TRUE(Same(ToJson(p), expected_.at("strings").at("expected")));
}

TEST_F(PythonModelTest, TensorSignatureGetsANumpyArray) {
  ExpectMatchesMlflow("tensor", OutputLayout::kVector);
}

TEST_F(PythonModelTest, PredictExceptionCarriesThePythonMessage) {
  auto model = Load("raises");
  const pid_t pid = model->WorkerPids().at(0);
  for (int i = 0; i < 2; ++i) {
    try {
      model->Predict(Input("records"), "");
      ADD_FAILURE() << "predict raised, the call did not fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
      EXPECT_NE(std::string(e.what()).find("ValueError: the answer must be 42, got 5 rows"),
                std::string::npos)
          << e.what();
    }
  }
  // An exception is an answer: the worker lives on.
  EXPECT_EQ(model->WorkerPids().at(0), pid);
  EXPECT_EQ(model->restarts(), 0);
}

TEST_F(PythonModelTest, LoadExceptionCarriesThePythonMessage) {
  LoadOptions load;
  load.python = Options(2);
  try {
    LoadModel(models_ / "unloadable", load);
    ADD_FAILURE() << "the model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("cannot open the weights: simulated load failure"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(PythonModelTest, MissingInterpreterIsAnErrorNamingIt) {
  PythonOptions options = Options(1);
  options.python = "/nonexistent/python3";
  LoadOptions load;
  load.python = options;
  try {
    LoadModel(models_ / "records", load);
    ADD_FAILURE() << "a model loaded without an interpreter";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/python3"), std::string::npos) << e.what();
  }
}

TEST_F(PythonModelTest, ModelThatPrintsKeepsTheChannelClean) {
  auto model = Load("chatty");
  for (int i = 0; i < 3; ++i) {
    const Predictions p = model->Predict(Input("chatty", model.get()), "");
    EXPECT_TRUE(Same(ToJson(p), expected_.at("chatty").at("expected")));
  }
  EXPECT_EQ(model->restarts(), 0);
}

TEST_F(PythonModelTest, WorkerKilledWhileIdleIsReplacedAndTheNextCallSucceeds) {
  PythonOptions options = Options(1);
  options.queue_timeout = 180s;  // long enough for the replacement to load
  auto model = Load("chatty", options);
  const pid_t first = model->WorkerPids().at(0);
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // Wait until the supervisor has seen it end: before that, a call may still
  // find its socket open (the other threads of a killed process close it as
  // they exit, after /proc already shows the process as a zombie) and fail.
  for (int i = 0; i < 1000 && model->WorkerPids().at(0) == first; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_NE(model->WorkerPids().at(0), first);
  const Predictions p = model->Predict(Input("chatty", model.get()), "");
  EXPECT_TRUE(Same(ToJson(p), expected_.at("chatty").at("expected")));
  const pid_t second = model->WorkerPids().at(0);
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  EXPECT_EQ(model->restarts(), 1);
  EXPECT_FALSE(ProcessExists(first));  // reaped, not a zombie
}

TEST_F(PythonModelTest, WorkerKilledDuringACallFailsThatCallOnly) {
  PythonOptions options = Options(1);
  options.queue_timeout = 180s;
  auto model = Load("chatty", options);
  const pid_t first = model->WorkerPids().at(0);
  testing::TempDir dir("python_kill");
  const fs::path started = dir.path() / "started";
  auto call = std::async(std::launch::async, [&] {
    return model->Predict(Input("chatty", model.get()),
                          json{{"sleep", 60}, {"started_file", started.string()}}.dump());
  });
  WaitFor(started);  // the worker is in the model's predict now
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  try {
    call.get();
    ADD_FAILURE() << "the call whose worker was killed succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("killed by signal 9"), std::string::npos) << e.what();
  }
  const Predictions p = model->Predict(Input("chatty", model.get()), "");
  EXPECT_TRUE(Same(ToJson(p), expected_.at("chatty").at("expected")));
  EXPECT_NE(model->WorkerPids().at(0), first);
  EXPECT_EQ(model->restarts(), 1);
}

TEST_F(PythonModelTest, HungWorkerIsKilledAfterThePredictTimeoutAndReplaced) {
  PythonOptions options = Options(1);
  options.predict_timeout = 2s;
  options.queue_timeout = 180s;
  auto model = Load("chatty", options);
  const pid_t first = model->WorkerPids().at(0);
  try {
    model->Predict(Input("chatty", model.get()), R"({"sleep": 60})");
    ADD_FAILURE() << "a call past the timeout succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
    EXPECT_NE(std::string(e.what()).find("did not answer within 2 s"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(ProcessExists(first));
  const Predictions p = model->Predict(Input("chatty", model.get()), "");
  EXPECT_TRUE(Same(ToJson(p), expected_.at("chatty").at("expected")));
}

TEST_F(PythonModelTest, ConcurrentCallsEachGetTheirOwnAnswer) {
  auto model = Load("records", Options(2));
  std::vector<std::future<int>> callers;
  for (int t = 0; t < 4; ++t) {
    callers.push_back(std::async(std::launch::async, [&, t] {
      int wrong = 0;
      for (int i = 0; i < 15; ++i) {
        Frame input;
        const size_t rows = static_cast<size_t>(1 + (t * 7 + i) % 9);
        input.rows = rows;
        Column x;
        x.name = "x";
        for (size_t r = 0; r < rows; ++r) x.numbers.push_back(t * 1000.0 + i * 10.0 + r);
        input.columns.push_back(x);
        const Predictions p = model->Predict(input, "");
        if (p.frame.rows != rows) {
          ++wrong;
          continue;
        }
        for (size_t r = 0; r < rows; ++r)
          if (p.frame.columns[0].numbers[r] != 2 * x.numbers[r]) ++wrong;
      }
      return wrong;
    }));
  }
  for (auto& c : callers) EXPECT_EQ(c.get(), 0);
}

TEST_F(PythonModelTest, WorkersRunCallsInParallel) {
  // Each call waits in predict until the other one is in predict too: on
  // workers taken one at a time the first would give up (TimeoutError).
  auto model = Load("chatty", Options(2));
  testing::TempDir dir("python_parallel");
  const std::string params = json{{"rendezvous_dir", dir.path().string()}, {"parties", 2}}.dump();
  auto a = std::async(std::launch::async,
                      [&] { return model->Predict(Input("chatty", model.get()), params); });
  auto b = std::async(std::launch::async,
                      [&] { return model->Predict(Input("chatty", model.get()), params); });
  EXPECT_TRUE(Same(ToJson(a.get()), expected_.at("chatty").at("expected")));
  EXPECT_TRUE(Same(ToJson(b.get()), expected_.at("chatty").at("expected")));
}

TEST_F(PythonModelTest, AllWorkersBusyIsTemporarilyUnavailableAfterTheQueueTimeout) {
  PythonOptions options = Options(1);
  options.queue_timeout = 500ms;
  auto model = Load("chatty", options);
  testing::TempDir dir("python_busy");
  const fs::path started = dir.path() / "started";
  auto slow = std::async(std::launch::async, [&] {
    return model->Predict(Input("chatty", model.get()),
                          json{{"sleep", 3}, {"started_file", started.string()}}.dump());
  });
  WaitFor(started);  // the only worker is taken
  try {
    model->Predict(Input("chatty", model.get()), "");
    ADD_FAILURE() << "a second call found a worker";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable) << e.what();
  }
  EXPECT_NO_THROW(slow.get());
}

TEST_F(PythonModelTest, DestroyingTheModelEndsAndReapsItsWorkers) {
  auto model = Load("chatty", Options(2));
  const std::vector<pid_t> pids = model->WorkerPids();
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(ProcessExists(pid));
  model.reset();
  for (pid_t pid : pids) EXPECT_FALSE(ProcessExists(pid)) << pid;
}

// Builds the model's own environment with venv + pip from PyPI (about a
// minute on two cores). The second load must reuse the cache.
TEST_F(PythonModelTest, VirtualenvEnvironmentIsBuiltOnceAndReused) {
  PythonOptions options = Options(1);
  options.env_manager = "virtualenv";
  options.env_cache_dir = (models_.parent_path() / "envs").string();
  fs::remove_all(options.env_cache_dir);
  options.python = "python3";
  {
    auto model = Load("records", options);
    EXPECT_TRUE(
        Same(ToJson(model->Predict(Input("records"), "")), expected_.at("records").at("expected")));
  }
  std::vector<fs::path> ready;
  for (const auto& entry : fs::directory_iterator(options.env_cache_dir))
    if (fs::exists(entry.path() / ".slipway-ready"))
      ready.push_back(entry.path() / ".slipway-ready");
  ASSERT_EQ(ready.size(), 1u);
  const auto built = fs::last_write_time(ready[0]);
  // The second load finds the environment ready: no rebuild touches it.
  auto model = Load("records", options);
  EXPECT_EQ(fs::last_write_time(ready[0]), built);
  EXPECT_TRUE(
      Same(ToJson(model->Predict(Input("records"), "")), expected_.at("records").at("expected")));
}

TEST(PythonEnvTest, UnknownEnvManagerIsRefused) {
  MlModel mlmodel;
  PythonOptions options;
  options.env_manager = "conda";
  try {
    PythonInterpreterFor(mlmodel, options);
    ADD_FAILURE() << "conda was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("conda"), std::string::npos);
  }
  options.env_manager = "local";
  options.python = "/usr/bin/python3";
  EXPECT_EQ(PythonInterpreterFor(mlmodel, options), "/usr/bin/python3");
}

TEST(PythonEnvTest, VirtualenvNeedsTheModelsRequirements) {
  testing::TempDir dir("python_env");
  MlModel mlmodel;
  mlmodel.dir = dir.path();
  PythonOptions options;
  options.env_manager = "virtualenv";
  options.env_cache_dir = (dir.path() / "cache").string();
  try {
    PythonInterpreterFor(mlmodel, options);
    ADD_FAILURE() << "a model without requirements got an environment";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("requirements.txt"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace slipway::ml
