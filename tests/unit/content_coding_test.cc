#include "http/content_coding.h"

#include <gtest/gtest.h>

#include <string>

#include "core/gzip.h"

namespace slipway::http {
namespace {

TEST(ContentCodingTest, AcceptsGzipReadsQualities) {
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("*;q=0.5, gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=nonsense"));
  EXPECT_FALSE(AcceptsGzip("gzipped"));
}

TEST(ContentCodingTest, OnlyTextLikeTypesAreCompressible) {
  for (const char* type : {"application/json", "application/json; charset=utf-8",
                           "text/html; charset=utf-8", "text/csv", "text/css; charset=utf-8",
                           "image/svg+xml", "application/problem+json", "Application/JSON"}) {
    EXPECT_TRUE(CompressibleType(type)) << type;
  }
  for (const char* type :
       {"application/octet-stream", "image/png", "application/gzip", "application/zip", "",
        "application/x-protobuf", "json", "font/woff2", "text/"}) {
    EXPECT_FALSE(CompressibleType(type)) << type;
  }
}

Request AcceptingGzip() {
  Request req;
  req.headers.emplace_back("accept-encoding", "gzip");
  return req;
}

Response JsonReply(size_t bytes) {
  Response res;
  res.set_content("[" + std::string(bytes - 2, '1') + "]", "application/json");
  return res;
}

std::string Header(const Response& res, const std::string& name) {
  for (const auto& [key, value] : res.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(ContentCodingTest, CompressesLargeTextRepliesOnly) {
  Response large = JsonReply(4096);
  CompressReply(AcceptingGzip(), large);
  EXPECT_EQ(Header(large, "Content-Encoding"), "gzip");
  EXPECT_LT(large.body.size(), 200u);
  EXPECT_EQ(large.body.substr(0, 2), "\x1f\x8b");

  Response small = JsonReply(kCompressMinBytes - 1);
  CompressReply(AcceptingGzip(), small);
  EXPECT_EQ(Header(small, "Content-Encoding"), "");
  EXPECT_EQ(small.body.size(), kCompressMinBytes - 1);

  Response binary;
  binary.set_content(std::string(4096, 'x'), "application/octet-stream");
  CompressReply(AcceptingGzip(), binary);
  EXPECT_EQ(Header(binary, "Content-Encoding"), "");
  EXPECT_EQ(Header(binary, "Vary"), "");
}

TEST(ContentCodingTest, LeavesRepliesThatChoseTheirOwnRepresentation) {
  // Already encoded (the web UI's precompressed files), or named by a strong
  // ETag that would then name two different bodies.
  Response encoded = JsonReply(4096);
  encoded.set_header("Content-Encoding", "gzip");
  std::string before = encoded.body;
  CompressReply(AcceptingGzip(), encoded);
  EXPECT_EQ(encoded.body, before);

  Response tagged = JsonReply(4096);
  tagged.set_header("ETag", "\"abc\"");
  CompressReply(AcceptingGzip(), tagged);
  EXPECT_EQ(tagged.body, before);
  EXPECT_EQ(Header(tagged, "Content-Encoding"), "");

  // A streamed body is never read into memory to compress it.
  Response streamed;
  streamed.set_content_provider(1 << 20, "text/plain",
                                [](uint64_t, size_t, std::string*) { return false; });
  CompressReply(AcceptingGzip(), streamed);
  EXPECT_EQ(Header(streamed, "Content-Encoding"), "");
}

TEST(ContentCodingTest, VaryNamesAcceptEncodingBesideWhatItNamedBefore) {
  Response res = JsonReply(4096);
  res.set_header("Vary", "Cookie");
  Request identity;
  CompressReply(identity, res);
  EXPECT_EQ(Header(res, "Vary"), "Cookie, Accept-Encoding");
  EXPECT_EQ(Header(res, "Content-Encoding"), "");
}

}  // namespace
}  // namespace slipway::http
