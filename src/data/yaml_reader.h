// Reading a YAML document of the user's (a rules file, a training spec) with
// errors that say where: "<source>:<line>:<column>: <key path>: <what>".
// yaml-cpp parses; this adds what its nodes leave to the caller: a mapping's
// entries in order with their dotted key paths, refusal of duplicate and
// non-name keys, typed scalars (plain only: a quoted "true" is a text), and
// the position of a null value (yaml-cpp marks it at the next token).
// Every error is an Error with kInvalidParameterValue.
//
// Thread-safe (no mutable state).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::data {

// A key of a mapping with its value, and where it is.
struct YamlEntry {
  std::string key;
  std::string path;  // dotted key path from the top, e.g. "columns.age.max"
  YAML::Node key_node;
  YAML::Node value;

  // The value's position, or the key's when the value is null.
  YAML::Mark Mark() const { return value.IsNull() ? key_node.Mark() : value.Mark(); }
};

class YamlReader {
 public:
  // `source` names the document in errors (a file name, "rules", "spec").
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  // The document; invalid YAML fails with the parser's position.
  YAML::Node Load(std::string_view text) const;

  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& what) const;
  [[noreturn]] void Fail(const YamlEntry& e, const std::string& what) const;
  [[noreturn]] void UnknownKey(const YamlEntry& e, std::span<const std::string_view> known) const;

  // The entries of a mapping, in order; keys must be distinct names.
  // `path` and `mark` say where the mapping is, for the error if it is not one.
  std::vector<YamlEntry> Entries(const YAML::Node& map, const std::string& path,
                                 const YAML::Mark& mark) const;
  std::vector<YamlEntry> Entries(const YamlEntry& e) const {
    return Entries(e.value, e.path, e.Mark());
  }

  // Typed values of plain scalars.
  bool Bool(const YamlEntry& e) const;
  double Number(const YamlEntry& e) const;
  int64_t Count(const YamlEntry& e) const;     // a non-negative integer
  std::string Text(const YamlEntry& e) const;  // a non-empty scalar
  // A list of distinct non-empty texts; a single text is a list of one.
  std::vector<std::string> TextList(const YamlEntry& e) const;

  // A scalar written without quotes or tag (so `true`, `3` and `off` mean
  // what they say).
  static bool Plain(const YAML::Node& node);
  // A node for a message: a quoted scalar, "a list", "a mapping"...
  static std::string Describe(const YAML::Node& node);
  // "a, b, c", for the list of keys an error offers.
  static std::string KeyList(std::span<const std::string_view> keys);

 private:
  std::string source_;
};

}  // namespace slipway::data
