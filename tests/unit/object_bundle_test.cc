#include "data/object_bundle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "data/content_store.h"
#include "test_util/temp_dir.h"

namespace slipway::data {
namespace {

namespace fs = std::filesystem;

// The message of the kInvalidParameterValue that `action` throws.
template <typename Action>
std::string InvalidMessage(Action action) {
  try {
    action();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidParameterValue) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(ObjectBundleTest, RoundTripsObjectsInOrder) {
  std::string a = "alpha", b(70000, 'b'), empty;
  std::string bundle;
  AppendToBundle(&bundle, Sha256::Hex(a), a);
  AppendToBundle(&bundle, Sha256::Hex(b), b);
  AppendToBundle(&bundle, Sha256::Hex(empty), empty);
  EXPECT_EQ(bundle.substr(0, 67), Sha256::Hex(a) + " 5\n");
  std::vector<BundleObject> objects = ParseBundle(bundle);
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(objects[0].digest, Sha256::Hex(a));
  EXPECT_EQ(objects[0].bytes, a);
  EXPECT_EQ(objects[1].bytes, b);
  EXPECT_EQ(objects[2].bytes, "");
  EXPECT_TRUE(ParseBundle("").empty());
}

TEST(ObjectBundleTest, MalformedBundlesNameTheObjectAndItsOffset) {
  std::string first;
  AppendToBundle(&first, Sha256::Hex("one"), "one");
  const std::string at = "object 2 (at byte " + std::to_string(first.size()) + ")";
  const std::string digest = Sha256::Hex("two");
  struct Case {
    std::string tail;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {digest + " 3\ntw", "declares 3 bytes but the body ends after 2"},
           {digest + " 3", "expected a header line"},
           {digest + "3\ntwo", "64 lowercase hex digits and a space"},
           {std::string(64, 'X') + " 3\ntwo", "64 lowercase hex digits"},
           {digest + " -3\ntwo", "is not a decimal number"},
           {digest + " 3x\ntwo", "is not a decimal number"},
           {digest + " 99999999999999999999\n", "is not a decimal number"},  // > 2^64
           {digest + " \ntwo", "64 lowercase hex digits and a space"},
       }) {
    SCOPED_TRACE(c.tail);
    std::string message = InvalidMessage([&] { ParseBundle(first + c.tail); });
    EXPECT_NE(message.find(at), std::string::npos) << message;
    EXPECT_NE(message.find(c.why), std::string::npos) << message;
  }
}

TEST(ObjectWriterTest, StoresOnePackOnCommitAndNothingWithoutIt) {
  testing::TempDir dir("object-writer");
  auto store = ContentStore::Open(dir.path() / "store");
  std::string a = "alpha", b = "beta";
  {
    ContentStore::ObjectWriter writer(store.get());
    writer.Put(Sha256::Hex(a), a, "a");
    // Not committed: gone with the writer.
  }
  EXPECT_FALSE(store->Has(Sha256::Hex(a)));
  EXPECT_TRUE(fs::is_empty(dir.path() / "store" / "tmp"));

  ContentStore::ObjectWriter writer(store.get());
  writer.Put(Sha256::Hex(a), a, "a");
  writer.Put(Sha256::Hex(b), b, "b");
  writer.Put(Sha256::Hex(a), a, "a again");  // stored once
  std::string message = InvalidMessage([&] { writer.Put(Sha256::Hex(a), b, "object 4"); });
  EXPECT_NE(
      message.find("object 4: its 4 bytes hash to " + Sha256::Hex(b) + ", not " + Sha256::Hex(a)),
      std::string::npos)
      << message;
  InvalidMessage([&] { writer.Put("../../etc/passwd", a, "object 5"); });
  AddStats stats = writer.Commit();
  EXPECT_EQ(stats.chunks_new, 2u);
  EXPECT_EQ(stats.bytes_new, 9u);
  EXPECT_EQ(store->ReadBlob(Sha256::Hex(b)), b);
  EXPECT_TRUE(store->Locate(Sha256::Hex(a))->packed);
  size_t indexes = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "store" / "packs")) {
    indexes += entry.path().extension() == ".idx";
  }
  EXPECT_EQ(indexes, 1u);
}

}  // namespace
}  // namespace slipway::data
