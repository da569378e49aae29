// Pieces every `slipway` CLI command shares: reading the server's JSON, formatting times,
// printing results, choosing the tracking server, and reading a --store URI.
//
// The JSON readers accept MLflow's proto3 JSON as servers write it: a field may be absent, an
// int64 may be a string, and a double that JSON cannot hold (NaN, infinities) arrives as the
// string "NaN" or "Infinity". They never throw; a missing or mistyped field reads as empty.
// Everything here is stateless and thread-safe, except the printers, which write to std::cout.
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace slipway::http {
class HttpServer;
}

namespace slipway::cli {

class Table;

// The MLflow REST path of `name`, e.g. Endpoint("runs/get") is "/api/2.0/mlflow/runs/get".
std::string Endpoint(std::string_view name);

// --- Reading JSON.

// `object[key]`, or a null value when `object` is not an object or has no such key.
const nlohmann::json& Field(const nlohmann::json& object, const char* key);
// `object[key]` when it is an array, else an empty array.
const nlohmann::json& ArrayField(const nlohmann::json& object, const char* key);
// A string field as is, a number or boolean as its JSON text, anything else as "".
std::string StringField(const nlohmann::json& object, const char* key);
// `text` as a whole decimal int64, or nothing when any of it is not.
std::optional<int64_t> ParseInt64(std::string_view text);
// An integer, a float (truncated) or a decimal string.
std::optional<int64_t> Int64Field(const nlohmann::json& object, const char* key);
// A number, or a string strtod reads whole ("NaN", "Infinity", "1e3").
std::optional<double> DoubleField(const nlohmann::json& object, const char* key);

// Gathers up to `limit` items of `items_key` from a paged search: `fetch_page(max_results,
// page_token)` requests one page of at most 100 (`page_token` is "" for the first) and the
// reply's next_page_token is followed until it is empty or repeats.
nlohmann::json CollectPages(
    const std::function<nlohmann::json(size_t max_results, const std::string& page_token)>&
        fetch_page,
    const char* items_key, size_t limit);

// --- Output.

// Epoch milliseconds as ISO-8601 UTC to the second ("2024-05-01T12:00:00Z"); "" for nothing,
// zero or negative.
std::string FormatTime(std::optional<int64_t> millis);
// `value` indented by 2, invalid UTF-8 replaced, then a newline.
void PrintJson(const nlohmann::json& value);
// `table` fitted to the terminal's width, or uncut when stdout is not a terminal.
void PrintTable(const Table& table);
// A blank line, `title`, then `table`, or "(none)" when it has no rows.
void PrintSection(const std::string& title, const Table& table);

// --- Choosing the tracking server.

// The options of every command that reads a tracking server.
struct ServerOptions {
  std::string tracking_uri;
  bool json = false;
};

// `flag` when given, else $SLIPWAY_TRACKING_URI, else $MLFLOW_TRACKING_URI (each when set and
// non-empty), else http://127.0.0.1:5000.
std::string ResolveTrackingUri(const std::string& flag);
// Adds --tracking-uri, stored in `*tracking_uri`, to `command`; returns the option.
CLI::Option* AddTrackingUriOption(CLI::App* command, std::string* tracking_uri);
// Adds --tracking-uri and --json to `command`.
void AddServerOptions(CLI::App* command, ServerOptions* options);

// --- Processes that serve.

// Raises the soft limit of open files to the hard one: a server holds a
// descriptor per connection.
void RaiseOpenFileLimit();

// Blocks SIGTERM and SIGINT in this thread and the threads it starts (one
// thread waits for them, see ListenUntilStopped) and ignores SIGPIPE.
sigset_t BlockStopSignals();

// Serves until SIGTERM or SIGINT: a thread waits for one and stops `server`.
// Throws INTERNAL_ERROR naming `host`:`port` when the address cannot be bound.
void ListenUntilStopped(http::HttpServer& server, const sigset_t& stop_signals,
                        const std::string& host, int port);

// --- Logging.

// Sends log lines to stderr, so that stdout holds only a command's output, at
// level warn (the server raises it to info).
void ConfigureLogging();

// --- Metadata stores.

// The database file of a --store URI: "sqlite:///abs/path.db" (three slashes then an absolute
// path, as SQLAlchemy writes it), "sqlite:///relative.db" with a relative path, or a bare file
// path. Throws Error(kInvalidParameterValue) for any other scheme.
std::string SqlitePath(const std::string& uri);

}  // namespace slipway::cli
