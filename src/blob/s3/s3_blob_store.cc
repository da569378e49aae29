#include "blob/s3/s3_blob_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <mutex>

#include "core/base64.h"
#include "core/error.h"

namespace slipway::blob {
namespace {

using s3::Client;
using s3::Request;
using s3::Response;

constexpr size_t kDeleteBatch = 1000;  // DeleteObjects' limit

bool Ok(int status) { return status >= 200 && status < 300; }

// A folder argument: "" (only when `allow_whole`) or a valid key plus '/'.
void CheckFolder(std::string_view folder, const char* what, bool allow_whole) {
  if (folder.empty()) {
    if (allow_whole) return;
  } else if (folder.back() == '/') {
    CheckKey(folder.substr(0, folder.size() - 1));
    return;
  }
  ThrowInvalid("Invalid blob prefix '" + std::string(folder) + "': only a folder (ending in '/') " +
               what);
}

std::string Md5Base64(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr)) {
    throw Error(ErrorCode::kInternalError, "MD5 failed");
  }
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// The body of CompleteMultipartUpload for parts numbered as given.
std::string CompleteBody(const std::vector<UploadedPart>& parts) {
  std::string body = "<CompleteMultipartUpload>";
  for (const UploadedPart& part : parts) {
    body += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>" +
            s3::XmlEscape(part.etag) + "</ETag></Part>";
  }
  return body + "</CompleteMultipartUpload>";
}

// Streams a blob into a multipart upload (or, if it stays small, one PUT).
class S3BlobWriter final : public BlobWriter {
 public:
  S3BlobWriter(Client& client, std::string object_key, uint64_t part_bytes)
      : client_(client), object_key_(std::move(object_key)), part_bytes_(part_bytes) {}

  ~S3BlobWriter() override {
    if (upload_id_.empty() || published_) return;
    try {
      Request abort{.method = "DELETE", .key = object_key_, .query = {{"uploadId", upload_id_}}};
      client_.Send(abort);
    } catch (const std::exception&) {
      // Left for SweepAbandoned: an incomplete upload is invisible anyway.
    }
  }

  void Append(const void* data, size_t size) override {
    if (broken_ || published_) ThrowUnusable();
    buffer_.append(static_cast<const char*>(data), size);
    size_ += size;
    try {
      while (buffer_.size() >= part_bytes_) {
        SendPart(std::string_view(buffer_).substr(0, part_bytes_));
        buffer_.erase(0, part_bytes_);
      }
    } catch (...) {
      broken_ = true;
      throw;
    }
  }

  void Publish() override {
    if (broken_ || published_) ThrowUnusable();
    broken_ = true;  // until it succeeds: a failed Publish cannot be retried
    if (upload_id_.empty()) {
      Request put{.method = "PUT", .key = object_key_, .body = buffer_};
      Response response = client_.Send(put);
      if (!Ok(response.status)) client_.Fail(put, response);
    } else {
      if (!buffer_.empty()) SendPart(buffer_);
      Complete();
    }
    buffer_.clear();
    buffer_.shrink_to_fit();
    published_ = true;
    broken_ = false;
  }

  uint64_t size() const override { return size_; }

 private:
  [[noreturn]] void ThrowUnusable() const {
    throw Error(ErrorCode::kInternalError,
                "blob '" + object_key_ + "': " +
                    (published_ ? "already published" : "an earlier write failed, not published"));
  }

  void SendPart(std::string_view bytes) {
    if (upload_id_.empty()) {
      // Not retried: a retry after a lost answer would start a second
      // upload; the first one is then left to SweepAbandoned.
      Request create{
          .method = "POST", .key = object_key_, .query = {{"uploads", ""}}, .idempotent = false};
      Response response = client_.Send(create);
      if (!Ok(response.status)) client_.Fail(create, response);
      upload_id_ = s3::XmlText(response.body, "UploadId");
      if (upload_id_.empty()) client_.Fail(create, response);
    }
    const std::string number = std::to_string(etags_.size() + 1);
    Request part{.method = "PUT",
                 .key = object_key_,
                 .query = {{"partNumber", number}, {"uploadId", upload_id_}},
                 .body = bytes};
    Response response = client_.Send(part);
    if (!Ok(response.status)) client_.Fail(part, response);
    etags_.push_back(response.Header("etag"));
  }

  void Complete() {
    std::vector<UploadedPart> parts;
    for (size_t i = 0; i < etags_.size(); ++i) {
      parts.push_back({.number = static_cast<int>(i + 1), .etag = etags_[i]});
    }
    const std::string body = CompleteBody(parts);
    // Not retried: a retry after a lost answer finds the upload gone.
    Request complete{.method = "POST",
                     .key = object_key_,
                     .query = {{"uploadId", upload_id_}},
                     .body = body,
                     .idempotent = false};
    Response response = client_.Send(complete);
    // S3 may answer 200 and put an error in the body.
    if (!Ok(response.status) || !s3::XmlElements(response.body, "Error").empty()) {
      client_.Fail(complete, response);
    }
  }

  Client& client_;
  const std::string object_key_;
  const uint64_t part_bytes_;
  std::string buffer_;  // appended, not yet sent
  uint64_t size_ = 0;
  std::string upload_id_;
  std::vector<std::string> etags_;  // of the parts sent, in order
  bool broken_ = false;
  bool published_ = false;
};

// A blob replaced or deleted after its reader opened it.
class VersionChanged : public Error {
 public:
  VersionChanged(const std::string& key, int status)
      : Error(ErrorCode::kInternalError, "blob '" + key + "' changed while it was being read (S3 " +
                                             std::to_string(status) + "); read it again") {}
};

// Ranged GETs of one version of an object (or its bytes, when small).
class S3BlobReader final : public BlobReader {
 public:
  S3BlobReader(Client& client, std::string object_key, BlobInfo info, std::string etag,
               std::string version_id)
      : client_(client),
        object_key_(std::move(object_key)),
        info_(std::move(info)),
        etag_(std::move(etag)),
        version_id_(std::move(version_id)) {}

  // Reads the whole version now and serves it from memory afterwards.
  void Cache() {
    if (info_.size > 0) Fetch(0, info_.size, cached_);
    cached_whole_ = true;
  }

  const BlobInfo& info() const override { return info_; }

  // Callers read in small pieces (the HTTP server sends a download 64 KiB
  // at a time); one S3 GET per piece would make a large download a long
  // series of round trips. So a read fetches a window from `offset` on and
  // serves the next pieces from it: 256 KiB first, doubling up to 8 MiB
  // while the reads go on where the last ended (a download), back to
  // 256 KiB after a jump (random access reads little).
  size_t ReadAt(uint64_t offset, size_t max, std::string& out) override {
    if (offset >= info_.size || max == 0) return 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(max, info_.size - offset));
    if (cached_whole_) {
      out.append(cached_, static_cast<size_t>(offset), want);
      return want;
    }
    size_t fetch = 0;
    {
      std::lock_guard<std::mutex> lock(window_mu_);
      if (offset >= window_offset_ && offset + want <= window_offset_ + window_.size()) {
        out.append(window_, static_cast<size_t>(offset - window_offset_), want);
        return want;
      }
      const bool sequential = !window_.empty() && offset == window_offset_ + window_.size();
      window_size_ = sequential ? std::min(window_size_ * 2, kMaxWindow) : kMinWindow;
      fetch = static_cast<size_t>(
          std::min<uint64_t>(std::max(want, window_size_), info_.size - offset));
    }
    // The GET runs unlocked (readers of other ranges are not held up); the
    // last one fetched becomes the window.
    std::string fetched;
    Fetch(offset, fetch, fetched);
    const size_t got = std::min(want, fetched.size());
    out.append(fetched, 0, got);
    std::lock_guard<std::mutex> lock(window_mu_);
    window_ = std::move(fetched);
    window_offset_ = offset;
    return got;
  }

 private:
  static constexpr size_t kMinWindow = 256 * 1024;
  static constexpr size_t kMaxWindow = 8 * 1024 * 1024;

  size_t Fetch(uint64_t offset, size_t want, std::string& out) const {
    const size_t before = out.size();
    Request get{.method = "GET",
                .key = object_key_,
                .headers = {{"range", "bytes=" + std::to_string(offset) + "-" +
                                          std::to_string(offset + want - 1)}},
                .sink = &out};
    if (!version_id_.empty()) {
      get.query["versionId"] = version_id_;
    } else if (!etag_.empty()) {
      get.headers["if-match"] = etag_;
    }
    Response response = client_.Send(get);
    if (response.status == 412 || response.status == 404) {
      throw VersionChanged(info_.key, response.status);
    }
    if (response.status == 416) return 0;
    if (!Ok(response.status)) client_.Fail(get, response);
    if (response.status == 200 && out.size() - before > want) {
      // The server sent the whole object, not the range.
      std::string whole = out.substr(before);
      out.resize(before);
      if (offset < whole.size()) out.append(whole, static_cast<size_t>(offset), want);
    }
    return out.size() - before;
  }

  Client& client_;
  const std::string object_key_;
  const BlobInfo info_;
  const std::string etag_;
  const std::string version_id_;
  std::string cached_;
  bool cached_whole_ = false;
  // ReadAt is thread-safe (BlobReader's contract): these are guarded.
  std::mutex window_mu_;
  std::string window_;  // the bytes from window_offset_ on, fetched last
  uint64_t window_offset_ = 0;
  size_t window_size_ = kMinWindow;
};

}  // namespace

bool IsS3Uri(std::string_view uri) { return uri.starts_with("s3://"); }

S3Location ParseS3Uri(std::string_view uri) {
  if (!IsS3Uri(uri)) ThrowInvalid("'" + std::string(uri) + "' is not an s3://bucket/prefix URI");
  std::string_view rest = uri.substr(5);
  const size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  if (location.bucket.empty()) {
    ThrowInvalid("'" + std::string(uri) + "' names no bucket: write s3://bucket/prefix");
  }
  if (slash != std::string_view::npos) {
    std::string prefix(rest.substr(slash + 1));
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty()) {
      const std::string problem = KeyProblem(prefix);
      if (!problem.empty()) {
        ThrowInvalid("'" + std::string(uri) + "': the prefix is not a valid key: " + problem);
      }
      location.prefix = prefix + "/";
    }
  }
  return location;
}

std::unique_ptr<S3BlobStore> S3BlobStore::Create(Options options) {
  options.client.bucket = options.location.bucket;
  std::unique_ptr<s3::Client> client = s3::Client::Create(options.client);
  return std::unique_ptr<S3BlobStore>(new S3BlobStore(std::move(options), std::move(client)));
}

void S3BlobStore::CheckReachable() {
  Request list{
      .method = "GET",
      .query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", options_.location.prefix}}};
  Response response = client_->Send(list);
  if (!Ok(response.status)) client_->Fail(list, response);
}

std::string S3BlobStore::Describe() const {
  std::string prefix = options_.location.prefix;
  if (!prefix.empty()) prefix.pop_back();
  return "s3://" + options_.location.bucket + "/" + prefix;
}

std::unique_ptr<BlobWriter> S3BlobStore::OpenWriter(std::string_view key,
                                                    const WriterOptions& options) {
  CheckKey(key);
  const uint64_t part =
      std::max(options.write_back_bytes ? options.write_back_bytes : options_.part_bytes,
               options_.min_part_bytes);
  return std::make_unique<S3BlobWriter>(*client_, ObjectKey(key), part);
}

std::optional<S3BlobStore::Head> S3BlobStore::HeadOf(std::string_view key) {
  CheckKey(key);
  Request head{.method = "HEAD", .key = ObjectKey(key)};
  Response response = client_->Send(head);
  if (response.status == 404) return std::nullopt;
  if (!Ok(response.status)) client_->Fail(head, response);
  Head found;
  found.info.key = std::string(key);
  found.info.size = std::stoull(
      response.Header("content-length").empty() ? "0" : response.Header("content-length"));
  found.info.modified_ms = s3::ParseS3Time(response.Header("last-modified"));
  found.etag = response.Header("etag");
  found.version_id = response.Header("x-amz-version-id");
  if (found.version_id == "null") found.version_id.clear();  // versioning suspended
  return found;
}

std::unique_ptr<BlobReader> S3BlobStore::Open(std::string_view key) {
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    std::optional<Head> head = HeadOf(key);
    if (!head) return nullptr;
    const bool small = head->info.size <= options_.cached_bytes;
    auto reader =
        std::make_unique<S3BlobReader>(*client_, ObjectKey(key), std::move(head->info),
                                       std::move(head->etag), std::move(head->version_id));
    if (!small) return reader;
    try {
      reader->Cache();
      return reader;
    } catch (const VersionChanged&) {
      // Replaced or deleted between the HEAD and the GET: open what is
      // there now, unless it keeps changing.
      if (attempt == kAttempts) throw;
    }
  }
}

std::optional<BlobInfo> S3BlobStore::Stat(std::string_view key) {
  std::optional<Head> head = HeadOf(key);
  if (!head) return std::nullopt;
  return std::move(head->info);
}

ListPage S3BlobStore::List(const ListOptions& options) {
  const std::string& prefix = options.prefix;
  const size_t slash = prefix.rfind('/');
  if (slash != std::string::npos) CheckKey(std::string_view(prefix).substr(0, slash));
  const std::string name_start = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  if (name_start.find('\0') != std::string::npos || name_start.find('\\') != std::string::npos ||
      prefix.starts_with('/')) {
    ThrowInvalid("Invalid blob prefix '" + prefix + "': NUL byte, backslash or leading '/'");
  }
  const std::string& root = options_.location.prefix;
  const size_t max = std::max<size_t>(options.max_entries, 1);
  // After a folder entry "a/" come the keys after everything under it:
  // U+10FFFF sorts after any character a key can hold.
  auto after_folder = [](std::string folder) { return folder + "\xF4\x8F\xBF\xBF"; };
  std::string start_after;
  if (!options.start_after.empty()) {
    start_after = root + options.start_after;
    if (!options.recursive && start_after.back() == '/') start_after = after_folder(start_after);
  }
  ListPage page;
  // S3 may return objects that are not blobs (folder markers, foreign
  // names): requests go on until the page is full or the listing ends.
  while (true) {
    Request list{
        .method = "GET",
        .query = {{"list-type", "2"},
                  {"prefix", root + prefix},
                  {"max-keys", std::to_string(std::min<size_t>(max - page.entries.size(), 1000))}}};
    if (!options.recursive) list.query["delimiter"] = "/";
    if (!start_after.empty()) list.query["start-after"] = start_after;
    Response response = client_->Send(list);
    if (!Ok(response.status)) client_->Fail(list, response);

    std::string last;  // the last object or folder S3 returned, valid key or not
    bool last_is_folder = false;
    for (std::string_view contents : s3::XmlElements(response.body, "Contents")) {
      std::string object_key = s3::XmlText(contents, "Key");
      if (object_key > last) last = object_key;
      if (!object_key.starts_with(root) || !KeyProblem(object_key.substr(root.size())).empty()) {
        continue;
      }
      ListEntry entry;
      entry.key = object_key.substr(root.size());
      const std::string size = s3::XmlText(contents, "Size");
      entry.size = size.empty() ? 0 : std::stoull(size);
      page.entries.push_back(std::move(entry));
    }
    for (std::string_view common : s3::XmlElements(response.body, "CommonPrefixes")) {
      std::string folder = s3::XmlText(common, "Prefix");
      if (folder > last) {
        last = folder;
        last_is_folder = true;
      }
      if (!folder.starts_with(root) || folder.size() < root.size() + 2 ||
          !KeyProblem(folder.substr(root.size(), folder.size() - root.size() - 1)).empty()) {
        continue;
      }
      page.entries.push_back(
          ListEntry{.key = folder.substr(root.size()), .is_prefix = true, .size = 0});
    }
    const bool truncated = s3::XmlText(response.body, "IsTruncated") == "true";
    if (!truncated || last.empty()) break;
    if (page.entries.size() >= max) {
      page.next_start_after = last.substr(root.size());
      break;
    }
    start_after = last_is_folder ? after_folder(last) : last;
  }
  std::sort(page.entries.begin(), page.entries.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });
  return page;
}

bool S3BlobStore::Delete(std::string_view key) {
  if (!HeadOf(key)) return false;
  Request remove{.method = "DELETE", .key = ObjectKey(key)};
  Response response = client_->Send(remove);
  if (!Ok(response.status) && response.status != 404) client_->Fail(remove, response);
  return true;
}

uint64_t S3BlobStore::DeletePrefix(std::string_view folder) {
  if (folder.empty()) {
    ThrowInvalid(
        "Invalid blob prefix '': only a folder (ending in '/') can be deleted, never the "
        "whole store");
  }
  CheckFolder(folder, "can be deleted, never the whole store", false);
  uint64_t removed = 0;
  std::string continuation;
  while (true) {
    // Every object under the folder, valid key or not.
    Request list{.method = "GET", .query = {{"list-type", "2"}, {"prefix", ObjectKey(folder)}}};
    if (!continuation.empty()) list.query["continuation-token"] = continuation;
    Response listing = client_->Send(list);
    if (!Ok(listing.status)) client_->Fail(list, listing);
    std::vector<std::string> keys;
    uint64_t blobs = 0;  // the keys that are blobs (not folder markers, foreign names)
    for (std::string_view contents : s3::XmlElements(listing.body, "Contents")) {
      keys.push_back(s3::XmlText(contents, "Key"));
      if (KeyProblem(keys.back().substr(options_.location.prefix.size())).empty()) ++blobs;
    }
    for (size_t start = 0; start < keys.size(); start += kDeleteBatch) {
      std::string body = "<Delete><Quiet>true</Quiet>";
      const size_t end = std::min(keys.size(), start + kDeleteBatch);
      for (size_t i = start; i < end; ++i) {
        body += "<Object><Key>" + s3::XmlEscape(keys[i]) + "</Key></Object>";
      }
      body += "</Delete>";
      // Deleting is idempotent, so the POST may be retried.
      Request remove{.method = "POST",
                     .query = {{"delete", ""}},
                     .headers = {{"content-md5", Md5Base64(body)}},
                     .body = body};
      Response response = client_->Send(remove);
      if (!Ok(response.status)) client_->Fail(remove, response);
      const std::vector<std::string_view> errors = s3::XmlElements(response.body, "Error");
      if (!errors.empty()) {
        Response first{.status = response.status, .headers = {}, .body = std::string(errors[0])};
        client_->Fail(remove, first);
      }
    }
    removed += blobs;
    if (s3::XmlText(listing.body, "IsTruncated") != "true") return removed;
    continuation = s3::XmlText(listing.body, "NextContinuationToken");
    if (continuation.empty()) return removed;
  }
}

uint64_t S3BlobStore::SweepAbandoned(std::string_view folder, int64_t cutoff_ms) {
  CheckFolder(folder, "can be swept", true);
  uint64_t aborted = 0;
  std::string key_marker;
  std::string upload_marker;
  while (true) {
    Request list{.method = "GET", .query = {{"uploads", ""}, {"prefix", ObjectKey(folder)}}};
    if (!key_marker.empty()) list.query["key-marker"] = key_marker;
    if (!upload_marker.empty()) list.query["upload-id-marker"] = upload_marker;
    Response listing = client_->Send(list);
    if (!Ok(listing.status)) client_->Fail(list, listing);
    for (std::string_view upload : s3::XmlElements(listing.body, "Upload")) {
      const int64_t initiated = s3::ParseS3Time(s3::XmlText(upload, "Initiated"));
      if (initiated >= cutoff_ms) continue;
      Request abort{.method = "DELETE",
                    .key = s3::XmlText(upload, "Key"),
                    .query = {{"uploadId", s3::XmlText(upload, "UploadId")}}};
      Response response = client_->Send(abort);
      if (response.status == 404) continue;  // completed or aborted meanwhile
      if (!Ok(response.status)) client_->Fail(abort, response);
      ++aborted;
    }
    if (s3::XmlText(listing.body, "IsTruncated") != "true") return aborted;
    key_marker = s3::XmlText(listing.body, "NextKeyMarker");
    upload_marker = s3::XmlText(listing.body, "NextUploadIdMarker");
    if (key_marker.empty() && upload_marker.empty()) return aborted;
  }
}

void S3BlobStore::MakeDurable(std::string_view folder) {
  CheckFolder(folder, "can be made durable", true);
}

namespace {

constexpr int kMaxParts = 10000;  // S3's limit

// What S3 answered to a complete or abort of a direct upload, in the
// words of the caller's mistake when it is one: an unknown upload, parts
// that are missing, too small or out of order.
[[noreturn]] void FailDirect(Client& client, const Request& request, const Response& response) {
  const std::string code = s3::XmlText(response.body, "Code");
  const std::string message = s3::XmlText(response.body, "Message");
  const std::string said = code + (message.empty() ? "" : ": " + message);
  // S3Proxy's filesystem backend says NoSuchKey for an upload it dropped.
  if (code == "NoSuchUpload" || code == "NoSuchKey") {
    throw Error(ErrorCode::kResourceDoesNotExist, "No such multipart upload (S3 " + said +
                                                      "): it was completed, aborted or never "
                                                      "begun for this path");
  }
  if (response.status >= 400 && response.status < 500 && response.status != 403 &&
      response.status != 429 && !code.empty()) {
    ThrowInvalid("S3 refused the multipart upload's parts: " + said);
  }
  client.Fail(request, response);
}

}  // namespace

DirectUpload S3BlobStore::BeginDirectUpload(std::string_view key, int parts,
                                            std::chrono::seconds valid_for) {
  CheckKey(key);
  if (parts < 1 || parts > kMaxParts) {
    ThrowInvalid("A multipart upload has 1 to " + std::to_string(kMaxParts) + " parts, not " +
                 std::to_string(parts));
  }
  // Not retried, as in a writer: a retry after a lost answer would begin a
  // second upload.
  Request create{
      .method = "POST", .key = ObjectKey(key), .query = {{"uploads", ""}}, .idempotent = false};
  Response response = client_->Send(create);
  if (!Ok(response.status)) client_->Fail(create, response);
  DirectUpload upload;
  upload.upload_id = s3::XmlText(response.body, "UploadId");
  if (upload.upload_id.empty()) client_->Fail(create, response);
  for (int number = 1; number <= parts; ++number) {
    Request part{.method = "PUT",
                 .key = ObjectKey(key),
                 .query = {{"partNumber", std::to_string(number)}, {"uploadId", upload.upload_id}}};
    upload.parts.push_back(
        {.number = number, .url = client_->PresignedUrl(part, valid_for), .headers = {}});
  }
  return upload;
}

void S3BlobStore::CompleteDirectUpload(std::string_view key, const std::string& upload_id,
                                       const std::vector<UploadedPart>& parts) {
  CheckKey(key);
  if (upload_id.empty()) ThrowInvalid("A multipart upload's upload_id is required");
  if (parts.empty()) ThrowInvalid("A multipart upload completes with at least one part");
  // Not retried: a retry after a lost answer finds the upload gone.
  const std::string body = CompleteBody(parts);  // Request::body is a view
  Request complete{.method = "POST",
                   .key = ObjectKey(key),
                   .query = {{"uploadId", upload_id}},
                   .body = body,
                   .idempotent = false};
  Response response = client_->Send(complete);
  // S3 may answer 200 and put an error in the body.
  std::vector<std::string_view> errors = s3::XmlElements(response.body, "Error");
  if (Ok(response.status) && !errors.empty()) {
    Response error{.status = 500, .headers = {}, .body = std::string(errors[0])};
    FailDirect(*client_, complete, error);
  }
  if (!Ok(response.status)) FailDirect(*client_, complete, response);
}

void S3BlobStore::AbortDirectUpload(std::string_view key, const std::string& upload_id) {
  CheckKey(key);
  if (upload_id.empty()) ThrowInvalid("A multipart upload's upload_id is required");
  Request abort{.method = "DELETE", .key = ObjectKey(key), .query = {{"uploadId", upload_id}}};
  Response response = client_->Send(abort);
  if (!Ok(response.status)) FailDirect(*client_, abort, response);
}

}  // namespace slipway::blob
