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

namespace coffer::node {
namespace {

// ---- The schema: one entry per setting drives parsing, validation and the
// default file, so the three cannot drift apart. ----

struct TableSpec {
  std::string_view name;
  std::string_view doc;  // comment above the table in DefaultConfigToml
};

constexpr TableSpec kTables[] = {
    {"node", "This node."},
    {"tls", "Mutual TLS between nodes and with clients."},
    {"limits", "Limits on every connection."},
    {"storage", "The local database."},
    {"root_of_trust", "What wraps the node's data key (encryption at rest)."},
    {"log", "Diagnostic log (never contains secrets)."},
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

std::string CheckNodeName(std::string_view name) {
  if (name.size() > 64) return "must be at most 64 characters";
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return "may contain only letters, digits, '.', '_' and '-'";
    }
  }
  return "";
}

std::string CheckListen(std::string_view listen) {
  StatusOr<HostPort> host_port = ParseHostPort(listen);
  return host_port.ok() ? "" : host_port.status().message();
}

std::string CheckOneOf(std::string_view value, std::span<const std::string_view> allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return "";
  std::string message = "must be one of";
  for (size_t i = 0; i < allowed.size(); ++i) {
    message += (i == 0 ? " \"" : ", \"") + std::string(allowed[i]) + "\"";
  }
  return message + ", got \"" + std::string(value) + "\"";
}

constexpr std::string_view kRootOfTrustKinds[] = {"passphrase"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
constexpr std::string_view kLogFormats[] = {"human", "json"};

std::string CheckEnvName(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = c == '_' || std::isalpha(static_cast<unsigned char>(c)) ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
  }
  return "";
}

std::string CheckPowerOfTwo(int64_t n) {
  return (n > 0 && (n & (n - 1)) == 0) ? "" : "must be a power of two";
}

#define COFFER_CONFIG_STR(section, member) \
  [](NodeConfig& c) -> std::string* { return &c.section.member; }
#define COFFER_CONFIG_INT(section, member) \
  [](NodeConfig& c) -> int64_t* { return &c.section.member; }
#define COFFER_CONFIG_BOOL(section, member) [](NodeConfig& c) -> bool* { return &c.section.member; }

const std::vector<Field>& Fields() {
  static const auto* fields = new std::vector<Field>{
      {.table = "node",
       .key = "name",
       .doc = "The node's name in its cluster: 1 to 64 characters [A-Za-z0-9._-].",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(node, name),
       .check_str = CheckNodeName},
      {.table = "node",
       .key = "data_dir",
       .doc = "Directory of the node's database and wrapped data key.",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(node, data_dir)},
      {.table = "node",
       .key = "listen",
       .doc = "Address to listen on: \"host:port\" or \"[ipv6]:port\".",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(node, listen),
       .check_str = CheckListen},
      {.table = "node",
       .key = "peer_listen",
       .doc = "Address other nodes' links connect to: \"host:port\" or \"[ipv6]:port\".",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(node, peer_listen),
       .check_str = CheckListen},
      {.table = "node",
       .key = "peer_advertise",
       .doc = "Address recorded for other nodes to dial, if not peer_listen (\"\": peer_listen).",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(node, peer_advertise),
       .may_be_empty = true,
       .check_str = CheckListen},
      {.table = "node",
       .key = "subgroup",
       .doc = "Subgroup (site) of this node, fixed at induction: 0 to 64 of [A-Za-z0-9._-].",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(node, subgroup),
       .may_be_empty = true,
       .check_str = CheckNodeName},
      {.table = "node",
       .key = "http_listen",
       .doc =
           "Monitoring endpoint (/metrics /livez /readyz /health /status), plain HTTP; \"\": off.",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(node, http_listen),
       .may_be_empty = true,
       .check_str = CheckListen},
      {.table = "tls",
       .key = "ca_file",
       .doc = "PEM file of the cluster CA that signs node and client certificates.",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(tls, ca_file)},
      {.table = "tls",
       .key = "cert_file",
       .doc = "PEM certificate of this node.",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(tls, cert_file)},
      {.table = "tls",
       .key = "key_file",
       .doc = "PEM private key of this node (keep it mode 0600).",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(tls, key_file)},
      {.table = "tls",
       .key = "handshake_timeout_ms",
       .doc = "Time allowed for a TLS handshake, in milliseconds (1 to 3600000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(tls, handshake_timeout_ms),
       .min = 1,
       .max = 3'600'000},
      {.table = "tls",
       .key = "idle_timeout_ms",
       .doc = "A connection without traffic for this long is closed, in milliseconds\n"
              "(1 to 86400000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(tls, idle_timeout_ms),
       .min = 1,
       .max = 86'400'000},
      {.table = "limits",
       .key = "max_frame_bytes",
       .doc = "Largest frame accepted on a connection, in bytes (1 KiB to 64 MiB).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, max_frame_bytes),
       .min = 1024,
       .max = 64 * 1024 * 1024},
      {.table = "limits",
       .key = "max_connections",
       .doc = "Open connections above which new ones are refused (1 to 1000000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, max_connections),
       .min = 1,
       .max = 1'000'000},
      {.table = "limits",
       .key = "max_queued_requests",
       .doc = "Requests queued before new ones get RESOURCE_EXHAUSTED (1 to 1000000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, max_queued_requests),
       .min = 1,
       .max = 1'000'000},
      {.table = "storage",
       .key = "sync_writes",
       .doc = "Sync the write-ahead log before acknowledging a write, so an\n"
              "acknowledged write survives a power loss.",
       .kind = Kind::kBool,
       .flag = COFFER_CONFIG_BOOL(storage, sync_writes)},
      {.table = "storage",
       .key = "block_cache_mb",
       .doc = "RocksDB block cache size in MiB (1 to 1048576).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(storage, block_cache_mb),
       .min = 1,
       .max = 1'048'576},
      {.table = "root_of_trust",
       .key = "kind",
       .doc = "What wraps the data key: \"passphrase\" (scrypt-derived key).",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(root_of_trust, kind),
       .check_str = [](std::string_view v) { return CheckOneOf(v, kRootOfTrustKinds); }},
      {.table = "root_of_trust",
       .key = "passphrase_file",
       .doc = "File holding the passphrase (one trailing newline is ignored).\n"
              "Empty: read the passphrase from the variable passphrase_env.",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(root_of_trust, passphrase_file),
       .may_be_empty = true},
      {.table = "root_of_trust",
       .key = "passphrase_env",
       .doc = "Environment variable holding the passphrase when passphrase_file is empty.",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(root_of_trust, passphrase_env),
       .may_be_empty = true,
       .check_str = CheckEnvName},
      {.table = "root_of_trust",
       .key = "scrypt_n",
       .doc = "scrypt cost for wrapping a new data key: a power of two from 1024 to\n"
              "1048576; uses scrypt_n KiB of memory.",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(root_of_trust, scrypt_n),
       .min = 1024,
       .max = 1'048'576,
       .check_int = CheckPowerOfTwo},
      {.table = "log",
       .key = "level",
       .doc = "\"trace\", \"debug\", \"info\", \"warn\", \"error\" or \"off\".",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(log, level),
       .check_str = [](std::string_view v) { return CheckOneOf(v, kLogLevels); }},
      {.table = "log",
       .key = "format",
       .doc = "\"human\" or \"json\" (one JSON object per line).",
       .kind = Kind::kString,
       .str = COFFER_CONFIG_STR(log, format),
       .check_str = [](std::string_view v) { return CheckOneOf(v, kLogFormats); }},
      {.table = "log",
       .key = "file",
       .doc = "Log file; empty means stderr.",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(log, file),
       .may_be_empty = true},
  };
  return *fields;
}

#undef COFFER_CONFIG_STR
#undef COFFER_CONFIG_INT
#undef COFFER_CONFIG_BOOL

const TableSpec* FindTable(std::string_view name) {
  for (const TableSpec& table : kTables) {
    if (table.name == name) return &table;
  }
  return nullptr;
}

const Field* FindField(std::string_view table, std::string_view key) {
  for (const Field& field : Fields()) {
    if (field.table == table && field.key == key) return &field;
  }
  return nullptr;
}

// What is wrong with a string value of `field`, or "".
std::string CheckString(const Field& field, std::string_view value) {
  if (value.empty()) return field.may_be_empty ? "" : "must not be empty";
  return field.check_str != nullptr ? field.check_str(value) : "";
}

// What is wrong with an integer value of `field`, or "".
std::string CheckInt(const Field& field, int64_t value) {
  if (value < field.min || value > field.max) {
    return "must be in [" + std::to_string(field.min) + ", " + std::to_string(field.max) +
           "], got " + std::to_string(value);
  }
  return field.check_int != nullptr ? field.check_int(value) : "";
}

// What is wrong with `field` as set in `config`, or "".
std::string CheckField(const Field& field, NodeConfig& config) {
  switch (field.kind) {
    case Kind::kString:
    case Kind::kPath:
      return CheckString(field, *field.str(config));
    case Kind::kInt:
      return CheckInt(field, *field.num(config));
    case Kind::kBool:
      return "";
  }
  return "";
}

struct FieldProblem {
  std::string field;  // "table.key"
  std::string message;
};

// Problems that involve more than one setting.
std::vector<FieldProblem> CrossFieldProblems(const NodeConfig& config) {
  std::vector<FieldProblem> problems;
  const RootOfTrustSection& rot = config.root_of_trust;
  if (rot.kind == "passphrase" && rot.passphrase_file.empty() && rot.passphrase_env.empty()) {
    problems.push_back({"root_of_trust.passphrase_env",
                        "must not be empty when root_of_trust.passphrase_file is empty (no "
                        "passphrase source)"});
  }
  return problems;
}

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

// Levenshtein distance, for "did you mean" hints on unknown names.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within 2 edits, else "".
std::string Suggestion(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    size_t d = EditDistance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
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
  std::string name = std::string(what) + " '" + path + "'";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound(name + " does not exist");
    if (err == EACCES || err == EPERM) return PermissionDenied(name + ": " + std::strerror(err));
    return Unavailable(name + ": " + std::strerror(err));
  }
  data->clear();
  char buffer[4096];
  Status status;
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      status = err == EISDIR ? InvalidArgument(name + " is a directory")
                             : Unavailable(name + ": " + std::strerror(err));
      break;
    }
    if (n == 0) break;
    if (data->size() + static_cast<size_t>(n) > max_bytes) {
      status = InvalidArgument(name + " is larger than " + std::to_string(max_bytes) + " bytes");
      break;
    }
    data->append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  // The buffer may have held a passphrase.
  volatile char* p = buffer;
  for (size_t i = 0; i < sizeof(buffer); ++i) p[i] = 0;
  if (!status.ok()) WipeString(*data);
  return status;
}

}  // namespace

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
  for (const TableSpec& table : kTables) table_names.push_back(table.name);

  NodeConfig config;
  // Where each setting's value is in the file, for cross-field problems.
  std::unordered_map<std::string, toml::source_position> positions;
  for (auto&& [table_key, table_node] : root) {
    const std::string table_name(table_key.str());
    if (FindTable(table_name) == nullptr) {
      if (table_node.is_table()) {
        problems.Add(table_key.source().begin,
                     "unknown table '" + table_name + "'" + Suggestion(table_name, table_names));
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
                                             Suggestion(key.str(), key_names));
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
