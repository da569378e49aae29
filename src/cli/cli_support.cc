#include "cli/cli_support.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <system_error>
#include <thread>

#include "cli/table.h"
#include "core/error.h"
#include "http/http_server.h"
#include "store/metadata_store.h"

namespace slipway::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kDefaultTrackingUri = "http://127.0.0.1:5000";
constexpr size_t kPageSize = 100;

}  // namespace

std::string Endpoint(std::string_view name) { return fmt::format("/api/2.0/mlflow/{}", name); }

const json& Field(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

const json& ArrayField(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const json& value = Field(object, key);
  return value.is_array() ? value : kEmpty;
}

std::string StringField(const json& object, const char* key) {
  const json& value = Field(object, key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  return "";
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return parsed;
}

std::optional<int64_t> Int64Field(const json& object, const char* key) {
  const json& value = Field(object, key);
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) return static_cast<int64_t>(value.get<double>());
  if (value.is_string()) return ParseInt64(value.get_ref<const std::string&>());
  return std::nullopt;
}

std::optional<double> DoubleField(const json& object, const char* key) {
  const json& value = Field(object, key);
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    char* end = nullptr;
    double parsed = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) return parsed;
  }
  return std::nullopt;
}

json CollectPages(
    const std::function<json(size_t max_results, const std::string& page_token)>& fetch_page,
    const char* items_key, size_t limit) {
  json items = json::array();
  std::string token;
  while (items.size() < limit) {
    json reply = fetch_page(std::min(kPageSize, limit - items.size()), token);
    for (const json& item : ArrayField(reply, items_key)) items.push_back(item);
    std::string next = StringField(reply, "next_page_token");
    if (next.empty() || next == token) break;
    token = std::move(next);
  }
  if (items.size() > limit) items.erase(items.begin() + static_cast<ptrdiff_t>(limit), items.end());
  return items;
}

std::string FormatTime(std::optional<int64_t> millis) {
  if (!millis || *millis <= 0) return "";
  std::time_t seconds = static_cast<std::time_t>(*millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void PrintJson(const json& value) {
  std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

void PrintTable(const Table& table) { table.Print(std::cout, StdoutTerminalWidth()); }

void PrintSection(const std::string& title, const Table& table) {
  std::cout << '\n' << title << '\n';
  if (table.row_count() == 0) {
    std::cout << "(none)\n";
  } else {
    PrintTable(table);
  }
}

std::string ResolveTrackingUri(const std::string& flag) {
  if (!flag.empty()) return flag;
  for (const char* name : {"SLIPWAY_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return std::string(kDefaultTrackingUri);
}

CLI::Option* AddTrackingUriOption(CLI::App* command, std::string* tracking_uri) {
  return command->add_option("--tracking-uri", *tracking_uri,
                             fmt::format("Tracking server (default: $SLIPWAY_TRACKING_URI, then "
                                         "$MLFLOW_TRACKING_URI, then {})",
                                         kDefaultTrackingUri));
}

void AddServerOptions(CLI::App* command, ServerOptions* options) {
  AddTrackingUriOption(command, &options->tracking_uri);
  command->add_flag("--json", options->json, "Print the server's JSON objects");
}

std::string SqlitePath(const std::string& uri) { return store::SqlitePathOf(uri); }

void ConfigureLogging() {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("slipway"));
  spdlog::set_level(spdlog::level::warn);
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

void ListenUntilStopped(http::HttpServer& server, const sigset_t& stop_signals,
                        const std::string& host, int port) {
  std::thread waiter([&server, stop_signals] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    spdlog::info("received signal {}, shutting down", signal_number);
    server.Stop();
  });
  if (!server.Listen()) {
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    throw Error(ErrorCode::kInternalError, "cannot listen on " + host + ":" + std::to_string(port) +
                                               " (address in use or not available)");
  }
  waiter.join();
}

}  // namespace slipway::cli
