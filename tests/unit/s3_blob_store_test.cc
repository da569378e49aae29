// The S3 backend's own promises, beyond the BlobStore contract that
// blob_store_test.cc runs against both backends: SigV4 against AWS's
// published example, configuration from the environment, multipart
// uploads, readers pinned to their version, the sweep of abandoned
// uploads, and credentials kept out of error messages. Tests that need a
// server use test_util/s3_test_server.h (skipped, saying why, without one).
#include "blob/s3/s3_blob_store.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "blob/s3/s3_client.h"
#include "blob/s3/sigv4.h"
#include "core/error.h"
#include "core/sha256.h"
#include "test_util/s3_test_server.h"
#include "test_util/temp_dir.h"

namespace slipway::blob {
namespace {

namespace fs = std::filesystem;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// AWS's worked example "GET Object" (Amazon S3 API reference,
// "Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk").
TEST(SigV4Test, MatchesAwsPublishedExample) {
  s3::SignedRequest request;
  request.method = "GET";
  request.encoded_path = "/test.txt";
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"}, {"range", "bytes=0-9"}};
  request.payload_sha256_hex = Sha256::Hex("");
  s3::Sign(request, {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""},
           "us-east-1", "20130524T000000Z");
  EXPECT_EQ(request.headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// AWS's worked example of a presigned URL ("Authenticating Requests: Using
// Query Parameters", GET Object valid for a day).
TEST(SigV4Test, PresignsAsAwsPublishedExample) {
  s3::SignedRequest request;
  request.method = "GET";
  request.encoded_path = "/test.txt";
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"}};
  const std::string query = s3::PresignedQuery(
      request, {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""},
      "us-east-1", "20130524T000000Z", 86400);
  EXPECT_EQ(query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
            "X-Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4Test, EncodesPathsOnceAndQueriesCanonically) {
  EXPECT_EQ(s3::UriEncode("a b/ü+~._-", false), "a%20b/%C3%BC%2B~._-");
  EXPECT_EQ(s3::UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(s3::CanonicalQuery({{"uploads", ""}, {"prefix", "x/y z"}, {"a", "1"}}),
            "a=1&prefix=x%2Fy%20z&uploads=");
}

TEST(S3UriTest, SplitsBucketAndPrefix) {
  EXPECT_EQ(ParseS3Uri("s3://bucket").bucket, "bucket");
  EXPECT_EQ(ParseS3Uri("s3://bucket").prefix, "");
  EXPECT_EQ(ParseS3Uri("s3://bucket/").prefix, "");
  EXPECT_EQ(ParseS3Uri("s3://bucket/a/b").prefix, "a/b/");
  EXPECT_EQ(ParseS3Uri("s3://bucket/a/b/").prefix, "a/b/");
  EXPECT_TRUE(IsS3Uri("s3://x"));
  EXPECT_FALSE(IsS3Uri("file:///x"));
  for (const char* bad :
       {"s3://", "s3:///prefix", "s3://bucket/a/../b", "s3://bucket/a//b", "file:///tmp"}) {
    try {
      ParseS3Uri(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue) << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(S3ConfigTest, TakesTheEnvironmentFirstThenTheProfileFiles) {
  testing::TempDir dir("slipway-s3-config");
  const fs::path credentials = dir.Write("credentials",
                                         "[default]\naws_access_key_id = DEFAULTID\n"
                                         "aws_secret_access_key = defaultsecret\n\n"
                                         "[ci]\naws_access_key_id=CIID\n"
                                         "aws_secret_access_key=cisecret\n"
                                         "aws_session_token = citoken\n");
  const fs::path config =
      dir.Write("config", "[default]\nregion = eu-west-1\n[profile ci]\nregion=ap-south-1\n");
  std::map<std::string, std::string> env = {{"AWS_SHARED_CREDENTIALS_FILE", credentials.string()},
                                            {"AWS_CONFIG_FILE", config.string()}};
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };

  s3::ClientOptions from_default;
  s3::FillFromEnvironment(from_default, lookup);
  EXPECT_EQ(from_default.credentials.access_key_id, "DEFAULTID");
  EXPECT_EQ(from_default.credentials.secret_access_key, "defaultsecret");
  EXPECT_EQ(from_default.region, "eu-west-1");
  EXPECT_EQ(from_default.endpoint, "");

  env["AWS_PROFILE"] = "ci";
  s3::ClientOptions from_profile;
  s3::FillFromEnvironment(from_profile, lookup);
  EXPECT_EQ(from_profile.credentials.access_key_id, "CIID");
  EXPECT_EQ(from_profile.credentials.session_token, "citoken");
  EXPECT_EQ(from_profile.region, "ap-south-1");

  env["AWS_ACCESS_KEY_ID"] = "ENVID";
  env["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env["AWS_REGION"] = "us-west-2";
  env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000";
  s3::ClientOptions from_env;
  s3::FillFromEnvironment(from_env, lookup);
  EXPECT_EQ(from_env.credentials.access_key_id, "ENVID");
  EXPECT_EQ(from_env.credentials.secret_access_key, "envsecret");
  EXPECT_EQ(from_env.credentials.session_token, "");
  EXPECT_EQ(from_env.region, "us-west-2");
  EXPECT_EQ(from_env.endpoint, "http://127.0.0.1:9000");

  // Attempts and timeouts, and values out of range refused by name.
  env["AWS_MAX_ATTEMPTS"] = "7";
  env["SLIPWAY_S3_CONNECT_TIMEOUT_SECONDS"] = "1.5";
  env["SLIPWAY_S3_IO_TIMEOUT_SECONDS"] = "2";
  s3::ClientOptions tuned;
  s3::FillFromEnvironment(tuned, lookup);
  EXPECT_EQ(tuned.max_attempts, 7);
  EXPECT_EQ(tuned.connect_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(tuned.io_timeout, std::chrono::milliseconds(2000));
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"AWS_MAX_ATTEMPTS", "0"},
                                          {"AWS_MAX_ATTEMPTS", "3x"},
                                          {"SLIPWAY_S3_IO_TIMEOUT_SECONDS", "-1"},
                                          {"SLIPWAY_S3_CONNECT_TIMEOUT_SECONDS", "soon"}}) {
    std::map<std::string, std::string> bad = env;
    bad[name] = value;
    auto bad_lookup = [&](const char* key) -> const char* {
      auto it = bad.find(key);
      return it == bad.end() ? nullptr : it->second.c_str();
    };
    s3::ClientOptions refused;
    try {
      s3::FillFromEnvironment(refused, bad_lookup);
      ADD_FAILURE() << name << "=" << value << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  env.erase("AWS_MAX_ATTEMPTS");
  env.erase("SLIPWAY_S3_CONNECT_TIMEOUT_SECONDS");
  env.erase("SLIPWAY_S3_IO_TIMEOUT_SECONDS");

  // Without any credentials, the store says where they are looked for.
  S3BlobStore::Options none;
  none.location = ParseS3Uri("s3://bucket/x");
  try {
    S3BlobStore::Create(none);
    ADD_FAILURE() << "a store without credentials was made";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos) << e.what();
  }
  none.client.credentials = {"id", "secret", ""};
  none.client.endpoint = "127.0.0.1:9000";  // no scheme
  EXPECT_THROW(S3BlobStore::Create(none), Error);
}

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    const std::optional<testing::S3TestServer>& server = testing::S3Server(&why);
    if (!server) GTEST_SKIP() << why;
    server_ = *server;
    store_ = NewStore();
  }

  S3BlobStore::Options BaseOptions() const {
    static int stores = 0;
    S3BlobStore::Options options;
    options.client.endpoint = server_.endpoint;
    options.client.credentials = {server_.access_key, server_.secret_key, ""};
    options.client.max_attempts = 2;
    options.location.bucket = "slipway-unit-tests";
    options.location.prefix =
        "s3-" + std::to_string(::getpid()) + "-" + std::to_string(stores++) + "/";
    return options;
  }

  std::unique_ptr<S3BlobStore> NewStore(S3BlobStore::Options options) {
    std::unique_ptr<S3BlobStore> store = S3BlobStore::Create(std::move(options));
    s3::Request create{.method = "PUT"};
    s3::Response response = store->client().Send(create);
    if (response.status != 200 && response.status != 409) store->client().Fail(create, response);
    return store;
  }
  std::unique_ptr<S3BlobStore> NewStore() { return NewStore(BaseOptions()); }

  // Whether the server lists incomplete multipart uploads (S3Proxy's
  // filesystem backend does not: it answers an empty list), found once by
  // starting one.
  bool ListsUploads() {
    static const bool lists = [this] {
      s3::Request create{.method = "POST",
                         .key = store_->location().prefix + "probe",
                         .query = {{"uploads", ""}},
                         .idempotent = false};
      s3::Response created = store_->client().Send(create);
      EXPECT_EQ(created.status, 200) << created.body;
      const bool listed = OpenUploads(*store_) > 0;
      s3::Request abort{.method = "DELETE",
                        .key = create.key,
                        .query = {{"uploadId", s3::XmlText(created.body, "UploadId")}}};
      store_->client().Send(abort);
      return listed;
    }();
    return lists;
  }

  // The incomplete multipart uploads under the store's root.
  size_t OpenUploads(S3BlobStore& store) {
    s3::Request list{.method = "GET",
                     .query = {{"uploads", ""}, {"prefix", store.location().prefix}}};
    s3::Response response = store.client().Send(list);
    EXPECT_EQ(response.status, 200) << response.body;
    return s3::XmlElements(response.body, "Upload").size();
  }

  testing::S3TestServer server_;
  std::unique_ptr<S3BlobStore> store_;
};

std::string Pattern(size_t size, int seed) {
  std::string bytes(size, '\0');
  uint32_t state = 2166136261u ^ static_cast<uint32_t>(seed);
  for (char& c : bytes) {
    state = state * 16777619u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  return bytes;
}

TEST_F(S3BlobStoreTest, ABlobLargerThanAPartIsAMultipartUploadPublishedWhole) {
  const std::string content = Pattern((11 << 20) + 12345, 1);  // three parts of 5 MiB
  WriterOptions five_mib;
  five_mib.write_back_bytes = 5 << 20;
  std::unique_ptr<BlobWriter> writer = store_->OpenWriter("big/blob.bin", five_mib);
  for (size_t at = 0; at < content.size(); at += 1 << 20) {
    writer->Append(content.data() + at, std::min<size_t>(1 << 20, content.size() - at));
  }
  // Parts are on the server, in an upload nobody sees as a blob yet.
  if (ListsUploads()) {
    EXPECT_EQ(OpenUploads(*store_), 1u);
  }
  EXPECT_FALSE(store_->Stat("big/blob.bin"));
  ListOptions under_big;
  under_big.prefix = "big/";
  under_big.recursive = true;
  EXPECT_TRUE(store_->ListAll(under_big).empty());
  writer->Publish();
  EXPECT_EQ(OpenUploads(*store_), 0u);
  ASSERT_TRUE(store_->Stat("big/blob.bin"));
  // S3 says it was made of parts: a multipart object's ETag ends in "-<parts>".
  s3::Request head{.method = "HEAD", .key = store_->location().prefix + "big/blob.bin"};
  EXPECT_NE(store_->client().Send(head).Header("etag").find("-3"), std::string::npos);
  EXPECT_EQ(store_->Stat("big/blob.bin")->size, content.size());
  EXPECT_EQ(store_->Get("big/blob.bin"), content);
  EXPECT_EQ(store_->Get("big/blob.bin", (5 << 20) - 3, 10), content.substr((5 << 20) - 3, 10));
}

TEST_F(S3BlobStoreTest, AnAbandonedMultipartWriterIsAbortedAndTheOldBlobStays) {
  if (!ListsUploads()) GTEST_SKIP() << "the S3 server does not list multipart uploads";
  store_->Put("k", "old");
  {
    WriterOptions five_mib;
    five_mib.write_back_bytes = 5 << 20;
    std::unique_ptr<BlobWriter> writer = store_->OpenWriter("k", five_mib);
    const std::string part = Pattern(6 << 20, 2);
    writer->Append(part.data(), part.size());
    EXPECT_EQ(OpenUploads(*store_), 1u);
  }
  EXPECT_EQ(OpenUploads(*store_), 0u);
  EXPECT_EQ(store_->Get("k"), "old");
}

// A large blob is read by ranges (a window of 256 KiB first, then larger
// while the reads go on in order); when the key is replaced meanwhile, what
// the window holds is still the old version's, and the next range fails
// clearly instead of mixing two versions.
TEST_F(S3BlobStoreTest, AReaderOfALargeBlobNeverMixesVersions) {
  S3BlobStore::Options options = BaseOptions();
  options.cached_bytes = 1000;
  std::unique_ptr<S3BlobStore> store = NewStore(options);
  const std::string first = Pattern(600'000, 3);
  store->Put("blob", first);
  std::unique_ptr<BlobReader> reader = store->Open("blob");
  ASSERT_TRUE(reader);
  std::string out;
  EXPECT_EQ(reader->ReadAt(0, 50'000, out), 50'000u);
  EXPECT_EQ(out, first.substr(0, 50'000));
  store->Put("blob", Pattern(600'000, 4));
  EXPECT_EQ(reader->ReadAt(50'000, 50'000, out), 50'000u);  // from the window: the old bytes
  EXPECT_EQ(out, first.substr(0, 100'000));
  try {
    reader->ReadAt(400'000, 50'000, out);
    ADD_FAILURE() << "a range of the new version was read as the old one's";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("changed while it was being read"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(out, first.substr(0, 100'000));  // nothing of the new version appended
  // A small blob is read whole on Open: it keeps its version.
  store->Put("small", "version one");
  std::unique_ptr<BlobReader> small = store->Open("small");
  store->Put("small", "version two, longer");
  std::string small_out;
  EXPECT_EQ(small->ReadAt(0, 100, small_out), 11u);
  EXPECT_EQ(small_out, "version one");
}

TEST_F(S3BlobStoreTest, TheSweepAbortsOnlyOldUploadsUnderTheFolder) {
  if (!ListsUploads()) GTEST_SKIP() << "the S3 server does not list multipart uploads";
  const std::string part = Pattern(5 << 20, 5);
  WriterOptions five_mib;  // each Append below sends a part
  five_mib.write_back_bytes = part.size();
  // What a killed process leaves: an upload with a part and no writer.
  BlobWriter* killed = store_->OpenWriter("data/killed", five_mib).release();
  killed->Append(part.data(), part.size());
  std::unique_ptr<BlobWriter> live = store_->OpenWriter("data/live", five_mib);
  live->Append(part.data(), part.size());
  std::unique_ptr<BlobWriter> other = store_->OpenWriter("other/x", five_mib);
  other->Append(part.data(), part.size());
  EXPECT_EQ(OpenUploads(*store_), 3u);

  const int64_t an_hour_ago = NowMillis() - 3600 * 1000;
  EXPECT_EQ(store_->SweepAbandoned("data/", an_hour_ago), 0u);  // all recent
  EXPECT_EQ(store_->SweepAbandoned("data/", NowMillis() + 60'000), 2u);
  EXPECT_EQ(OpenUploads(*store_), 1u);  // other/x
  // The swept writer fails its publish rather than publishing less.
  live->Append("tail", 4);
  EXPECT_THROW(live->Publish(), Error);
  EXPECT_FALSE(store_->Stat("data/live"));
  EXPECT_THROW(store_->SweepAbandoned("data", an_hour_ago), Error);  // not a folder
  other->Publish();
  EXPECT_EQ(store_->Stat("other/x")->size, part.size());
  EXPECT_EQ(OpenUploads(*store_), 0u);
  (void)killed;  // leaked on purpose, as a killed process would
}

TEST_F(S3BlobStoreTest, ListsPagesOfFoldersAndSkipsForeignObjects) {
  for (const char* key : {"a/1", "a/2", "b/1", "c", "d/e/f"}) store_->Put(key, key);
  // An object under the root that no key can name (written by someone else:
  // the name holds the reserved temporary-file marker).
  s3::Request foreign{
      .method = "PUT", .key = store_->location().prefix + "x/.y.slipway-tmp-1", .body = "z"};
  ASSERT_EQ(store_->client().Send(foreign).status, 200);
  std::vector<std::string> keys;
  ListOptions options;
  options.max_entries = 1;
  while (true) {
    ListPage page = store_->List(options);
    for (const ListEntry& entry : page.entries) keys.push_back(entry.key);
    if (page.next_start_after.empty()) break;
    options.start_after = page.next_start_after;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a/", "b/", "c", "d/", "x/"}));
  // The foreign object goes with its folder, though it was no blob.
  EXPECT_EQ(store_->DeletePrefix("x/"), 0u);
  EXPECT_EQ(store_->DeletePrefix("a/"), 2u);
  ListOptions everything;
  everything.recursive = true;
  std::vector<std::string> left;
  for (const ListEntry& entry : store_->ListAll(everything)) left.push_back(entry.key);
  EXPECT_EQ(left, (std::vector<std::string>{"b/1", "c", "d/e/f"}));
  s3::Request list{.method = "GET",
                   .query = {{"list-type", "2"}, {"prefix", store_->location().prefix + "x/"}}};
  EXPECT_TRUE(s3::XmlElements(store_->client().Send(list).body, "Contents").empty());
}

// PUTs `bytes` to a presigned `url` as a client would (no credentials of
// its own); returns the status and the ETag.
std::pair<int, std::string> PutToUrl(const std::string& url, const std::string& bytes) {
  const size_t path_start = url.find('/', url.find("://") + 3);
  httplib::Client http(url.substr(0, path_start));
  httplib::Result result = http.Put(url.substr(path_start), bytes, "application/octet-stream");
  if (!result) return {0, ""};
  return {result->status, result->get_header_value("ETag")};
}

TEST_F(S3BlobStoreTest, ADirectUploadPublishesThePartsAClientSentToPresignedUrls) {
  const std::string content = Pattern((5 << 20) + 4321, 7);
  DirectUpload upload = store_->BeginDirectUpload("direct/a.bin", 2, std::chrono::minutes(5));
  ASSERT_EQ(upload.parts.size(), 2u);
  EXPECT_EQ(upload.parts[1].number, 2);
  EXPECT_NE(upload.parts[0].url.find("X-Amz-Signature="), std::string::npos);
  EXPECT_EQ(upload.parts[0].url.find(server_.secret_key), std::string::npos);
  std::vector<UploadedPart> parts;
  for (const DirectPart& part : upload.parts) {
    const std::string bytes =
        part.number == 1 ? content.substr(0, 5 << 20) : content.substr(5 << 20);
    auto [status, etag] = PutToUrl(part.url, bytes);
    ASSERT_EQ(status, 200);
    parts.push_back({.number = part.number, .etag = etag});
  }
  EXPECT_FALSE(store_->Stat("direct/a.bin"));  // nothing visible before Complete
  store_->CompleteDirectUpload("direct/a.bin", upload.upload_id, parts);
  EXPECT_EQ(store_->Get("direct/a.bin"), content);

  // Aborted: the part sent is dropped, and the upload is gone.
  DirectUpload dropped = store_->BeginDirectUpload("direct/b.bin", 1, std::chrono::minutes(5));
  ASSERT_EQ(PutToUrl(dropped.parts[0].url, "abc").first, 200);
  store_->AbortDirectUpload("direct/b.bin", dropped.upload_id);
  EXPECT_FALSE(store_->Stat("direct/b.bin"));
  try {
    store_->CompleteDirectUpload("direct/b.bin", dropped.upload_id, {{.number = 1, .etag = "x"}});
    ADD_FAILURE() << "an aborted upload completed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist) << e.what();
  }
  // A URL for another part number, or a tampered one, is refused by S3.
  DirectUpload other = store_->BeginDirectUpload("direct/c.bin", 1, std::chrono::minutes(5));
  std::string tampered = other.parts[0].url;
  tampered.replace(tampered.find("partNumber=1"), 12, "partNumber=2");
  EXPECT_EQ(PutToUrl(tampered, "abc").first, 403);
  store_->AbortDirectUpload("direct/c.bin", other.upload_id);
  EXPECT_THROW(store_->BeginDirectUpload("direct/d.bin", 0, std::chrono::minutes(5)), Error);
}

TEST_F(S3BlobStoreTest, ErrorsNameTheRequestButNeverTheSecret) {
  S3BlobStore::Options options = BaseOptions();
  options.client.credentials.secret_access_key = "wrong-secret-9f8e7d6c";
  std::unique_ptr<S3BlobStore> store = S3BlobStore::Create(options);
  try {
    store->Put("a/b", "x");
    ADD_FAILURE() << "a write with a wrong secret succeeded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(message.find("S3 PUT s3://slipway-unit-tests/" + options.location.prefix + "a/b"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("403"), std::string::npos) << message;
    EXPECT_EQ(message.find("wrong-secret-9f8e7d6c"), std::string::npos) << message;
    EXPECT_EQ(message.find(server_.secret_key), std::string::npos) << message;
  }
  EXPECT_THROW(store->CheckReachable(), Error);
  store_->CheckReachable();

  // Nothing listens: the client retries, then says it got no answer.
  options = BaseOptions();
  options.client.endpoint =
      "http://127.0.0.1:" + std::to_string(testing::s3_test_detail::FreePort());
  options.client.first_backoff = std::chrono::milliseconds(1);
  options.client.max_attempts = 3;
  std::unique_ptr<S3BlobStore> nowhere = S3BlobStore::Create(options);
  try {
    nowhere->Stat("k");
    ADD_FAILURE() << "a HEAD to a closed port succeeded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("no answer"), std::string::npos) << message;
    EXPECT_NE(message.find("after 3 attempts"), std::string::npos) << message;
    EXPECT_EQ(message.find(server_.secret_key), std::string::npos) << message;
  }
}

// A faulty S3 endpoint on loopback: answers each request with what
// `answer` says for the request's number (from 1), and counts them.
class FaultyEndpoint {
 public:
  using Answer = std::function<void(int number, const httplib::Request&, httplib::Response&)>;
  explicit FaultyEndpoint(Answer answer) : answer_(std::move(answer)) {
    auto handle = [this](const httplib::Request& request, httplib::Response& response) {
      answer_(++requests_, request, response);
    };
    server_.Get(".*", handle);
    server_.Put(".*", handle);
    server_.Post(".*", handle);
    server_.Delete(".*", handle);
    server_.set_read_timeout(5, 0);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FaultyEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  Answer answer_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

S3BlobStore::Options OptionsFor(const std::string& endpoint, int attempts) {
  S3BlobStore::Options options;
  options.client.endpoint = endpoint;
  options.client.credentials = {"id", "faulty-endpoint-secret", ""};
  options.client.max_attempts = attempts;
  options.client.first_backoff = std::chrono::milliseconds(1);
  options.client.io_timeout = std::chrono::milliseconds(300);
  options.location = ParseS3Uri("s3://bucket/root");
  return options;
}

void SlowDown(httplib::Response& response) {
  response.status = 503;
  response.set_content(
      "<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
      "</Message></Error>",
      "application/xml");
}

TEST(S3RetryTest, IdempotentRequestsAreRetriedOn5xxAndThenSucceed) {
  FaultyEndpoint endpoint(
      [](int number, const httplib::Request& request, httplib::Response& response) {
        if (number <= 2) return SlowDown(response);
        EXPECT_EQ(request.path, "/bucket/root/k");
        response.status = 200;
        response.set_content("0123456789", "application/octet-stream");
      });
  std::unique_ptr<S3BlobStore> store = S3BlobStore::Create(OptionsFor(endpoint.url(), 4));
  store->Put("k", "0123456789");  // a PUT: two 503s, then 200
  EXPECT_EQ(endpoint.requests(), 3);
}

TEST(S3RetryTest, AfterTheLastAttemptTheErrorSaysWhatS3Answered) {
  FaultyEndpoint endpoint(
      [](int, const httplib::Request&, httplib::Response& response) { SlowDown(response); });
  std::unique_ptr<S3BlobStore> store = S3BlobStore::Create(OptionsFor(endpoint.url(), 3));
  try {
    store->Put("k", "x");
    ADD_FAILURE() << "a PUT answered only by 503s succeeded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
    EXPECT_NE(message.find("S3 PUT s3://bucket/root/k: 503 SlowDown: Please reduce"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("faulty-endpoint-secret"), std::string::npos) << message;
  }
  EXPECT_EQ(endpoint.requests(), 3);
}

TEST(S3RetryTest, RequestsThatAreNotIdempotentAreSentOnce) {
  FaultyEndpoint endpoint(
      [](int, const httplib::Request&, httplib::Response& response) { SlowDown(response); });
  std::unique_ptr<S3BlobStore> store = S3BlobStore::Create(OptionsFor(endpoint.url(), 4));
  WriterOptions one_part;
  one_part.write_back_bytes = 5 << 20;
  std::unique_ptr<BlobWriter> writer = store->OpenWriter("big", one_part);
  const std::string part(5 << 20, 'x');
  // The first part starts a multipart upload: a POST, not retried.
  EXPECT_THROW(writer->Append(part.data(), part.size()), Error);
  EXPECT_EQ(endpoint.requests(), 1);
  EXPECT_THROW(writer->Publish(), Error);  // broken after a failed Append
}

TEST(S3RetryTest, ASlowServerTimesOutAndIsRetried) {
  FaultyEndpoint endpoint([](int number, const httplib::Request&, httplib::Response& response) {
    if (number == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    response.status = 200;
    response.set_header("ETag", "\"abc\"");
    response.set_content("", "application/octet-stream");
  });
  std::unique_ptr<S3BlobStore> store = S3BlobStore::Create(OptionsFor(endpoint.url(), 2));
  store->Put("k", "x");  // the first attempt times out after 300 ms
  EXPECT_EQ(endpoint.requests(), 2);
}

}  // namespace
}  // namespace slipway::blob
