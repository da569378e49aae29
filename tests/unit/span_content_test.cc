// The span dictionary writer gives what nlohmann's dump of the same tree
// gives, byte for byte.
#include "tracing/span_content.h"

#include <gtest/gtest.h>

#include <random>

#include "core/base64.h"

namespace slipway::tracing {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The dictionary as an nlohmann tree, as ToMlflowSpan built it before.
std::string Reference(const OtelSpan& otel, const std::string& trace_id) {
  Json attributes = Json::object();
  for (const auto& [key, value] : otel.attributes) {
    if (key == "mlflow.traceRequestId") continue;
    attributes[key] = Dump(value);
  }
  attributes["mlflow.traceRequestId"] = Dump(Json(trace_id));
  Json events = Json::array();
  for (const OtelEvent& event : otel.events) {
    Json attrs = Json::object();
    for (const auto& [key, value] : event.attributes) attrs[key] = value;
    events.push_back(
        {{"name", event.name}, {"time_unix_nano", event.time_ns}, {"attributes", attrs}});
  }
  const char* codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
  Json dict = {
      {"trace_id", Base64Encode(otel.trace_id)},
      {"span_id", Base64Encode(otel.span_id)},
      {"parent_span_id",
       otel.parent_span_id.empty() ? Json(nullptr) : Json(Base64Encode(otel.parent_span_id))},
      {"name", otel.name},
      {"start_time_unix_nano", otel.start_ns},
      {"end_time_unix_nano", otel.end_ns == 0 ? Json(nullptr) : Json(otel.end_ns)},
      {"events", std::move(events)},
      {"status", {{"code", codes[otel.status_code]}, {"message", otel.status_message}}},
      {"attributes", std::move(attributes)},
      {"links", Json::array()},
  };
  return Dump(dict);
}

std::string RandomText(std::mt19937& rng) {
  // ASCII, quotes, escapes, controls, valid and broken UTF-8.
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  " ",
                                                  "\"",
                                                  "\\",
                                                  "/",
                                                  "\n",
                                                  "\t",
                                                  "\r",
                                                  "\b",
                                                  "\f",
                                                  std::string(1, '\0'),
                                                  "\x01",
                                                  "\x1f",
                                                  "\x7f",
                                                  "é",
                                                  "€",
                                                  "😀",
                                                  "\xC3",
                                                  "\x80",
                                                  "\xE2\x82",
                                                  "\xF0\x9F",
                                                  "\xC0\xAF",
                                                  "\xED\xA0\x80",
                                                  "\xF4\x90\x80\x80",
                                                  "\xFF",
                                                  "{\"q\": [1, 2.5, null]}"};
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1), length(0, 12);
  std::string out;
  for (size_t n = length(rng); n > 0; --n) out += pieces[pick(rng)];
  return out;
}

TEST(SpanContentTest, EqualsNlohmannsDumpOfTheSameTree) {
  std::mt19937 rng(20261207);
  for (int round = 0; round < 500; ++round) {
    OtelSpan s;
    s.trace_id = std::string(16, static_cast<char>(round));
    s.span_id = std::string(8, static_cast<char>(round * 7));
    if (round % 3) s.parent_span_id = std::string(8, static_cast<char>(round * 5 + 1));
    s.name = RandomText(rng);
    s.start_ns = 1'700'000'000'000'000'000ull + static_cast<uint64_t>(round);
    s.end_ns = round % 5 ? s.start_ns + 99 : 0;
    s.status_code = round % 3;
    s.status_message = RandomText(rng);
    const int n = round % 7;
    for (int i = 0; i < n; ++i) {
      // Repeated keys (the last wins), the trace id attribute (replaced),
      // and every kind of value.
      const std::string key = i % 4 == 3 ? "mlflow.traceRequestId"
                                         : "k" + std::to_string((round + i) % 5) + RandomText(rng);
      Json value;
      switch ((round + i) % 6) {
        case 0:
          value = RandomText(rng);
          break;
        case 1:
          value = static_cast<int64_t>(round) * -12345;
          break;
        case 2:
          value = round / 7.0;
          break;
        case 3:
          value = round % 2 == 0;
          break;
        case 4:
          value = Json::array({RandomText(rng), 1, nullptr});
          break;
        default:
          value = Json{{"b", RandomText(rng)}, {"a", 2}};
      }
      s.attributes.emplace_back(key, value);
    }
    if (round % 4 == 0) {
      OtelEvent e;
      e.name = RandomText(rng);
      e.time_ns = 42;
      e.attributes = {{"z", RandomText(rng)}, {"a", 1}, {"z", 2.5}};
      s.events.push_back(e);
      s.events.push_back(OtelEvent{"exception", 43, {}});
    }
    const std::string trace_id = "tr-" + std::to_string(round);
    ASSERT_EQ(SpanContent(s, trace_id), Reference(s, trace_id)) << "round " << round;
    ASSERT_FALSE(Json::parse(SpanContent(s, trace_id), nullptr, false).is_discarded());
  }
}

TEST(SpanContentTest, StringsEscapeLikeNlohmann) {
  for (std::string text : {std::string("plain"), std::string("a\"b\\c"), std::string("\x01\x1f"),
                           std::string("\xED\xA0\x80 surrogate"), std::string("ok é €"),
                           std::string("runs\tof \x7f plain\nbytes\b\f\r \"end\"")}) {
    std::string out;
    AppendJsonString(out, text);
    EXPECT_EQ(out, Dump(Json(text))) << text;
  }
}

}  // namespace
}  // namespace slipway::tracing
