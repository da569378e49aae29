// Timing of the serving codecs: how long parsing a scoring or inference body
// into an ml::Frame, and writing predictions back, takes per request.
//
// The anchor is nlohmann::json::parse of the same body (a JSON tree, no
// typing, no Frame): what a route that "just parses the JSON" would pay
// before doing any of the codec's work. Build and run:
//
//   cmake --build build --target codec_timing && build/tests/unit/codec_timing [BODY_FILE...]
//
// Each line: the case, microseconds per call (best of 5 rounds), MB/s of body.
// Times are the thread's CPU time, so other work on shared cores does not
// count (it still costs caches).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "http/oip_codec.h"
#include "http/scoring_codec.h"

namespace {

using slipway::http::ParseInferRequest;
using slipway::http::ParseScoringRequest;
using slipway::http::WriteInferResponse;
using slipway::http::WriteScoringResponse;

std::mt19937_64 rng(42);

double Feature() { return std::uniform_real_distribution<double>(-10, 10)(rng); }

// The bench body: `dataframe_split` with 30 float features.
std::string SplitBody(size_t rows, size_t cols) {
  std::string body = "{\"dataframe_split\": {\"columns\": [";
  for (size_t c = 0; c < cols; ++c) body += (c ? ", \"f" : "\"f") + std::to_string(c) + "\"";
  body += "], \"data\": [";
  char buffer[32];
  for (size_t r = 0; r < rows; ++r) {
    body += r ? ", [" : "[";
    for (size_t c = 0; c < cols; ++c) {
      std::snprintf(buffer, sizeof buffer, "%s%.6f", c ? ", " : "", Feature());
      body += buffer;
    }
    body += "]";
  }
  return body + "]}}";
}

std::string OipJsonBody(size_t rows, size_t cols) {
  std::string body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + std::to_string(rows) + "," +
                     std::to_string(cols) + "],\"datatype\":\"FP32\",\"data\":[";
  char buffer[32];
  for (size_t i = 0; i < rows * cols; ++i) {
    std::snprintf(buffer, sizeof buffer, "%s%.6f", i ? "," : "", Feature());
    body += buffer;
  }
  return body + "]}]}";
}

std::string OipBinaryBody(size_t rows, size_t cols, size_t* header) {
  std::string json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + std::to_string(rows) + "," +
                     std::to_string(cols) +
                     "],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":" +
                     std::to_string(rows * cols * 4) + "}}]}";
  *header = json.size();
  for (size_t i = 0; i < rows * cols; ++i) {
    float v = static_cast<float>(Feature());
    json.append(reinterpret_cast<const char*>(&v), 4);
  }
  return json;
}

slipway::ml::Predictions Vector(size_t rows) {
  slipway::ml::Predictions p;
  p.frame.rows = rows;
  slipway::ml::Column c;
  c.type = slipway::ml::DataType::kFloat;
  for (size_t r = 0; r < rows; ++r) c.numbers.push_back(static_cast<float>(Feature() / 10));
  p.frame.columns.push_back(std::move(c));
  return p;
}

// The calling thread's CPU time.
struct Clock {
  using duration = std::chrono::nanoseconds;
  static std::chrono::time_point<Clock> now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::time_point<Clock>(std::chrono::seconds(ts.tv_sec) +
                                          std::chrono::nanoseconds(ts.tv_nsec));
  }
};

void Time(const char* name, size_t bytes, const std::function<void()>& call) {
  // Calibrate to about 50 ms per round.
  size_t iterations = 1;
  while (true) {
    auto start = Clock::now();
    for (size_t i = 0; i < iterations; ++i) call();
    if (Clock::now() - start > std::chrono::milliseconds(50)) break;
    iterations *= 2;
  }
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    auto start = Clock::now();
    for (size_t i = 0; i < iterations; ++i) call();
    double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() /
                static_cast<double>(iterations);
    best = std::min(best, us);
  }
  std::printf("%-46s %10.2f us  %8.1f MB/s\n", name, best, static_cast<double>(bytes) / best);
}

}  // namespace

int main(int argc, char** argv) {
  size_t sink = 0;
  // Given files, time the scoring parse of each (e.g. run.py's own bodies,
  // WORKDIR/model-data/split-1000.json) and nothing else.
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      const std::string body((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      Time(argv[i], body.size(),
           [&] { sink += ParseScoringRequest("application/json", body, nullptr).frame.rows; });
    }
    return sink == 0 ? 1 : 0;
  }
  for (size_t rows : {size_t{1}, size_t{1000}}) {
    const std::string split = SplitBody(rows, 30);
    const std::string label = std::to_string(rows) + " x 30";
    Time(("scoring dataframe_split " + label).c_str(), split.size(),
         [&] { sink += ParseScoringRequest("application/json", split, nullptr).frame.rows; });
    Time(("  anchor: nlohmann::json::parse " + label).c_str(), split.size(),
         [&] { sink += nlohmann::json::parse(split).size(); });
    const std::string oip = OipJsonBody(rows, 30);
    Time(("OIP JSON FP32 " + label).c_str(), oip.size(),
         [&] { sink += ParseInferRequest(oip, std::nullopt).inputs.rows; });
    Time(("  anchor: nlohmann::json::parse " + label).c_str(), oip.size(),
         [&] { sink += nlohmann::json::parse(oip).size(); });
    size_t header;
    const std::string binary = OipBinaryBody(rows, 30, &header);
    const std::string header_text = std::to_string(header);
    Time(("OIP binary FP32 " + label).c_str(), binary.size(),
         [&] { sink += ParseInferRequest(binary, header_text).inputs.rows; });
    const slipway::ml::Predictions predictions = Vector(rows);
    const std::string written = WriteScoringResponse(predictions);
    Time(("write {\"predictions\"} " + std::to_string(rows) + " floats").c_str(), written.size(),
         [&] { sink += WriteScoringResponse(predictions).size(); });
    Time(("write OIP JSON " + std::to_string(rows) + " floats").c_str(), written.size(),
         [&] { sink += WriteInferResponse("m", "1", "", predictions, {}, false).body.size(); });
  }
  return sink == 0 ? 1 : 0;
}
