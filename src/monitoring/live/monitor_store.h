// Where monitors keep their state: each deployment's MonitorConfig, the
// reference profile it compares with, the windows folded from the
// prediction log, the position folded so far, the predictions that
// feedback joins, and the feedback itself.
//
// The fold's exactly-once rule rests on CommitFold: the windows it changed,
// the predictions it logged and the new position are written in one
// transaction, so after a crash the store holds either all of a fold step
// or none of it, and the next fold starts after the last segment it holds.
// Implementations live in store/ and are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/profile.h"
#include "monitoring/live/monitor_config.h"

namespace slipway::monitoring::live {

struct StoredMonitor {
  MonitorConfig config;
  // data::DatasetProfile::ToJson() of the reference, restricted to the
  // monitored features: a snapshot taken at Set (dataset versions never
  // change), so the fold and the queries need no access to the dataset.
  std::string reference_profile;
  // The last prediction-log segment folded (its key and start time); ""
  // before the first.
  std::string folded_key;
  int64_t folded_start_ms = 0;
};

// One tumbling window. Time windows: seq = start_ms / length, the window
// [start_ms, end_ms). Row windows: seq counts from 0; start_ms and end_ms
// are the first and last record's times.
struct MonitorWindow {
  int64_t seq = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t rows = 0;
  data::DatasetProfile inputs;   // the monitored features
  data::DatasetProfile outputs;  // the predictions, one column per output
};

// One logged prediction request, kept for feedback to join: the rows'
// predictions as a JSON array (one value per row), and the request's input
// columns as a JSON object of arrays ({"age": [41, 37], ...}: the columns
// of one value per row, by name, as WindowFold reads them), from which the
// loop builds a training set of labelled rows. `inputs` is "" for
// predictions kept before Slipway kept inputs (schema migration 16).
struct LoggedPrediction {
  std::string request_id;
  int64_t time_ms = 0;
  std::string predictions;
  std::string inputs;
};

// Ground truth for a request: its rows' labels as a JSON array.
struct Feedback {
  std::string request_id;
  std::string labels;
  int64_t time_ms = 0;  // when it arrived
};

struct JoinedRecord {
  LoggedPrediction prediction;
  Feedback feedback;
};

// What one fold step changes.
struct FoldCommit {
  std::string deployment;
  int64_t generation = 0;    // the config's it was folded under
  std::string previous_key;  // the position it was folded from
  std::string folded_key;
  int64_t folded_start_ms = 0;
  std::vector<MonitorWindow> windows;  // whole, replacing what is stored
  std::vector<LoggedPrediction> predictions;
};

class MonitorStore {
 public:
  virtual ~MonitorStore() = default;

  // Creates or replaces the deployment's monitor: the config (its
  // generation as given), the reference profile; the stored windows and
  // the position are cleared (the log is folded again under the new
  // config), logged predictions and feedback stay.
  virtual void Put(const MonitorConfig& config, const std::string& reference_profile) = 0;
  virtual std::optional<StoredMonitor> Get(const std::string& deployment) = 0;
  virtual std::vector<StoredMonitor> List() = 0;
  // Removes the monitor and everything kept for it; false when there was none.
  virtual bool Delete(const std::string& deployment) = 0;

  virtual std::optional<MonitorWindow> GetWindow(const std::string& deployment, int64_t seq) = 0;
  // The `count` windows with the highest seq, highest first.
  virtual std::vector<MonitorWindow> LastWindows(const std::string& deployment, int count) = 0;
  // The window with the lowest seq (the baseline of prediction drift).
  virtual std::optional<MonitorWindow> FirstWindow(const std::string& deployment) = 0;
  // Windows whose start is in [from_ms, to_ms), by seq.
  virtual std::vector<MonitorWindow> Windows(const std::string& deployment, int64_t from_ms,
                                             int64_t to_ms) = 0;

  // Writes a fold step in one transaction (see the top of this file);
  // false, writing nothing, when the monitor is gone, its generation is
  // no longer `commit.generation` or its position no longer
  // `commit.previous_key` (another fold got there first).
  virtual bool CommitFold(const FoldCommit& commit) = 0;

  // Which of `request_ids` have a logged prediction.
  virtual std::vector<std::string> KnownRequests(const std::string& deployment,
                                                 const std::vector<std::string>& request_ids) = 0;
  // Stores feedback in one transaction (a request's earlier feedback is
  // replaced).
  virtual void AddFeedback(const std::string& deployment,
                           const std::vector<Feedback>& feedback) = 0;
  // Deletes the kept predictions timed before `before_ms`, and their
  // feedback; returns how many predictions went.
  virtual int64_t PruneKept(const std::string& deployment, int64_t before_ms) = 0;
  // Retention (monitor_config.h), in one transaction: deletes the windows
  // that ended before `before_ms` and those beyond the newest `max_windows`
  // (by seq), and the kept predictions (with their feedback) timed before
  // `before_ms` and those older than the newest `max_predictions` (ties
  // with the oldest of them stay). A count of 0 is no limit. Returns what
  // went.
  struct Pruned {
    int64_t windows = 0;
    int64_t predictions = 0;
  };
  virtual Pruned Prune(const std::string& deployment, int64_t before_ms, int64_t max_windows,
                       int64_t max_predictions) = 0;
  // Predictions timed in [from_ms, to_ms), with feedback or not, by time
  // (estimated performance reads their probabilities).
  virtual std::vector<LoggedPrediction> Kept(const std::string& deployment, int64_t from_ms,
                                             int64_t to_ms) = 0;
  // Predictions timed in [from_ms, to_ms) that have feedback, by time.
  virtual std::vector<JoinedRecord> Joined(const std::string& deployment, int64_t from_ms,
                                           int64_t to_ms) = 0;
};

}  // namespace slipway::monitoring::live
