#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway {
namespace {

// FIPS 180-2, appendix B (and the empty message).
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kTwoBlocks[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::Hex(""), kEmpty);
  EXPECT_EQ(Sha256::Hex("abc"), kAbc);
  EXPECT_EQ(Sha256::Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), kTwoBlocks);
  EXPECT_EQ(Sha256::Hex(std::string(1000000, 'a')), kMillionA);
  // Incremental updates give the same digest, and Finish starts over.
  Sha256 hasher;
  hasher.Update("a", 1);
  hasher.Update("bc", 2);
  EXPECT_EQ(ToHex(hasher.Finish()), Sha256::Hex("abc"));
  EXPECT_EQ(ToHex(hasher.Finish()), Sha256::Hex(""));
}

TEST(Sha256Test, RawDigestIsThirtyTwoBytes) {
  const Sha256::Digest digest = Sha256::Of("abc");
  EXPECT_EQ(digest[0], 0xba);
  EXPECT_EQ(digest[31], 0xad);
  EXPECT_EQ(ToHex(digest), kAbc);
  // The raw form and the hex form agree for any bytes, NULs included.
  const std::string bytes("a\0b\xff", 4);
  EXPECT_EQ(ToHex(Sha256::Of(bytes)), Sha256::Hex(bytes));
}

TEST(Sha256Test, IncrementalMatchesOneShotAcrossSplits) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  Sha256 hasher;
  for (size_t at = 0; at < data.size(); at += 13) {
    const size_t size = std::min<size_t>(13, data.size() - at);
    hasher.Update(data.data() + at, size);
  }
  hasher.Update(nullptr, 0);  // an empty update changes nothing
  EXPECT_EQ(hasher.Finish(), Sha256::Of(data));
}

TEST(HexTest, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(ToHex(std::string_view()), "");
  EXPECT_EQ(ToHex(std::string("\x00\x01\x7f\x80\xab\xff", 6)), "00017f80abff");
}

}  // namespace
}  // namespace slipway
