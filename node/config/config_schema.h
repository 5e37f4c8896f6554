// The schema of the node's config file: one entry per setting drives
// parsing, validation and the default file (config.cc), so the three cannot
// drift apart. Internal to node/config/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/config/config.h"

namespace coffer::node::config_schema {

struct TableSpec {
  std::string_view name;
  std::string_view doc;  // comment above the table in DefaultConfigToml
};

enum class Kind { kString, kPath, kInt, kBool };

struct Field {
  std::string_view table;
  std::string_view key;
  std::string_view doc;  // comment lines above the key in DefaultConfigToml
  Kind kind;
  std::string* (*str)(NodeConfig&) = nullptr;  // kString, kPath
  int64_t* (*num)(NodeConfig&) = nullptr;      // kInt
  bool* (*flag)(NodeConfig&) = nullptr;        // kBool
  bool may_be_empty = false;                   // kString, kPath
  int64_t min = 0;                             // kInt
  int64_t max = 0;                             // kInt
  // Further checks; return what is wrong, or "" if the value is fine.
  std::string (*check_str)(std::string_view) = nullptr;
  std::string (*check_int)(int64_t) = nullptr;

  std::string Name() const { return std::string(table) + "." + std::string(key); }
};

struct FieldProblem {
  std::string field;  // "table.key"
  std::string message;
};

// The tables, in the order the default file lists them.
std::span<const TableSpec> Tables();
// Every setting, in the order the default file lists them.
const std::vector<Field>& Fields();
// nullptr if there is no such table or setting.
const TableSpec* FindTable(std::string_view name);
const Field* FindField(std::string_view table, std::string_view key);
// What is wrong with a string or integer value of `field`, or "".
std::string CheckString(const Field& field, std::string_view value);
std::string CheckInt(const Field& field, int64_t value);
// What is wrong with `field` as set in `config`, or "".
std::string CheckField(const Field& field, NodeConfig& config);
// Problems that involve more than one setting.
std::vector<FieldProblem> CrossFieldProblems(const NodeConfig& config);

}  // namespace coffer::node::config_schema
