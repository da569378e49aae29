#include "http/scoring_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <random>

#include "core/error.h"
#include "http/wire_json.h"

namespace slipway::http {
namespace {

using ml::Column;
using ml::DataType;
using ml::Frame;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

ScoringRequest Json(std::string_view body, const ml::Schema* schema = nullptr) {
  return ParseScoringRequest("application/json", body, schema);
}

ScoringRequest Csv(std::string_view body, const ml::Schema* schema = nullptr) {
  return ParseScoringRequest("text/csv", body, schema);
}

// The error a parse throws: its code and message.
struct Thrown {
  ErrorCode code;
  std::string message;
};

Thrown ErrorOf(std::string_view content_type, std::string_view body,
               const ml::Schema* schema = nullptr) {
  try {
    ParseScoringRequest(content_type, body, schema);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  ADD_FAILURE() << "no error for: " << body;
  return {ErrorCode::kInternalError, ""};
}

Thrown JsonError(std::string_view body) { return ErrorOf("application/json", body); }

void ExpectNumbers(const Column& column, std::vector<double> want) {
  ASSERT_EQ(column.numbers.size(), want.size()) << column.name;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(column.numbers[i])) << column.name << "[" << i << "]";
    } else {
      EXPECT_EQ(column.numbers[i], want[i]) << column.name << "[" << i << "]";
    }
  }
}

// --- dataframe_split -------------------------------------------------------

TEST(ScoringCodecTest, DataframeSplitTypesEachColumn) {
  ScoringRequest r = Json(
      R"({"dataframe_split": {"columns": ["age", "income", "member", "city"],
          "data": [[31, 1.5, true, "Lyon"], [45, 2, false, null]]}})");
  const Frame& f = r.frame;
  ASSERT_EQ(f.rows, 2u);
  ASSERT_EQ(f.columns.size(), 4u);
  EXPECT_EQ(f.columns[0].name, "age");
  EXPECT_EQ(f.columns[0].type, DataType::kLong);
  ExpectNumbers(f.columns[0], {31, 45});
  // An integer after a float keeps the column double, as pandas does.
  EXPECT_EQ(f.columns[1].type, DataType::kDouble);
  ExpectNumbers(f.columns[1], {1.5, 2});
  EXPECT_EQ(f.columns[2].type, DataType::kBoolean);
  ExpectNumbers(f.columns[2], {1, 0});
  EXPECT_EQ(f.columns[3].type, DataType::kString);
  EXPECT_EQ(f.columns[3].strings, (std::vector<std::string>{"Lyon", ""}));
  EXPECT_EQ(f.columns[3].missing, (std::vector<uint8_t>{0, 1}));
  EXPECT_TRUE(r.params_json.empty());
  for (const Column& c : f.columns) EXPECT_EQ(c.width, 1u);
}

TEST(ScoringCodecTest, DataframeSplitDataBeforeColumnsAndIndex) {
  ScoringRequest r = Json(
      R"({"dataframe_split": {"data": [[1, "a"], [2, "b"]], "index": [7, 8], "columns": ["x", "y"]}})");
  ASSERT_EQ(r.frame.columns.size(), 2u);
  EXPECT_EQ(r.frame.columns[0].name, "x");
  EXPECT_EQ(r.frame.columns[1].name, "y");
  EXPECT_EQ(r.frame.rows, 2u);
}

TEST(ScoringCodecTest, DataframeSplitWithoutColumnsIsPositional) {
  ScoringRequest r = Json(R"({"dataframe_split": {"data": [[1, 2], [3, 4]]}})");
  ASSERT_EQ(r.frame.columns.size(), 2u);
  EXPECT_EQ(r.frame.columns[0].name, "");
  ExpectNumbers(r.frame.columns[1], {2, 4});
}

TEST(ScoringCodecTest, DataframeSplitEmptyDataKeepsColumns) {
  ScoringRequest r = Json(R"({"dataframe_split": {"columns": ["a", "b"], "data": []}})");
  EXPECT_EQ(r.frame.rows, 0u);
  ASSERT_EQ(r.frame.columns.size(), 2u);
  EXPECT_EQ(r.frame.columns[1].name, "b");
}

TEST(ScoringCodecTest, DataframeSplitListCellsMakeATensorColumn) {
  ScoringRequest r =
      Json(R"({"dataframe_split": {"columns": ["img"], "data": [[[1, 2, 3]], [[4, 5, 6]]]}})");
  ASSERT_EQ(r.frame.columns.size(), 1u);
  EXPECT_EQ(r.frame.columns[0].width, 3u);
  ExpectNumbers(r.frame.columns[0], {1, 2, 3, 4, 5, 6});
  Thrown e =
      JsonError(R"({"dataframe_split": {"columns": ["img"], "data": [[[1, 2, 3]], [[4, 5]]]}})");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_NE(e.message.find("dataframe_split.data[1][0]"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("[2]"), std::string::npos) << e.message;
}

TEST(ScoringCodecTest, RaggedRowsNameTheRow) {
  Thrown e = JsonError(R"({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}})");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_split.data[1] has 1 values, but there are 2 columns");
  e = JsonError(R"({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, 3]]}})");
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_split.data[0] has more than 2 values (one per column)");
  e = JsonError(R"({"dataframe_split": {"data": [[1, 2], [3, 4, 5]]}})");
  EXPECT_NE(e.message.find("dataframe_split.data[1] has more than 2 values"), std::string::npos)
      << e.message;
  // Columns given after the data are checked at the end.
  e = JsonError(R"({"dataframe_split": {"data": [[1, 2]], "columns": ["a", "b", "c"]}})");
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_split.columns names 3 columns, but the rows of "
            "dataframe_split.data have 2 values");
}

TEST(ScoringCodecTest, MixedTypesInAColumnNameRowAndColumn) {
  Thrown e =
      JsonError(R"({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, "x"]]}})");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_split.data[1][1]: column 'b' mixes types: a string here, but "
            "a number in row 0");
  // Columns named after the data cannot be named in the message.
  e = JsonError(R"({"dataframe_split": {"data": [[1, 2], [3, "x"]], "columns": ["a", "b"]}})");
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_split.data[1][1]: column 1 mixes types: a string here, but "
            "a number in row 0");
  e = JsonError(R"({"dataframe_records": [{"a": true}, {"a": 2}]})");
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_records[1]['a']: column 'a' mixes types: a number here, but "
            "a boolean in row 0");
}

TEST(ScoringCodecTest, DataframeSplitShapeErrorsUseMlflowWording) {
  Thrown e = JsonError(R"({"dataframe_split": [[1]]})");
  EXPECT_EQ(e.message, "Invalid input. Dataframe split format must be a dictionary. Got list.");
  e = JsonError(R"({"dataframe_split": {"columns": ["a"]}})");
  EXPECT_EQ(e.message,
            "Invalid input. Dataframe split format must have 'data' field and optionally "
            "'columns' and 'index' fields. Got {'columns'}.");
  e = JsonError(R"({"dataframe_split": {"data": [[1]], "extra": 1}})");
  EXPECT_NE(e.message.find("Got {'data', 'extra'}"), std::string::npos) << e.message;
  e = JsonError(R"({"dataframe_split": {"data": [[1], [2]], "index": [0]}})");
  EXPECT_EQ(
      e.message,
      "Invalid input. dataframe_split.index has 1 entries, but dataframe_split.data has 2 rows");
}

// --- dataframe_records -----------------------------------------------------

TEST(ScoringCodecTest, DataframeRecordsUnionOfKeysWithGaps) {
  ScoringRequest r =
      Json(R"({"dataframe_records": [{"a": 1, "b": "x"}, {"b": "y", "c": 2.5}, {"a": 3}]})");
  const Frame& f = r.frame;
  ASSERT_EQ(f.rows, 3u);
  ASSERT_EQ(f.columns.size(), 3u);
  EXPECT_EQ(f.columns[0].name, "a");
  EXPECT_EQ(f.columns[0].type, DataType::kLong);
  ExpectNumbers(f.columns[0], {1, kNaN, 3});
  EXPECT_EQ(f.columns[1].name, "b");
  EXPECT_EQ(f.columns[1].strings, (std::vector<std::string>{"x", "y", ""}));
  EXPECT_EQ(f.columns[1].missing, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(f.columns[2].name, "c");
  EXPECT_EQ(f.columns[2].type, DataType::kDouble);
  ExpectNumbers(f.columns[2], {kNaN, 2.5, kNaN});
}

TEST(ScoringCodecTest, DataframeRecordsRepeatedKeyLastWins) {
  ScoringRequest r = Json(R"({"dataframe_records": [{"a": 1, "a": 2}, {"a": 3}]})");
  ExpectNumbers(r.frame.columns.at(0), {2, 3});
}

TEST(ScoringCodecTest, DataframeRecordsObjectCellIsJsonText) {
  ScoringRequest r = Json(R"({"dataframe_records": [{"m": {"k": [1, 2]}}, {"m": null}]})");
  const Column& m = r.frame.columns.at(0);
  EXPECT_EQ(m.type, DataType::kJson);
  EXPECT_EQ(m.strings[0], R"({"k": [1, 2]})");
  EXPECT_EQ(m.missing, (std::vector<uint8_t>{0, 1}));
}

TEST(ScoringCodecTest, DataframeRecordsMustBeAList) {
  Thrown e = JsonError(R"({"dataframe_records": {"a": [1]}})");
  EXPECT_EQ(e.message,
            "Invalid input. Dataframe records format must be a list of records. Got dictionary.");
  e = JsonError(R"({"dataframe_records": [{"a": 1}, 5]})");
  EXPECT_EQ(e.message,
            "Invalid input. dataframe_records[1] is not a record (an object), but "
            "dataframe_records[0] is");
}

// --- instances and inputs --------------------------------------------------

TEST(ScoringCodecTest, InputsListOfListsIsOneTensorColumn) {
  ScoringRequest r = Json(R"({"inputs": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]})");
  ASSERT_EQ(r.frame.columns.size(), 1u);
  EXPECT_EQ(r.frame.rows, 2u);
  EXPECT_EQ(r.frame.columns[0].width, 3u);
  EXPECT_EQ(r.frame.columns[0].type, DataType::kDouble);
  ExpectNumbers(r.frame.columns[0], {1, 2, 3, 4, 5, 6});
}

TEST(ScoringCodecTest, InputsDeeperNestingIsFlattenedRowMajor) {
  ScoringRequest r =
      Json(R"({"inputs": [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]})");
  EXPECT_EQ(r.frame.rows, 3u);
  EXPECT_EQ(r.frame.columns[0].width, 4u);
  EXPECT_EQ(r.frame.columns[0].numbers.back(), 12);
  Thrown e = JsonError(R"({"inputs": [[1, 2], [3, [4]]]})");
  EXPECT_EQ(e.message,
            "Invalid input. inputs[1][1]: a list nested 3 deep, where the values are 2 deep "
            "(ragged nested lists)");
  e = JsonError(R"({"inputs": [[1, 2], 3]})");
  EXPECT_EQ(e.message,
            "Invalid input. inputs[1]: a value nested 1 lists deep, where the others are 2 deep "
            "(ragged nested lists)");
  e = JsonError(R"({"inputs": {"a": {"x": 1}}})");
  EXPECT_EQ(
      e.message,
      "Invalid input. inputs['a']: an object where numbers, booleans or strings are expected");
  e = JsonError(R"({"inputs": [[1, 2], [3]]})");
  EXPECT_EQ(
      e.message,
      "Invalid input. inputs[1]: a list of 1 values where the other lists at this depth have 2 "
      "(ragged nested lists)");
}

TEST(ScoringCodecTest, InputsFloatListsReadTheSameInOneCallOrValueByValue) {
  // Innermost lists after the first of a float tensor are read in one call
  // when they hold plain numbers; a literal, a null, a wrong length or a
  // wrong type sends them value by value, with the same values or the error.
  ScoringRequest r = Json(R"({"inputs": [[[1.5, 2], [3, 4]], [[5, 6], [7, null]],
                                         [[NaN, 10], [11, 12.25]], [[-0.5, 1e-3], [ 2 , 3 ]]]})");
  EXPECT_EQ(r.frame.rows, 4u);
  ASSERT_EQ(r.frame.columns.size(), 1u);
  EXPECT_EQ(r.frame.columns[0].width, 4u);
  EXPECT_EQ(r.frame.columns[0].type, DataType::kDouble);
  ExpectNumbers(r.frame.columns[0],
                {1.5, 2, 3, 4, 5, 6, 7, kNaN, kNaN, 10, 11, 12.25, -0.5, 1e-3, 2, 3});
  Thrown e = JsonError(R"({"inputs": [[1.5, 2.5], [3.5, 4.5, 5.5]]})");
  EXPECT_EQ(
      e.message,
      "Invalid input. inputs[1]: a list of 3 values where the other lists at this depth have 2 "
      "(ragged nested lists)");
  e = JsonError(R"({"inputs": [[1.5, 2.5], [3.5, [4.5]]]})");
  EXPECT_EQ(e.message,
            "Invalid input. inputs[1][1]: a list nested 3 deep, where the values are 2 deep "
            "(ragged nested lists)");
  e = JsonError(R"({"inputs": [[1.5, 2.5], [3.5, "x"]]})");
  EXPECT_NE(e.message.find("inputs[1][1]"), std::string::npos) << e.message;
}

TEST(ScoringCodecTest, InputsListOfScalarsTakesTheSchemasSingleName) {
  ml::Schema schema;
  schema.columns.push_back({"text", DataType::kString, true});
  ScoringRequest r = Json(R"({"inputs": ["a", "b"]})", &schema);
  ASSERT_EQ(r.frame.columns.size(), 1u);
  EXPECT_EQ(r.frame.columns[0].name, "text");
  EXPECT_EQ(r.frame.rows, 2u);
  EXPECT_EQ(r.frame.columns[0].strings, (std::vector<std::string>{"a", "b"}));
  ScoringRequest unnamed = Json(R"({"inputs": ["a", "b"]})");
  EXPECT_EQ(unnamed.frame.columns[0].name, "");
}

TEST(ScoringCodecTest, InputsDictOfColumnsAndTensors) {
  ScoringRequest r =
      Json(R"({"inputs": {"a": [1, 2], "b": [[1.5, 2.5], [3.5, 4.5]], "c": ["x", "y"]}})");
  const Frame& f = r.frame;
  ASSERT_EQ(f.rows, 2u);
  ASSERT_EQ(f.columns.size(), 3u);
  EXPECT_EQ(f.columns[0].name, "a");
  EXPECT_EQ(f.columns[0].width, 1u);
  EXPECT_EQ(f.columns[1].name, "b");
  EXPECT_EQ(f.columns[1].width, 2u);
  ExpectNumbers(f.columns[1], {1.5, 2.5, 3.5, 4.5});
  EXPECT_EQ(f.columns[2].type, DataType::kString);
  Thrown e = JsonError(R"({"inputs": {"a": [1, 2], "b": [1, 2, 3]}})");
  EXPECT_EQ(e.message,
            "Invalid input. The length of values for each input/column name are not the same: "
            "inputs['b'] has 3, but inputs['a'] has 2");
}

TEST(ScoringCodecTest, InputsScalarIsOneRow) {
  ScoringRequest r = Json(R"({"inputs": {"a": 5, "b": "x"}})");
  EXPECT_EQ(r.frame.rows, 1u);
  ExpectNumbers(r.frame.columns[0], {5});
  r = Json(R"({"inputs": 3.5})");
  EXPECT_EQ(r.frame.rows, 1u);
  ExpectNumbers(r.frame.columns[0], {3.5});
}

TEST(ScoringCodecTest, InstancesRecordsWithTensorCells) {
  ScoringRequest r = Json(R"({"instances": [{"a": [1, 2], "b": "x"}, {"a": [3, 4], "b": "y"}]})");
  const Frame& f = r.frame;
  ASSERT_EQ(f.rows, 2u);
  EXPECT_EQ(f.columns[0].width, 2u);
  ExpectNumbers(f.columns[0], {1, 2, 3, 4});
  EXPECT_EQ(f.columns[1].strings, (std::vector<std::string>{"x", "y"}));
  Thrown e = JsonError(R"({"instances": [{"a": [1, 2]}, {"a": 3}]})");
  EXPECT_EQ(e.message,
            "Invalid input. instances[1]['a']: column 'a' holds lists, but this value is not one");
  ScoringRequest list = Json(R"({"instances": [1, 2, 3]})");
  EXPECT_EQ(list.frame.rows, 3u);
}

// --- the envelope ----------------------------------------------------------

TEST(ScoringCodecTest, ParamsAreKeptAsText) {
  ScoringRequest r = Json(R"({"params": {"k": [1, 2], "t": 0.5}, "inputs": [1]})");
  EXPECT_EQ(r.params_json, R"({"k": [1, 2], "t": 0.5})");
  r = Json(R"({"inputs": [1], "params": null})");
  EXPECT_EQ(r.params_json, "");
  Thrown e = JsonError(R"({"inputs": [1], "params": [1]})");
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  EXPECT_NE(e.message.find("'params' must be a JSON object"), std::string::npos);
}

TEST(ScoringCodecTest, ExactlyOneFormat) {
  Thrown e = JsonError(R"({"dataframe_split": {"data": [[1]]}, "inputs": [1]})");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message,
            "The input must be a JSON dictionary with exactly one of the input fields "
            "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}. Received dictionary "
            "with input fields: ['dataframe_split', 'inputs'].");
  e = JsonError(R"({"data": [1]})");
  EXPECT_NE(e.message.find("Received dictionary with input fields: ['data']."), std::string::npos);
  e = JsonError(R"([1, 2])");
  EXPECT_NE(e.message.find("Received a list."), std::string::npos);
  e = JsonError(R"({"messages": [{"role": "user"}]})");
  EXPECT_NE(e.message.find("unwrapped LLM input"), std::string::npos);
}

TEST(ScoringCodecTest, OtherKeysAreIgnored) {
  ScoringRequest r = Json(R"({"meta": {"x": [1, {"y": null}]}, "inputs": [1, 2]})");
  EXPECT_EQ(r.frame.rows, 2u);
}

TEST(ScoringCodecTest, MalformedJsonNamesLineColumnAndByte) {
  Thrown e = JsonError("{\"inputs\": [1, 2,\n  ]}");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(
      e.message,
      "Invalid input. malformed JSON at line 2, column 3 (byte 20): expected a value after ','");
  e = JsonError(R"({"dataframe_split": {"columns": ["a"], "data": [[1)");
  EXPECT_EQ(
      e.message,
      "Invalid input. malformed JSON at line 1, column 51 (byte 50): unexpected end of input, "
      "expected ',' or ']'");
  e = JsonError(R"({"inputs": [1]} x)");
  EXPECT_NE(e.message.find("(byte 16): extra data after the JSON value"), std::string::npos)
      << e.message;
  e = JsonError(R"({"inputs": [01]})");
  EXPECT_NE(e.message.find("leading zeros"), std::string::npos);
  e = JsonError("{\"inputs\": [\"a\x01\"]}");
  EXPECT_NE(e.message.find("invalid control character"), std::string::npos);
  e = JsonError("{\"inputs\": [\"\xC3\x28\"]}");
  EXPECT_NE(e.message.find("invalid UTF-8"), std::string::npos);
  e = JsonError(R"({"inputs": ["\ud800"]})");
  EXPECT_NE(e.message.find("unpaired UTF-16 surrogate"), std::string::npos);
  e = JsonError(R"({'inputs': [1]})");
  EXPECT_NE(e.message.find("expected a property name in double quotes"), std::string::npos);
  e = JsonError("");
  EXPECT_NE(e.message.find("unexpected end of input"), std::string::npos);
}

TEST(ScoringCodecTest, DeepNestingIsRefusedNotRecursedInto) {
  std::string body = "{\"inputs\": " + std::string(100000, '[');
  Thrown e = JsonError(body);
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_NE(e.message.find("nesting deeper than"), std::string::npos) << e.message;
}

TEST(ScoringCodecTest, EscapesAndByteOrderMark) {
  ScoringRequest r = Json("\xEF\xBB\xBF{\"inputs\": [\"a\\n\\\"b\\u00e9\\ud83d\\ude00\"]}");
  EXPECT_EQ(r.frame.columns[0].strings[0], "a\n\"b\xC3\xA9\xF0\x9F\x98\x80");
}

// --- NaN and infinities ----------------------------------------------------

TEST(ScoringCodecTest, PythonNanAndInfinityLiteralsAreAccepted) {
  ScoringRequest r = Json(
      R"({"dataframe_split": {"columns": ["a", "b"], "data": [[NaN, Infinity], [1.5, -Infinity]]}})");
  const Frame& f = r.frame;
  EXPECT_EQ(f.columns[0].type, DataType::kDouble);
  ExpectNumbers(f.columns[0], {kNaN, 1.5});
  ExpectNumbers(f.columns[1], {std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity()});
  // NaN is a missing value: it does not change an integer column's type.
  r = Json(R"({"dataframe_records": [{"n": 1}, {"n": NaN}, {"n": null}]})");
  EXPECT_EQ(r.frame.columns[0].type, DataType::kLong);
  ExpectNumbers(r.frame.columns[0], {1, kNaN, kNaN});
  // ... and is a missing string in a string column.
  r = Json(R"({"inputs": {"s": ["x", NaN]}})");
  EXPECT_EQ(r.frame.columns[0].missing, (std::vector<uint8_t>{0, 1}));
  // Other spellings are not JSON.
  Thrown e = JsonError(R"({"inputs": [nan]})");
  EXPECT_NE(e.message.find("expected a value"), std::string::npos) << e.message;
  e = JsonError(R"({"inputs": [-NaN]})");
  EXPECT_NE(e.message.find("expected a number"), std::string::npos) << e.message;
  // Overflowing literals become infinite, as Python's float() makes them.
  r = Json(R"({"inputs": [1e400, -1e400, 1e-400]})");
  ExpectNumbers(r.frame.columns[0], {std::numeric_limits<double>::infinity(),
                                     -std::numeric_limits<double>::infinity(), 0});
}

TEST(ScoringCodecTest, AllMissingColumnTakesItsTypeFromTheSchema) {
  ml::Schema schema;
  schema.columns.push_back({"s", DataType::kString, true});
  schema.columns.push_back({"d", DataType::kDouble, true});
  ScoringRequest r = Json(R"({"dataframe_records": [{"s": null, "d": null}]})", &schema);
  EXPECT_EQ(r.frame.columns[0].type, DataType::kString);
  EXPECT_EQ(r.frame.columns[0].missing, (std::vector<uint8_t>{1}));
  EXPECT_EQ(r.frame.columns[1].type, DataType::kDouble);
  ExpectNumbers(r.frame.columns[1], {kNaN});
  r = Json(R"({"dataframe_records": [{"s": null}]})");
  EXPECT_EQ(r.frame.columns[0].type, DataType::kDouble);
}

TEST(ScoringCodecTest, LeadingMissingValuesAreBackfilled) {
  ScoringRequest r = Json(R"({"inputs": {"s": [null, null, "z"], "n": [null, 2, 3]}})");
  EXPECT_EQ(r.frame.columns[0].type, DataType::kString);
  EXPECT_EQ(r.frame.columns[0].strings, (std::vector<std::string>{"", "", "z"}));
  EXPECT_EQ(r.frame.columns[0].missing, (std::vector<uint8_t>{1, 1, 0}));
  ExpectNumbers(r.frame.columns[1], {kNaN, 2, 3});
}

TEST(ScoringCodecTest, HugeIntegersBecomeDoubles) {
  ScoringRequest r = Json(R"({"inputs": [9223372036854775807, 99999999999999999999]})");
  EXPECT_EQ(r.frame.columns[0].type, DataType::kDouble);
  EXPECT_EQ(r.frame.columns[0].numbers[1], 1e20);
}

// --- with the signature check that follows the parse ----------------------

TEST(ScoringCodecTest, ParsedFramesConformToSignatures) {
  ml::Schema columns;
  columns.columns.push_back({"age", DataType::kLong, true});
  columns.columns.push_back({"income", DataType::kDouble, true});
  // Columns by name, in the schema's order; an integer widens to double.
  Frame f = ml::ConformToSchema(
      columns,
      Json(R"({"dataframe_records": [{"income": 3, "age": 40, "x": "drop"}]})", &columns).frame);
  ASSERT_EQ(f.columns.size(), 2u);
  EXPECT_EQ(f.columns[0].name, "age");
  EXPECT_EQ(f.columns[1].type, DataType::kDouble);
  // A gap in an integer column stays long, so the check names the row.
  try {
    ml::ConformToSchema(
        columns,
        Json(
            R"({"dataframe_split": {"columns": ["age", "income"], "data": [[1, 2.0], [null, 3.0]]}})",
            &columns)
            .frame);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
  ml::Schema tensor;
  tensor.tensors.push_back({"x", DataType::kFloat, {-1, 2}});
  f = ml::ConformToSchema(tensor, Json(R"({"inputs": [[1.0, 2.0], [3.0, 4.0]]})", &tensor).frame);
  ASSERT_EQ(f.columns.size(), 1u);
  EXPECT_EQ(f.columns[0].name, "x");
  EXPECT_EQ(f.columns[0].width, 2u);
}

// --- content types ---------------------------------------------------------

TEST(ScoringCodecTest, ContentTypes) {
  EXPECT_EQ(ParseScoringRequest("application/json; charset=utf-8", R"({"inputs": [1]})", nullptr)
                .frame.rows,
            1u);
  EXPECT_EQ(ParseScoringRequest("Application/JSON;charset=\"UTF-8\"", R"({"inputs": [1]})", nullptr)
                .frame.rows,
            1u);
  Thrown e = ErrorOf("text/plain", "x");
  EXPECT_EQ(e.code, ErrorCode::kUnsupportedMediaType);
  EXPECT_EQ(e.message,
            "This predictor only supports the following content types: application/json, "
            "text/csv. Got 'text/plain'.");
  e = ErrorOf("", "{}");
  EXPECT_EQ(e.code, ErrorCode::kUnsupportedMediaType);
  e = ErrorOf("application/vnd.apache.parquet", "PAR1");
  EXPECT_EQ(e.code, ErrorCode::kUnsupportedMediaType);
  e = ErrorOf("application/json; charset=latin-1", "{}");
  EXPECT_EQ(e.code, ErrorCode::kUnsupportedMediaType);
  EXPECT_NE(e.message.find("only supports UTF-8"), std::string::npos);
  e = ErrorOf("application/json; format=pandas-split", "{}");
  EXPECT_EQ(e.code, ErrorCode::kUnsupportedMediaType);
  EXPECT_NE(e.message.find("Unrecognized content type parameters: format"), std::string::npos);
}

// --- CSV -------------------------------------------------------------------

TEST(ScoringCodecTest, CsvTypesColumnsAsPandasDoes) {
  // Expected types and values are what pandas.read_csv gives for this body.
  ScoringRequest r =
      Csv("i,f,b,s,e,mixed\n"
          " 1, 2.5,true,x,,1.5\n"
          "2 ,3,False,\"y,z\",NA,abc\n"
          "-3,1e3,TRUE,,,\n");
  const Frame& f = r.frame;
  ASSERT_EQ(f.rows, 3u);
  ASSERT_EQ(f.columns.size(), 6u);
  EXPECT_EQ(f.columns[0].type, DataType::kLong);
  ExpectNumbers(f.columns[0], {1, 2, -3});
  EXPECT_EQ(f.columns[1].type, DataType::kDouble);
  ExpectNumbers(f.columns[1], {2.5, 3, 1000});
  EXPECT_EQ(f.columns[2].type, DataType::kBoolean);
  ExpectNumbers(f.columns[2], {1, 0, 1});
  EXPECT_EQ(f.columns[3].type, DataType::kString);
  EXPECT_EQ(f.columns[3].strings, (std::vector<std::string>{"x", "y,z", ""}));
  EXPECT_EQ(f.columns[3].missing, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(f.columns[4].type, DataType::kDouble);
  ExpectNumbers(f.columns[4], {kNaN, kNaN, kNaN});
  // Numbers and text in one column: pandas keeps every value as text.
  EXPECT_EQ(f.columns[5].type, DataType::kString);
  EXPECT_EQ(f.columns[5].strings[0], "1.5");
  EXPECT_EQ(f.columns[5].missing, (std::vector<uint8_t>{0, 0, 1}));
}

TEST(ScoringCodecTest, CsvHeaderNamesShortRowsBlankLinesAndIndex) {
  ScoringRequest r = Csv("a,,a\r\n1,2,3\r\n\r\n4\r\n");
  const Frame& f = r.frame;
  ASSERT_EQ(f.columns.size(), 3u);
  EXPECT_EQ(f.columns[0].name, "a");
  EXPECT_EQ(f.columns[1].name, "Unnamed: 1");
  EXPECT_EQ(f.columns[2].name, "a.1");
  ASSERT_EQ(f.rows, 2u);
  ExpectNumbers(f.columns[1], {2, kNaN});
  // One field more than the header in the first row: the first is the index.
  r = Csv("a,b\n0,1,2\n1,3,4\n");
  ASSERT_EQ(r.frame.columns.size(), 2u);
  ExpectNumbers(r.frame.columns[0], {1, 3});
  ExpectNumbers(r.frame.columns[1], {2, 4});
}

TEST(ScoringCodecTest, CsvSchemaKeepsTextColumnsAsText) {
  ml::Schema schema;
  schema.columns.push_back({"zip", DataType::kString, true});
  schema.columns.push_back({"n", DataType::kLong, true});
  ScoringRequest r = Csv("zip,n\n01234,5\n", &schema);
  EXPECT_EQ(r.frame.columns[0].type, DataType::kString);
  EXPECT_EQ(r.frame.columns[0].strings[0], "01234");
  EXPECT_EQ(r.frame.columns[1].type, DataType::kLong);
}

TEST(ScoringCodecTest, CsvErrors) {
  Thrown e = ErrorOf("text/csv", "");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_NE(e.message.find("No columns to parse from file"), std::string::npos);
  e = ErrorOf("text/csv", "a,b\n1,2\n3,4,5,6\n");
  EXPECT_NE(e.message.find("Expected 2 fields in line 3, saw 4"), std::string::npos) << e.message;
  e = ErrorOf("text/csv", "a\n\"open\n");
  EXPECT_NE(e.message.find("EOF inside string starting at line 2"), std::string::npos) << e.message;
  e = ErrorOf("text/csv", "a\n\xFF\n");
  EXPECT_NE(e.message.find("UTF-8"), std::string::npos);
  EXPECT_NE(e.message.find("offset 2"), std::string::npos) << e.message;
}

// --- writing ---------------------------------------------------------------

Column Numbers(std::string name, DataType type, std::vector<double> values, size_t width = 1) {
  Column c;
  c.name = std::move(name);
  c.type = type;
  c.width = width;
  c.numbers = std::move(values);
  return c;
}

TEST(ScoringCodecTest, WritesVectorLikeMlflow) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kVector;
  p.frame.rows = 5;
  p.frame.columns.push_back(Numbers("", DataType::kDouble, {0.1, 1.0, 1e-5, kNaN, -1e16}));
  // json.dumps({"predictions": [0.1, 1.0, 1e-05, float("nan"), -1e16]})
  EXPECT_EQ(WriteScoringResponse(p), R"({"predictions": [0.1, 1.0, 1e-05, NaN, -1e+16]})");
}

TEST(ScoringCodecTest, WritesMatrixLikeMlflow) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kMatrix;
  p.frame.rows = 2;
  p.frame.columns.push_back(Numbers("", DataType::kFloat, {0.25, 0.75, 0.5, 0.5}, 2));
  EXPECT_EQ(WriteScoringResponse(p), R"({"predictions": [[0.25, 0.75], [0.5, 0.5]]})");
  // A float32 value is written as the double it widens to, as numpy's
  // tolist() gives it to json.dumps.
  p.frame.columns[0].numbers = {static_cast<double>(0.1f), 1, 2, 3};
  EXPECT_EQ(WriteScoringResponse(p),
            R"({"predictions": [[0.10000000149011612, 1.0], [2.0, 3.0]]})");
}

TEST(ScoringCodecTest, WritesRecordsLikeMlflow) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kRecords;
  p.frame.rows = 2;
  p.frame.columns.push_back(Numbers("label", DataType::kLong, {1, kNaN}));
  p.frame.columns.push_back(Numbers("ok", DataType::kBoolean, {1, 0}));
  Column s;
  s.name = "name\u00e9";
  s.type = DataType::kString;
  s.strings = {"caf\xC3\xA9 \"x\"\n\x7F", ""};
  s.missing = {0, 1};
  p.frame.columns.push_back(s);
  Column j;
  j.name = "extra";
  j.type = DataType::kJson;
  j.strings = {R"({"a": [1, 2]})", "[]"};
  p.frame.columns.push_back(j);
  // json.dumps({"predictions": [{"label": 1, "ok": True, "nameé": 'café "x"\n\x7f',
  //   "extra": {"a": [1, 2]}}, {"label": float("nan"), "ok": False, "nameé": None, "extra": []}]})
  EXPECT_EQ(
      WriteScoringResponse(p),
      R"({"predictions": [{"label": 1, "ok": true, "name\u00e9": "caf\u00e9 \"x\"\n\u007f", )"
      R"("extra": {"a": [1, 2]}}, {"label": NaN, "ok": false, "name\u00e9": null, "extra": []}]})");
}

TEST(ScoringCodecTest, WritesStringsBinaryAndDatetimes) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kVector;
  p.frame.rows = 2;
  Column s;
  s.type = DataType::kString;
  s.strings = {"\xF0\x9F\x98\x80", "\xFF"};
  p.frame.columns.push_back(s);
  EXPECT_EQ(WriteScoringResponse(p), R"({"predictions": ["\ud83d\ude00", "\ufffd"]})");
  Column b;
  b.type = DataType::kBinary;
  b.strings = {"hello", std::string(60, 'x')};
  p.frame.columns = {b};
  // base64.encodebytes, newlines included.
  EXPECT_EQ(
      WriteScoringResponse(p),
      R"({"predictions": ["aGVsbG8=\n", )"
      R"("eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\neHh4\n"]})");
  p.frame.columns = {Numbers("", DataType::kDatetime, {1700000000, 86400.25})};
  EXPECT_EQ(WriteScoringResponse(p),
            R"({"predictions": ["2023-11-14T22:13:20", "1970-01-02T00:00:00.250000"]})");
}

TEST(ScoringCodecTest, WritesEmptyPredictions) {
  ml::Predictions p;
  EXPECT_EQ(WriteScoringResponse(p), R"({"predictions": []})");
}

TEST(ScoringCodecTest, PythonFloatReprMatchesPython) {
  // Each pair is (value, Python's repr(value)).
  const std::pair<double, const char*> cases[] = {
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1.0, "1.0"},
      {0.1, "0.1"},
      {1e16, "1e+16"},
      {1234567890123456.0, "1234567890123456.0"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1.5e300, "1.5e+300"},
      {5e-324, "5e-324"},
      {123.456, "123.456"},
      {1e22, "1e+22"},
      {2.5e-7, "2.5e-07"},
      {std::numeric_limits<double>::infinity(), "Infinity"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
      {0.30000000000000004, "0.30000000000000004"},
  };
  for (const auto& [value, want] : cases) {
    std::string out;
    AppendPythonFloat(out, value);
    EXPECT_EQ(out, want);
  }
}

TEST(ScoringCodecTest, RoundTripThroughTheWriter) {
  // Write predictions, then read them back as `inputs`: the same numbers.
  ml::Predictions p;
  p.layout = ml::OutputLayout::kMatrix;
  p.frame.rows = 2;
  p.frame.columns.push_back(
      Numbers("", DataType::kDouble, {0.1, 1.0 / 3.0, 1e-300, -2.5e17, 6.02214076e23, 1e-5}, 3));
  std::string written = WriteScoringResponse(p);
  std::string body = "{\"inputs\": " + written.substr(16, written.size() - 17) + "}";
  ScoringRequest r = Json(body);
  EXPECT_EQ(r.frame.rows, 2u);
  EXPECT_EQ(r.frame.columns[0].width, 3u);
  EXPECT_EQ(r.frame.columns[0].numbers, p.frame.columns[0].numbers);
}

TEST(ScoringCodecTest, NumbersReadExactlyAsFromChars) {
  // The scanner takes short numbers without from_chars (one exact
  // multiplication or division); every spelling must still give the same
  // double as from_chars, to the bit, and integers stay integers.
  std::mt19937_64 rng(20261206);
  std::uniform_real_distribution<double> mantissa(-10, 10);
  std::uniform_int_distribution<int> exponent(-30, 30), digits(1, 19);
  std::vector<std::string> texts = {"0",
                                    "-0",
                                    "0.0",
                                    "-0.0",
                                    "1e22",
                                    "1e23",
                                    "9007199254740993.0",
                                    "0.1",
                                    "1E-22",
                                    "123456789012345678",
                                    "1234567890123456789",
                                    "0.0000000000000000000001234",
                                    "1.7976931348623157e308",
                                    "4.9e-324",
                                    "2.2250738585072014e-308",
                                    "12345678901234567890e-5"};
  char buffer[64];
  for (int i = 0; i < 20000; ++i) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits(rng),
                  mantissa(rng) * std::pow(10.0, exponent(rng)));
    texts.emplace_back(buffer);
    std::snprintf(buffer, sizeof buffer, "%.*f", digits(rng) % 10, mantissa(rng));
    texts.emplace_back(buffer);
  }
  for (const std::string& text : texts) {
    slipway::http::JsonScanner scanner(text, "");
    const auto number = scanner.ReadNumber();
    int64_t as_int = 0;
    const bool integer =
        text.find_first_of(".eE") == std::string::npos &&
        std::from_chars(text.data(), text.data() + text.size(), as_int).ec == std::errc();
    ASSERT_EQ(number.integer, integer) << text;
    if (number.integer) {  // Python's int: "-0" is 0
      ASSERT_EQ(number.int_value, std::stoll(text)) << text;
      ASSERT_EQ(number.value, static_cast<double>(number.int_value)) << text;
      continue;
    }
    double expected = 0;
    std::from_chars(text.data(), text.data() + text.size(), expected);
    ASSERT_EQ(std::signbit(number.value), std::signbit(expected)) << text;
    ASSERT_EQ(number.value, expected) << text;
  }
  // The list fast path (rows of numeric tables) gives the same doubles, to
  // the bit, for every number it takes; the ones it leaves go the general
  // way. It must take the short ones clients send.
  size_t taken = 0;
  for (const std::string& text : texts) {
    const std::string list = "[" + text + ", " + text + "]";
    slipway::http::JsonScanner general(text, "");
    const double want = general.ReadNumber().value;
    slipway::http::JsonScanner fast(list, "");
    double got[2];
    if (!fast.TryReadNumberList(got, 2)) continue;
    ++taken;
    fast.ExpectEnd();
    ASSERT_EQ(std::signbit(got[0]), std::signbit(want)) << text;
    ASSERT_EQ(got[0], want) << text;
    ASSERT_EQ(got[1], want) << text;
  }
  EXPECT_GT(taken, texts.size() / 2);
}

TEST(ScoringCodecTest, NumberListReadsDigitRunsOfEveryLengthAndPlace) {
  // Digits are read eight bytes at a time where eight bytes are left, one at
  // a time near the end of the text: every run length (1 to 19 digits, on
  // either side of the point) at every distance from the end must read the
  // same double as from_chars.
  std::mt19937_64 rng(7);
  for (int before = 1; before <= 19; ++before) {
    for (int after = 0; before + after <= 19; ++after) {
      std::string number = (rng() & 1) ? "-" : "";
      number += static_cast<char>('1' + rng() % 9);
      for (int i = 1; i < before; ++i) number += static_cast<char>('0' + rng() % 10);
      if (after > 0) number += '.';
      for (int i = 0; i < after; ++i) number += static_cast<char>('0' + rng() % 10);
      double want = 0;
      std::from_chars(number.data(), number.data() + number.size(), want);
      for (const std::string& list :
           {"[" + number + "]", "[" + number + ",0]", "[" + number + ",1.25,-7]   "}) {
        const size_t n = static_cast<size_t>(std::count(list.begin(), list.end(), ',')) + 1;
        slipway::http::JsonScanner s(list, "");
        std::vector<double> out(n);
        if (!s.TryReadNumberList(out.data(), n)) {
          // Only what Clinger's exact path cannot take is left to the general path.
          EXPECT_GT(before + after, 15) << list;
          continue;
        }
        EXPECT_EQ(out[0], want) << list;
        if (n == 3) {
          EXPECT_EQ(out[1], 1.25);
          EXPECT_EQ(out[2], -7);
        }
      }
    }
  }
  // A leading zero is refused however long the run after it.
  for (const char* text : {"[00]", "[0123456789]", "[-01.5]", "[000000000000.1]"}) {
    slipway::http::JsonScanner s(text, "");
    double out = 0;
    EXPECT_FALSE(s.TryReadNumberList(&out, 1)) << text;
  }
}

TEST(ScoringCodecTest, NumberListFastPathTakesOnlyWhatItReadsExactly) {
  auto take = [](std::string_view text, size_t n) {
    slipway::http::JsonScanner s(text, "");
    std::vector<double> out(n);
    const bool ok = s.TryReadNumberList(out.data(), n);
    // Refused: nothing read, the general path starts where it was.
    if (!ok) {
      EXPECT_EQ(s.Offset(), text.find('['));
    }
    return ok;
  };
  EXPECT_TRUE(take(" [1.5, -2 ,null, 3e2]", 4));
  EXPECT_FALSE(take("[1.5, 2]", 3));                   // too few
  EXPECT_FALSE(take("[1.5, 2, 3]", 2));                // too many
  EXPECT_FALSE(take("[01, 2]", 2));                    // leading zero: the general path's error
  EXPECT_FALSE(take("[1., 2]", 2));                    // no digit after the point
  EXPECT_FALSE(take("[.5, 2]", 2));                    // no digit before it
  EXPECT_FALSE(take("[1e, 2]", 2));                    // no exponent digits
  EXPECT_FALSE(take("[NaN, 2]", 2));                   // Python's literals: the general path
  EXPECT_FALSE(take("[\"a\", 2]", 2));                 // strings
  EXPECT_FALSE(take("[[1], 2]", 2));                   // nested lists
  EXPECT_FALSE(take("[nul, 2]", 2));                   // not null
  EXPECT_FALSE(take("[1 2]", 2));                      // no comma
  EXPECT_FALSE(take("[1,2", 2));                       // unterminated
  EXPECT_FALSE(take("[12345678901234567890, 1]", 2));  // 20 digits
  EXPECT_FALSE(take("[1e300, 1]", 2));                 // beyond the exact powers
}

TEST(ScoringCodecTest, NumberListAgreesWithTheGeneralPathOnRandomText) {
  // Where 16 bytes are readable after a value, the list path reads it with
  // SIMD (digits and one '.' gathered in a register); elsewhere byte by
  // byte. Random texts over the characters numbers are made of, padded so
  // that both ways are taken: whatever the list path takes, the general
  // path reads to the same double, to the bit; whatever the general path
  // refuses, the list path refuses too.
  std::mt19937_64 rng(20261207);
  const std::string alphabet = "0123456789000..-eE+";
  size_t taken = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string text;
    const size_t length = 1 + rng() % 19;
    for (size_t j = 0; j < length; ++j) text += alphabet[rng() % alphabet.size()];
    double want = 0;
    bool valid = true;
    try {
      slipway::http::JsonScanner general(text, "");
      want = general.ReadNumber().value;
      general.ExpectEnd();
    } catch (const slipway::Error&) {
      valid = false;
    }
    const std::string padding(rng() % 2 ? 32 : 0, ' ');
    const std::string list = "[" + text + "," + text + "]" + padding;
    slipway::http::JsonScanner fast(list, "");
    double got[2];
    if (!fast.TryReadNumberList(got, 2)) continue;
    ++taken;
    ASSERT_TRUE(valid) << "the list path took invalid JSON: " << text;
    ASSERT_EQ(std::bit_cast<uint64_t>(got[0]), std::bit_cast<uint64_t>(want)) << text;
    ASSERT_EQ(std::bit_cast<uint64_t>(got[1]), std::bit_cast<uint64_t>(want)) << text;
  }
  EXPECT_GT(taken, 10000u);
}

TEST(ScoringCodecTest, NumericTablesReadTheSameByRowsOrByValues) {
  // Row 0 makes every column a double; later rows go through the fast
  // path, or value by value where it declines (a literal, a big number),
  // and the frame is the same either way.
  const Frame frame = Json(R"({"dataframe_split": {"columns": ["a", "b"], "data": [
      [0.5, 1.25], [null, -0], [NaN, 2], [-Infinity, 1e-5],
      [12345678901234567890, 0.1], [ 3 , -4.5e+2 ]]}})")
                          .frame;
  ASSERT_EQ(frame.rows, 6u);
  ASSERT_EQ(frame.columns.size(), 2u);
  EXPECT_EQ(frame.columns[0].type, DataType::kDouble);
  EXPECT_EQ(frame.columns[1].type, DataType::kDouble);
  ExpectNumbers(frame.columns[0], {0.5, kNaN, kNaN, -std::numeric_limits<double>::infinity(),
                                   12345678901234567890.0, 3});
  ExpectNumbers(frame.columns[1], {1.25, 0, 2, 1e-5, 0.1, -450});
  EXPECT_FALSE(std::signbit(frame.columns[1].numbers[1]));  // `-0` is Python's int 0
  // Errors in a later row still name the row and the column.
  const std::string message = JsonError(R"({"dataframe_split": {"columns": ["a", "b"], "data": [
      [0.5, 1.25], [1.0, 2.0], [1.0, "x"]]}})")
                                  .message;
  EXPECT_NE(message.find("dataframe_split.data[2][1]"), std::string::npos) << message;
  EXPECT_NE(message.find("'b'"), std::string::npos) << message;
  const std::string short_row = JsonError(R"({"dataframe_split": {"columns": ["a", "b"], "data": [
      [0.5, 1.25], [1.0]]}})")
                                    .message;
  EXPECT_NE(short_row.find("dataframe_split.data[1]"), std::string::npos) << short_row;
}

}  // namespace
}  // namespace slipway::http
