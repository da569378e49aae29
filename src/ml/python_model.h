// MLflow flavors that Slipway does not evaluate natively (scikit-learn,
// pyfunc custom models, PyTorch...), served by Python worker processes.
//
// A PythonModel owns `workers` processes, each running the worker program
// compiled into the binary (python_worker.py): it loads the model once with
// `mlflow.pyfunc.load_model` and then answers predictions, one at a time.
// Predict is thread-safe: a call takes an idle worker (waiting at most
// queue_timeout for one), so N calls run at once on N workers. Batches travel
// as typed columns (numbers as raw float64, text as offsets and bytes: no JSON
// per value), and come back laid out as MLflow's scoring server writes them.
//
// Failures:
//  - the model cannot load: INVALID_PARAMETER_VALUE with the Python
//    exception's message (INTERNAL_ERROR when the worker cannot even start,
//    TEMPORARILY_UNAVAILABLE after load_timeout);
//  - the model's predict raises: like MLflow's scoring server, which answers
//    every such exception with a client error (400), INVALID_PARAMETER_VALUE
//    carrying "<ExceptionType>: <message>"; an MlflowException keeps its own
//    code when it is INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE or
//    NOT_IMPLEMENTED;
//  - the worker dies during the call: INTERNAL_ERROR naming the signal or
//    status; it exceeds predict_timeout: TEMPORARILY_UNAVAILABLE. Either way it
//    is killed and a supervisor thread starts a new one (backoff from 0.5 s,
//    doubling up to restart_backoff_max while restarts keep failing). A
//    worker found dead before it got the request is not a failure: the call
//    takes another one.
// Destroying the model ends its workers (SIGTERM, SIGKILL after 2 s) and
// reaps them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "ml/model.h"

namespace slipway::ml {

struct PythonOptions {
  // The interpreter that loads models with mlflow.pyfunc.
  std::string python = "python3";
  // "local" (the current environment) or "virtualenv" (the model's own,
  // built from its requirements, as `mlflow models serve` does; python_env.h).
  std::string env_manager = "local";
  // Worker processes per model (Python runs one prediction at a time each).
  int workers = 1;
  // What the workers' log lines are prefixed with; the model folder's name
  // when empty (serving passes "deployment/version").
  std::string name;
  // Starting a worker and loading the model in it.
  std::chrono::milliseconds load_timeout{std::chrono::seconds(120)};
  // One prediction in a worker; past it the worker is killed and replaced.
  std::chrono::milliseconds predict_timeout{std::chrono::seconds(60)};
  // Waiting for an idle worker before TEMPORARILY_UNAVAILABLE.
  std::chrono::milliseconds queue_timeout{std::chrono::seconds(30)};
  // The longest wait before restarting a worker that keeps failing.
  std::chrono::milliseconds restart_backoff_max{std::chrono::seconds(30)};
  // virtualenv: where environments are cached (python_env.h's default when
  // empty) and how long building one may take.
  std::string env_cache_dir;
  std::chrono::milliseconds env_build_timeout{std::chrono::minutes(15)};
};

class PythonProcess;

class PythonModel final : public Model {
 public:
  // Starts the workers and waits until every one has loaded the model.
  static std::unique_ptr<PythonModel> Load(const MlModel& mlmodel, const PythonOptions& options);
  ~PythonModel() override;

  Predictions Predict(const Frame& input, std::string_view params_json) const override;
  const MlModel& mlmodel() const override { return mlmodel_; }
  std::string_view flavor() const override { return "python_function"; }
  bool native() const override { return false; }

  // The workers' process ids (0 for one being restarted), and how many
  // workers were started again after failing: for operators and tests.
  std::vector<pid_t> WorkerPids() const;
  int restarts() const;

 private:
  enum class SlotState { kIdle, kBusy, kStarting, kDead };
  struct Slot {
    std::unique_ptr<PythonProcess> process;
    SlotState state = SlotState::kStarting;
    int consecutive_failures = 0;
    std::chrono::steady_clock::time_point restart_at;
  };

  PythonModel(MlModel mlmodel, PythonOptions options, std::string interpreter);
  // Starts a worker for each slot in `slots` (all in the kStarting state)
  // and waits for their loads; returns each slot's failure, if any. Slots
  // that loaded become idle (counted in restarts_ when `restart`), the
  // others dead (restarted later).
  std::vector<std::optional<Error>> StartWorkers(const std::vector<size_t>& slots, bool restart);
  // Marks a slot's worker failed and schedules its restart with backoff;
  // mu_ held.
  void MarkDead(Slot& slot) const;
  void Supervise();

  const MlModel mlmodel_;
  const PythonOptions options_;
  const std::string interpreter_;
  const std::string label_;

  mutable std::mutex mu_;                    // guards slots_ (each Slot), stopping_, restarts_
  mutable std::condition_variable idle_cv_;  // a slot became idle, or stopping
  mutable std::condition_variable supervisor_cv_;  // a slot died, or stopping
  mutable std::vector<Slot> slots_;
  bool stopping_ = false;
  int restarts_ = 0;
  std::atomic<bool> cancel_loads_{false};  // set when stopping, read by StartWorkers
  std::thread supervisor_;
};

// Loads `mlmodel` with mlflow.pyfunc in worker processes.
std::unique_ptr<Model> LoadPythonFlavor(const MlModel& mlmodel, const PythonOptions& options);

}  // namespace slipway::ml
