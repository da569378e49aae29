#include "ml/python_model.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "ml/python_env.h"
#include "ml/python_process.h"
#include "ml/python_worker_source.h"

extern char** environ;

namespace slipway::ml {
namespace {

using Clock = std::chrono::steady_clock;
using IoStatus = PythonProcess::IoStatus;
using nlohmann::json;

// Run by `python -c`: reads the worker program (the first message on fd 3)
// and runs it, so the command line stays short and no file is needed.
constexpr const char* kBootstrap =
    "import socket,struct,sys\n"
    "s=socket.socket(fileno=3)\n"
    "def r(n):\n"
    " b=bytearray()\n"
    " while len(b)<n:\n"
    "  c=s.recv(n-len(b))\n"
    "  if not c: sys.exit(0)\n"
    "  b+=c\n"
    " return bytes(b)\n"
    "n=struct.unpack('<I',r(4))[0]\n"
    "g={'__name__':'__main__','_slipway_sock':s}\n"
    "exec(compile(r(n).decode(),'slipway/python_worker.py','exec'),g)\n";

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

std::optional<DataType> DataTypeFromName(std::string_view name) {
  for (DataType t : {DataType::kDouble, DataType::kFloat, DataType::kLong, DataType::kInteger,
                     DataType::kBoolean, DataType::kString, DataType::kBinary, DataType::kDatetime,
                     DataType::kJson}) {
    if (DataTypeName(t) == name) return t;
  }
  return std::nullopt;
}

void AppendU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

// A predict request: the header and the string columns' encodings are owned
// here; numeric columns are sent straight from the Frame's vectors.
struct EncodedRequest {
  std::string head;
  std::vector<std::string> owned;
  std::vector<std::string_view> parts;
};

EncodedRequest EncodeRequest(const Frame& input, std::string_view params_json) {
  EncodedRequest req;
  json header = {{"rows", input.rows}, {"columns", json::array()}};
  if (!params_json.empty()) {
    try {
      header["params"] = json::parse(params_json);
    } catch (const json::exception& e) {
      ThrowInvalid("the inference params are not valid JSON: " + std::string(e.what()));
    }
  }
  req.owned.reserve(input.columns.size());
  std::vector<std::string_view> data_parts;
  for (const Column& col : input.columns) {
    const size_t count = input.rows * col.width;
    json spec = {{"name", col.name}, {"type", DataTypeName(col.type)}, {"width", col.width}};
    if (IsNumeric(col.type)) {
      if (col.numbers.size() != count)
        throw Error(ErrorCode::kInternalError, "column '" + col.name + "' has " +
                                                   std::to_string(col.numbers.size()) +
                                                   " values for " + std::to_string(count));
      data_parts.emplace_back(reinterpret_cast<const char*>(col.numbers.data()),
                              count * sizeof(double));
    } else {
      if (col.strings.size() != count)
        throw Error(ErrorCode::kInternalError, "column '" + col.name + "' has " +
                                                   std::to_string(col.strings.size()) +
                                                   " values for " + std::to_string(count));
      std::string& out = req.owned.emplace_back();
      size_t bytes = 0;
      for (const auto& s : col.strings) bytes += s.size();
      if (bytes > UINT32_MAX) ThrowInvalid("column '" + col.name + "' holds over 4 GiB of text");
      out.reserve(4 * (count + 1) + bytes + count);
      uint32_t offset = 0;
      AppendU32(out, 0);
      for (const auto& s : col.strings) AppendU32(out, offset += static_cast<uint32_t>(s.size()));
      for (const auto& s : col.strings) out += s;
      const bool any_missing =
          col.missing.size() == count &&
          std::any_of(col.missing.begin(), col.missing.end(), [](uint8_t m) { return m != 0; });
      if (any_missing) {
        spec["missing"] = true;
        out.append(reinterpret_cast<const char*>(col.missing.data()), count);
      }
      data_parts.emplace_back(out);
    }
    header["columns"].push_back(std::move(spec));
  }
  const std::string text = header.dump();
  req.head = "P";
  AppendU32(req.head, static_cast<uint32_t>(text.size()));
  req.head += text;
  req.parts.push_back(req.head);
  req.parts.insert(req.parts.end(), data_parts.begin(), data_parts.end());
  return req;
}

[[noreturn]] void ThrowMalformed(const std::string& what) {
  throw Error(ErrorCode::kInternalError, "the Python worker sent a malformed reply: " + what);
}

// The body of an "O" message (after its kind byte).
Predictions DecodePredictions(std::string_view msg) {
  if (msg.size() < 4) ThrowMalformed("no header");
  uint32_t n = 0;
  std::memcpy(&n, msg.data(), 4);
  if (msg.size() - 4 < n) ThrowMalformed("short header");
  json header;
  try {
    header = json::parse(msg.substr(4, n));
  } catch (const json::exception& e) {
    ThrowMalformed(e.what());
  }
  size_t pos = 4 + static_cast<size_t>(n);
  auto take = [&](size_t bytes) {
    if (msg.size() - pos < bytes) ThrowMalformed("short column data");
    std::string_view part = msg.substr(pos, bytes);
    pos += bytes;
    return part;
  };
  Predictions out;
  try {
    const std::string layout = header.at("layout").get<std::string>();
    out.layout = layout == "records"  ? OutputLayout::kRecords
                 : layout == "matrix" ? OutputLayout::kMatrix
                 : layout == "value"  ? OutputLayout::kValue
                                      : OutputLayout::kVector;
    out.frame.rows = header.at("rows").get<size_t>();
    for (const auto& spec : header.at("columns")) {
      Column col;
      col.name = spec.at("name").get<std::string>();
      const auto type = DataTypeFromName(spec.at("type").get<std::string>());
      if (!type) ThrowMalformed("unknown type " + spec.at("type").dump());
      col.type = *type;
      col.width = spec.at("width").get<size_t>();
      const size_t count = out.frame.rows * col.width;
      if (IsNumeric(col.type)) {
        if (count > msg.size() / sizeof(double)) ThrowMalformed("short column data");
        const std::string_view data = take(count * sizeof(double));
        col.numbers.resize(count);
        std::memcpy(col.numbers.data(), data.data(), data.size());
      } else {
        if (count >= msg.size() / 4) ThrowMalformed("short column data");
        const std::string_view offsets = take(4 * (count + 1));
        auto offset_at = [&](size_t i) {
          uint32_t v = 0;
          std::memcpy(&v, offsets.data() + 4 * i, 4);
          return static_cast<size_t>(v);
        };
        const std::string_view bytes = take(offset_at(count));
        col.strings.reserve(count);
        for (size_t i = 0; i < count; ++i) {
          const size_t begin = offset_at(i);
          const size_t end = offset_at(i + 1);
          if (begin > end || end > bytes.size()) ThrowMalformed("bad string offsets");
          col.strings.emplace_back(bytes.substr(begin, end - begin));
        }
        if (spec.value("missing", false)) {
          const std::string_view flags = take(count);
          col.missing.assign(flags.begin(), flags.end());
        }
      }
      out.frame.columns.push_back(std::move(col));
    }
  } catch (const json::exception& e) {
    ThrowMalformed(e.what());
  }
  return out;
}

// An "E" message: what the Python exception said, and the code it maps to.
Error DecodeError(std::string_view body, ErrorCode default_code, const std::string& context) {
  std::string type = "Exception";
  std::string message(body);
  std::string mlflow_code;
  try {
    const json e = json::parse(body);
    type = e.value("type", type);
    message = e.value("message", std::string());
    if (e.contains("code") && e["code"].is_string()) mlflow_code = e["code"].get<std::string>();
    spdlog::debug("Python exception ({}{}): {}", context, type, e.value("traceback", ""));
  } catch (const json::exception&) {
  }
  ErrorCode code = default_code;
  if (mlflow_code == "INTERNAL_ERROR")
    code = ErrorCode::kInternalError;
  else if (mlflow_code == "TEMPORARILY_UNAVAILABLE")
    code = ErrorCode::kTemporarilyUnavailable;
  else if (mlflow_code == "NOT_IMPLEMENTED")
    code = ErrorCode::kNotImplemented;
  const std::string what = type == "MlflowException" ? message : type + ": " + message;
  return Error(code, context + what);
}

std::vector<std::string> WorkerEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.rfind("PYTHONUNBUFFERED=", 0) == 0) continue;
    env.emplace_back(entry);
  }
  // Log lines arrive as they are printed, not when a buffer fills.
  env.emplace_back("PYTHONUNBUFFERED=1");
  return env;
}

std::string LabelFor(const MlModel& mlmodel, const PythonOptions& options) {
  if (!options.name.empty()) return options.name;
  auto dir = mlmodel.dir;
  if (dir.filename().empty()) dir = dir.parent_path();
  return dir.filename().string().empty() ? "model" : dir.filename().string();
}

}  // namespace

PythonModel::PythonModel(MlModel mlmodel, PythonOptions options, std::string interpreter)
    : mlmodel_(std::move(mlmodel)),
      options_(std::move(options)),
      interpreter_(std::move(interpreter)),
      label_(LabelFor(mlmodel_, options_)),
      slots_(static_cast<size_t>(options_.workers)) {}

std::unique_ptr<PythonModel> PythonModel::Load(const MlModel& mlmodel,
                                               const PythonOptions& options) {
  if (options.workers < 1 || options.workers > 256)
    ThrowInvalid("a Python model needs between 1 and 256 workers, not " +
                 std::to_string(options.workers));
  std::string interpreter = PythonInterpreterFor(mlmodel, options);
  std::unique_ptr<PythonModel> model(new PythonModel(mlmodel, options, std::move(interpreter)));
  std::vector<size_t> all(model->slots_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto errors = model->StartWorkers(all, false);
  for (const auto& e : errors) {
    // The destructor stops the workers that did start.
    if (e) throw *e;
  }
  model->supervisor_ = std::thread([m = model.get()] { m->Supervise(); });
  return model;
}

std::vector<std::optional<Error>> PythonModel::StartWorkers(const std::vector<size_t>& slots,
                                                            bool restart) {
  std::vector<std::optional<Error>> errors(slots.size());
  std::vector<std::unique_ptr<PythonProcess>> started(slots.size());
  const auto deadline = Clock::now() + options_.load_timeout;
  const std::string source(kPythonWorkerSource);
  const std::string load = "L" + json{{"model_dir", mlmodel_.dir.string()}}.dump();
  const auto environment = WorkerEnvironment();
  // Every worker starts before any is waited for: they load in parallel.
  for (size_t k = 0; k < slots.size(); ++k) {
    try {
      started[k] =
          PythonProcess::Spawn({interpreter_, "-c", kBootstrap, "slipway-python-worker", label_},
                               environment, "python " + label_ + "#" + std::to_string(slots[k]));
      if (started[k]->Send({source}, deadline) != IoStatus::kOk ||
          started[k]->Send({load}, deadline) != IoStatus::kOk) {
        started[k]->Terminate(std::chrono::milliseconds(0));
        errors[k] = Error(ErrorCode::kInternalError,
                          "the Python worker (" + interpreter_ + ") " + started[k]->Describe() +
                              " before it could load the model; its output is in the log");
        started[k].reset();
      }
    } catch (const Error& e) {
      errors[k] = e;
    }
  }
  for (size_t k = 0; k < slots.size(); ++k) {
    if (!started[k]) continue;
    std::string reply;
    const IoStatus status = started[k]->Receive(reply, deadline, &cancel_loads_);
    if (status == IoStatus::kOk && !reply.empty() && reply[0] == 'R') {
      spdlog::info("[python {}#{}] worker pid {} loaded {}", label_, slots[k], started[k]->pid(),
                   mlmodel_.dir.string());
      continue;
    }
    if (status == IoStatus::kOk && !reply.empty() && reply[0] == 'E') {
      errors[k] = DecodeError(std::string_view(reply).substr(1), ErrorCode::kInvalidParameterValue,
                              "cannot load the model with mlflow.pyfunc: ");
    } else if (status == IoStatus::kTimeout) {
      errors[k] = Error(
          ErrorCode::kTemporarilyUnavailable,
          "the Python worker did not load the model within " + Seconds(options_.load_timeout));
    } else if (status == IoStatus::kCancelled) {
      errors[k] = Error(ErrorCode::kTemporarilyUnavailable, "the model is being unloaded");
    } else {
      started[k]->Terminate(std::chrono::milliseconds(0));
      errors[k] = Error(ErrorCode::kInternalError,
                        "the Python worker (" + interpreter_ + ") " + started[k]->Describe() +
                            " while loading the model; its output is in the log");
    }
    started[k]->Terminate(std::chrono::milliseconds(0));
    started[k].reset();
  }
  std::lock_guard lock(mu_);
  for (size_t k = 0; k < slots.size(); ++k) {
    Slot& slot = slots_[slots[k]];
    if (started[k]) {
      slot.process = std::move(started[k]);
      slot.state = SlotState::kIdle;
      if (restart) ++restarts_;
    } else {
      MarkDead(slot);
    }
  }
  idle_cv_.notify_all();
  return errors;
}

void PythonModel::MarkDead(Slot& slot) const {
  slot.state = SlotState::kDead;
  ++slot.consecutive_failures;
  const int doublings = std::min(slot.consecutive_failures - 1, 16);
  const auto backoff = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(500) * (1 << doublings), options_.restart_backoff_max);
  slot.restart_at = Clock::now() + backoff;
  supervisor_cv_.notify_all();
}

void PythonModel::Supervise() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = Clock::now();
    auto next = now + std::chrono::milliseconds(250);
    std::vector<size_t> due;
    std::vector<std::unique_ptr<PythonProcess>> ended;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      // An idle worker belongs to no call, so reaping it here races nothing.
      if (slot.state == SlotState::kIdle && slot.process->Exited()) {
        spdlog::warn("[python {}#{}] worker pid {} {} while idle; starting another", label_, i,
                     slot.process->pid(), slot.process->Describe());
        MarkDead(slot);
      }
      if (slot.state != SlotState::kDead) continue;
      if (slot.process) ended.push_back(std::move(slot.process));
      if (slot.restart_at <= now) {
        due.push_back(i);
        slot.state = SlotState::kStarting;
      } else {
        next = std::min(next, slot.restart_at);
      }
    }
    if (!due.empty() || !ended.empty()) {
      lock.unlock();
      ended.clear();  // already reaped, or killed and reaped now
      std::vector<std::optional<Error>> errors;
      if (!due.empty()) errors = StartWorkers(due, true);
      lock.lock();
      for (size_t k = 0; k < errors.size(); ++k) {
        if (errors[k])
          spdlog::error("[python {}#{}] could not restart the worker: {}", label_, due[k],
                        errors[k]->what());
      }
      continue;
    }
    supervisor_cv_.wait_until(lock, next);
  }
}

Predictions PythonModel::Predict(const Frame& input, std::string_view params_json) const {
  const EncodedRequest request = EncodeRequest(input, params_json);
  const auto queue_deadline = Clock::now() + options_.queue_timeout;
  while (true) {
    Slot* slot = nullptr;
    {
      std::unique_lock lock(mu_);
      while (slot == nullptr) {
        if (stopping_)
          throw Error(ErrorCode::kTemporarilyUnavailable, "the model is being unloaded");
        for (auto& s : slots_) {
          if (s.state == SlotState::kIdle) {
            slot = &s;
            break;
          }
        }
        if (slot == nullptr &&
            idle_cv_.wait_until(lock, queue_deadline) == std::cv_status::timeout) {
          for (auto& s : slots_) {
            if (s.state == SlotState::kIdle) slot = &s;
          }
          if (slot == nullptr) {
            size_t busy = 0;
            for (const auto& s : slots_) busy += s.state == SlotState::kBusy ? 1 : 0;
            throw Error(ErrorCode::kTemporarilyUnavailable,
                        "no Python worker of model '" + label_ + "' was free within " +
                            Seconds(options_.queue_timeout) + " (" + std::to_string(busy) + " of " +
                            std::to_string(slots_.size()) + " busy, the others starting)");
          }
        }
      }
      slot->state = SlotState::kBusy;
    }
    PythonProcess& process = *slot->process;
    const auto deadline = Clock::now() + options_.predict_timeout;
    IoStatus status = process.Send(request.parts, deadline);
    if (status == IoStatus::kClosed) {
      // It ended before it read the request (killed while idle): nothing ran,
      // so another worker may take the call.
      process.Terminate(std::chrono::milliseconds(0));
      spdlog::warn("[python {}] worker pid {} {} before a call; starting another", label_,
                   process.pid(), process.Describe());
      std::lock_guard lock(mu_);
      MarkDead(*slot);
      continue;
    }
    std::string reply;
    if (status == IoStatus::kOk) status = process.Receive(reply, deadline);
    if (status != IoStatus::kOk) {
      process.Terminate(std::chrono::milliseconds(0));
      const bool timed_out = status == IoStatus::kTimeout;
      const std::string what = timed_out ? "did not answer within " +
                                               Seconds(options_.predict_timeout) + " and was killed"
                                         : process.Describe() + " during the prediction";
      spdlog::warn("[python {}] worker pid {} {}; starting another", label_, process.pid(), what);
      {
        std::lock_guard lock(mu_);
        MarkDead(*slot);
      }
      throw Error(timed_out ? ErrorCode::kTemporarilyUnavailable : ErrorCode::kInternalError,
                  "the Python worker of model '" + label_ + "' " + what);
    }
    {
      std::lock_guard lock(mu_);
      slot->state = SlotState::kIdle;
      slot->consecutive_failures = 0;
    }
    idle_cv_.notify_one();
    const std::string_view body = std::string_view(reply).substr(1);
    if (!reply.empty() && reply[0] == 'O') return DecodePredictions(body);
    if (!reply.empty() && reply[0] == 'E')
      throw DecodeError(body, ErrorCode::kInvalidParameterValue, "");
    ThrowMalformed("unknown message");
  }
}

std::vector<pid_t> PythonModel::WorkerPids() const {
  std::lock_guard lock(mu_);
  std::vector<pid_t> pids;
  for (const auto& s : slots_) {
    const bool running = s.state == SlotState::kIdle || s.state == SlotState::kBusy;
    pids.push_back(running ? s.process->pid() : 0);
  }
  return pids;
}

int PythonModel::restarts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

PythonModel::~PythonModel() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cancel_loads_ = true;
  idle_cv_.notify_all();
  supervisor_cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  // All at once: SIGTERM to every worker, then one grace period for all.
  for (auto& s : slots_)
    if (s.process) s.process->Signal(SIGTERM);
  const auto deadline = Clock::now() + std::chrono::milliseconds(2000);
  for (auto& s : slots_) {
    if (!s.process) continue;
    s.process->Terminate(
        std::max(std::chrono::milliseconds(1),
                 std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
    s.process.reset();
  }
}

std::unique_ptr<Model> LoadPythonFlavor(const MlModel& mlmodel, const PythonOptions& options) {
  return PythonModel::Load(mlmodel, options);
}

}  // namespace slipway::ml
