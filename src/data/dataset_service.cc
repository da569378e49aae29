#include "data/dataset_service.h"

#include <atomic>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "data/task_group.h"

namespace slipway::data {
namespace {

constexpr size_t kMaxNameLength = 128;

bool IsTableByExtension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".csv" || ext == ".tsv";
}

std::string ContentDigestOf(const Manifest& manifest) {
  if (const auto* file = std::get_if<FileManifest>(&manifest)) return file->sha256;
  return std::get<TreeManifest>(manifest).digest;
}

uint64_t SizeOf(const Manifest& manifest) {
  if (const auto* file = std::get_if<FileManifest>(&manifest)) return file->size;
  uint64_t total = 0;
  for (const TreeEntry& entry : std::get<TreeManifest>(manifest).entries) {
    total += entry.file.size;
  }
  return total;
}

// A private copy of some content in the store's scratch folder, removed with the object.
class TempCopy {
 public:
  TempCopy(ContentStore& content, const Manifest& manifest, std::string_view purpose)
      : path_(content.scratch_folder() / (std::string(purpose) + "-" + NewRunId() + ".csv")) {
    content.Materialize(manifest, path_);
  }
  ~TempCopy() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempCopy(const TempCopy&) = delete;
  TempCopy& operator=(const TempCopy&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

std::string DatasetRef::ToString() const {
  return version ? name + "@" + std::to_string(*version) : name;
}

void ValidateDatasetName(std::string_view name) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  bool ok = !name.empty() && name.size() <= kMaxNameLength && ok_char(name[0]) && name[0] != '.' &&
            name[0] != '_' && name[0] != '-';
  for (char c : name) ok = ok && ok_char(c);
  if (!ok) {
    ThrowInvalid("Invalid dataset name '" + std::string(name) +
                 "': use letters, digits, '.', '_' and '-', start with a letter or digit, at "
                 "most " +
                 std::to_string(kMaxNameLength) + " characters.");
  }
}

DatasetRef ParseDatasetRef(std::string_view text) {
  DatasetRef ref;
  size_t at = text.rfind('@');
  ref.name = std::string(text.substr(0, at));
  ValidateDatasetName(ref.name);
  if (at == std::string_view::npos) return ref;
  std::string_view version = text.substr(at + 1);
  if (version == "latest") return ref;
  int64_t number = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (ec != std::errc() || end != version.data() + version.size() || number < 1) {
    ThrowInvalid("Invalid dataset version '" + std::string(version) + "' in '" + std::string(text) +
                 "': expected a number from 1, or 'latest'.");
  }
  ref.version = number;
  return ref;
}

std::string RunInputDigest(const DatasetVersion& version) {
  return version.content_digest.substr(0, 32);
}

AddOutcome DatasetService::Add(const std::string& name, const std::filesystem::path& path,
                               const AddOptions& options) {
  ValidateDatasetName(name);
  bool is_new = RequireWritable(name, std::nullopt);
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    ThrowInvalid("cannot read '" + path.string() + "': No such file or directory");
  }
  bool folder = std::filesystem::is_directory(status);
  if (!folder && !std::filesystem::is_regular_file(status)) {
    ThrowInvalid("cannot add '" + path.string() + "': not a regular file or a folder");
  }
  bool table = !folder && options.table.value_or(IsTableByExtension(path));

  DatasetVersion record;
  record.name = name;
  record.source = path.string();
  record.description = options.description;
  record.created_by = options.created_by;
  record.kind = folder ? "folder" : "file";

  // A table is parsed and profiled while it is being stored, as a task on
  // the data executor; the store publishes nothing until the profile has
  // succeeded (before_commit), so bad input leaves nothing behind. Waiting
  // for the profile runs it here if no executor thread has taken it yet.
  std::mutex progress_mu;  // serializes calls of options.progress
  std::atomic<uint64_t> profiled{0};
  std::atomic<uint64_t> stored{0};
  auto report = [&](uint64_t total) {
    if (!options.progress) return;
    std::lock_guard lock(progress_mu);
    uint64_t parts = table ? 2 : 1;
    options.progress("add", (profiled + stored) / parts, total);
  };
  ProfileOptions profile_options = options.profile;
  if (profile_options.executor == nullptr) profile_options.executor = executor_;
  std::optional<DatasetProfile> profile;
  // Set when the add ends, before `profiling` waits: an add that failed
  // before its profile started does not run it then.
  std::atomic<bool> ended{false};
  TaskGroup profiling(executor_, 1);
  struct EndOnExit {
    std::atomic<bool>& ended;
    ~EndOnExit() { ended = true; }
  } end_on_exit{ended};
  if (table) {
    profiling.Add([&] {
      if (ended) return;
      profile = ProfileCsv(path, options.csv, profile_options, [&](uint64_t done, uint64_t total) {
        profiled = done;
        report(total);
      });
    });
  }
  bool profile_checked = false;
  auto await_profile = [&] {
    if (!table || profile_checked) return;
    profiling.Wait();  // rethrows what the profile threw
    profile_checked = true;
    if (profile->row_count == 0) {
      ThrowInvalid("'" + path.string() +
                   "' has a header row but no data rows: nothing to version.");
    }
  };
  auto store_progress = [&](uint64_t done, uint64_t total) {
    stored = done;
    report(total);
  };
  AddOutcome outcome;
  Manifest manifest;
  if (folder) {
    AddTreeResult added = content_.AddTree(path, store_progress);
    outcome.stats = added.stats;
    manifest = std::move(added.manifest);
  } else {
    AddFileResult added = content_.AddFile(path, store_progress, await_profile);
    outcome.stats = added.stats;
    manifest = std::move(added.manifest);
  }
  await_profile();  // when nothing new was stored, the gate did not run
  if (profile) {
    record.format = "csv";
    record.row_count = profile->row_count;
    record.column_count = static_cast<int64_t>(profile->columns.size());
    record.profile_json = profile->ToJson().dump();
  }
  record.manifest_digest = content_.PutManifest(manifest);
  record.content_digest = ContentDigestOf(manifest);
  record.size_bytes = SizeOf(manifest);
  record.created_ms = NowMillis();
  outcome.version = store_.AddVersion(std::move(record), &outcome.created);
  governance::SetTarget("dataset:" + name + "@" + std::to_string(outcome.version.version));
  if (is_new && outcome.created && authorizer_.enforcing()) {
    authorizer_.Created(governance::CurrentActor(), governance::ResourceType::kDataset, name);
  }
  return outcome;
}

bool DatasetService::Exists(const std::string& name) {
  try {
    store_.ListVersions(name);
    return true;
  } catch (const Error& error) {
    if (error.code() == ErrorCode::kResourceDoesNotExist) return false;
    throw;
  }
}

bool DatasetService::RequireWritable(const std::string& name, std::optional<int64_t> version) {
  using governance::Permission;
  if (!authorizer_.enforcing() || Exists(name) || (version && *version != 1)) {
    governance::Require(authorizer_, Permission::kEdit, governance::ResourceType::kDataset, name);
    return false;
  }
  // A new dataset: only its version 1, which fails (conflict) or changes
  // nothing if someone else made it meanwhile. Whoever creates it manages it.
  if (governance::Operation* operation = governance::Operation::Current()) {
    operation->RecordCheck({governance::ResourceType::kDataset, Permission::kEdit});
  }
  return true;
}

std::vector<DatasetSummary> DatasetService::List() {
  return store_.ListDatasets(governance::Readable(authorizer_, governance::ResourceType::kDataset));
}

std::vector<DatasetVersion> DatasetService::Versions(const std::string& name) {
  ValidateDatasetName(name);
  governance::Require(authorizer_, governance::Permission::kRead,
                      governance::ResourceType::kDataset, name);
  return store_.ListVersions(name);
}

std::vector<std::string> DatasetService::MissingObjects(const std::string& dataset,
                                                        const std::vector<std::string>& digests) {
  ValidateDatasetName(dataset);
  RequireWritable(dataset, std::nullopt);
  return content_.Missing(digests);
}

DatasetVersion DatasetService::Resolve(const DatasetRef& ref) {
  governance::NameTarget("dataset:" + ref.name +
                         (ref.version ? "@" + std::to_string(*ref.version) : ""));
  governance::Require(authorizer_, governance::Permission::kRead,
                      governance::ResourceType::kDataset, ref.name);
  return ref.version ? store_.GetVersion(ref.name, *ref.version) : store_.LatestVersion(ref.name);
}

DatasetProfile DatasetService::ProfileOf(const DatasetVersion& version) {
  if (version.profile_json.empty()) {
    throw Error(ErrorCode::kInvalidState, version.name + "@" + std::to_string(version.version) +
                                              " is not a table (only CSV files are profiled).");
  }
  return DatasetProfile::FromJson(nlohmann::json::parse(version.profile_json));
}

Manifest DatasetService::ManifestOf(const DatasetVersion& version) {
  return content_.GetManifest(version.manifest_digest);
}

ValidationReport DatasetService::Validate(const DatasetVersion& version, const Rules& rules,
                                          const std::string& reference) {
  std::string baseline = reference;
  if (baseline.empty() && rules.drift) baseline = rules.drift->reference;
  std::optional<DatasetProfile> reference_profile;
  if (!baseline.empty()) reference_profile = ProfileOf(Resolve(ParseDatasetRef(baseline)));
  DatasetProfile profile = ProfileOf(version);
  TempCopy copy(content_, ManifestOf(version), "validate");
  return data::Validate(rules, profile, copy.path(), {},
                        reference_profile ? &*reference_profile : nullptr);
}

Rules DatasetService::InferRulesFor(const DatasetVersion& version) {
  Rules rules = InferRules(ProfileOf(version));
  if (rules.drift) rules.drift->reference = version.name + "@" + std::to_string(version.version);
  return rules;
}

void DatasetService::Materialize(const DatasetVersion& version,
                                 const std::filesystem::path& out_path) {
  content_.Materialize(ManifestOf(version), out_path);
}

std::vector<std::string> DatasetService::ObjectsOf(const DatasetVersion& version) {
  std::vector<std::string> objects = {version.manifest_digest};
  auto add_file = [&](const FileManifest& file) {
    for (const ChunkRef& chunk : file.chunks) objects.push_back(chunk.digest);
  };
  Manifest manifest = ManifestOf(version);
  if (const auto* file = std::get_if<FileManifest>(&manifest)) {
    add_file(*file);
  } else {
    for (const TreeEntry& entry : std::get<TreeManifest>(manifest).entries) add_file(entry.file);
  }
  return objects;
}

DatasetVersion DatasetService::Import(DatasetVersion version, bool* created) {
  ValidateDatasetName(version.name);
  if (version.version < 1) ThrowInvalid("Imported versions need their number (from 1).");
  governance::SetTarget("dataset:" + version.name + "@" + std::to_string(version.version));
  bool is_new = RequireWritable(version.name, version.version);
  if (!IsValidDigest(version.manifest_digest)) {
    ThrowInvalid("Invalid manifest digest '" + version.manifest_digest + "'.");
  }
  if (!content_.Has(version.manifest_digest)) {
    ThrowInvalid("Object " + version.manifest_digest +
                 " (the manifest) is missing: upload it before the version.");
  }
  Manifest manifest = content_.GetManifest(version.manifest_digest);
  if (ContentDigestOf(manifest) != version.content_digest) {
    ThrowInvalid("The manifest " + version.manifest_digest + " describes content " +
                 ContentDigestOf(manifest) + ", not " + version.content_digest + ".");
  }
  std::vector<std::string> needed = ObjectsOf(version);
  std::vector<std::string> missing = content_.Missing(needed);
  if (!missing.empty()) {
    ThrowInvalid(std::to_string(missing.size()) + " object(s) of " + version.name + "@" +
                 std::to_string(version.version) + " are missing, first " + missing.front() +
                 ": upload them before the version.");
  }
  version.kind = std::holds_alternative<FileManifest>(manifest) ? "file" : "folder";
  version.size_bytes = SizeOf(manifest);
  version.profile_json.clear();
  version.row_count = -1;
  version.column_count = -1;
  if (version.format == "csv") {
    // The profile is computed here from the content, not taken on trust from
    // whoever pushed it.
    if (version.kind != "file") ThrowInvalid("A csv version must be a file, not a folder.");
    TempCopy copy(content_, manifest, "import");
    ProfileOptions profile_options;
    profile_options.executor = executor_;
    DatasetProfile profile = ProfileCsv(copy.path(), {}, profile_options);
    version.row_count = profile.row_count;
    version.column_count = static_cast<int64_t>(profile.columns.size());
    version.profile_json = profile.ToJson().dump();
  } else if (!version.format.empty()) {
    ThrowInvalid("Unknown dataset format '" + version.format + "': expected csv or none.");
  }
  std::string name = version.name;
  DatasetVersion stored = store_.AddVersion(std::move(version), created);
  if (is_new && *created) {
    authorizer_.Created(governance::CurrentActor(), governance::ResourceType::kDataset, name);
  }
  return stored;
}

}  // namespace slipway::data
