#include "core/page_token.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/error.h"

namespace slipway {
namespace {

// Runs `fn`, expecting INVALID_PARAMETER_VALUE with `fragment` in the message.
void ExpectInvalid(const std::function<void()>& fn, const std::string& fragment) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << fragment;
    return;
  }
  ADD_FAILURE() << "expected INVALID_PARAMETER_VALUE containing: " << fragment;
}

TEST(PageToken, RoundTripsAndMatchesMlflowBytes) {
  // base64.b64encode(json.dumps({"offset": 100}).encode()) in MLflow.
  EXPECT_EQ(EncodePageToken(100), "eyJvZmZzZXQiOiAxMDB9");
  for (const int64_t offset : {0LL, 1LL, 7LL, 1000LL, 123456789012LL}) {
    EXPECT_EQ(DecodePageToken(EncodePageToken(offset)), offset);
  }
  EXPECT_EQ(DecodePageToken(""), 0);
  // {"offset":"7"} — MLflow accepts a numeric string.
  EXPECT_EQ(DecodePageToken("eyJvZmZzZXQiOiI3In0="), 7);
  // A logged-model token carries more fields; the offset is what counts.
  // {"experiment_ids": ["1"], "offset": 5}
  EXPECT_EQ(DecodePageToken("eyJleHBlcmltZW50X2lkcyI6IFsiMSJdLCAib2Zmc2V0IjogNX0="), 5);
}

TEST(PageToken, RejectsGarbage) {
  const auto invalid = [](const std::string& token, const std::string& fragment) {
    SCOPED_TRACE(token);
    ExpectInvalid([&] { DecodePageToken(token); }, fragment);
  };
  invalid("abc", "Invalid page token, could not base64-decode");
  invalid("not base64!", "could not base64-decode");
  invalid("ab=c", "could not base64-decode");
  invalid("aGVsbG8=", "Invalid page token, decoded value=hello");        // "hello"
  invalid("WzFd", "Invalid page token, decoded value=[1]");              // "[1]"
  invalid("eyJ4IjoxfQ==", "Invalid page token, parsed value=");          // {"x":1}
  invalid("eyJvZmZzZXQiOiAtNX0=", "Invalid page token, parsed value=");  // {"offset": -5}
  invalid("eyJvZmZzZXQiOiAxLjV9", "parsed value=");                      // {"offset": 1.5}
  invalid("AAE=", "Invalid page token, decoded value=\\x00\\x01");       // bytes, escaped
}

}  // namespace
}  // namespace slipway
