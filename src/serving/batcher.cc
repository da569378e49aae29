#include "serving/batcher.h"

#include "core/error.h"
#include "serving/servable.h"

namespace slipway::serving {

bool SameColumns(const ml::Frame& a, const ml::Frame& b) {
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const ml::Column& x = a.columns[i];
    const ml::Column& y = b.columns[i];
    if (x.name != y.name || x.type != y.type || x.width != y.width) return false;
    if (x.missing.empty() != y.missing.empty()) return false;
  }
  return true;
}

ml::Frame StackRows(const std::vector<const ml::Frame*>& frames) {
  ml::Frame out;
  if (frames.empty()) return out;
  const ml::Frame& first = *frames.front();
  out.columns.resize(first.columns.size());
  for (size_t c = 0; c < first.columns.size(); ++c) {
    ml::Column& column = out.columns[c];
    column.name = first.columns[c].name;
    column.type = first.columns[c].type;
    column.width = first.columns[c].width;
  }
  for (const ml::Frame* frame : frames) {
    out.rows += frame->rows;
    for (size_t c = 0; c < frame->columns.size(); ++c) {
      const ml::Column& from = frame->columns[c];
      ml::Column& to = out.columns[c];
      to.numbers.insert(to.numbers.end(), from.numbers.begin(), from.numbers.end());
      to.strings.insert(to.strings.end(), from.strings.begin(), from.strings.end());
      to.missing.insert(to.missing.end(), from.missing.begin(), from.missing.end());
    }
  }
  return out;
}

ml::Frame SliceRows(const ml::Frame& frame, size_t begin, size_t count) {
  ml::Frame out;
  out.rows = count;
  out.columns.reserve(frame.columns.size());
  for (const ml::Column& from : frame.columns) {
    ml::Column to;
    to.name = from.name;
    to.type = from.type;
    to.width = from.width;
    const size_t first = begin * from.width;
    const size_t last = (begin + count) * from.width;
    if (!from.numbers.empty())
      to.numbers.assign(from.numbers.begin() + first, from.numbers.begin() + last);
    if (!from.strings.empty())
      to.strings.assign(from.strings.begin() + first, from.strings.begin() + last);
    if (!from.missing.empty())
      to.missing.assign(from.missing.begin() + first, from.missing.begin() + last);
    out.columns.push_back(std::move(to));
  }
  return out;
}

ml::Predictions Batcher::Predict(const Servable& servable, ml::Frame conformed,
                                 const std::string& params_json) {
  if (options_.max_rows == 0 || !params_json.empty() || conformed.rows >= options_.max_rows) {
    return servable.Predict(conformed, params_json);
  }
  Pending me;
  me.frame = std::move(conformed);
  std::unique_lock lock(mu_);
  forming_.push_back(&me);
  forming_rows_ += me.frame.rows;
  if (leader_waiting_) {
    // A leader is collecting: wake it if the batch is full, then wait.
    if (forming_rows_ >= options_.max_rows) full_.notify_one();
    done_.wait(lock, [&] { return me.done; });
    if (me.error) std::rethrow_exception(me.error);
    return std::move(me.answer);
  }
  // Lead this batch.
  leader_waiting_ = true;
  full_.wait_for(lock, options_.max_delay, [&] { return forming_rows_ >= options_.max_rows; });
  std::vector<Pending*> batch;
  batch.swap(forming_);
  forming_rows_ = 0;
  leader_waiting_ = false;
  lock.unlock();
  RunBatch(servable, batch);
  lock.lock();
  for (Pending* pending : batch) pending->done = true;
  lock.unlock();
  done_.notify_all();
  if (me.error) std::rethrow_exception(me.error);
  return std::move(me.answer);
}

void Batcher::RunBatch(const Servable& servable, std::vector<Pending*>& batch) {
  // Those that stack with the first request share one call; any other is
  // predicted alone.
  std::vector<Pending*> joined;
  std::vector<const ml::Frame*> frames;
  for (Pending* pending : batch) {
    if (joined.empty() || SameColumns(joined.front()->frame, pending->frame)) {
      joined.push_back(pending);
      frames.push_back(&pending->frame);
      continue;
    }
    try {
      pending->answer = servable.Predict(pending->frame, "");
    } catch (...) {
      pending->error = std::current_exception();
    }
  }
  if (joined.size() == 1) {
    try {
      joined.front()->answer = servable.Predict(joined.front()->frame, "");
    } catch (...) {
      joined.front()->error = std::current_exception();
    }
    return;
  }
  try {
    ml::Predictions all = servable.Predict(StackRows(frames), "");
    size_t total = 0;
    for (const ml::Frame* frame : frames) total += frame->rows;
    if (all.frame.rows != total) {
      throw Error(ErrorCode::kInternalError, "the model answered " +
                                                 std::to_string(all.frame.rows) +
                                                 " rows for a batch of " + std::to_string(total));
    }
    size_t offset = 0;
    for (Pending* pending : joined) {
      pending->answer.layout = all.layout;
      pending->answer.frame = SliceRows(all.frame, offset, pending->frame.rows);
      offset += pending->frame.rows;
    }
  } catch (...) {
    // One bad request must not fail the others: predict each alone.
    for (Pending* pending : joined) {
      try {
        pending->answer = servable.Predict(pending->frame, "");
      } catch (...) {
        pending->error = std::current_exception();
      }
    }
  }
}

}  // namespace slipway::serving
