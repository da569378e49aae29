#include "tracking/artifact_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "blob/local_blob_store.h"
#include "core/error.h"

namespace slipway::tracking {
namespace {

namespace fs = std::filesystem;

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("slipway-artifacts-test-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "outside");
    blob::LocalBlobStore::Options options;
    options.root = base_ / "root";
    blobs_ = blob::LocalBlobStore::Create(options);
    store_ = std::make_unique<ArtifactStore>(*blobs_);
  }
  void TearDown() override { fs::remove_all(base_); }

  void Put(const std::string& path, const std::string& content) {
    store_->Write(path, [&](const auto& sink) {
      sink(content.data(), content.size());
      return true;
    });
  }

  fs::path base_;
  std::unique_ptr<blob::LocalBlobStore> blobs_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(ArtifactStoreTest, WritesListsAndDeletes) {
  Put("1/run/artifacts/model/MLmodel", "flavors: {}");
  Put("1/run/artifacts/a.txt", "hello");
  auto entries = store_->List("1/run/artifacts");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].path, "a.txt");
  EXPECT_EQ(entries[0].file_size, 5);
  EXPECT_EQ(entries[1].path, "model");
  EXPECT_TRUE(entries[1].is_dir);
  store_->Delete("1/run/artifacts/model");
  EXPECT_EQ(store_->List("1/run/artifacts").size(), 1u);
  EXPECT_THROW(store_->Delete("1/run/artifacts/model"), Error);
}

TEST_F(ArtifactStoreTest, RejectsEveryEscape) {
  for (const char* path :
       {"../outside/x", "a/../../outside/x", "/etc/passwd", "a\\..\\b", "a/..", ".."}) {
    EXPECT_THROW(Put(path, "x"), Error) << path;
  }
  EXPECT_TRUE(fs::is_empty(base_ / "outside"));
}

TEST_F(ArtifactStoreTest, RejectsSymlinkOutOfRoot) {
  fs::create_symlink(base_ / "outside", base_ / "root" / "link");
  try {
    Put("link/x", "x");
    ADD_FAILURE() << "a write through a link out of the root was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_EQ(std::string(e.what()),
              "Invalid artifact path 'link/x': resolves outside the store's root");
  }
  EXPECT_THROW(store_->Open("link/x"), Error);
  EXPECT_THROW(store_->List("link"), Error);
  EXPECT_THROW(store_->Delete("link/x"), Error);
  EXPECT_TRUE(fs::is_empty(base_ / "outside"));
}

TEST_F(ArtifactStoreTest, CutShortUploadLeavesNothing) {
  EXPECT_THROW(store_->Write("1/partial.bin",
                             [](const auto& sink) {
                               sink("abc", 3);
                               return false;
                             }),
               Error);
  EXPECT_FALSE(fs::exists(base_ / "root" / "1" / "partial.bin"));
  EXPECT_TRUE(store_->List("1").empty());
}

TEST_F(ArtifactStoreTest, ReadsByRangesWhatWasWritten) {
  Put("1/run/artifacts/data.bin", "0123456789");
  std::unique_ptr<blob::BlobReader> reader = store_->Open("1/run/artifacts/data.bin");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->info().size, 10u);
  std::string out;
  EXPECT_EQ(reader->ReadAt(4, 3, out), 3u);
  EXPECT_EQ(out, "456");
  // The bytes are where MLflow's own server keeps them.
  std::ifstream file(base_ / "root" / "1" / "run" / "artifacts" / "data.bin");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(file), {}), "0123456789");
}

TEST_F(ArtifactStoreTest, OpeningAFolderOrNothingIsNotFound) {
  Put("1/run/artifacts/model/MLmodel", "flavors: {}");
  for (const char* path : {"1/run/artifacts/model", "1/run/artifacts/none.txt", ".", "1/./"}) {
    try {
      store_->Open(path);
      ADD_FAILURE() << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist) << path;
      EXPECT_EQ(std::string(e.what()), "No artifact found at '" + std::string(path) + "'");
    }
  }
}

TEST_F(ArtifactStoreTest, DotAndEmptySegmentsAreDroppedAsMlflowDoes) {
  EXPECT_EQ(store_->KeyOf("a/./b//c/"), "a/b/c");
  EXPECT_EQ(store_->KeyOf(""), "");
  EXPECT_EQ(store_->KeyOf("./"), "");
  Put("1/./run//a.txt", "x");
  std::unique_ptr<blob::BlobReader> reader = store_->Open("1/run/a.txt");
  EXPECT_EQ(reader->info().size, 1u);
  ASSERT_EQ(store_->List("1//run/.").size(), 1u);
}

TEST_F(ArtifactStoreTest, RefusalsNameThePathAndTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"../x", "'..' segments are not allowed"},
      {"/etc/passwd", "absolute paths are not allowed"},
      {"a\\b", "backslash"},
      {"a/.b.slipway-tmp-1", "reserved for temporary files"},
  };
  for (const auto& [path, reason] : cases) {
    try {
      store_->KeyOf(path);
      ADD_FAILURE() << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("Invalid artifact path '" + std::string(path) + "': ", 0), 0u)
          << message;
      EXPECT_NE(message.find(reason), std::string::npos) << message;
    }
  }
  EXPECT_THROW(store_->Delete(""), Error);
  EXPECT_THROW(store_->Delete("."), Error);
  EXPECT_THROW(Put("", "x"), Error);
  Put("dir/file", "x");
  try {
    Put("dir", "x");
    ADD_FAILURE() << "an artifact over a folder was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "Invalid artifact path 'dir': a folder of that name exists");
  }
}

TEST_F(ArtifactStoreTest, ListsByNameAndDeletedFoldersDisappear) {
  Put("r/a/x", "1");
  Put("r/a-b", "22");
  Put("r/b", "333");
  auto entries = store_->List("r");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, "a");
  EXPECT_TRUE(entries[0].is_dir);
  EXPECT_EQ(entries[1].path, "a-b");
  EXPECT_EQ(entries[1].file_size, 2);
  EXPECT_EQ(entries[2].path, "b");
  store_->Delete("r/a/x");
  entries = store_->List("r");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].path, "a-b");
  EXPECT_TRUE(store_->List("r/a").empty());
  store_->Delete("r");
  EXPECT_TRUE(store_->List("").empty());
  EXPECT_TRUE(fs::is_directory(base_ / "root"));
}

}  // namespace
}  // namespace slipway::tracking
