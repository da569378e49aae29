#include "http/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace slipway::http {
namespace {

// Reads what is in the pipe now (non-blocking).
std::string ReadAvailable(int fd) {
  std::string out;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

struct Pipe {
  int fds[2];
  Pipe() {
    EXPECT_EQ(::pipe(fds), 0);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

TEST(AccessLogTest, DrainWritesEveryLineInOrderWithTheTimeStamp) {
  Pipe pipe;
  AccessLog::Options options;
  options.fd = pipe.fds[1];
  options.interval = std::chrono::hours(1);  // only Drain writes
  AccessLog log(options);
  log.Write("first", true);
  log.Write("{\"json\": 1}", false);
  EXPECT_EQ(ReadAvailable(pipe.fds[0]), "");  // nothing until a batch is written
  log.Drain(std::chrono::seconds(5));
  const std::string text = ReadAvailable(pipe.fds[0]);
  // "[2026-12-06 20:30:45.123] [access] first\n{"json": 1}\n"
  ASSERT_EQ(text.size(), std::string("[2026-12-06 20:30:45.123] [access] first\n").size() +
                             std::string("{\"json\": 1}\n").size())
      << text;
  EXPECT_EQ(text[0], '[');
  EXPECT_EQ(text[5], '-');
  EXPECT_EQ(text[20], '.');
  EXPECT_EQ(text.substr(24), "] [access] first\n{\"json\": 1}\n");
  EXPECT_EQ(log.dropped(), 0u);
}

TEST(AccessLogTest, WritesOnItsOwnWithoutDrain) {
  Pipe pipe;
  AccessLog::Options options;
  options.fd = pipe.fds[1];
  options.interval = std::chrono::milliseconds(10);
  AccessLog log(options);
  log.Write("line", false);
  std::string text;
  for (int i = 0; i < 500 && text.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    text = ReadAvailable(pipe.fds[0]);
  }
  EXPECT_EQ(text, "line\n");
}

TEST(AccessLogTest, AFullBatchWakesTheWriterBeforeTheInterval) {
  Pipe pipe;
  AccessLog::Options options;
  options.fd = pipe.fds[1];
  options.batch_bytes = 1000;
  options.interval = std::chrono::hours(1);
  AccessLog log(options);
  const std::string line(99, 'x');  // 100 bytes with the newline
  for (int i = 0; i < 10; ++i) log.Write(line, false);
  std::string text;
  for (int i = 0; i < 500 && text.size() < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    text += ReadAvailable(pipe.fds[0]);
  }
  EXPECT_EQ(text.size(), 1000u);
}

// A stderr nobody reads: the writer blocks on the full pipe, the buffer
// fills to its bound, and further lines are dropped and counted; Write
// never blocks.
TEST(AccessLogTest, AnUnreadPipeDropsLinesAndNeverBlocksTheCaller) {
  Pipe pipe;
  AccessLog::Options options;
  options.fd = pipe.fds[1];
  options.max_buffered = 64 * 1024;
  options.batch_bytes = 4096;
  options.interval = std::chrono::milliseconds(1);
  auto log = std::make_unique<AccessLog>(options);
  const std::string line(999, 'y');
  // Far more than the pipe (64 KiB on Linux) and the buffer hold together.
  for (int i = 0; i < 2000; ++i) log->Write(line, false);
  EXPECT_GT(log->dropped(), 0u);
  EXPECT_LT(log->dropped(), 2000u);
  // Drain gives up after its limit instead of waiting for the reader.
  const auto start = std::chrono::steady_clock::now();
  log->Drain(std::chrono::milliseconds(100));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // What was written arrives whole once someone reads; then the log stops.
  size_t read = 0;
  for (int i = 0; i < 500; ++i) {
    read += ReadAvailable(pipe.fds[0]).size();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (read >= (2000 - log->dropped()) * 1000) break;
  }
  EXPECT_EQ(read, (2000 - log->dropped()) * 1000);
  log.reset();
}

TEST(AccessLogTest, ConcurrentWritersLoseNothingThatFits) {
  Pipe pipe;
  AccessLog::Options options;
  options.fd = pipe.fds[1];
  options.interval = std::chrono::hours(1);
  AccessLog log(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 1000; ++i) log.Write(std::to_string(t), false);
    });
  }
  for (auto& thread : threads) thread.join();
  // 8000 bytes: within the pipe's capacity, so Drain completes.
  log.Drain(std::chrono::seconds(5));
  const std::string text = ReadAvailable(pipe.fds[0]);
  ASSERT_EQ(text.size(), 8000u);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(std::count(text.begin(), text.end(), static_cast<char>('0' + t)), 1000);
  }
  EXPECT_EQ(log.dropped(), 0u);
}

}  // namespace
}  // namespace slipway::http
