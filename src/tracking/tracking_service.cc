#include "tracking/tracking_service.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/page_token.h"

namespace slipway::tracking {

using governance::Permission;
using governance::ResourceType;

// Runs whose experiment is remembered for access checks.
constexpr size_t kMaxCachedRuns = 100000;
namespace {

constexpr const char* kRunNameTag = "mlflow.runName";
constexpr const char* kUserTag = "mlflow.user";

void ValidateLength(const std::string& what, const std::string& value, size_t limit) {
  if (value.size() > limit) {
    ThrowInvalid("'" + what + "' exceeds the maximum length of " + std::to_string(limit) +
                 " characters");
  }
}

void ValidateBatchLimit(const std::string& entity, size_t limit, size_t length) {
  if (length > limit) {
    ThrowInvalid("A batch logging request can contain at most " + std::to_string(limit) + " " +
                 entity + ". Got " + std::to_string(length) + " " + entity + ". Please split up " +
                 entity + " across multiple requests and try again.");
  }
}

// A readable default run name, as MLflow gives unnamed runs ("adjective-noun-N").
std::string GenerateRunName(const std::string& run_id) {
  static constexpr std::array<const char*, 16> kAdjectives = {
      "bold",  "brave", "calm",  "clever", "eager", "gentle", "keen",  "lively",
      "merry", "noble", "proud", "quick",  "sharp", "steady", "swift", "wise"};
  static constexpr std::array<const char*, 16> kNouns = {
      "anchor", "bay",  "beacon", "brig", "cove", "deck", "fleet", "harbor",
      "hull",   "keel", "mast",   "pier", "quay", "sail", "tide",  "wharf"};
  unsigned seed = 0;
  for (char c : run_id) seed = seed * 31 + static_cast<unsigned char>(c);
  return std::string(kAdjectives[seed % 16]) + "-" + kNouns[(seed / 16) % 16] + "-" +
         std::to_string(seed % 1000);
}

// MLflow's server keeps the first `limit` characters (code points) of an
// over-long param or run tag value (MLFLOW_TRUNCATE_LONG_VALUES, on by default).
void TruncateCodePoints(std::string& value, size_t limit) {
  size_t count = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if ((static_cast<unsigned char>(value[i]) & 0xC0) == 0x80) continue;
    if (count++ == limit) {
      value.resize(i);
      return;
    }
  }
}

void ValidateTag(const Tag& tag, const std::string& path, size_t value_limit) {
  ValidateEntityName(tag.key, path + "key");
  ValidateLength(path + "key", tag.key, kMaxEntityKeyLength);
  ValidateLength(path + "value", tag.value, value_limit);
}

void ValidateRunTag(Tag& tag, const std::string& path) {
  ValidateEntityName(tag.key, path + "key");
  ValidateLength(path + "key", tag.key, kMaxEntityKeyLength);
  TruncateCodePoints(tag.value, kMaxTagValueLength);
}

void ValidateParam(Param& param, const std::string& path) {
  ValidateEntityName(param.key, path + "key");
  ValidateLength("Param key", param.key, kMaxEntityKeyLength);
  TruncateCodePoints(param.value, kMaxParamValueLength);
}

void ValidateMetric(const MetricPoint& point, const std::string& path) {
  ValidateEntityName(point.key, path + "key");
  ValidateLength("Metric name", point.key, kMaxEntityKeyLength);
  if (point.timestamp < 0) {
    ThrowInvalid("Invalid value " + std::to_string(point.timestamp) + " for parameter '" + path +
                 "timestamp' supplied: metric '" + point.key +
                 "'. Timestamp must be a nonnegative long (64-bit integer) ");
  }
}

}  // namespace

Page RequestedPage(std::optional<int64_t> max_results, int64_t fallback, int64_t max,
                   const std::string& page_token) {
  int64_t limit = max_results.value_or(fallback);
  if (limit <= 0 || limit > max) {
    ThrowInvalid("Invalid value " + std::to_string(limit) +
                 " for parameter 'max_results' supplied. It must be a positive integer at most " +
                 std::to_string(max) + ".");
  }
  return {page_token.empty() ? 0 : DecodePageToken(page_token), limit};
}

std::string NextPageToken(const Page& page, bool has_more) {
  return has_more ? EncodePageToken(page.offset + page.limit) : std::string();
}

void ValidateEntityName(const std::string& name, const std::string& path) {
  for (unsigned char c : name) {
    bool ok = std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ' ' || c == ':' ||
              c == '/' || c >= 0x80;
    if (!ok) {
      ThrowInvalid("Invalid value \"" + name + "\" for parameter '" + path +
                   "' supplied: Names may only contain alphanumerics, underscores (_), dashes "
                   "(-), periods (.), spaces ( ), colon(:) and slashes (/).");
    }
  }
  // posixpath.normpath(name) must give the name back.
  bool not_unique = name.empty() || name.front() == '/' || name.back() == '/' ||
                    name.find("//") != std::string::npos;
  size_t start = 0;
  while (!not_unique && start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    if (part == "." || part == "..") not_unique = true;
    start = end + 1;
  }
  if (not_unique) {
    ThrowInvalid("Invalid value \"" + name + "\" for parameter '" + path +
                 "' supplied: Names may be treated as files in certain cases, and must not "
                 "resolve to other names when treated as such. This name would resolve to a "
                 "different path.");
  }
}

namespace {

// The code point starting at text[i] and its length in bytes; nullopt if the
// bytes there are not well-formed UTF-8 (overlong forms and surrogates too).
std::optional<std::pair<char32_t, size_t>> DecodeUtf8(std::string_view text, size_t i) {
  auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return std::make_pair(char32_t{lead}, size_t{1});
  size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (length == 0 || lead > 0xF4 || i + length > text.size()) return std::nullopt;
  char32_t code = lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return std::nullopt;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return std::nullopt;
  }
  return std::make_pair(code, length);
}

bool IsControlOrBidi(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x200E || c == 0x200F ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void ThrowBadLocation(const std::string& location, const std::string& why) {
  ThrowInvalid("Invalid value '" + location +
               "' for parameter 'artifact_location' supplied: " + why);
}

}  // namespace

void ValidateNameCharacters(std::string_view name, const std::string& field) {
  for (size_t i = 0; i < name.size();) {
    auto decoded = DecodeUtf8(name, i);
    if (!decoded) {
      ThrowInvalid("Invalid value for parameter '" + field + "' supplied: it is not valid UTF-8.");
    }
    if (IsControlOrBidi(decoded->first)) {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(decoded->first));
      ThrowInvalid("Invalid value for parameter '" + field +
                   "' supplied: names must not contain control or bidirectional formatting "
                   "characters (" +
                   code + " at byte " + std::to_string(i) + ").");
    }
    i += decoded->second;
  }
}

std::string FullyPercentDecode(std::string text) {
  for (;;) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
          HexValue(text[i + 2]) >= 0) {
        out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
        i += 2;
      } else {
        out += text[i];
      }
    }
    if (out == text) return out;
    text = std::move(out);
  }
}

std::string CheckRequestedPath(const std::string& path) {
  std::string decoded = FullyPercentDecode(path);
  if (decoded.rfind("file:", 0) == 0) {
    // file://host/p -> /p; file:p -> p.
    size_t start = decoded.rfind("file://", 0) == 0 ? decoded.find('/', 7) : 5;
    decoded.erase(0, std::min(start, decoded.size()));
  }
  bool windows_absolute = decoded.size() >= 2 && decoded[1] == ':' &&
                          std::isalpha(static_cast<unsigned char>(decoded[0]));
  if (decoded.find_first_of(std::string("#\\\0", 3)) != std::string::npos ||
      (!decoded.empty() && decoded.front() == '/') || windows_absolute ||
      ("/" + decoded + "/").find("/../") != std::string::npos) {
    ThrowInvalid("Invalid path");
  }
  return decoded;
}

void ValidateArtifactLocation(const std::string& location) {
  if (location.empty()) return;
  std::string decoded = FullyPercentDecode(location);
  for (unsigned char c : decoded) {
    if (c < 0x20 || c == 0x7F || c == '\\') {
      ThrowBadLocation(location, "control characters and backslashes are not allowed.");
    }
  }
  if (decoded.find_first_of("?#") != std::string::npos) {
    ThrowBadLocation(location, "a location cannot have a query or a fragment.");
  }
  size_t colon = decoded.find(':');
  size_t slash = decoded.find('/');
  std::string scheme = colon == std::string::npos || (slash != std::string::npos && slash < colon)
                           ? std::string()
                           : decoded.substr(0, colon);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string path = scheme.empty() ? decoded : decoded.substr(colon + 1);
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view segment(path.data() + start, end - start);
    if (segment == ".." || segment == ".") {
      ThrowBadLocation(location, "'.' and '..' segments are not allowed (also percent-encoded).");
    }
    start = end + 1;
  }
  if (scheme == "mlflow-artifacts") {
    if (path.rfind("//", 0) == 0) {
      ThrowBadLocation(location,
                       "an mlflow-artifacts location names a path under this server's artifact "
                       "root (mlflow-artifacts:/<path>), not another host.");
    }
    if (path.find_first_not_of('/') == std::string::npos) {
      ThrowBadLocation(location, "an mlflow-artifacts location needs a path under the root.");
    }
    return;
  }
  static constexpr std::string_view kRemoteSchemes[] = {"s3", "gs", "wasbs", "abfss", "hdfs"};
  bool remote = std::find(std::begin(kRemoteSchemes), std::end(kRemoteSchemes), scheme) !=
                std::end(kRemoteSchemes);
  if (scheme.empty() || scheme == "file") {
    ThrowBadLocation(location,
                     "local paths are not accepted; leave it out to use this server's artifact "
                     "store, or give mlflow-artifacts:/<path> or a remote object store URI.");
  }
  if (!remote) {
    ThrowBadLocation(location, "the scheme '" + scheme +
                                   "' is not accepted; use mlflow-artifacts:/<path> or one of "
                                   "s3, gs, wasbs, abfss, hdfs.");
  }
  if (path.rfind("//", 0) != 0 || path.size() <= 2 || path[2] == '/') {
    ThrowBadLocation(location,
                     "a remote location needs a bucket or host: " + scheme + "://<bucket>/<path>.");
  }
}

TrackingService::TrackingService(TrackingStore& store, Options options,
                                 governance::Authorizer& authorizer)
    : store_(store), options_(std::move(options)), authorizer_(authorizer) {
  if (!store_.GetExperiment("0")) {
    Experiment default_experiment;
    default_experiment.experiment_id = "0";
    default_experiment.name = "Default";
    try {
      store_.CreateExperiment(default_experiment, options_.artifact_root_uri);
    } catch (const Error& error) {
      // Another server sharing the store created it first.
      if (error.code() != ErrorCode::kResourceAlreadyExists) throw;
    }
  }
}

// ---- Experiments -----------------------------------------------------------

std::string TrackingService::CreateExperiment(const std::string& name,
                                              const std::string& artifact_location,
                                              const std::vector<Tag>& tags) {
  if (name.empty()) ThrowInvalid("Invalid experiment name: ''");
  ValidateLength("name", name, kMaxExperimentNameLength);
  ValidateNameCharacters(name, "name");
  ValidateArtifactLocation(artifact_location);
  for (const Tag& tag : tags) ValidateTag(tag, "tags.", kMaxExperimentTagValueLength);
  Experiment experiment;
  experiment.name = name;
  experiment.artifact_location = artifact_location;
  experiment.tags = tags;
  std::string id = store_.CreateExperiment(experiment, options_.artifact_root_uri);
  governance::SetTarget("experiment:" + id);
  if (authorizer_.enforcing()) {
    authorizer_.Created(governance::CurrentActor(), ResourceType::kExperiment, id);
  }
  return id;
}

Experiment TrackingService::GetExperiment(const std::string& experiment_id) {
  RequireExperiment(experiment_id, Permission::kRead);
  auto experiment = store_.GetExperiment(experiment_id);
  if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
  return *experiment;
}

Experiment TrackingService::GetExperimentByName(const std::string& name) {
  auto experiment = store_.GetExperimentByName(name);
  if (!experiment) ThrowNotFound("Could not find experiment with name '" + name + "'");
  RequireExperiment(experiment->experiment_id, Permission::kRead);
  return *experiment;
}

SearchResult<Experiment> TrackingService::SearchExperiments(
    ViewType view, const std::string& filter, const std::vector<std::string>& order_by,
    std::optional<int64_t> max_results, const std::string& page_token) {
  Visibility visible = governance::Readable(authorizer_, ResourceType::kExperiment);
  Filter parsed = ParseExperimentFilter(filter);
  std::vector<OrderTerm> order = ParseExperimentOrderBy(order_by);
  Page page = RequestedPage(max_results, kDefaultRunsPerPage, kMaxResultsPerPage, page_token);
  PageOf<Experiment> found = store_.SearchExperiments(view, parsed, order, page, visible);
  return {std::move(found.items), NextPageToken(page, found.has_more)};
}

void TrackingService::RenameExperiment(const std::string& experiment_id,
                                       const std::string& new_name) {
  if (new_name.empty()) ThrowInvalid("Invalid experiment name: ''");
  ValidateLength("name", new_name, kMaxExperimentNameLength);
  ValidateNameCharacters(new_name, "new_name");
  RequireExperiment(experiment_id, Permission::kEdit);
  store_.RenameExperiment(experiment_id, new_name);
}

void TrackingService::DeleteExperiment(const std::string& experiment_id) {
  RequireExperiment(experiment_id, Permission::kManage);
  store_.SetExperimentLifecycle(experiment_id, kLifecycleDeleted);
}

void TrackingService::RestoreExperiment(const std::string& experiment_id) {
  RequireExperiment(experiment_id, Permission::kManage);
  store_.SetExperimentLifecycle(experiment_id, kLifecycleActive);
}

void TrackingService::SetExperimentTag(const std::string& experiment_id, const Tag& tag) {
  RequireExperiment(experiment_id, Permission::kEdit);
  ValidateEntityName(tag.key, "key");
  ValidateLength("key", tag.key, kMaxEntityKeyLength);
  ValidateLength("value", tag.value, kMaxExperimentTagValueLength);
  store_.SetExperimentTag(experiment_id, tag);
}

void TrackingService::DeleteExperimentTag(const std::string& experiment_id,
                                          const std::string& key) {
  RequireExperiment(experiment_id, Permission::kEdit);
  store_.DeleteExperimentTag(experiment_id, key);
}

// ---- Runs ------------------------------------------------------------------

Run TrackingService::CreateRun(NewRun request) {
  RunInfo info;
  info.run_id = NewRunId();
  info.experiment_id = request.experiment_id.empty() ? "0" : request.experiment_id;
  RequireExperiment(info.experiment_id, Permission::kEdit);
  info.start_time = request.start_time.value_or(NowMillis());
  info.status = "RUNNING";
  for (size_t i = 0; i < request.tags.size(); ++i) {
    ValidateRunTag(request.tags[i], "tags[" + std::to_string(i) + "].");
  }
  std::string tag_name;
  std::string tag_user;
  for (const Tag& tag : request.tags) {
    if (tag.key == kRunNameTag) tag_name = tag.value;
    if (tag.key == kUserTag) tag_user = tag.value;
  }
  if (!request.run_name.empty() && !tag_name.empty() && request.run_name != tag_name) {
    ThrowInvalid(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
        "different values (run_name='" +
        request.run_name + "', mlflow.runName='" + tag_name + "').");
  }
  info.run_name = !request.run_name.empty() ? request.run_name : tag_name;
  if (info.run_name.empty()) info.run_name = GenerateRunName(info.run_id);
  info.user_id = !request.user_id.empty() ? request.user_id : tag_user;
  if (tag_name.empty()) request.tags.push_back({kRunNameTag, info.run_name});
  store_.CreateRun(info, request.tags);
  governance::SetTarget("run:" + info.run_id);
  return FetchRun(info.run_id);
}

Run TrackingService::GetRun(const std::string& run_id) {
  RequireRun(run_id, Permission::kRead);
  return FetchRun(run_id);
}

Run TrackingService::FetchRun(const std::string& run_id) {
  auto run = store_.GetRun(run_id);
  if (!run) ThrowNotFound("Run with id=" + run_id + " not found");
  return *run;
}

RunInfo TrackingService::UpdateRun(const std::string& run_id, const RunUpdate& update) {
  RequireRun(run_id, Permission::kEdit);
  if (update.status && !IsValidRunStatus(*update.status)) {
    ThrowInvalid("Invalid value \"" + *update.status +
                 "\" for parameter 'status' supplied: must be one of RUNNING, SCHEDULED, "
                 "FINISHED, FAILED, KILLED.");
  }
  store_.UpdateRun(run_id, update);
  return FetchRun(run_id).info;
}

void TrackingService::DeleteRun(const std::string& run_id) {
  RequireRun(run_id, Permission::kManage);
  store_.SetRunLifecycle(run_id, kLifecycleDeleted);
}

void TrackingService::RestoreRun(const std::string& run_id) {
  RequireRun(run_id, Permission::kManage);
  store_.SetRunLifecycle(run_id, kLifecycleActive);
}

void TrackingService::LogMetric(const std::string& run_id, const MetricPoint& point) {
  RequireRun(run_id, Permission::kEdit);
  ValidateMetric(point, "");
  RunWrites writes;
  writes.metrics.push_back(point);
  store_.LogRunWrites(run_id, writes);
}

void TrackingService::LogParam(const std::string& run_id, Param param) {
  RequireRun(run_id, Permission::kEdit);
  ValidateParam(param, "");
  RunWrites writes;
  writes.params.push_back(std::move(param));
  store_.LogRunWrites(run_id, writes);
}

void TrackingService::SetTag(const std::string& run_id, Tag tag) {
  RequireRun(run_id, Permission::kEdit);
  ValidateRunTag(tag, "");
  RunWrites writes;
  writes.tags.push_back(std::move(tag));
  store_.LogRunWrites(run_id, writes);
}

void TrackingService::DeleteTag(const std::string& run_id, const std::string& key) {
  RequireRun(run_id, Permission::kEdit);
  store_.DeleteRunTag(run_id, key);
}

void TrackingService::LogBatch(const std::string& run_id, RunWrites writes) {
  RequireRun(run_id, Permission::kEdit);
  ValidateBatchLimit("metrics", kMaxMetricsPerBatch, writes.metrics.size());
  ValidateBatchLimit("params", kMaxParamsTagsPerBatch, writes.params.size());
  ValidateBatchLimit("tags", kMaxParamsTagsPerBatch, writes.tags.size());
  ValidateBatchLimit("metrics, params, and tags", kMaxEntitiesPerBatch,
                     writes.metrics.size() + writes.params.size() + writes.tags.size());
  for (size_t i = 0; i < writes.metrics.size(); ++i) {
    ValidateMetric(writes.metrics[i], "metrics[" + std::to_string(i) + "].");
  }
  for (size_t i = 0; i < writes.params.size(); ++i) {
    ValidateParam(writes.params[i], "params[" + std::to_string(i) + "].");
  }
  for (size_t i = 0; i < writes.tags.size(); ++i) {
    ValidateRunTag(writes.tags[i], "tags[" + std::to_string(i) + "].");
  }
  // A batch may repeat a param key only with the same value.
  for (size_t i = 0; i < writes.params.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (writes.params[i].key == writes.params[j].key &&
          writes.params[i].value != writes.params[j].value) {
        ThrowInvalid("Duplicate parameter keys have been submitted: ['" + writes.params[i].key +
                     "']. Please ensure the request contains only one param value per param "
                     "key.");
      }
    }
  }
  store_.LogRunWrites(run_id, writes);
}

void TrackingService::LogInputs(const std::string& run_id,
                                const std::vector<DatasetInput>& datasets,
                                const std::vector<ModelLink>& models) {
  RequireRun(run_id, Permission::kEdit);
  for (size_t i = 0; i < datasets.size(); ++i) {
    const Dataset& d = datasets[i].dataset;
    std::string path = "datasets[" + std::to_string(i) + "].dataset.";
    if (d.name.empty()) ThrowInvalid("Missing value for required parameter '" + path + "name'.");
    if (d.digest.empty()) {
      ThrowInvalid("Missing value for required parameter '" + path + "digest'.");
    }
    ValidateLength(path + "name", d.name, 500);
    ValidateLength(path + "digest", d.digest, 36);
    ValidateLength(path + "source", d.source, 65535);
    ValidateLength(path + "schema", d.schema, 1048575);
    ValidateLength(path + "profile", d.profile, 16777215);
    for (const Tag& tag : datasets[i].tags) {
      ValidateLength(path + "tags.key", tag.key, 255);
      ValidateLength(path + "tags.value", tag.value, 500);
    }
  }
  store_.LogRunInputs(run_id, datasets, models);
}

void TrackingService::LogOutputs(const std::string& run_id, const std::vector<ModelLink>& models) {
  RequireRun(run_id, Permission::kEdit);
  store_.LogRunOutputs(run_id, models);
}

SearchResult<MetricPoint> TrackingService::GetMetricHistory(const std::string& run_id,
                                                            const std::string& key,
                                                            std::optional<int64_t> max_results,
                                                            const std::string& page_token) {
  RequireRun(run_id, Permission::kRead);
  if (max_results && *max_results <= 0) {
    ThrowInvalid("Invalid value " + std::to_string(*max_results) +
                 " for parameter 'max_results' supplied. It must be a positive integer.");
  }
  // Without max_results MLflow returns the whole history in one answer.
  Page page{page_token.empty() ? 0 : DecodePageToken(page_token),
            max_results.value_or(INT64_MAX / 2)};
  PageOf<MetricPoint> found = store_.GetMetricHistory(run_id, key, page);
  return {std::move(found.items), NextPageToken(page, found.has_more)};
}

std::vector<MetricPoint> TrackingService::GetMetricHistoryBulk(
    const std::vector<std::string>& run_ids, const std::string& key,
    std::optional<int64_t> max_results) {
  constexpr int64_t kMaxPoints = 25000;
  constexpr size_t kMaxRuns = 100;
  if (run_ids.empty())
    ThrowInvalid("GetMetricHistoryBulk request must specify at least one run_id.");
  if (run_ids.size() > kMaxRuns) {
    ThrowInvalid("GetMetricHistoryBulk request cannot specify more than " +
                 std::to_string(kMaxRuns) + " run_ids. Received " + std::to_string(run_ids.size()) +
                 " run_ids.");
  }
  if (key.empty()) ThrowInvalid("GetMetricHistoryBulk request must specify a metric_key.");
  const int64_t limit = std::min(max_results.value_or(kMaxPoints), kMaxPoints);
  std::vector<std::string> sorted = run_ids;
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& run_id : sorted) RequireRun(run_id, Permission::kRead);
  std::vector<MetricPoint> points;
  for (const std::string& run_id : sorted) {
    const int64_t left = limit - static_cast<int64_t>(points.size());
    if (left <= 0) break;
    PageOf<MetricPoint> history = store_.GetMetricHistory(run_id, key, Page{0, left});
    for (MetricPoint& point : history.items) {
      point.key = key;
      point.run_id = run_id;
      points.push_back(std::move(point));
    }
  }
  return points;
}

std::vector<MetricPoint> TrackingService::GetMetricHistoryBulkInterval(
    const std::vector<std::string>& run_ids, const std::string& key,
    std::optional<int64_t> max_results, std::optional<int64_t> start_step,
    std::optional<int64_t> end_step) {
  constexpr int64_t kMaxPointsPerRun = 2500;
  constexpr size_t kMaxRuns = 100;
  // Checked in the order MLflow's handler checks them, with its messages.
  if (run_ids.empty()) ThrowInvalid("Missing value for required parameter 'run_ids'.");
  if (run_ids.size() > kMaxRuns) {
    ThrowInvalid("GetMetricHistoryBulkInterval request must specify at most " +
                 std::to_string(kMaxRuns) + " run_ids. Received " + std::to_string(run_ids.size()) +
                 " run_ids.");
  }
  if (key.empty()) ThrowInvalid("Missing value for required parameter 'metric_key'.");
  if (max_results && (*max_results < 1 || *max_results > kMaxPointsPerRun)) {
    ThrowInvalid("max_results must be between 1 and " + std::to_string(kMaxPointsPerRun) + ".");
  }
  std::optional<std::pair<int64_t, int64_t>> steps;
  if (start_step && end_step) {
    if (*start_step > *end_step) {
      ThrowInvalid("end_step must be greater than start_step. Found start_step=" +
                   std::to_string(*start_step) + " and end_step=" + std::to_string(*end_step) +
                   ".");
    }
    steps.emplace(*start_step, *end_step);
  } else if (start_step || end_step) {
    ThrowInvalid("If either start step or end step are specified, both must be specified.");
  }
  // A run that does not exist has no points, as in MLflow; one the caller
  // may not read is refused.
  std::vector<std::string> known;
  for (const std::string& run_id : run_ids) {
    try {
      RequireRun(run_id, Permission::kRead);
      known.push_back(run_id);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    }
  }
  std::vector<MetricPoint> points;
  for (const std::string& run_id : known) {
    std::vector<MetricPoint> sample;
    try {
      sample =
          store_.SampleMetricHistory(run_id, key, max_results.value_or(kMaxPointsPerRun), steps);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    }
    for (MetricPoint& point : sample) {
      point.key = key;
      point.run_id = run_id;
      points.push_back(std::move(point));
    }
  }
  return points;
}

std::vector<DatasetSummary> TrackingService::SearchDatasets(
    const std::vector<std::string>& experiment_ids) {
  constexpr size_t kMaxExperiments = 20;
  constexpr int64_t kMaxSummaries = 1000;
  if (experiment_ids.empty()) {
    ThrowInvalid("SearchDatasets request must specify at least one experiment_id.");
  }
  if (experiment_ids.size() > kMaxExperiments) {
    ThrowInvalid("SearchDatasets request cannot specify more than " +
                 std::to_string(kMaxExperiments) + " experiment_ids. Received " +
                 std::to_string(experiment_ids.size()) + " experiment_ids.");
  }
  for (const std::string& id : experiment_ids) RequireExperiment(id, Permission::kRead);
  return store_.SearchDatasetSummaries(experiment_ids, kMaxSummaries);
}

SearchResult<Run> TrackingService::SearchRuns(const std::vector<std::string>& experiment_ids,
                                              const std::string& filter, ViewType view,
                                              std::optional<int64_t> max_results,
                                              const std::vector<std::string>& order_by,
                                              const std::string& page_token) {
  for (const std::string& id : experiment_ids) RequireExperiment(id, Permission::kRead);
  Filter parsed = ParseRunFilter(filter);
  std::vector<OrderTerm> order = ParseRunOrderBy(order_by);
  Page page = RequestedPage(max_results, kDefaultRunsPerPage, kMaxResultsPerPage, page_token);
  PageOf<Run> found = store_.SearchRuns(experiment_ids, view, parsed, order, page);
  return {std::move(found.items), NextPageToken(page, found.has_more)};
}

// ---- Logged models ---------------------------------------------------------

LoggedModel TrackingService::CreateLoggedModel(NewLoggedModel request) {
  RequireExperiment(request.experiment_id, Permission::kEdit);
  Experiment experiment = GetExperiment(request.experiment_id);
  for (const Tag& tag : request.tags) ValidateTag(tag, "tags.", kMaxTagValueLength);
  for (Param& param : request.params) ValidateParam(param, "params.");
  LoggedModel model;
  model.model_id = NewModelId();
  model.experiment_id = experiment.experiment_id;
  model.name = request.name.empty() ? GenerateRunName(model.model_id) : request.name;
  model.artifact_uri = experiment.artifact_location + "/models/" + model.model_id + "/artifacts";
  model.creation_timestamp_ms = model.last_updated_timestamp_ms = NowMillis();
  model.status = "LOGGED_MODEL_PENDING";
  model.model_type = request.model_type;
  model.source_run_id = request.source_run_id;
  model.tags = std::move(request.tags);
  model.params = std::move(request.params);
  store_.CreateLoggedModel(model);
  governance::SetTarget("logged_model:" + model.model_id);
  return FetchLoggedModel(model.model_id);
}

LoggedModel TrackingService::GetLoggedModel(const std::string& model_id) {
  RequireLoggedModel(model_id, Permission::kRead);
  return FetchLoggedModel(model_id);
}

LoggedModel TrackingService::FetchLoggedModel(const std::string& model_id) {
  auto model = store_.GetLoggedModel(model_id);
  if (!model) ThrowNotFound("Logged model with ID '" + model_id + "' not found.");
  return *model;
}

LoggedModel TrackingService::FinalizeLoggedModel(const std::string& model_id,
                                                 const std::string& status) {
  RequireLoggedModel(model_id, Permission::kEdit);
  if (status != "LOGGED_MODEL_READY" && status != "LOGGED_MODEL_UPLOAD_FAILED") {
    ThrowInvalid("Invalid value \"" + status +
                 "\" for parameter 'status' supplied: a logged model can be finalized only as "
                 "LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.");
  }
  store_.SetLoggedModelStatus(model_id, status, "");
  return FetchLoggedModel(model_id);
}

LoggedModel TrackingService::SetLoggedModelTags(const std::string& model_id,
                                                const std::vector<Tag>& tags) {
  RequireLoggedModel(model_id, Permission::kEdit);
  for (const Tag& tag : tags) ValidateTag(tag, "tags.", kMaxTagValueLength);
  store_.SetLoggedModelTags(model_id, tags);
  return FetchLoggedModel(model_id);
}

void TrackingService::DeleteLoggedModelTag(const std::string& model_id, const std::string& key) {
  RequireLoggedModel(model_id, Permission::kEdit);
  store_.DeleteLoggedModelTag(model_id, key);
}

void TrackingService::LogLoggedModelParams(const std::string& model_id, std::vector<Param> params) {
  RequireLoggedModel(model_id, Permission::kEdit);
  for (Param& param : params) ValidateParam(param, "params.");
  store_.LogLoggedModelParams(model_id, params);
}

void TrackingService::DeleteLoggedModel(const std::string& model_id) {
  RequireLoggedModel(model_id, Permission::kManage);
  store_.DeleteLoggedModel(model_id);
}

SearchResult<LoggedModel> TrackingService::SearchLoggedModels(
    const std::vector<std::string>& experiment_ids, const std::string& filter,
    const std::vector<OrderTerm>& order_by, std::optional<int64_t> max_results,
    const std::string& page_token, std::vector<DatasetRef> datasets) {
  for (const DatasetRef& dataset : datasets) {
    if (dataset.name.empty()) {
      ThrowInvalid("`dataset_name` in the `datasets` clause must be specified.");
    }
  }
  for (const std::string& id : experiment_ids) RequireExperiment(id, Permission::kRead);
  Filter parsed = ParseLoggedModelFilter(filter);
  parsed.datasets = std::move(datasets);
  Page page = RequestedPage(max_results, 100, kMaxResultsPerPage, page_token);
  PageOf<LoggedModel> found = store_.SearchLoggedModels(experiment_ids, parsed, order_by, page);
  return {std::move(found.items), NextPageToken(page, found.has_more)};
}

// ---- Access ----------------------------------------------------------------

void TrackingService::RequireExperiment(const std::string& experiment_id, Permission needed) {
  // One spelling per experiment: "02" is checked, and acted on, as "2".
  governance::Require(authorizer_, needed, ResourceType::kExperiment,
                      CanonicalExperimentId(experiment_id));
}

void TrackingService::RequireRun(const std::string& run_id, Permission needed) {
  governance::NameTarget("run:" + run_id);
  governance::RequireWithin(authorizer_, needed, ResourceType::kExperiment,
                            authorizer_.enforcing() ? ExperimentOfRun(run_id) : std::nullopt, "run",
                            run_id);
}

void TrackingService::RequireLoggedModel(const std::string& model_id, Permission needed) {
  governance::NameTarget("logged_model:" + model_id);
  std::optional<std::string> experiment_id;
  if (authorizer_.enforcing()) {
    if (auto model = store_.GetLoggedModel(model_id)) experiment_id = model->experiment_id;
  }
  governance::RequireWithin(authorizer_, needed, ResourceType::kExperiment, experiment_id,
                            "logged model", model_id);
}

std::optional<std::string> TrackingService::ExperimentOfRun(const std::string& run_id) {
  {
    std::lock_guard lock(runs_mu_);
    auto hit = run_experiments_.find(run_id);
    if (hit != run_experiments_.end()) return hit->second;
  }
  auto run = store_.GetRun(run_id);
  if (!run) return std::nullopt;
  std::lock_guard lock(runs_mu_);
  if (run_experiments_.size() >= kMaxCachedRuns) run_experiments_.clear();
  run_experiments_[run_id] = run->info.experiment_id;
  return run->info.experiment_id;
}

void TrackingService::AuthorizeArtifactPath(const std::string& path, Permission needed) {
  governance::NameTarget("artifact:" + path);
  if (governance::IsAdmin(authorizer_)) {
    // Admins reach every path; the check was made all the same.
    if (governance::Operation* operation = governance::Operation::Current()) {
      operation->RecordCheck({ResourceType::kExperiment, needed});
    }
    return;
  }
  // "12/abc/artifacts/model.pkl" -> "12". Paths with "." or ".." segments
  // are refused outright: the check must see the same experiment the store
  // would. Only an experiment id's canonical spelling names its folder
  // ("02/..." is not experiment 2's).
  size_t start = 0;
  while (start < path.size() && path[start] == '/') ++start;
  std::string first;
  for (size_t at = start; at <= path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    std::string segment = path.substr(at, end - at);
    if (segment == "." || segment == ".." || segment.find('\\') != std::string::npos) {
      ThrowInvalid("Invalid artifact path '" + path + "': '.' and '..' segments are not allowed.");
    }
    if (first.empty()) first = segment;
    at = end + 1;
  }
  if (!ParseExperimentId(first)) {
    throw Error(ErrorCode::kPermissionDenied,
                "Permission denied: artifact path '" + path +
                    "' is not under an experiment; only admins may access it.");
  }
  governance::Require(authorizer_, needed, ResourceType::kExperiment, first);
}

}  // namespace slipway::tracking
