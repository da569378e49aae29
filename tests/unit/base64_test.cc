#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway {
namespace {

// RFC 4648, section 10.
TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    SCOPED_TRACE(plain);
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain));
  }
}

TEST(Base64Test, RoundTripsEveryByteAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t length = 0; length <= bytes.size(); ++length) {
    const std::string prefix = bytes.substr(0, length);
    const std::string encoded = Base64Encode(prefix);
    EXPECT_EQ(encoded.size(), (length + 2) / 3 * 4);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(prefix)) << length;
  }
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");  // the last two characters of the alphabet
}

TEST(Base64Test, RejectsWhatIsNotPaddedBase64) {
  for (const char* bad : {
           "Zg",        // not a multiple of 4
           "Zm9vY",     // not a multiple of 4
           "Zg=",       // padding that does not complete a quad
           "Z===",      // too much padding
           "====",      // nothing but padding
           "Zg==Zg==",  // padding before the end
           "Zm=v",      // a character after padding
           "Zm9v\n",    // whitespace is not skipped
           " Zm9",      // nor leading whitespace
           "Zm9-",      // base64url's alphabet is not this one
           "Zm9_",      //
           "Zm9\xff",   // a byte outside ASCII
           "not base64!",
       }) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Base64Decode(bad), std::nullopt);
  }
}

}  // namespace
}  // namespace slipway
