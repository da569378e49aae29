#include "genai/dataset_records.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/error.h"
#include "core/ids.h"
#include "core/sha256.h"

namespace slipway::genai {
namespace {

constexpr std::array<std::string_view, 5> kSourceTypes = {"TRACE", "HUMAN", "DOCUMENT", "CODE",
                                                          "UNSPECIFIED"};

[[noreturn]] void BadRecord(size_t index, const std::string& field, const std::string& why) {
  ThrowInvalid("Invalid value for 'records[" + std::to_string(index) + "]" +
               (field.empty() ? "" : "." + field) + "': " + why);
}

void CheckObjectOrNull(const Json& record, size_t index, const char* field) {
  auto it = record.find(field);
  if (it != record.end() && !it->is_object() && !it->is_null()) {
    BadRecord(index, field, "expected a JSON object, got " + std::string(it->type_name()) + ".");
  }
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// MLflow's _infer_field_type.
std::string TypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "float";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    default:
      return "object";
  }
}

void AddNewKeys(nlohmann::ordered_json& types, const Json& values) {
  for (const auto& [key, value] : values.items()) {
    if (!types.contains(key)) types[key] = TypeName(value);
  }
}

}  // namespace

std::vector<Json> ParseRecords(const std::string& text) {
  Json parsed;
  try {
    parsed = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // nlohmann reports a byte offset; say where that is as a line and column.
    size_t at = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    size_t line = 1 + std::count(text.begin(), text.begin() + at, '\n');
    size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
    size_t column = line_start == std::string::npos || at == 0 ? at + 1 : at - line_start;
    ThrowInvalid("Invalid value for 'records': not JSON at line " + std::to_string(line) +
                 ", column " + std::to_string(column) + ".");
  }
  if (!parsed.is_array()) ThrowInvalid("Invalid value for 'records': expected a JSON array.");
  if (parsed.size() > kMaxRecordsPerUpsert) {
    ThrowInvalid("Invalid value for 'records': at most " + std::to_string(kMaxRecordsPerUpsert) +
                 " records per request, got " + std::to_string(parsed.size()) + ".");
  }
  std::vector<Json> records;
  records.reserve(parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) {
    Json& record = parsed[i];
    if (!record.is_object()) BadRecord(i, "", "expected a JSON object.");
    auto inputs = record.find("inputs");
    if (inputs != record.end() && !inputs->is_object()) {
      BadRecord(i, "inputs",
                "expected a JSON object, got " + std::string(inputs->type_name()) + ".");
    }
    CheckObjectOrNull(record, i, "expectations");
    CheckObjectOrNull(record, i, "tags");
    auto source = record.find("source");
    if (source != record.end() && !source->is_null()) {
      if (!source->is_object()) BadRecord(i, "source", "expected a JSON object.");
      for (const auto& [key, value] : source->items()) {
        if (key != "source_type" && key != "source_data") {
          BadRecord(i, "source." + key, "a source has only source_type and source_data.");
        }
      }
      auto type = source->find("source_type");
      if (type == source->end() || !type->is_string()) {
        BadRecord(i, "source.source_type", "expected one of TRACE, HUMAN, DOCUMENT, CODE.");
      }
      std::string upper = Upper(type->get<std::string>());
      if (std::find(kSourceTypes.begin(), kSourceTypes.end(), upper) == kSourceTypes.end()) {
        ThrowInvalid("Invalid dataset record source type: " + upper +
                     ". Valid source types: ['UNSPECIFIED', 'TRACE', 'HUMAN', 'DOCUMENT', "
                     "'CODE'] (records[" +
                     std::to_string(i) + "].source.source_type)");
      }
      *type = upper;
      auto data = source->find("source_data");
      if (data != source->end() && !data->is_object() && !data->is_null()) {
        BadRecord(i, "source.source_data", "expected a JSON object.");
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::string InputsKey(const Json& inputs) { return Sha256::Hex(inputs.dump()); }

DatasetRecord NewRecord(const Json& incoming, const std::string& dataset_id, int64_t now) {
  DatasetRecord record;
  record.dataset_record_id = NewDatasetRecordId();
  record.dataset_id = dataset_id;
  record.inputs = incoming.value("inputs", Json::object());
  // As MLflow: no outputs key stores {}, an explicit null stores none.
  auto outputs = incoming.find("outputs");
  if (outputs == incoming.end()) {
    record.outputs = Json::object();
  } else if (!outputs->is_null()) {
    record.outputs = *outputs;
  }
  auto expectations = incoming.find("expectations");
  if (expectations != incoming.end() && !expectations->is_null())
    record.expectations = *expectations;
  auto tags = incoming.find("tags");
  if (tags != incoming.end() && tags->is_object()) record.tags = *tags;
  auto source = incoming.find("source");
  if (source != incoming.end() && source->is_object()) {
    record.source = *source;
    record.source_type = source->value("source_type", "");
    Json data = source->value("source_data", Json::object());
    if (!data.is_object()) data = Json::object();
    const char* id_key = record.source_type == "TRACE" ? "trace_id" : "source_id";
    auto id = data.find(id_key);
    if (id != data.end() && id->is_string()) record.source_id = id->get<std::string>();
  }
  record.created_time = record.last_update_time = now;
  auto user = record.tags.find("mlflow.user");
  if (user != record.tags.end() && user->is_string()) {
    record.created_by = record.last_updated_by = user->get<std::string>();
  }
  return record;
}

void MergeRecord(DatasetRecord& record, const Json& incoming, int64_t now) {
  auto outputs = incoming.find("outputs");
  if (outputs != incoming.end()) {
    record.outputs = outputs->is_null() ? std::nullopt : std::optional<Json>(*outputs);
  }
  auto expectations = incoming.find("expectations");
  if (expectations != incoming.end() && expectations->is_object() && !expectations->empty()) {
    if (!record.expectations || !record.expectations->is_object()) {
      record.expectations = Json::object();
    }
    for (const auto& [key, value] : expectations->items()) (*record.expectations)[key] = value;
  }
  auto tags = incoming.find("tags");
  if (tags != incoming.end() && tags->is_object() && !tags->empty()) {
    for (const auto& [key, value] : tags->items()) record.tags[key] = value;
    auto user = tags->find("mlflow.user");
    if (user != tags->end() && user->is_string()) record.last_updated_by = user->get<std::string>();
  }
  record.last_update_time = now;
}

std::optional<std::string> AuthorOf(const std::vector<Json>& records) {
  std::optional<std::string> author;
  for (const Json& record : records) {
    auto tags = record.find("tags");
    if (tags == record.end() || !tags->is_object()) continue;
    auto user = tags->find("mlflow.user");
    if (user != tags->end() && user->is_string()) author = user->get<std::string>();
  }
  return author;
}

std::string ExtendSchema(const std::optional<std::string>& schema,
                         const std::vector<Json>& records) {
  nlohmann::ordered_json out;
  if (schema) {
    out = nlohmann::ordered_json::parse(*schema, nullptr, /*allow_exceptions=*/false);
  }
  if (!out.is_object()) {
    out = nlohmann::ordered_json::object();
  }
  for (const char* part : {"inputs", "outputs", "expectations"}) {
    // (outputs may be a type name: the records' outputs are not objects)
    if (!out.contains(part) || (!out[part].is_object() && part != std::string("outputs"))) {
      out[part] = nlohmann::ordered_json::object();
    }
  }
  if (!out.contains("version")) out["version"] = "1.0";
  for (const Json& record : records) {
    AddNewKeys(out["inputs"], record.value("inputs", Json::object()));
    auto outputs = record.find("outputs");
    if (outputs != record.end() && !outputs->is_null()) {
      if (outputs->is_object()) {
        // A scalar output type recorded earlier stays (MLflow fails here).
        if (out["outputs"].is_object()) AddNewKeys(out["outputs"], *outputs);
      } else if (out["outputs"].is_object() && out["outputs"].empty()) {
        out["outputs"] = TypeName(*outputs);
      }
    }
    auto expectations = record.find("expectations");
    if (expectations != record.end() && expectations->is_object()) {
      AddNewKeys(out["expectations"], *expectations);
    }
  }
  return out.dump();
}

std::string ProfileOf(int64_t record_count) { return Json{{"num_records", record_count}}.dump(); }

std::string DatasetDigest(const std::string& name, int64_t time) {
  return Sha256::Hex(name + ":" + std::to_string(time)).substr(0, 8);
}

}  // namespace slipway::genai
