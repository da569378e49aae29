#include "cli/data_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/app.h"
#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "cli/workspace.h"
#include "core/clock.h"
#include "core/error.h"
#include "data/content_store.h"
#include "data/dataset_diff.h"
#include "data/dataset_service.h"
#include "data/object_bundle.h"
#include "data/rules.h"
#include "http/dataset_routes.h"

namespace slipway::cli {
namespace {

using nlohmann::json;
using Align = Table::Align;
namespace fs = std::filesystem;

constexpr const char* kDatasetsApi = "/api/v1/datasets";
constexpr int kTransferThreads = 4;
// Push sends bundles of up to this many objects and bytes; pull asks for
// this many objects per request (chunks average 64 KiB, at most 256 KiB).
constexpr size_t kBundleObjects = 1024;
constexpr uint64_t kBundleBytes = uint64_t{16} << 20;
constexpr size_t kFetchObjects = 256;

struct DataOptions {
  std::string workspace;
  std::string tracking_uri;
  std::string path;
  std::string name;
  std::string ref;
  std::string other;
  std::string output;
  std::string rules;
  std::string reference;
  std::string run_id;
  std::string context = "training";
  std::string description;
  std::vector<std::string> types;
  bool table = false;
  bool opaque = false;
  bool json = false;
};

std::string Bytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

// Progress on stderr, redrawn in place, only when stderr is a terminal.
class Progress {
 public:
  Progress() : enabled_(isatty(STDERR_FILENO) != 0) {}
  ~Progress() { Done(); }
  void Update(std::string_view phase, uint64_t done, uint64_t total) {
    Draw(phase, done, total, Bytes(done) + " / " + Bytes(total));
  }
  void UpdateObjects(std::string_view phase, uint64_t done, uint64_t total) {
    Draw(phase, done, total, fmt::format("{} / {} objects", done, total));
  }
  void Done() {
    if (drawn_) std::cerr << "\r" << std::string(48, ' ') << "\r" << std::flush;
    drawn_ = false;
  }

 private:
  void Draw(std::string_view phase, uint64_t done, uint64_t total, const std::string& amounts) {
    if (!enabled_) return;
    std::lock_guard lock(mu_);
    int percent = total == 0 ? 100 : static_cast<int>(100.0 * done / total);
    std::cerr << fmt::format("\r{:<8} {:>3}%  {}   ", phase, percent, amounts) << std::flush;
    drawn_ = true;
  }

  bool enabled_;
  bool drawn_ = false;
  std::mutex mu_;  // guards drawing
};

data::CsvOptions CsvOptionsOf(const DataOptions& options) {
  data::CsvOptions csv;
  for (const std::string& spec : options.types) {
    size_t eq = spec.find('=');
    std::optional<data::ColumnType> type =
        eq == std::string::npos ? std::nullopt : data::ColumnTypeFromName(spec.substr(eq + 1));
    if (!type) {
      ThrowInvalid("--type '" + spec +
                   "': expected COLUMN=TYPE with TYPE one of bool, int64, "
                   "float64, string");
    }
    csv.type_overrides[spec.substr(0, eq)] = *type;
  }
  return csv;
}

// --- add, ls, show, get

void DataAdd(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, true);
  std::string name = options.name.empty() ? fs::path(options.path).stem().string() : options.name;
  data::AddOptions add;
  add.description = options.description;
  const char* user = std::getenv("USER");
  add.created_by = user ? user : "";
  if (options.table) add.table = true;
  if (options.opaque) add.table = false;
  add.csv = CsvOptionsOf(options);
  Progress progress;
  add.progress = [&](std::string_view phase, uint64_t done, uint64_t total) {
    progress.Update(phase, done, total);
  };
  data::AddOutcome outcome = workspace->service().Add(name, options.path, add);
  progress.Done();
  const data::DatasetVersion& v = outcome.version;
  if (options.json) {
    json out = http::DatasetVersionJson(v, false);
    out["created"] = outcome.created;
    out["bytes_new"] = outcome.stats.bytes_new;
    out["chunks_new"] = outcome.stats.chunks_new;
    out["chunks_total"] = outcome.stats.chunks_total;
    return PrintJson(out);
  }
  if (!outcome.created) {
    std::cout << fmt::format("{}@{} unchanged (sha256:{}): no new version\n", v.name, v.version,
                             v.content_digest);
    return;
  }
  std::cout << fmt::format("{}@{} (sha256:{})\n", v.name, v.version, v.content_digest);
  std::string shape =
      v.row_count >= 0 ? fmt::format("{} rows x {} columns, ", v.row_count, v.column_count) : "";
  std::cout << fmt::format("  {}{}; stored {} new in {} of {} chunks\n", shape, Bytes(v.size_bytes),
                           Bytes(outcome.stats.bytes_new), outcome.stats.chunks_new,
                           outcome.stats.chunks_total);
}

void DataLs(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  if (!options.ref.empty()) {
    std::vector<data::DatasetVersion> versions = workspace->service().Versions(options.ref);
    if (options.json) {
      json list = json::array();
      for (const auto& v : versions) list.push_back(http::DatasetVersionJson(v, false));
      return PrintJson({{"versions", list}});
    }
    Table table({{"VERSION", Align::kRight},
                 {"SHA256", Align::kLeft, false},
                 {"SIZE", Align::kRight},
                 {"ROWS", Align::kRight},
                 {"CREATED"},
                 {"SOURCE"}});
    for (const auto& v : versions) {
      table.AddRow({std::to_string(v.version), v.content_digest.substr(0, 16), Bytes(v.size_bytes),
                    v.row_count >= 0 ? std::to_string(v.row_count) : "", FormatTime(v.created_ms),
                    v.source});
    }
    return PrintTable(table);
  }
  std::vector<data::DatasetSummary> datasets = workspace->service().List();
  if (options.json) {
    json list = json::array();
    for (const auto& d : datasets) {
      list.push_back({{"name", d.name},
                      {"latest_version", d.latest_version},
                      {"version_count", d.version_count},
                      {"updated_ms", d.updated_ms}});
    }
    return PrintJson({{"datasets", list}});
  }
  Table table({{"NAME", Align::kLeft, false}, {"LATEST", Align::kRight}, {"UPDATED"}});
  for (const auto& d : datasets) {
    table.AddRow({d.name, std::to_string(d.latest_version), FormatTime(d.updated_ms)});
  }
  PrintTable(table);
}

// A histogram as a line of block characters, scaled to its tallest bin.
std::string Sparkline(const std::vector<data::HistogramBin>& bins) {
  static const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  double top = 0;
  for (const auto& bin : bins) top = std::max(top, bin.count);
  std::string line;
  for (const auto& bin : bins) {
    int level = top <= 0 ? 0 : static_cast<int>(std::lround(7.0 * bin.count / top));
    line += bin.count > 0 && level == 0 ? kBlocks[0] : (bin.count > 0 ? kBlocks[level] : " ");
  }
  return line;
}

std::string Number(double value) {
  if (std::isnan(value)) return "";
  double magnitude = std::fabs(value);
  if (magnitude >= 1e9 || (magnitude < 1e-3 && value != 0)) return fmt::format("{:.3g}", value);
  if (value == std::floor(value)) return fmt::format("{:.0f}", value);
  if (magnitude >= 100) return fmt::format("{:.1f}", value);
  return fmt::format("{:.4g}", value);
}

// The column table of a profile: statistics, and a histogram or the top values.
void PrintProfileTable(const data::DatasetProfile& profile);

void DataShow(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetVersion v = workspace->service().Resolve(data::ParseDatasetRef(options.ref));
  if (options.json) return PrintJson(http::DatasetVersionJson(v, true));
  std::cout << fmt::format("{}@{}\n  sha256   {}\n  size     {}\n", v.name, v.version,
                           v.content_digest, Bytes(v.size_bytes));
  if (v.row_count >= 0) {
    std::cout << fmt::format("  shape    {} rows x {} columns\n", v.row_count, v.column_count);
  }
  std::cout << fmt::format("  created  {}{}\n  source   {}\n", FormatTime(v.created_ms),
                           v.created_by.empty() ? "" : " by " + v.created_by, v.source);
  if (!v.description.empty()) std::cout << "  about    " << v.description << "\n";
  if (v.profile_json.empty()) return;
  PrintProfileTable(workspace->service().ProfileOf(v));
}

void DataProfile(const DataOptions& options) {
  Progress progress;
  // No store to open, so no App: the executor an App would make.
  std::unique_ptr<core::Executor> executor = app::NewDataExecutor();
  data::ProfileOptions profile_options;
  profile_options.executor = executor.get();
  data::DatasetProfile profile = data::ProfileCsv(
      options.path, CsvOptionsOf(options), profile_options,
      [&](uint64_t done, uint64_t total) { progress.Update("profile", done, total); });
  progress.Done();
  if (options.json) return PrintJson(profile.ToJson());
  std::cout << fmt::format("{}: {} rows x {} columns\n", options.path, profile.row_count,
                           profile.columns.size());
  PrintProfileTable(profile);
}

void PrintProfileTable(const data::DatasetProfile& profile) {
  Table table({{"COLUMN", Align::kLeft, false},
               {"TYPE"},
               {"MISSING", Align::kRight},
               {"DISTINCT", Align::kRight},
               {"MIN", Align::kRight},
               {"MEAN", Align::kRight},
               {"STD", Align::kRight},
               {"MAX", Align::kRight},
               {"DISTRIBUTION / TOP VALUES"}});
  for (const data::ColumnProfile& c : profile.columns) {
    bool numeric = data::IsNumeric(c.type) && c.count > 0;
    std::string shape;
    if (numeric) {
      shape = Sparkline(c.Histogram(16));
    } else {
      // Counts are exact while the sketch holds every value; else a range.
      for (const data::FrequentItems::Item& item : c.top_items.Top(3)) {
        if (!shape.empty()) shape += ", ";
        shape += item.lower_bound == item.upper_bound
                     ? fmt::format("{} ({})", item.value, item.lower_bound)
                     : fmt::format("{} ({}-{})", item.value, item.lower_bound, item.upper_bound);
      }
    }
    int64_t total = c.count + c.missing;
    table.AddRow({c.name, std::string(data::ColumnTypeName(c.type)),
                  total == 0 ? "" : fmt::format("{:.1f}%", 100.0 * c.missing / total),
                  fmt::format("{:.0f}", c.DistinctEstimate()), numeric ? Number(c.min) : "",
                  numeric ? Number(c.mean) : "", numeric ? Number(c.Stddev()) : "",
                  numeric ? Number(c.max) : "", shape});
  }
  PrintSection("Columns", table);
}

void DataGet(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetVersion v = workspace->service().Resolve(data::ParseDatasetRef(options.ref));
  workspace->service().Materialize(v, options.output);
  std::cout << fmt::format("{}@{} -> {} ({})\n", v.name, v.version, options.output,
                           Bytes(v.size_bytes));
}

// --- validate, infer-rules, diff

void DataValidate(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& service = workspace->service();
  data::DatasetVersion v = service.Resolve(data::ParseDatasetRef(options.ref));
  data::ValidationReport report =
      service.Validate(v, data::LoadRules(options.rules), options.reference);
  json out = report.ToJson();
  out["dataset"] = v.name + "@" + std::to_string(v.version);
  out["content_digest"] = v.content_digest;
  if (!options.run_id.empty()) {
    // The report goes to the run that asked for it: a tag, a metric, an artifact.
    ApiClient client(ResolveTrackingUri(options.tracking_uri));
    json run = client.Get("/api/2.0/mlflow/runs/get", {{"run_id", options.run_id}});
    std::string artifact_uri = StringField(Field(Field(run, "run"), "info"), "artifact_uri");
    const std::string scheme = "mlflow-artifacts:";
    if (artifact_uri.rfind(scheme, 0) != 0) {
      ThrowInvalid("run " + options.run_id + " keeps artifacts at '" + artifact_uri +
                   "', which is not behind this server's artifact proxy");
    }
    std::string root = artifact_uri.substr(scheme.size());
    while (!root.empty() && root.front() == '/') root.erase(0, 1);
    std::string file = fmt::format("validation/{}@{}.json", v.name, v.version);
    client.Put("/api/2.0/mlflow-artifacts/artifacts/" + root + "/" + file, out.dump(2),
               "application/json");
    int64_t failed = 0;
    for (const json& rule : ArrayField(out, "results")) failed += Field(rule, "passed") == false;
    // Metric and tag keys may not hold '@'.
    std::string key = fmt::format("validation.{}.v{}", v.name, v.version);
    client.Post("/api/2.0/mlflow/runs/log-batch",
                {{"run_id", options.run_id},
                 {"tags", {{{"key", key}, {"value", report.ok ? "passed" : "failed"}}}},
                 {"metrics",
                  {{{"key", key + ".failed_rules"},
                    {"value", failed},
                    {"timestamp", NowMillis()},
                    {"step", 0}}}}});
  }
  if (options.json) {
    PrintJson(out);
  } else {
    std::cout << fmt::format("{}@{}: ", v.name, v.version) << report.RenderText();
  }
  if (!report.ok) throw CLI::RuntimeError(1);
}

void DataInferRules(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& service = workspace->service();
  data::DatasetVersion v = service.Resolve(data::ParseDatasetRef(options.ref));
  data::Rules rules = service.InferRulesFor(v);
  std::cout << fmt::format("# Rules inferred from {}@{} (sha256:{}); review before use.\n", v.name,
                           v.version, v.content_digest.substr(0, 16))
            << data::ToYaml(rules);
}

void DataDiff(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& service = workspace->service();
  data::DatasetVersion a = service.Resolve(data::ParseDatasetRef(options.ref));
  data::DatasetVersion b = service.Resolve(data::ParseDatasetRef(options.other));
  if (!options.json) {
    std::cout << fmt::format("{}@{} -> {}@{}\n", a.name, a.version, b.name, b.version);
    if (a.content_digest == b.content_digest) {
      std::cout << "identical content (sha256:" << a.content_digest << ")\n";
      return;
    }
  }
  if (a.profile_json.empty() || b.profile_json.empty()) {
    std::cout << fmt::format("size {} -> {}; sha256 {} -> {} (not tables: no column diff)\n",
                             Bytes(a.size_bytes), Bytes(b.size_bytes),
                             a.content_digest.substr(0, 16), b.content_digest.substr(0, 16));
    return;
  }
  data::DatasetDiff diff = data::Diff(service.ProfileOf(a), service.ProfileOf(b));
  if (options.json) return PrintJson(diff.ToJson());
  std::cout << diff.RenderText();
}

// --- push, pull, use

std::string VersionsPath(const std::string& name) {
  return std::string(kDatasetsApi) + "/" + name + "/versions";
}

// Runs `work` for each index below `count` on a few threads, each with its
// own client; rethrows the first error once all have stopped. Threads of
// their own, not tasks on the data executor: each spends its time waiting
// on the server with a connection of its own, so the point is how many
// requests are in flight, not how many cores hash; and they last one push
// or pull of one command.
void InParallel(const std::string& uri, size_t count,
                const std::function<void(ApiClient&, size_t)>& work) {
  std::atomic<size_t> next{0};
  std::mutex error_mu;  // guards error
  std::exception_ptr error;
  std::vector<std::thread> threads;
  int thread_count = static_cast<int>(std::min<size_t>(kTransferThreads, count));
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      try {
        ApiClient client(uri);
        for (size_t i = next++; i < count; i = next++) {
          {
            std::lock_guard lock(error_mu);
            if (error) return;
          }
          work(client, i);
        }
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
}

// `digests` cut into consecutive groups of at most `max_count` objects and
// (past the first object of a group) `max_bytes` bytes, `size_of` giving an
// object's size.
std::vector<std::vector<std::string>> Batches(
    const std::vector<std::string>& digests, size_t max_count, uint64_t max_bytes,
    const std::function<uint64_t(const std::string&)>& size_of) {
  std::vector<std::vector<std::string>> batches;
  uint64_t bytes = 0;
  for (const std::string& digest : digests) {
    uint64_t size = size_of(digest);
    if (batches.empty() || batches.back().size() >= max_count ||
        (bytes + size > max_bytes && !batches.back().empty())) {
      batches.emplace_back();
      bytes = 0;
    }
    batches.back().push_back(digest);
    bytes += size;
  }
  return batches;
}

// The server's versions of a dataset; none if it has none. With `hidden_is_new`,
// a refusal to list them counts as none too: a server whose default
// permission is NO_PERMISSIONS answers a dataset nobody has pushed yet as it
// answers a hidden one (so that the answer says nothing), and a push of
// version 1 is what creates it. A hidden dataset's push is then refused by
// the server itself, with the permission it needs.
std::map<int64_t, json> RemoteVersions(ApiClient& client, const std::string& name,
                                       bool hidden_is_new = false) {
  std::map<int64_t, json> out;
  try {
    json reply = client.Get(VersionsPath(name));
    for (const json& v : ArrayField(reply, "versions")) {
      out[Int64Field(v, "version").value_or(0)] = v;
    }
  } catch (const Error& error) {
    const bool hidden = hidden_is_new && error.code() == ErrorCode::kPermissionDenied;
    if (error.code() != ErrorCode::kResourceDoesNotExist && !hidden) throw;
  }
  return out;
}

void DataPush(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& service = workspace->service();
  data::DatasetRef ref = data::ParseDatasetRef(options.ref);
  int64_t upto = service.Resolve(ref).version;
  std::string uri = ResolveTrackingUri(options.tracking_uri);
  ApiClient client(uri);
  std::map<int64_t, json> remote = RemoteVersions(client, ref.name, /*hidden_is_new=*/true);
  uint64_t sent_objects = 0;
  uint64_t sent_bytes = 0;
  std::vector<std::string> pushed;
  for (const data::DatasetVersion& listed : service.Versions(ref.name)) {
    if (listed.version > upto) break;
    auto there = remote.find(listed.version);
    if (there != remote.end()) {
      if (StringField(there->second, "content_digest") != listed.content_digest) {
        throw Error(
            ErrorCode::kResourceConflict,
            fmt::format("{}@{} on the server holds different content (sha256 {}); "
                        "nothing pushed from there on",
                        listed.name, listed.version, StringField(there->second, "content_digest")));
      }
      continue;
    }
    data::DatasetVersion v = service.Resolve({listed.name, listed.version});
    std::vector<std::string> objects = service.ObjectsOf(v);
    std::set<std::string> unique(objects.begin(), objects.end());
    json missing = client.Post(
        std::string(kDatasetsApi) + "/objects/missing",
        {{"dataset", v.name}, {"digests", std::vector<std::string>(unique.begin(), unique.end())}});
    std::vector<std::string> to_send;
    for (const json& digest : ArrayField(missing, "missing")) to_send.push_back(digest);
    // A few large requests (object_bundle.h), each stored as one pack there.
    uint64_t total_bytes = 0;
    std::vector<std::vector<std::string>> batches =
        Batches(to_send, kBundleObjects, kBundleBytes, [&](const std::string& digest) {
          auto location = service.content().Locate(digest);
          uint64_t size = location ? location->size : 0;
          total_bytes += size;
          return size;
        });
    Progress progress;
    const uint64_t sent_before = sent_bytes;
    std::mutex count_mu;  // guards the counters
    InParallel(uri, batches.size(), [&](ApiClient& worker, size_t i) {
      std::string bundle;
      uint64_t bytes = 0;
      for (const std::string& digest : batches[i]) {
        std::string object = service.content().ReadBlob(digest);
        bytes += object.size();
        data::AppendToBundle(&bundle, digest, object);
      }
      worker.Put(std::string(kDatasetsApi) + "/objects/bundle", bundle);
      std::lock_guard lock(count_mu);
      sent_objects += batches[i].size();
      sent_bytes += bytes;
      progress.Update("push", sent_bytes - sent_before, total_bytes);
    });
    progress.Done();
    json body = http::DatasetVersionJson(v, true);
    client.Post(VersionsPath(v.name), body);
    pushed.push_back(fmt::format("{}@{}", v.name, v.version));
  }
  if (pushed.empty()) {
    std::cout << fmt::format("{}@{} and everything before it are already on {}\n", ref.name, upto,
                             uri);
    return;
  }
  std::cout << fmt::format("pushed {} to {}: {} objects ({}) uploaded\n", fmt::join(pushed, ", "),
                           uri, sent_objects, Bytes(sent_bytes));
}

void DataPull(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, true);
  data::DatasetService& service = workspace->service();
  data::DatasetRef ref = data::ParseDatasetRef(options.ref);
  std::string uri = ResolveTrackingUri(options.tracking_uri);
  ApiClient client(uri);
  std::map<int64_t, json> remote = RemoteVersions(client, ref.name);
  if (remote.empty()) ThrowNotFound("Dataset '" + ref.name + "' does not exist on " + uri + ".");
  int64_t upto = ref.version.value_or(remote.rbegin()->first);
  if (!remote.count(upto)) {
    ThrowNotFound(fmt::format("Dataset version {}@{} does not exist on {}.", ref.name, upto, uri));
  }
  uint64_t got_objects = 0;
  uint64_t got_bytes = 0;
  std::vector<std::string> pulled;
  for (const auto& [number, listed] : remote) {
    if (number > upto) break;
    std::string at = fmt::format("{}/{}", VersionsPath(ref.name), number);
    json objects = client.Get(at + "/objects");
    std::vector<std::string> wanted;
    for (const json& digest : ArrayField(objects, "objects")) wanted.push_back(digest);
    std::set<std::string> unique(wanted.begin(), wanted.end());
    std::vector<std::string> missing =
        service.content().Missing(std::vector<std::string>(unique.begin(), unique.end()));
    // A few large requests, stored here as one pack per version. Chunks are
    // at most 256 KiB, so a batch stays far below the server's limit; the
    // manifest, which grows with the file, is asked for on its own.
    const std::string manifest = StringField(listed, "manifest_digest");
    const uint64_t chunk_bytes = data::Chunker::Options().max_size;
    const uint64_t fetch_bytes = kFetchObjects * chunk_bytes;  // 64 MiB
    std::vector<std::vector<std::string>> batches = Batches(
        missing, kFetchObjects, fetch_bytes,
        [&](const std::string& digest) { return digest == manifest ? fetch_bytes : chunk_bytes; });
    data::ContentStore::ObjectWriter writer(&service.content());
    Progress progress;
    const uint64_t got_before = got_objects;
    std::mutex count_mu;  // guards the counters
    InParallel(uri, batches.size(), [&](ApiClient& worker, size_t i) {
      std::string bundle = worker.PostForBytes(
          std::string(kDatasetsApi) + "/objects/fetch",
          {{"dataset", fmt::format("{}@{}", ref.name, number)}, {"digests", batches[i]}});
      std::vector<data::BundleObject> objects = data::ParseBundle(bundle);
      if (objects.size() != batches[i].size()) {
        ThrowInvalid(fmt::format("the server sent {} objects for {} asked for", objects.size(),
                                 batches[i].size()));
      }
      uint64_t bytes = 0;
      for (size_t k = 0; k < objects.size(); ++k) {
        if (objects[k].digest != batches[i][k]) {
          ThrowInvalid("the server sent object " + std::string(objects[k].digest) + " where " +
                       batches[i][k] + " was asked for");
        }
        writer.Put(objects[k].digest, objects[k].bytes, "object from " + uri);
        bytes += objects[k].bytes.size();
      }
      std::lock_guard lock(count_mu);
      got_objects += objects.size();
      got_bytes += bytes;
      progress.UpdateObjects("pull", got_objects - got_before, missing.size());
    });
    writer.Commit();
    progress.Done();
    json record = Field(client.Get(at), "version");
    data::DatasetVersion v;
    v.name = ref.name;
    v.version = number;
    v.manifest_digest = StringField(record, "manifest_digest");
    v.content_digest = StringField(record, "content_digest");
    v.format = StringField(record, "format");
    v.row_count = Int64Field(record, "row_count").value_or(-1);
    v.column_count = Int64Field(record, "column_count").value_or(-1);
    v.source = StringField(record, "source");
    v.description = StringField(record, "description");
    v.created_by = StringField(record, "created_by");
    v.created_ms = Int64Field(record, "created_ms").value_or(0);
    const json& profile = Field(record, "profile");
    if (profile.is_object()) v.profile_json = profile.dump();
    bool created = false;
    service.Import(std::move(v), &created);
    if (created) pulled.push_back(fmt::format("{}@{}", ref.name, number));
  }
  if (pulled.empty()) {
    std::cout << fmt::format("{}@{} and everything before it are already here\n", ref.name, upto);
    return;
  }
  std::cout << fmt::format("pulled {} from {}: {} objects ({}) downloaded\n",
                           fmt::join(pulled, ", "), uri, got_objects, Bytes(got_bytes));
}

const char* MlflowType(data::ColumnType type) {
  switch (type) {
    case data::ColumnType::kBool:
      return "boolean";
    case data::ColumnType::kInt64:
      return "long";
    case data::ColumnType::kFloat64:
      return "double";
    default:
      return "string";
  }
}

void DataUse(const DataOptions& options) {
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& service = workspace->service();
  data::DatasetVersion v = service.Resolve(data::ParseDatasetRef(options.ref));
  std::string uri = fmt::format("slipway-dataset://{}@{}", v.name, v.version);
  json dataset = {{"name", v.name},
                  {"digest", data::RunInputDigest(v)},
                  {"source_type", "slipway"},
                  {"source", json({{"uri", uri}, {"sha256", v.content_digest}}).dump()}};
  if (!v.profile_json.empty()) {
    data::DatasetProfile profile = service.ProfileOf(v);
    json colspec = json::array();
    for (const auto& column : profile.columns) {
      colspec.push_back({{"type", MlflowType(column.type)},
                         {"name", column.name},
                         {"required", column.missing == 0}});
    }
    dataset["schema"] = json({{"mlflow_colspec", colspec}}).dump();
    dataset["profile"] =
        json({{"num_rows", v.row_count}, {"num_elements", v.row_count * v.column_count}}).dump();
  }
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  client.Post("/api/2.0/mlflow/runs/log-inputs",
              {{"run_id", options.run_id},
               {"datasets",
                {{{"tags", {{{"key", "mlflow.data.context"}, {"value", options.context}}}},
                  {"dataset", dataset}}}}});
  std::cout << fmt::format("run {} now uses {}@{} (digest {}, context {})\n", options.run_id,
                           v.name, v.version, data::RunInputDigest(v), options.context);
}

}  // namespace

void AddDataCommands(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Version, profile and validate datasets");
  data->require_subcommand(1);
  auto options = std::make_shared<DataOptions>();
  auto add = [&](const char* name, const char* help, void (*run)(const DataOptions&)) {
    CLI::App* cmd = data->add_subcommand(name, help);
    cmd->add_option("--workspace", options->workspace,
                    "Folder holding the .slipway workspace (default: the nearest one above "
                    "here, or $SLIPWAY_WORKSPACE)");
    cmd->callback([options, run] { run(*options); });
    return cmd;
  };
  auto ref = [&](CLI::App* cmd, const char* help) {
    cmd->add_option("dataset", options->ref, help)->required();
  };

  CLI::App* add_cmd = add("add", "Add a file or folder as a new version of a dataset", DataAdd);
  add_cmd->add_option("path", options->path, "File or folder")->required();
  add_cmd->add_option("--name", options->name, "Dataset name (default: the file's stem)");
  add_cmd->add_option("--description", options->description, "What this version is");
  add_cmd->add_option("--type", options->types,
                      "Column type instead of inferring it: COLUMN=bool|int64|float64|string");
  add_cmd->add_flag("--table", options->table, "Parse and profile as CSV whatever the extension");
  add_cmd->add_flag("--opaque", options->opaque, "Store the bytes only, even for a .csv");
  add_cmd->add_flag("--json", options->json, "Print the version as JSON");

  CLI::App* ls = add("ls", "List datasets, or the versions of one", DataLs);
  ls->add_option("dataset", options->ref, "A dataset name: list its versions");
  ls->add_flag("--json", options->json, "Print JSON");

  CLI::App* show = add("show", "Show a version and its column profile", DataShow);
  ref(show, "NAME or NAME@VERSION");
  show->add_flag("--json", options->json, "Print the record and the whole profile as JSON");

  CLI::App* profile = add("profile", "Profile a CSV file without storing it", DataProfile);
  profile->add_option("path", options->path, "CSV file")->required();
  profile->add_option("--type", options->types,
                      "Column type instead of inferring it: COLUMN=bool|int64|float64|string");
  profile->add_flag("--json", options->json, "Print the whole profile as JSON");

  CLI::App* get = add("get", "Write a version's content to a path", DataGet);
  ref(get, "NAME or NAME@VERSION");
  get->add_option("-o,--output", options->output, "Output file (or folder)")->required();

  CLI::App* validate =
      add("validate", "Check a version against YAML rules; exit 1 if any rule fails", DataValidate);
  ref(validate, "NAME or NAME@VERSION");
  validate->add_option("--rules", options->rules, "Rules file (YAML)")->required();
  validate->add_option("--reference", options->reference,
                       "Version to measure drift against, e.g. churn@1");
  validate->add_option("--run", options->run_id,
                       "Log the report to this run (tag, metric, artifact)");
  AddTrackingUriOption(validate, &options->tracking_uri);
  validate->add_flag("--json", options->json, "Print the report as JSON");

  ref(add("infer-rules", "Print rules inferred from a version's profile (YAML)", DataInferRules),
      "NAME or NAME@VERSION");

  CLI::App* diff = add("diff", "Schema, row-count, statistic and drift changes", DataDiff);
  ref(diff, "the old version, NAME@VERSION");
  diff->add_option("other", options->other, "the new version, NAME@VERSION")->required();
  diff->add_flag("--json", options->json, "Print JSON");

  CLI::App* push = add("push", "Send a version (and those before it) to the server", DataPush);
  ref(push, "NAME or NAME@VERSION");
  AddTrackingUriOption(push, &options->tracking_uri);

  CLI::App* pull = add("pull", "Fetch a version (and those before it) from the server", DataPull);
  ref(pull, "NAME or NAME@VERSION");
  AddTrackingUriOption(pull, &options->tracking_uri);

  CLI::App* use = add("use", "Log a version as a dataset input of a run", DataUse);
  ref(use, "NAME@VERSION");
  use->add_option("--run", options->run_id, "Run id")->required();
  use->add_option("--context", options->context, "training, validation, test, ...")
      ->capture_default_str();
  AddTrackingUriOption(use, &options->tracking_uri);
}

}  // namespace slipway::cli
