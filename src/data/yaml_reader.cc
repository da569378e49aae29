#include "data/yaml_reader.h"

#include <set>

#include "core/error.h"
#include "data/csv_reader.h"
#include "data/rules_format.h"

namespace slipway::data {

using rules_internal::Quote;

YAML::Node YamlReader::Load(std::string_view text) const {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    Fail(e.mark, "", "invalid YAML: " + e.msg);
  }
}

void YamlReader::Fail(const YAML::Mark& mark, const std::string& path,
                      const std::string& what) const {
  std::string message = source_;
  if (mark.line >= 0) {
    message += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  message += ": ";
  if (!path.empty()) message += path + ": ";
  throw Error(ErrorCode::kInvalidParameterValue, message + what);
}

void YamlReader::Fail(const YamlEntry& e, const std::string& what) const {
  Fail(e.Mark(), e.path, what);
}

void YamlReader::UnknownKey(const YamlEntry& e, std::span<const std::string_view> known) const {
  Fail(e.key_node.Mark(), e.path,
       "unknown key '" + e.key + "'; expected one of: " + KeyList(known));
}

std::vector<YamlEntry> YamlReader::Entries(const YAML::Node& map, const std::string& path,
                                           const YAML::Mark& mark) const {
  if (!map.IsMap()) Fail(mark, path, "expected a mapping, got " + Describe(map));
  std::vector<YamlEntry> out;
  std::set<std::string, std::less<>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      Fail(key.Mark(), path,
           key.IsNull() ? "a key must be a name (write null or ~ in quotes to mean the text)"
                        : "a key must be a name, got " + Describe(key));
    }
    const std::string path_here = path.empty() ? key.Scalar() : path + "." + key.Scalar();
    if (!seen.insert(key.Scalar()).second) {
      Fail(key.Mark(), path_here, "duplicate key '" + key.Scalar() + "'");
    }
    out.push_back({key.Scalar(), path_here, key, it->second});
  }
  return out;
}

bool YamlReader::Bool(const YamlEntry& e) const {
  bool value;
  if (!Plain(e.value) || !ParseBool(e.value.Scalar(), &value)) {
    Fail(e, "expected true or false, got " + Describe(e.value));
  }
  return value;
}

double YamlReader::Number(const YamlEntry& e) const {
  double value;
  if (!Plain(e.value) || !ParseFloat64(e.value.Scalar(), &value)) {
    Fail(e, "expected a number, got " + Describe(e.value));
  }
  return value;
}

int64_t YamlReader::Count(const YamlEntry& e) const {
  int64_t value;
  if (!Plain(e.value) || !ParseInt64(e.value.Scalar(), &value) || value < 0) {
    Fail(e, "expected a non-negative integer, got " + Describe(e.value));
  }
  return value;
}

std::string YamlReader::Text(const YamlEntry& e) const {
  if (!e.value.IsScalar() || e.value.Scalar().empty()) {
    Fail(e, "expected a text, got " + Describe(e.value));
  }
  return e.value.Scalar();
}

std::vector<std::string> YamlReader::TextList(const YamlEntry& e) const {
  if (e.value.IsScalar()) return {Text(e)};
  if (!e.value.IsSequence()) Fail(e, "expected a list of names, got " + Describe(e.value));
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const std::string path = e.path + "[" + std::to_string(i) + "]";
    if (!item.IsScalar() || item.Scalar().empty()) {
      Fail(item.Mark(), path, "expected a name, got " + Describe(item));
    }
    if (!seen.insert(item.Scalar()).second) {
      Fail(item.Mark(), path, "duplicate name " + Quote(item.Scalar()));
    }
    out.push_back(item.Scalar());
  }
  return out;
}

bool YamlReader::Plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

std::string YamlReader::Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string YamlReader::KeyList(std::span<const std::string_view> keys) {
  std::string out;
  for (std::string_view key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

}  // namespace slipway::data
