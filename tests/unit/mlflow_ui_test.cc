#include "webui/mlflow_ui.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "core/error.h"
#include "http/json_codec.h"
#include "test_util/temp_dir.h"

namespace slipway::webui {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSecret = "the-content-of-a-file-outside";

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// A fake UI build beside a secret file, with symlinks that point out of it
// and one that stays inside.
class MlflowUiFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(build() / "index.html", "<html>mlflow</html>");
    WriteFile(build() / "static/js/main.c2f5f8d4.js", "console.log(1)");
    WriteFile(build() / "static/media/font.0123abcd.ttf", "ttf");
    WriteFile(build() / "favicon.ico", "ico");
    WriteFile(build() / "manifest.json", "{}");
    WriteFile(dir_.path() / "secret.txt", kSecret);
    fs::create_directories(dir_.path() / "outside");
    WriteFile(dir_.path() / "outside/also-secret.txt", kSecret);
    fs::create_symlink(dir_.path() / "secret.txt", build() / "link-out.txt");
    fs::create_directory_symlink(dir_.path() / "outside", build() / "dir-out");
    fs::create_symlink(build() / "favicon.ico", build() / "link-in.ico");
  }
  fs::path build() const { return dir_.path() / "build"; }

  testing::TempDir dir_{"mlflow-ui"};
};

TEST_F(MlflowUiFilesTest, ResolvesFilesInsideTheFolder) {
  MlflowUiFiles files = MlflowUiFiles::Open(build());
  EXPECT_EQ(files.root(), fs::canonical(build()));
  EXPECT_EQ(files.Resolve("index.html"), fs::canonical(build() / "index.html"));
  EXPECT_EQ(files.Resolve("static/js/main.c2f5f8d4.js"),
            fs::canonical(build() / "static/js/main.c2f5f8d4.js"));
  // A symlink that stays inside the folder is its target.
  EXPECT_EQ(files.Resolve("link-in.ico"), fs::canonical(build() / "favicon.ico"));
}

TEST_F(MlflowUiFilesTest, RefusesEveryWayOut) {
  MlflowUiFiles files = MlflowUiFiles::Open(build());
  const fs::path secret = dir_.path() / "secret.txt";
  for (const std::string& path : {
           std::string("../secret.txt"), std::string("static/../../secret.txt"),
           std::string("static/js/../../index.html"),  // even when it lands inside
           std::string("./index.html"), std::string("static//js/main.c2f5f8d4.js"),
           std::string(secret.string()),  // absolute
           std::string("/index.html"), std::string("..\\secret.txt"),
           std::string("index.html") + '\0' + "x",
           std::string("link-out.txt"),             // a symlink out of the folder
           std::string("dir-out/also-secret.txt"),  // through a directory symlink
           std::string("static"),                   // a folder, not a file
           std::string("missing.js"), std::string(""),
           std::string("%2e%2e/secret.txt"),  // decoded by the server, never by this
       }) {
    EXPECT_EQ(files.Resolve(path), std::nullopt) << path;
    EXPECT_EQ(files.File(path, "").status, 404) << path;
  }
}

TEST_F(MlflowUiFilesTest, OpenRefusesAFolderWithoutTheUi) {
  EXPECT_THROW(MlflowUiFiles::Open(dir_.path() / "nowhere"), Error);
  EXPECT_THROW(MlflowUiFiles::Open(dir_.path() / "secret.txt"), Error);
  try {
    MlflowUiFiles::Open(dir_.path() / "outside");
    FAIL() << "a folder without index.html was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(error.what()).find("index.html"), std::string::npos) << error.what();
  }
}

std::string Header(const FileReply& reply, const std::string& name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "";
}

std::string Body(const FileReply& reply) {
  std::string out;
  EXPECT_TRUE(reply.file->Read(0, 1 << 20, &out));
  return out;
}

TEST_F(MlflowUiFilesTest, FilesAreTypedAndCachedByTheirNames) {
  MlflowUiFiles files = MlflowUiFiles::Open(build());
  FileReply script = files.File("static/js/main.c2f5f8d4.js", "");
  ASSERT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(script, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(script, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Body(script), "console.log(1)");
  FileReply font = files.File("static/media/font.0123abcd.ttf", "");
  EXPECT_EQ(font.content_type, "font/ttf");
  // No content hash: revalidated by ETag.
  FileReply manifest = files.File("manifest.json", "");
  ASSERT_EQ(manifest.status, 200);
  EXPECT_EQ(Header(manifest, "Cache-Control"), "no-cache");
  const std::string etag = Header(manifest, "ETag");
  ASSERT_FALSE(etag.empty());
  FileReply again = files.File("manifest.json", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.file, nullptr);
  // Reads by pieces, as the server streams them.
  std::string piece;
  ASSERT_TRUE(script.file->Read(8, 3, &piece));
  EXPECT_EQ(piece, "log");
}

TEST_F(MlflowUiFilesTest, PageIsIndexHtmlWithItsPolicy) {
  MlflowUiFiles files = MlflowUiFiles::Open(build());
  FileReply page = files.Page("");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Body(page), "<html>mlflow</html>");
  EXPECT_EQ(Header(page, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(page, "Content-Security-Policy"), kMlflowUiContentSecurityPolicy);
  EXPECT_EQ(files.Page(Header(page, "ETag")).status, 304);
}

TEST(MlflowUi, ContentHashesAreRecognisedInNames) {
  EXPECT_TRUE(HasContentHash("main.c2f5f8d4.js"));
  EXPECT_TRUE(HasContentHash("1126.8bfe0c8c.chunk.js"));
  EXPECT_TRUE(HasContentHash("TelemetryLogger.telemetry-worker.d0f8ea2c83c08b63528f.worker.js"));
  EXPECT_FALSE(HasContentHash("favicon.ico"));
  EXPECT_FALSE(HasContentHash("manifest.json"));
  EXPECT_FALSE(HasContentHash("main.js.LICENSE.txt"));
  EXPECT_FALSE(HasContentHash("deadbeef.js"));   // the name itself is no hash
  EXPECT_FALSE(HasContentHash("a.c2f5f8d.js"));  // too short
}

TEST(MlflowUi, LocatingNeedsAnInterpreterWithMlflow) {
  EXPECT_THROW(LocateInstalledMlflowUi("/nonexistent/python3"), Error);
  // Runs, but exits non-zero (as a Python without mlflow does).
  EXPECT_THROW(LocateInstalledMlflowUi("false"), Error);
}

// The routes on a real HttpServer.
class MlflowUiRoutesTest : public MlflowUiFilesTest {
 protected:
  void SetUp() override {
    MlflowUiFilesTest::SetUp();
    files_.emplace(MlflowUiFiles::Open(build()));
    http::HttpServer::Options options;
    options.port = 0;
    options.worker_threads = 2;
    options.access_log = false;
    server_ = std::make_unique<http::HttpServer>(options);
    server_->Get("/api/2.0/mlflow/experiments/search", http::RouteSpec("search").SignedIn(),
                 [](const http::Request& req, http::Response& res) {
                   http::SetJson(res, http::Json({{"path", req.path}}).dump());
                 });
    server_->AddPathAlias("/ajax-api/2.0/", "/api/2.0/");
    AddMlflowUiRoutes(*server_, *files_);
    thread_ = std::thread([this] { server_->Listen(); });
    for (int i = 0; i < 200 && server_->bound_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->bound_port());
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
  }

  std::optional<MlflowUiFiles> files_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(MlflowUiRoutesTest, ServesThePageFilesAndTheApiUnderThePrefix) {
  auto bare = client_->Get("/mlflow");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 308);
  EXPECT_EQ(bare->get_header_value("Location"), "/mlflow/");
  auto page = client_->Get("/mlflow/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, "<html>mlflow</html>");
  auto script = client_->Get("/mlflow/static-files/static/js/main.c2f5f8d4.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_EQ(script->body, "console.log(1)");
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  auto api = client_->Get("/mlflow/ajax-api/2.0/mlflow/experiments/search");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 200);
  EXPECT_EQ(http::Json::parse(api->body)["path"], "/api/2.0/mlflow/experiments/search");
}

TEST_F(MlflowUiRoutesTest, EncodedTraversalIsRefused) {
  for (const char* path :
       {"/mlflow/static-files/%2e%2e/secret.txt",
        "/mlflow/static-files/static/%2E%2E/%2e%2e/secret.txt",
        "/mlflow/static-files/..%2fsecret.txt", "/mlflow/static-files/%2fetc%2fpasswd",
        "/mlflow/static-files//etc/passwd", "/mlflow/static-files/link-out.txt",
        "/mlflow/static-files/%00"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body.find(kSecret), std::string::npos) << path;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << path;
  }
}

TEST_F(MlflowUiRoutesTest, TheGatewayIsACleanNotImplemented) {
  auto get = client_->Get("/mlflow/ajax-api/3.0/mlflow/gateway/secrets/config");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 501);
  http::Json body = http::Json::parse(get->body);
  EXPECT_EQ(body["error_code"], "NOT_IMPLEMENTED");
  EXPECT_NE(body["message"].get<std::string>().find("gateway"), std::string::npos);
  auto post = client_->Post("/mlflow/ajax-api/2.0/mlflow/gateway-proxy", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 501);
}

}  // namespace
}  // namespace slipway::webui
