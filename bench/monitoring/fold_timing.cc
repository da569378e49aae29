// Timing of the live-monitoring fold: the CPU it takes to fold prediction
// records into windows (monitoring/live/window_fold.h), and the CPU the
// prediction log's writer takes to format them, per 100k records.
//
// The records are bench/monitoring/serving_cost.py's: one row of 30 float
// features (5 decimals, seeded), the probability a binary XGBoost model
// answers, a request id. They are written through a real PredictionLog into
// a local folder, published in segments of `--segment` records (the server's
// log publishes every 2 s: ~66k records at 33k req/s), and folded by FoldLog
// into a real SQLite monitor store (10 s time windows, the 30 features),
// as the server's background task does. Build and run:
//
//   cmake --build build --target fold_timing && build/tests/unit/fold_timing [RECORDS]
//
// Times are the process's CPU time (all threads: SQLite's writer thread
// commits each fold step), so other work on shared cores does not count
// (it still costs caches); best of 3 rounds.
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "blob/local_blob_store.h"
#include "monitoring/live/window_fold.h"
#include "serving/prediction_log.h"
#include "store/metadata_store.h"

namespace {

using namespace slipway;

constexpr size_t kFeatures = 30;

double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::vector<serving::PredictionRecord> MakeRecords(size_t count) {
  std::mt19937_64 rng(20261208);
  std::normal_distribution<double> normal(0, 1);
  std::vector<serving::PredictionRecord> records;
  records.reserve(count);
  const auto start = std::chrono::system_clock::now();
  for (size_t i = 0; i < count; ++i) {
    auto frame = std::make_shared<ml::Frame>();
    frame->rows = 1;
    for (size_t c = 0; c < kFeatures; ++c) {
      char name[8];
      std::snprintf(name, sizeof name, "f%02zu", c);
      const double value = std::round(normal(rng) * 1e5) / 1e5;
      frame->columns.push_back(ml::Column{name, ml::DataType::kDouble, 1, {value}, {}, {}});
    }
    auto outputs = std::make_shared<ml::Predictions>();
    outputs->layout = ml::OutputLayout::kVector;
    outputs->frame.rows = 1;
    outputs->frame.columns.push_back(ml::Column{
        "", ml::DataType::kDouble, 1, {std::uniform_real_distribution<double>()(rng)}, {}, {}});
    serving::PredictionRecord record;
    record.deployment = "bench";
    record.request_id = "req-" + std::to_string(i);
    record.model_name = "benchmodel";
    record.version = "1";
    // 33k records a second, as serving at its peak.
    record.time = start + std::chrono::microseconds(static_cast<int64_t>(i) * 30);
    record.latency_seconds = 0.0004;
    record.inputs = std::move(frame);
    record.outputs = std::move(outputs);
    records.push_back(std::move(record));
  }
  return records;
}

monitoring::live::MonitorConfig Config() {
  monitoring::live::MonitorConfig config;
  config.deployment = "bench";
  for (size_t c = 0; c < kFeatures; ++c) {
    char name[8];
    std::snprintf(name, sizeof name, "f%02zu", c);
    config.features.push_back(name);
  }
  config.window = monitoring::live::WindowSpec::Parse("10s");
  config.generation = 1;
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // not the store's migrations
  const size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const size_t segment = 66000;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("slipway-fold-timing-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<serving::PredictionRecord> records = MakeRecords(count);

  double format_best = 1e300;
  for (int round = 0; round < 3; ++round) {
    size_t bytes = 0;
    const double t0 = CpuSeconds();
    for (const serving::PredictionRecord& record : records) {
      bytes += serving::FormatPredictionLine(record).size();
    }
    format_best = std::min(format_best, CpuSeconds() - t0);
    if (round == 0) std::printf("record line: %.0f bytes on average\n", double(bytes) / count);
  }

  double fold_best = 1e300;
  for (int round = 0; round < 3; ++round) {
    const std::filesystem::path root = dir / ("round" + std::to_string(round));
    blob::LocalBlobStore::Options blobs;
    blobs.root = root / "predictions";
    std::unique_ptr<blob::BlobStore> store = blob::LocalBlobStore::Create(blobs);
    serving::PredictionLog::Options log_options;
    log_options.store = store.get();
    log_options.flush_interval = std::chrono::minutes(10);
    serving::PredictionLog log(log_options);
    for (size_t i = 0; i < records.size(); ++i) {
      log.Append(records[i]);
      if ((i + 1) % segment == 0 || i + 1 == records.size()) log.Flush();
    }
    std::unique_ptr<store::MetadataStores> stores =
        store::OpenMetadataStore("sqlite:///" + (root / "slipway.db").string());
    stores->monitors->Put(Config(), "{}");
    serving::PredictionLogReader reader = log.Reader();
    const double t0 = CpuSeconds();
    int64_t rows = 0;
    while (int64_t folded = monitoring::live::FoldLog(*stores->monitors, reader, "bench", 1)) {
      rows += folded;
    }
    const double cpu = CpuSeconds() - t0;
    if (rows != static_cast<int64_t>(count)) {
      std::fprintf(stderr, "folded %lld rows of %zu\n", static_cast<long long>(rows), count);
      return 1;
    }
    fold_best = std::min(fold_best, cpu);
  }
  std::filesystem::remove_all(dir);
  const double per = 100000.0 / static_cast<double>(count);
  std::printf("records: %zu (segments of %zu), 30 features, 1 row each\n", count, segment);
  std::printf("format (log writer): %.3f CPU s per 100k records\n", format_best * per);
  std::printf("fold (FoldLog, SQLite commit included): %.3f CPU s per 100k records\n",
              fold_best * per);
  return 0;
}
