#include "monitoring/live/labelled_rows.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::monitoring::live {
namespace {

using json = nlohmann::ordered_json;

std::string Quoted(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void AppendLine(std::string& csv, const std::vector<std::string>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) csv += ',';
    csv += cells[i];
  }
  csv += '\n';
}

}  // namespace

std::string CsvCell(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "";
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(value.get<int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(value.get<uint64_t>());
    case json::value_t::number_float:
      return fmt::format("{}", value.get<double>());
    case json::value_t::string:
      return Quoted(value.get<std::string>());
    default:
      return Quoted(value.dump());
  }
}

LabelledRows BuildLabelledRows(const std::vector<JoinedRecord>& records, const std::string& label,
                               const std::vector<std::string>& order) {
  if (label.empty()) throw Error(ErrorCode::kInvalidParameterValue, "the label column has no name");
  LabelledRows out;
  // The requests' inputs, parsed once; the columns in the order first seen.
  struct Request {
    json inputs;
    json labels;
    int64_t time_ms = 0;
    size_t rows = 0;
  };
  std::vector<Request> requests;
  std::map<std::string, size_t> index;
  std::vector<std::string> seen;  // inputs not in `order`, as first seen
  for (const JoinedRecord& record : records) {
    if (record.prediction.inputs.empty()) {
      ++out.requests_without_inputs;
      continue;
    }
    Request request;
    request.inputs = json::parse(record.prediction.inputs);
    request.labels = json::parse(record.feedback.labels);
    request.time_ms = record.prediction.time_ms;
    if (!request.inputs.is_object() || request.inputs.empty()) {
      ++out.requests_without_inputs;
      continue;
    }
    request.rows = request.inputs.begin()->size();
    if (!request.labels.is_array() || request.labels.size() != request.rows) {
      ++out.requests_mismatched;
      continue;
    }
    for (const auto& [name, values] : request.inputs.items()) {
      (void)values;
      if (index.emplace(name, 0).second) seen.push_back(name);
    }
    requests.push_back(std::move(request));
  }
  for (const std::string& name : order) {
    if (index.count(name)) out.columns.push_back(name);
  }
  for (const std::string& name : seen) {
    if (std::find(order.begin(), order.end(), name) == order.end()) out.columns.push_back(name);
  }
  for (size_t i = 0; i < out.columns.size(); ++i) index[out.columns[i]] = i;
  if (index.count(label)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "the label column '" + label +
                    "' is also an input of the requests: name the target otherwise");
  }
  std::vector<std::string> header;
  for (const std::string& column : out.columns) header.push_back(Quoted(column));
  header.push_back(Quoted(label));
  out.columns.push_back(label);
  AppendLine(out.csv, header);
  std::vector<std::string> cells(out.columns.size());
  for (const Request& request : requests) {
    bool counted = false;
    for (size_t row = 0; row < request.rows; ++row) {
      const json& value = request.labels[row];
      if (value.is_null()) {
        ++out.unlabelled_rows;
        continue;
      }
      std::fill(cells.begin(), cells.end(), std::string());
      for (const auto& [name, values] : request.inputs.items()) {
        if (values.is_array() && row < values.size()) cells[index.at(name)] = CsvCell(values[row]);
      }
      cells.back() = CsvCell(value);
      AppendLine(out.csv, cells);
      ++out.rows;
      if (!counted) {
        ++out.requests;
        out.first_ms =
            out.requests == 1 ? request.time_ms : std::min(out.first_ms, request.time_ms);
        out.last_ms = std::max(out.last_ms, request.time_ms);
        counted = true;
      }
    }
  }
  return out;
}

}  // namespace slipway::monitoring::live
