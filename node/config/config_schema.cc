#include "node/config/config_schema.h"

#include <algorithm>
#include <cctype>

#include "common/limits.h"

namespace coffer::node::config_schema {
namespace {

constexpr TableSpec kTables[] = {
    {"node", "This node."},
    {"tls", "Mutual TLS between nodes and with clients."},
    {"limits", "Limits on every connection."},
    {"storage", "The local database."},
    {"root_of_trust", "What wraps the node's data key (encryption at rest)."},
    {"log", "Diagnostic log (never contains secrets)."},
    {"audit", "Audit log: one JSON line per audited request (docs/audit.md)."},
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

}  // namespace

std::span<const TableSpec> Tables() { return kTables; }

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
       .doc = "Largest frame accepted on a client connection, in bytes (2 MiB to 64 MiB;\n"
              "every response is cut to fit 2 MiB, docs/limits.md).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, max_frame_bytes),
       .min = static_cast<int64_t>(limits::kMinFrameBytes),
       .max = static_cast<int64_t>(limits::kMaxFrameBytes)},
      {.table = "limits",
       .key = "max_connections",
       .doc = "Authenticated client API connections above which new ones are refused\n"
              "(1 to 1000000).",
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
      // Connection slots (docs/cluster.md, "Connection slots").
      {.table = "limits",
       .key = "max_unauthenticated_connections",
       .doc = "Connections whose TLS handshake has not finished, per TLS listener\n"
              "(client API, peer links); when full, a newcomer replaces the oldest one\n"
              "of the source address holding the most (1 to 100000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, max_unauthenticated_connections),
       .min = 1,
       .max = 100'000},
      {.table = "limits",
       .key = "max_unauthenticated_per_source",
       .doc = "Of those, from one source address; a newcomer from a source at its limit\n"
              "replaces that source's oldest one (1 to 100000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, max_unauthenticated_per_source),
       .min = 1,
       .max = 100'000},
      {.table = "limits",
       .key = "unauthenticated_timeout_ms",
       .doc = "Time from accept to a finished TLS handshake with a verified certificate,\n"
              "in milliseconds (100 to 600000; tls.handshake_timeout_ms too, the shorter wins).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, unauthenticated_timeout_ms),
       .min = 100,
       .max = 600'000},
      {.table = "limits",
       .key = "admin_reserved_connections",
       .doc = "Of max_connections, slots only admin certificates may use\n"
              "(0 to max_connections - 1).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, admin_reserved_connections),
       .min = 0,
       .max = 999'999},
      {.table = "limits",
       .key = "http_max_connections",
       .doc = "Open connections to the HTTP monitoring endpoint; when full, a newcomer\n"
              "replaces an idle one (1 to 100000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, http_max_connections),
       .min = 1,
       .max = 100'000},
      {.table = "limits",
       .key = "http_max_connections_per_source",
       .doc = "Open HTTP connections from one source address (1 to 100000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, http_max_connections_per_source),
       .min = 1,
       .max = 100'000},
      {.table = "limits",
       .key = "http_header_timeout_ms",
       .doc = "Time an HTTP connection has to send a complete request header, in\n"
              "milliseconds (100 to 600000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, http_header_timeout_ms),
       .min = 100,
       .max = 600'000},
      {.table = "limits",
       .key = "refusal_log_interval_ms",
       .doc = "Refused connections and failed handshakes are logged at most once per\n"
              "this, per listener, in milliseconds (0 to 3600000; 0: every one).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(limits, refusal_log_interval_ms),
       .min = 0,
       .max = 3'600'000},
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
      {.table = "storage",
       .key = "write_buffer_mb",
       .doc = "RocksDB memtable size in MiB (1 to 1024): written before a flush\n"
              "to a table file. Smaller: less memory, more flushes and compaction.",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(storage, write_buffer_mb),
       .min = 1,
       .max = 1024},
      {.table = "storage",
       .key = "group_commit_interval_us",
       .doc = "Group commit: a sync that follows another back to back starts no\n"
              "sooner than this after the previous one started (0 to 100000 us;\n"
              "0: at once). Fewer syncs and signatures per write under load.",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(storage, group_commit_interval_us),
       .min = 0,
       .max = 100'000},
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
      {.table = "audit",
       .key = "file",
       .doc = "Audit file; rotated files are FILE.1 to FILE.keep_files.\n"
              "Empty: <node.data_dir>/audit/audit.log.",
       .kind = Kind::kPath,
       .str = COFFER_CONFIG_STR(audit, file),
       .may_be_empty = true},
      {.table = "audit",
       .key = "max_file_bytes",
       .doc = "Size at which the audit file is rotated, in bytes (64 KiB to 4 GiB).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(audit, max_file_bytes),
       .min = static_cast<int64_t>(limits::kMinAuditFileBytes),
       .max = static_cast<int64_t>(limits::kMaxAuditFileBytes)},
      {.table = "audit",
       .key = "keep_files",
       .doc = "Rotated audit files kept besides the current one (1 to 1000).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(audit, keep_files),
       .min = 1,
       .max = 1000},
      {.table = "audit",
       .key = "sync_interval_ms",
       .doc = "Audit lines are written and fsync'd together at least this often, so an\n"
              "audited request's line is on disk within it (1 to 1000 ms).",
       .kind = Kind::kInt,
       .num = COFFER_CONFIG_INT(audit, sync_interval_ms),
       .min = 1,
       .max = 1000},
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

// Problems that involve more than one setting.
std::vector<FieldProblem> CrossFieldProblems(const NodeConfig& config) {
  std::vector<FieldProblem> problems;
  if (config.limits.admin_reserved_connections >= config.limits.max_connections) {
    problems.push_back({"limits.admin_reserved_connections",
                        "must be less than limits.max_connections (" +
                            std::to_string(config.limits.max_connections) + "), got " +
                            std::to_string(config.limits.admin_reserved_connections)});
  }
  const RootOfTrustSection& rot = config.root_of_trust;
  if (rot.kind == "passphrase" && rot.passphrase_file.empty() && rot.passphrase_env.empty()) {
    problems.push_back({"root_of_trust.passphrase_env",
                        "must not be empty when root_of_trust.passphrase_file is empty (no "
                        "passphrase source)"});
  }
  return problems;
}

}  // namespace coffer::node::config_schema
