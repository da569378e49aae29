#include "http/json_codec.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "test_util/metric_points.h"

namespace slipway::http {
namespace {

using slipway::testing::Point;

ErrorCode CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& error) {
    return error.code();
  }
  return ErrorCode::kInternalError;
}

TEST(JsonCodecTest, NonFiniteMetricsUseProtoJsonStrings) {
  tracking::MetricPoint point = Point("m", std::nan(""), 1, 2);
  EXPECT_EQ(ToJson(point)["value"], "NaN");
  point.value = INFINITY;
  EXPECT_EQ(ToJson(point)["value"], "Infinity");
  point.value = -INFINITY;
  EXPECT_EQ(ToJson(point)["value"], "-Infinity");
  point.value = 0.25;
  EXPECT_EQ(ToJson(point)["value"], 0.25);
}

TEST(JsonCodecTest, RunOmitsEmptyListsAndEndTimeWhileRunning) {
  tracking::Run run;
  run.info.run_id = "abc";
  Json json = ToJson(run);
  EXPECT_EQ(json["info"]["run_uuid"], "abc");
  EXPECT_FALSE(json["info"].contains("end_time"));
  EXPECT_FALSE(json["data"].contains("metrics"));
}

TEST(JsonCodecTest, FieldsAcceptQueryStringNumbers) {
  Json body = {{"max_results", "25"}, {"value", "NaN"}, {"flag", "true"}};
  RequestFields fields(body);
  EXPECT_EQ(fields.OptionalInt("max_results"), 25);
  EXPECT_TRUE(std::isnan(fields.RequiredDouble("value")));
  EXPECT_EQ(fields.OptionalBool("flag"), true);
}

TEST(JsonCodecTest, ErrorsNameTheField) {
  Json body = {{"metrics", {{{"key", "k"}, {"value", "abc"}}}}, {"run_id", 5}};
  RequestFields fields(body);
  EXPECT_EQ(CodeOf([&] { fields.RequiredString("run_id"); }), ErrorCode::kInvalidParameterValue);
  try {
    fields.ObjectList("metrics")[0].RequiredDouble("value");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'metrics[0].value'"), std::string::npos)
        << error.what();
  }
  try {
    fields.RequiredString("experiment_id");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what())
                  .find("Missing value for required parameter "
                        "'experiment_id'"),
              std::string::npos);
  }
}

TEST(JsonCodecTest, ErrorBodyHasMlflowShape) {
  Json body = Json::parse(ErrorBody("RESOURCE_DOES_NOT_EXIST", "no run"));
  EXPECT_EQ(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(body["message"], "no run");
}

}  // namespace
}  // namespace slipway::http
