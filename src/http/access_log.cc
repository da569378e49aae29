#include "http/access_log.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

namespace slipway::http {

AccessLog& AccessLog::Stderr() {
  static auto* log = new AccessLog(Options{});
  return *log;
}

AccessLog::AccessLog(Options options) : options_(options) {
  buffer_.reserve(options_.batch_bytes * 2);
  writer_ = std::thread([this] { Run(); });
  pthread_setname_np(writer_.native_handle(), "access-log");
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void AccessLog::Write(std::string_view line, bool stamp) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (buffer_.size() + line.size() > options_.max_buffered) {
      ++dropped_;
      return;
    }
    if (stamp) {
      const auto now = std::chrono::system_clock::now();
      const int64_t ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      const int64_t second = ms / 1000;
      if (second != stamp_second_) {
        const time_t t = static_cast<time_t>(second);
        struct tm local;
        localtime_r(&t, &local);
        std::strftime(stamp_prefix_, sizeof stamp_prefix_, "[%Y-%m-%d %H:%M:%S.", &local);
        stamp_second_ = second;
      }
      char millis[16];
      const int n =
          std::snprintf(millis, sizeof millis, "%03d] [access] ", static_cast<int>(ms % 1000));
      buffer_.append(stamp_prefix_);
      buffer_.append(millis, static_cast<size_t>(n));
    }
    buffer_.append(line);
    buffer_.push_back('\n');
    ++appended_;
    if (buffer_.size() >= options_.batch_bytes && !woken_) {
      woken_ = true;
      wake = true;
    }
  }
  if (wake) wake_.notify_one();
}

void AccessLog::Drain(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  const uint64_t target = appended_;
  if (flushed_ >= target) return;
  woken_ = true;
  wake_.notify_one();
  written_.wait_for(lock, limit, [&] { return flushed_ >= target; });
}

uint64_t AccessLog::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void AccessLog::Run() {
  std::string batch;
  batch.reserve(options_.batch_bytes * 2);
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_for(lock, options_.interval, [&] { return woken_ || stop_; });
    woken_ = false;
    batch.swap(buffer_);
    const uint64_t lines = appended_;
    const bool stopping = stop_;
    lock.unlock();
    size_t done = 0;
    while (done < batch.size()) {
      const ssize_t n = ::write(options_.fd, batch.data() + done, batch.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stderr closed: the lines are lost, as print's would be
      done += static_cast<size_t>(n);
    }
    batch.clear();
    lock.lock();
    flushed_ = lines;
    written_.notify_all();
    if (stopping && buffer_.empty()) return;
  }
}

}  // namespace slipway::http
