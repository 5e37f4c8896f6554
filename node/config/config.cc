#include "node/config/config.h"

#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/bounded_read.h"
#include "common/edit_distance.h"
#include "node/config/config_schema.h"

namespace coffer::node {
namespace {

using config_schema::CheckField;
using config_schema::CheckInt;
using config_schema::CheckString;
using config_schema::CrossFieldProblems;
using config_schema::Field;
using config_schema::FieldProblem;
using config_schema::Fields;
using config_schema::FindField;
using config_schema::FindTable;
using config_schema::Kind;
using config_schema::Tables;
using config_schema::TableSpec;

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string_view ExpectedTypeName(Kind kind) {
  switch (kind) {
    case Kind::kString:
    case Kind::kPath:
      return "a string";
    case Kind::kInt:
      return "an integer";
    case Kind::kBool:
      return "a boolean";
  }
  return "";
}

// Stores `value` into `field` of `config`. Returns what is wrong (wrong type,
// out of range), or "" after storing the value.
std::string Assign(const Field& field, const toml::node& value, NodeConfig* config) {
  std::string wrong_type = "expected " + std::string(ExpectedTypeName(field.kind)) + ", got " +
                           std::string(TypeName(value.type()));
  switch (field.kind) {
    case Kind::kString:
    case Kind::kPath: {
      const toml::value<std::string>* s = value.as_string();
      if (s == nullptr) return wrong_type;
      std::string error = CheckString(field, s->get());
      if (error.empty()) *field.str(*config) = s->get();
      return error;
    }
    case Kind::kInt: {
      const toml::value<int64_t>* n = value.as_integer();
      if (n == nullptr) return wrong_type;
      std::string error = CheckInt(field, n->get());
      if (error.empty()) *field.num(*config) = n->get();
      return error;
    }
    case Kind::kBool: {
      const toml::value<bool>* b = value.as_boolean();
      if (b == nullptr) return wrong_type;
      *field.flag(*config) = b->get();
      return "";
    }
  }
  return "";
}

// Problems found in a file, reported in file order.
class ProblemList {
 public:
  explicit ProblemList(std::string_view source_name) : source_name_(source_name) {}

  void Add(const toml::source_position& where, std::string message) {
    problems_.push_back({where.line, where.column, std::move(message)});
  }
  // A problem without a position (a setting not present in the file).
  void AddUnplaced(std::string message) { problems_.push_back({0, 0, std::move(message)}); }
  bool empty() const { return problems_.empty(); }

  Status ToStatus() {
    std::stable_sort(problems_.begin(), problems_.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::string text;
    for (const Entry& e : problems_) {
      if (!text.empty()) text += "\n";
      text += source_name_ + ":";
      if (e.line != 0) text += std::to_string(e.line) + ":" + std::to_string(e.column) + ":";
      text += " " + e.message;
    }
    return InvalidArgument(std::move(text));
  }

 private:
  struct Entry {
    uint32_t line;
    uint32_t column;
    std::string message;
  };
  std::string source_name_;
  std::vector<Entry> problems_;
};

// Appends `s` as a TOML basic string ("...").
void AppendTomlString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", u);
      out->append(escaped);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void AppendComment(std::string_view doc, std::string* out) {
  while (!doc.empty()) {
    size_t end = doc.find('\n');
    std::string_view line = doc.substr(0, end);
    out->append("# ").append(line).append("\n");
    doc = end == std::string_view::npos ? std::string_view() : doc.substr(end + 1);
  }
}

// Overwrites every byte `s` may hold (including a small-string buffer left
// behind by a move), then empties it.
void WipeString(std::string& s) {
  s.resize(s.capacity());
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

// Reads a whole small file into *data. NOT_FOUND if it does not exist,
// PERMISSION_DENIED if it cannot be opened for reading, INVALID_ARGUMENT if it
// is a directory or larger than max_bytes, UNAVAILABLE for other I/O errors.
// `what` names the file's role in messages. On failure *data is wiped.
Status ReadSmallFile(const std::string& path, size_t max_bytes, std::string_view what,
                     std::string* data) {
  // Bounded whatever the path is (regular file, FIFO, device): bounded_read.h.
  StatusOr<std::string> read = ReadBoundedFile(path, max_bytes, what);
  if (!read.ok()) return read.status();
  *data = std::move(read).value();
  return Status::Ok();
}

}  // namespace

std::string AuditFilePath(const NodeConfig& config) {
  if (!config.audit.file.empty()) return config.audit.file;
  return (std::filesystem::path(config.node.data_dir) / "audit" / "audit.log").string();
}

StatusOr<HostPort> ParseHostPort(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("listen address \"" + std::string(text) + "\" " + std::string(why));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("must be host:port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:") != std::string_view::npos) {
    return bad("must be host:port, with an IPv6 host in brackets");
  }
  if (host.empty()) return bad("has an empty host");
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad("must end in a port number 1..65535");
  }
  int port = std::stoi(std::string(port_text));
  if (port < 1 || port > 65535) return bad("must end in a port number 1..65535");
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

void ResolveRelativePaths(const std::string& base_dir, NodeConfig* config) {
  if (base_dir.empty()) return;
  for (const Field& field : Fields()) {
    if (field.kind != Kind::kPath) continue;
    std::string* value = field.str(*config);
    std::filesystem::path path(*value);
    if (value->empty() || path.is_absolute()) continue;
    *value = (std::filesystem::path(base_dir) / path).lexically_normal().string();
  }
}

Status ValidateConfig(const NodeConfig& config) {
  NodeConfig copy = config;  // the schema's accessors take a mutable config
  for (const Field& field : Fields()) {
    std::string error = CheckField(field, copy);
    if (!error.empty()) return InvalidArgument(field.Name() + ": " + error);
  }
  std::vector<FieldProblem> problems = CrossFieldProblems(config);
  if (!problems.empty()) {
    return InvalidArgument(problems.front().field + ": " + problems.front().message);
  }
  return Status::Ok();
}

StatusOr<NodeConfig> ParseConfig(std::string_view toml_text, std::string_view source_name,
                                 const std::string& base_dir) {
  ProblemList problems(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    problems.Add(e.source().begin, std::string(e.description()));
    return problems.ToStatus();
  }

  std::vector<std::string_view> table_names;
  for (const TableSpec& table : Tables()) table_names.push_back(table.name);

  NodeConfig config;
  // Where each setting's value is in the file, for cross-field problems.
  std::unordered_map<std::string, toml::source_position> positions;
  for (auto&& [table_key, table_node] : root) {
    const std::string table_name(table_key.str());
    if (FindTable(table_name) == nullptr) {
      if (table_node.is_table()) {
        problems.Add(table_key.source().begin,
                     "unknown table '" + table_name + "'" + DidYouMean(table_name, table_names));
        continue;
      }
      std::string message = "unknown key '" + table_name + "' outside any table";
      for (const Field& field : Fields()) {
        if (field.key == table_name) {
          message += " (it belongs in [" + std::string(field.table) + "])";
          break;
        }
      }
      problems.Add(table_key.source().begin, message);
      continue;
    }
    const toml::table* table = table_node.as_table();
    if (table == nullptr) {
      problems.Add(table_node.source().begin, "'" + table_name + "' must be a table, got " +
                                                  std::string(TypeName(table_node.type())));
      continue;
    }
    std::vector<std::string_view> key_names;
    for (const Field& field : Fields()) {
      if (field.table == table_name) key_names.push_back(field.key);
    }
    for (auto&& [key, value] : *table) {
      const Field* field = FindField(table_name, key.str());
      if (field == nullptr) {
        problems.Add(key.source().begin, "unknown key '" + table_name + "." +
                                             std::string(key.str()) + "'" +
                                             DidYouMean(key.str(), key_names));
        continue;
      }
      std::string error = Assign(*field, value, &config);
      if (!error.empty()) {
        problems.Add(value.source().begin, field->Name() + ": " + error);
        continue;
      }
      positions[field->Name()] = value.source().begin;
    }
  }
  if (problems.empty()) {
    for (const FieldProblem& problem : CrossFieldProblems(config)) {
      auto it = positions.find(problem.field);
      if (it != positions.end()) {
        problems.Add(it->second, problem.field + ": " + problem.message);
      } else {
        problems.AddUnplaced(problem.field + ": " + problem.message);
      }
    }
  }
  if (!problems.empty()) return problems.ToStatus();
  ResolveRelativePaths(base_dir, &config);
  return config;
}

StatusOr<NodeConfig> LoadConfigFile(const std::string& path) {
  std::string text;
  COFFER_RETURN_IF_ERROR(ReadSmallFile(path, 1 << 20, "config file", &text));
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) return Unavailable("config file '" + path + "': " + ec.message());
  return ParseConfig(text, path, absolute.parent_path().lexically_normal().string());
}

std::string DefaultConfigToml() {
  NodeConfig defaults;
  std::string out =
      "# Coffer node configuration. Every setting is shown with its default value;\n"
      "# a missing table or key takes the default. Unknown tables and keys are errors.\n"
      "# Relative paths are resolved against the directory of this file.\n";
  std::string_view current_table;
  for (const Field& field : Fields()) {
    if (field.table != current_table) {
      current_table = field.table;
      out += "\n";
      AppendComment(FindTable(field.table)->doc, &out);
      out.append("[").append(field.table).append("]\n");
    }
    AppendComment(field.doc, &out);
    out.append(field.key).append(" = ");
    switch (field.kind) {
      case Kind::kString:
      case Kind::kPath:
        AppendTomlString(*field.str(defaults), &out);
        break;
      case Kind::kInt:
        out += std::to_string(*field.num(defaults));
        break;
      case Kind::kBool:
        out += *field.flag(defaults) ? "true" : "false";
        break;
    }
    out += "\n";
  }
  return out;
}

StatusOr<SecretBytes> ReadPassphrase(const NodeConfig& config) {
  const RootOfTrustSection& rot = config.root_of_trust;
  std::string passphrase;
  std::string source;
  if (!rot.passphrase_file.empty()) {
    source = "passphrase file '" + rot.passphrase_file + "'";
    COFFER_RETURN_IF_ERROR(
        ReadSmallFile(rot.passphrase_file, 64 * 1024, "passphrase file", &passphrase));
    if (!passphrase.empty() && passphrase.back() == '\n') {
      passphrase.pop_back();
      if (!passphrase.empty() && passphrase.back() == '\r') passphrase.pop_back();
    }
  } else if (!rot.passphrase_env.empty()) {
    source = "environment variable " + rot.passphrase_env;
    const char* value = std::getenv(rot.passphrase_env.c_str());
    if (value == nullptr) {
      return NotFound(source + " is not set (and root_of_trust.passphrase_file is empty)");
    }
    passphrase = value;
  } else {
    return InvalidArgument(
        "no passphrase source: root_of_trust.passphrase_file and passphrase_env are both empty");
  }
  if (passphrase.empty()) return InvalidArgument(source + " holds an empty passphrase");
  SecretBytes secret(std::move(passphrase));
  WipeString(passphrase);  // NOLINT(bugprone-use-after-move): wipes a small-string buffer
  return secret;
}

}  // namespace coffer::node
