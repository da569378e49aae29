#include "tracking/artifact_store.h"

#include <gtest/gtest.h>

#include <fstream>

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
    store_ = std::make_unique<ArtifactStore>(base_ / "root");
  }
  void TearDown() override { fs::remove_all(base_); }

  void Put(const std::string& path, const std::string& content) {
    store_->Write(path, [&](const auto& sink) {
      sink(content.data(), content.size());
      return true;
    });
  }

  fs::path base_;
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
  EXPECT_THROW(Put("link/x", "x"), Error);
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

}  // namespace
}  // namespace slipway::tracking
