// Node configuration: a TOML file (the `coffer` CLI's --config) parsed into a
// plain struct. Every setting has a default, so a missing file section or key
// means "use the default"; DefaultConfigToml() prints the complete default file.
//
// File format: tables [node], [tls], [limits], [storage], [root_of_trust],
// [log] and [audit] with the keys documented on the structs below. Unknown tables and keys
// are rejected (a typo is an error, never silently ignored).
//
// Relative paths (node.data_dir, tls.*_file, root_of_trust.passphrase_file,
// log.file, audit.file) are resolved against the directory of the config file, for keys
// given in the file and for defaults alike, so a node's files do not depend on
// the working directory it was started from.
//
// Errors are INVALID_ARGUMENT with messages "FILE:LINE:COLUMN: what is wrong"
// (one line per problem), for TOML syntax errors and for semantic errors
// (wrong type, out of range, unknown key or table). Parse config files only in
// main() and the CLI; libraries take the structs below or their own options.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/limits.h"
#include "common/secret.h"
#include "common/status.h"

namespace coffer::node {

struct NodeSection {
  // The node's name in its cluster: 1 to 64 characters [A-Za-z0-9._-].
  // Default: "node1"
  std::string name = "node1";
  // Directory of the node's database and wrapped data key. Default: "data/node1"
  std::string data_dir = "data/node1";
  // Address the node listens on, "host:port" or "[ipv6]:port", port 1..65535.
  // Default: "127.0.0.1:7400"
  std::string listen = "127.0.0.1:7400";
  // Address other nodes' links connect to, "host:port". When its host is a
  // concrete IP (not 0.0.0.0 or ::), this node's own links to the others
  // also leave from that IP. Default: "127.0.0.1:7500"
  std::string peer_listen = "127.0.0.1:7500";
  // Address recorded in membership for other nodes to dial, when it differs
  // from peer_listen (NAT, a proxy). "" means peer_listen. Default: ""
  std::string peer_advertise = "";
  // Subgroup (site) this node belongs to, fixed at induction; clients try
  // their own subgroup first. 0 to 64 characters [A-Za-z0-9._-]. Default: ""
  std::string subgroup = "";
  // Address of the plain-HTTP monitoring endpoint (/metrics, /livez,
  // /readyz, /health, /status; no secrets are served there). "" disables it.
  // Default: "127.0.0.1:7600"
  std::string http_listen = "127.0.0.1:7600";
  bool operator==(const NodeSection&) const = default;
};

struct TlsSection {
  // PEM file of the cluster CA that signs node and client certificates.
  // Default: "certs/ca.pem"
  std::string ca_file = "certs/ca.pem";
  // PEM certificate of this node. Default: "certs/node1.pem"
  std::string cert_file = "certs/node1.pem";
  // PEM private key of this node (keep it 0600). Default: "certs/node1.key"
  std::string key_file = "certs/node1.key";
  // Time allowed for a TLS handshake, in [1, 3600000] ms. Default: 5000 (5 s)
  int64_t handshake_timeout_ms = 5000;
  // A connection without traffic for this long is closed, in [1, 86400000] ms.
  // Default: 300000 (5 min)
  int64_t idle_timeout_ms = 300000;
  bool operator==(const TlsSection&) const = default;
};

struct LimitsSection {
  // Largest frame accepted on a client connection, in
  // [limits::kMinFrameBytes, limits::kMaxFrameBytes] = [2 MiB, 64 MiB].
  // Default: 4194304 (4 MiB)
  int64_t max_frame_bytes = static_cast<int64_t>(limits::kDefaultFrameBytes);
  // Authenticated client API connections (a verified certificate) above
  // which new ones are refused, in [1, 1000000]. Default: 1024
  int64_t max_connections = 1024;
  // Requests queued for execution before new ones get RESOURCE_EXHAUSTED,
  // in [1, 1000000]. Default: 1024
  int64_t max_queued_requests = 1024;

  // Connection slots (node/net/connection_slots.h, docs/cluster.md
  // "Connection slots"). Unauthenticated connections: accepted, TLS
  // handshake not finished. Each listener with TLS (client API, peer links)
  // keeps them in a table of their own; a newcomer from a source at its
  // limit replaces that source's oldest, a newcomer when the table is full
  // replaces the oldest of the source holding the most.
  // Unauthenticated connections per TLS listener, in [1, 100000]. Default: 128
  int64_t max_unauthenticated_connections = 128;
  // Unauthenticated connections from one source address per TLS listener,
  // in [1, 100000]. Default: 16
  int64_t max_unauthenticated_per_source = 16;
  // Time from accept to a finished TLS handshake with a verified certificate
  // (peer links: and the hello); tls.handshake_timeout_ms applies too, the
  // shorter wins. In [100, 600000] ms. Default: 2000 (2 s)
  int64_t unauthenticated_timeout_ms = 2000;
  // Of max_connections, slots only `admin` certificates may use, so an admin
  // always gets in; in [0, max_connections - 1]. Default: 16
  int64_t admin_reserved_connections = 16;
  // Open connections to the HTTP monitoring endpoint, in [1, 100000].
  // Default: 64
  int64_t http_max_connections = 64;
  // Open HTTP connections from one source address, in [1, 100000].
  // Default: 8
  int64_t http_max_connections_per_source = 8;
  // Time an HTTP connection has to send a complete request header (after
  // connecting, or after the previous response), in [100, 600000] ms.
  // Default: 2000 (2 s)
  int64_t http_header_timeout_ms = 2000;
  // Refused or evicted connections and failed handshakes are logged at most
  // once per this (per listener), with the number of lines suppressed, in
  // [0, 3600000] ms (0: every one). Default: 10000 (10 s)
  int64_t refusal_log_interval_ms = 10000;
  bool operator==(const LimitsSection&) const = default;
};

struct StorageSection {
  // Sync the write-ahead log before a write is acknowledged, so an
  // acknowledged write survives a power loss. Default: true
  bool sync_writes = true;
  // RocksDB block cache size in MiB, in [1, 1048576]. Default: 64
  int64_t block_cache_mb = 64;
  // RocksDB memtable size in MiB, in [1, 1024]. Default: 64
  int64_t write_buffer_mb = 64;
  // Group commit: a sync that follows another back to back (work came in
  // while the previous one ran) starts no sooner than this many microseconds
  // after the previous one started; after an idle moment a sync starts at
  // once. In [0, 100000]; 0: back to back. Default: 2000 (bench/README.md)
  int64_t group_commit_interval_us = 2000;
  bool operator==(const StorageSection&) const = default;
};

struct RootOfTrustSection {
  // What wraps the node's data key. Only "passphrase" so far.
  // Default: "passphrase"
  std::string kind = "passphrase";
  // File holding the passphrase (one trailing newline is ignored). When
  // empty, the passphrase comes from the environment variable below.
  // Default: "" (use passphrase_env)
  std::string passphrase_file;
  // Environment variable holding the passphrase, used when passphrase_file is
  // empty. Default: "COFFER_PASSPHRASE"
  std::string passphrase_env = "COFFER_PASSPHRASE";
  // scrypt cost for wrapping a new data key: a power of two in [1024, 1048576]
  // (memory is 1 KiB * scrypt_n). Default: 32768
  int64_t scrypt_n = 32768;
  bool operator==(const RootOfTrustSection&) const = default;
};

// Mirrors coffer::LogOptions (common/log.h); main() copies it there.
struct LogSection {
  // "trace", "debug", "info", "warn", "error" or "off". Default: "info"
  std::string level = "info";
  // "human" or "json" (one JSON object per line). Default: "human"
  std::string format = "human";
  // Log file; empty means stderr. Default: ""
  std::string file;
  bool operator==(const LogSection&) const = default;
};

// The audit log (node/audit/audit_log.h, docs/audit.md): one JSON line per
// audited request, in its own files, never in the diagnostic log.
struct AuditSection {
  // The current audit file; rotated files are FILE.1 (newest) to
  // FILE.keep_files. Empty: "<node.data_dir>/audit/audit.log". Default: ""
  std::string file;
  // Size at which the file is rotated, in [64 KiB, 4 GiB]
  // (limits::kMinAuditFileBytes, kMaxAuditFileBytes). Default: 67108864 (64 MiB)
  int64_t max_file_bytes = 64 * 1024 * 1024;
  // Rotated files kept besides the current one, in [1, 1000]. Default: 8
  int64_t keep_files = 8;
  // Lines are written and fsync'd together at least this often: an audited
  // request's line is on disk within this bound. In [1, 1000] ms. Default: 50
  int64_t sync_interval_ms = 50;
  bool operator==(const AuditSection&) const = default;
};

// A node's complete configuration; one member per TOML table.
struct NodeConfig {
  NodeSection node;
  TlsSection tls;
  LimitsSection limits;
  StorageSection storage;
  RootOfTrustSection root_of_trust;
  LogSection log;
  AuditSection audit;
  bool operator==(const NodeConfig&) const = default;
};

// The audit file `config` names: audit.file, or its default in the data
// directory ("<node.data_dir>/audit/audit.log").
std::string AuditFilePath(const NodeConfig& config);

// Parses a config file's text. `source_name` starts every error message
// (usually the file's path); `base_dir` is what relative paths are resolved
// against (empty: leave them relative). The result has passed ValidateConfig.
// INVALID_ARGUMENT, one "FILE:LINE:COLUMN: ..." line per problem, for a TOML
// syntax error, a value of the wrong type or out of range, or an unknown key
// or table.
StatusOr<NodeConfig> ParseConfig(std::string_view toml_text, std::string_view source_name,
                                 const std::string& base_dir);

// Reads and parses the file at `path`, resolving relative paths against the
// file's directory (made absolute). NOT_FOUND if the file does not exist,
// PERMISSION_DENIED if it cannot be read, otherwise as ParseConfig.
StatusOr<NodeConfig> LoadConfigFile(const std::string& path);

// The complete default config file, every table and key present with a
// comment. ParseConfig(DefaultConfigToml(), name, dir) equals NodeConfig{}
// with ResolveRelativePaths(dir) applied.
std::string DefaultConfigToml();

// Makes every relative path setting relative to `base_dir` (no-op for an
// empty base_dir, absolute paths and empty optional paths).
void ResolveRelativePaths(const std::string& base_dir, NodeConfig* config);

// Checks every setting's range and the settings' consistency (e.g. a
// passphrase source is configured). INVALID_ARGUMENT naming the setting
// ("tls.idle_timeout_ms: ...") for the first problem found.
Status ValidateConfig(const NodeConfig& config);

// A listen address split into host (without IPv6 brackets) and port.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// INVALID_ARGUMENT unless `text` is "host:port" or "[ipv6]:port" with a
// non-empty host and a port in 1..65535.
StatusOr<HostPort> ParseHostPort(std::string_view text);

// The root-of-trust passphrase: the contents of root_of_trust.passphrase_file
// (one trailing "\n" or "\r\n" removed) if set, else the value of the
// environment variable root_of_trust.passphrase_env. NOT_FOUND naming the file
// or variable if it does not exist, PERMISSION_DENIED if the file cannot be
// read, INVALID_ARGUMENT if the passphrase is empty or the file larger than
// 64 KiB. Reads the environment: call it from main() before starting threads.
StatusOr<SecretBytes> ReadPassphrase(const NodeConfig& config);

}  // namespace coffer::node
