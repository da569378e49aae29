// Dynamic batching: requests that arrive close together are predicted in one
// model call, as Triton's dynamic batcher does (max batch size, max queue
// delay).
//
// There is no batching thread. The first request to find no batch forming
// leads one: it waits until the batch holds `max_rows` rows or
// `max_delay` has passed since it arrived, takes every request that joined,
// predicts them as one Frame on its own thread and hands each its rows of
// the answer; the others wait for theirs. A request that arrives while a
// batch is being predicted leads the next one, so several batches run at
// once on as many cores as there are requests. With max_rows 0 (the
// default) each request predicts alone, with no wait at all.
//
// Requests are joined only when their frames agree column by column (name,
// type, width) and carry no inference params; the others are predicted
// alone inside the same pass. Thread-safe; one Batcher per Servable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "ml/frame.h"

namespace slipway::serving {

struct Servable;

// Rows [begin, begin + count) of `frame`, every column (for handing each
// request its part of a batch's answer).
ml::Frame SliceRows(const ml::Frame& frame, size_t begin, size_t count);

// `frames` stacked row-wise; they must agree column by column.
ml::Frame StackRows(const std::vector<const ml::Frame*>& frames);

// True when `a` and `b` can be stacked.
bool SameColumns(const ml::Frame& a, const ml::Frame& b);

class Batcher {
 public:
  struct Options {
    size_t max_rows = 0;  // rows per model call; 0 turns batching off
    std::chrono::microseconds max_delay{0};
  };

  explicit Batcher(Options options) : options_(options) {}

  const Options& options() const { return options_; }

  // Predicts `conformed` on `servable`, alone or in a batch. Throws what the
  // model throws (every request of a failed batch gets the error).
  ml::Predictions Predict(const Servable& servable, ml::Frame conformed,
                          const std::string& params_json);

 private:
  struct Pending {
    ml::Frame frame;
    ml::Predictions answer;
    std::exception_ptr error;
    bool done = false;
  };

  void RunBatch(const Servable& servable, std::vector<Pending*>& batch);

  const Options options_;
  std::mutex mu_;  // guards forming_, forming_rows_, leader_waiting_ and every Pending::done
  std::condition_variable full_;  // the leader: the forming batch reached max_rows
  std::condition_variable done_;  // followers: their answer is there
  std::vector<Pending*> forming_;
  size_t forming_rows_ = 0;
  bool leader_waiting_ = false;
};

}  // namespace slipway::serving
