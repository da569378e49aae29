#include "core/durable_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/error.h"

namespace slipway {
namespace {

namespace fs = std::filesystem;

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("slipway-durable-" + UniqueFileSuffix());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static size_t CountFiles(const fs::path& folder) {
    size_t count = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(folder)) ++count;
    return count;
  }

  fs::path dir_;
};

TEST_F(DurableFileTest, WritesTheWholeContentAndLeavesNoTemporaryFile) {
  const std::string bytes("one\0two", 7);
  WriteFileDurably(dir_ / "file.bin", bytes);
  EXPECT_EQ(Read(dir_ / "file.bin"), bytes);
  EXPECT_EQ(CountFiles(dir_), 1u);
}

TEST_F(DurableFileTest, ReplacesAnExistingFile) {
  WriteFileDurably(dir_ / "file", "old content");
  DurableWriteOptions unsynced;
  unsynced.sync = false;
  WriteFileDurably(dir_ / "file", "new", unsynced);
  EXPECT_EQ(Read(dir_ / "file"), "new");
  EXPECT_EQ(CountFiles(dir_), 1u);
}

TEST_F(DurableFileTest, StreamsInPiecesAndShowsNothingBeforeCommit) {
  DurableFile file(dir_ / "streamed");
  EXPECT_EQ(file.temp_path().parent_path(), dir_);
  EXPECT_NE(file.temp_path().filename().string().find("streamed"), std::string::npos);
  file.Write("ab", 2);
  file.Write("cd", 2);
  EXPECT_FALSE(fs::exists(dir_ / "streamed"));
  EXPECT_TRUE(fs::exists(file.temp_path()));
  file.Commit();
  EXPECT_EQ(Read(dir_ / "streamed"), "abcd");
  EXPECT_FALSE(fs::exists(file.temp_path()));
}

TEST_F(DurableFileTest, AbandonedFileDeletesItsTemporaryAndKeepsTheTarget) {
  WriteFileDurably(dir_ / "kept", "before");
  fs::path temp;
  try {
    DurableFile file(dir_ / "kept");
    temp = file.temp_path();
    file.Write("half", 4);
    throw std::runtime_error("the source failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(temp.empty());
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(Read(dir_ / "kept"), "before");
  EXPECT_EQ(CountFiles(dir_), 1u);
}

TEST_F(DurableFileTest, TemporaryFileCanLiveInAnotherFolder) {
  fs::create_directories(dir_ / "tmp");
  fs::create_directories(dir_ / "objects");
  DurableFile file(dir_ / "objects" / "blob", {.temp_folder = dir_ / "tmp", .mode = 0444});
  EXPECT_EQ(file.temp_path().parent_path(), dir_ / "tmp");
  file.Write("x", 1);
  file.Commit();
  EXPECT_EQ(Read(dir_ / "objects" / "blob"), "x");
  EXPECT_EQ(CountFiles(dir_ / "tmp"), 0u);
  struct stat info;
  ASSERT_EQ(::stat((dir_ / "objects" / "blob").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0444u);
}

TEST_F(DurableFileTest, FailuresAreInternalErrorsNamingTheFile) {
  try {
    WriteFileDurably(dir_ / "no such folder" / "file", "x");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("cannot create"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no such folder"), std::string::npos) << e.what();
  }
  // Renaming over a folder fails; the temporary file goes.
  fs::create_directories(dir_ / "folder" / "inside");
  try {
    WriteFileDurably(dir_ / "folder", "x");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("cannot move"), std::string::npos) << e.what();
  }
  EXPECT_EQ(CountFiles(dir_), 1u);
  try {
    SyncFolder(dir_ / "absent");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos) << e.what();
  }
}

TEST(UniqueFileSuffixTest, NeverRepeatsAndCarriesThePid) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(UniqueFileSuffix()).second);
  EXPECT_EQ(UniqueFileSuffix().rfind(std::to_string(::getpid()) + "-", 0), 0u);
}

}  // namespace
}  // namespace slipway
