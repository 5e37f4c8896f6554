#include "node/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace coffer::node {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The error of parsing `text` as "cfg.toml"; fails the test if it parses.
Status ParseError(std::string_view text) {
  StatusOr<NodeConfig> config = ParseConfig(text, "cfg.toml", "");
  EXPECT_FALSE(config.ok()) << "parsed:\n" << text;
  return config.status();
}

NodeConfig ParseOk(std::string_view text, const std::string& base_dir = "") {
  StatusOr<NodeConfig> config = ParseConfig(text, "cfg.toml", base_dir);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : NodeConfig{};
}

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = std::filesystem::temp_directory_path() / "coffer_config_test.XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << contents;
    return file;
  }

 private:
  std::string path_;
};

TEST(ConfigTest, DefaultFileParsesToDefaultStruct) {
  NodeConfig parsed = ParseOk(DefaultConfigToml());
  EXPECT_EQ(parsed, NodeConfig{});
  EXPECT_TRUE(ValidateConfig(NodeConfig{}).ok());
}

TEST(ConfigTest, DefaultFileWithBaseDirEqualsResolvedDefaults) {
  NodeConfig parsed = ParseOk(DefaultConfigToml(), "/etc/coffer");
  NodeConfig expected;
  ResolveRelativePaths("/etc/coffer", &expected);
  EXPECT_EQ(parsed, expected);
  EXPECT_EQ(parsed.node.data_dir, "/etc/coffer/data/node1");
  EXPECT_EQ(parsed.tls.ca_file, "/etc/coffer/certs/ca.pem");
  EXPECT_EQ(parsed.root_of_trust.passphrase_file, "");  // empty stays empty
  EXPECT_EQ(parsed.log.file, "");
}

TEST(ConfigTest, DefaultFileShowsEveryKeyWithItsDefault) {
  std::string text = DefaultConfigToml();
  for (const char* line : {
           "[node]\n",
           "\nname = \"node1\"\n",
           "\ndata_dir = \"data/node1\"\n",
           "\nlisten = \"127.0.0.1:7400\"\n",
           "[tls]\n",
           "\nca_file = \"certs/ca.pem\"\n",
           "\ncert_file = \"certs/node1.pem\"\n",
           "\nkey_file = \"certs/node1.key\"\n",
           "\nhandshake_timeout_ms = 5000\n",
           "\nidle_timeout_ms = 300000\n",
           "[limits]\n",
           "\nmax_frame_bytes = 4194304\n",
           "\nmax_connections = 1024\n",
           "\nmax_queued_requests = 1024\n",
           "\nmax_unauthenticated_connections = 128\n",
           "\nmax_unauthenticated_per_source = 16\n",
           "\nunauthenticated_timeout_ms = 2000\n",
           "\nadmin_reserved_connections = 16\n",
           "\nhttp_max_connections = 64\n",
           "\nhttp_max_connections_per_source = 8\n",
           "\nhttp_header_timeout_ms = 2000\n",
           "\nrefusal_log_interval_ms = 10000\n",
           "[storage]\n",
           "\nsync_writes = true\n",
           "\nblock_cache_mb = 64\n",
           "\nwrite_buffer_mb = 64\n",
           "\ngroup_commit_interval_us = 2000\n",
           "[root_of_trust]\n",
           "\nkind = \"passphrase\"\n",
           "\npassphrase_file = \"\"\n",
           "\npassphrase_env = \"COFFER_PASSPHRASE\"\n",
           "\nscrypt_n = 32768\n",
           "[log]\n",
           "\nlevel = \"info\"\n",
           "\nformat = \"human\"\n",
           "\nfile = \"\"\n",
           "[audit]\n",
           "\nmax_file_bytes = 67108864\n",
           "\nkeep_files = 8\n",
           "\nsync_interval_ms = 50\n",
       }) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  // Every key is documented by a comment line right above it.
  EXPECT_THAT(text, HasSubstr("# Relative paths are resolved against the directory of this file."));
  EXPECT_THAT(text, HasSubstr("empty means stderr.\nfile = \"\"\n"));
}

TEST(ConfigTest, EmptyFileMeansDefaults) { EXPECT_EQ(ParseOk(""), NodeConfig{}); }

TEST(ConfigTest, TheAuditFileDefaultsToTheDataDirectory) {
  NodeConfig config;
  config.node.data_dir = "/var/lib/coffer/node1";
  EXPECT_EQ(AuditFilePath(config), "/var/lib/coffer/node1/audit/audit.log");
  config.audit.file = "/var/log/coffer/audit.log";
  EXPECT_EQ(AuditFilePath(config), "/var/log/coffer/audit.log");
}

TEST(ConfigTest, KeysOverrideOnlyThemselves) {
  NodeConfig config = ParseOk(R"(
[node]
name = "vault-2"
listen = "[::1]:7501"

[tls]
idle_timeout_ms = 1000

[storage]
sync_writes = false

[log]
level = "debug"
format = "json"
)");
  NodeConfig expected;
  expected.node.name = "vault-2";
  expected.node.listen = "[::1]:7501";
  expected.tls.idle_timeout_ms = 1000;
  expected.storage.sync_writes = false;
  expected.log.level = "debug";
  expected.log.format = "json";
  EXPECT_EQ(config, expected);
}

TEST(ConfigTest, DottedKeysAndInlineTablesWork) {
  NodeConfig config = ParseOk("limits.max_connections = 70\nlog = { level = \"warn\" }\n");
  EXPECT_EQ(config.limits.max_connections, 70);
  EXPECT_EQ(config.log.level, "warn");
}

TEST(ConfigTest, SyntaxErrorHasLineAndColumn) {
  Status status = ParseError("[node]\nname = \n");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), StartsWith("cfg.toml:2:8: "));
  EXPECT_THAT(status.message(), HasSubstr("expected value"));

  status = ParseError("[node]\nname = \"a\"\nname = \"b\"\n");
  EXPECT_THAT(status.message(), StartsWith("cfg.toml:3:"));
  EXPECT_THAT(status.message(), HasSubstr("redefine"));

  status = ParseError("[limits]\nmax_connections = 99999999999999999999\n");
  EXPECT_THAT(status.message(), StartsWith("cfg.toml:2:"));
}

TEST(ConfigTest, UnknownTableIsRejectedWithPosition) {
  Status status = ParseError("# comment\n[tsl]\nca_file = \"x\"\n");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.message(), "cfg.toml:2:2: unknown table 'tsl' (did you mean 'tls'?)");

  status = ParseError("[metrics]\n");
  EXPECT_EQ(status.message(), "cfg.toml:1:2: unknown table 'metrics'");
}

TEST(ConfigTest, UnknownKeyIsRejectedWithPosition) {
  Status status = ParseError("[tls]\n  handshake_timout_ms = 10\n");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "cfg.toml:2:3: unknown key 'tls.handshake_timout_ms' (did you mean "
            "'handshake_timeout_ms'?)");

  status = ParseError("name = \"node1\"\n");
  EXPECT_EQ(status.message(),
            "cfg.toml:1:1: unknown key 'name' outside any table (it belongs in [node])");
  status = ParseError("verbose = true\n");
  EXPECT_EQ(status.message(), "cfg.toml:1:1: unknown key 'verbose' outside any table");

  // A sub-table of a known table is an unknown key of that table.
  status = ParseError("[tls.extra]\nx = 1\n");
  EXPECT_EQ(status.message(), "cfg.toml:1:6: unknown key 'tls.extra'");
}

TEST(ConfigTest, WrongTypeIsRejectedWithPosition) {
  Status status = ParseError("[tls]\nhandshake_timeout_ms = \"5000\"\n");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "cfg.toml:2:24: tls.handshake_timeout_ms: expected an integer, got a string");

  EXPECT_EQ(ParseError("[storage]\nsync_writes = 1\n").message(),
            "cfg.toml:2:15: storage.sync_writes: expected a boolean, got an integer");
  EXPECT_EQ(ParseError("[node]\nname = 5\n").message(),
            "cfg.toml:2:8: node.name: expected a string, got an integer");
  EXPECT_EQ(ParseError("[limits]\nmax_frame_bytes = 4096.0\n").message(),
            "cfg.toml:2:19: limits.max_frame_bytes: expected an integer, got a floating-point "
            "number");
  EXPECT_EQ(ParseError("tls = 5\n").message(),
            "cfg.toml:1:7: 'tls' must be a table, got an integer");
  EXPECT_EQ(ParseError("[[node]]\nname = \"a\"\n").message(),
            "cfg.toml:1:1: 'node' must be a table, got an array");
}

TEST(ConfigTest, OutOfRangeValuesAreRejectedWithPosition) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"[limits]\nmax_frame_bytes = 2097151\n",
       "cfg.toml:2:19: limits.max_frame_bytes: must be in [2097152, 67108864], got 2097151"},
      {"[limits]\nmax_frame_bytes = 67108865\n",
       "cfg.toml:2:19: limits.max_frame_bytes: must be in [2097152, 67108864], got 67108865"},
      {"[tls]\nhandshake_timeout_ms = 0\n",
       "cfg.toml:2:24: tls.handshake_timeout_ms: must be in [1, 3600000], got 0"},
      {"[tls]\nidle_timeout_ms = -5\n",
       "cfg.toml:2:19: tls.idle_timeout_ms: must be in [1, 86400000], got -5"},
      {"[limits]\nmax_connections = 4294967297\n",
       "cfg.toml:2:19: limits.max_connections: must be in [1, 1000000], got 4294967297"},
      {"[storage]\nblock_cache_mb = 0\n",
       "cfg.toml:2:18: storage.block_cache_mb: must be in [1, 1048576], got 0"},
      {"[storage]\nwrite_buffer_mb = 1025\n",
       "cfg.toml:2:19: storage.write_buffer_mb: must be in [1, 1024], got 1025"},
      {"[storage]\ngroup_commit_interval_us = -1\n",
       "cfg.toml:2:28: storage.group_commit_interval_us: must be in [0, 100000], got -1"},
      {"[root_of_trust]\nscrypt_n = 3000\n",
       "cfg.toml:2:12: root_of_trust.scrypt_n: must be a power of two"},
      {"[root_of_trust]\nscrypt_n = 512\n",
       "cfg.toml:2:12: root_of_trust.scrypt_n: must be in [1024, 1048576], got 512"},
      {"[node]\nlisten = \"127.0.0.1:0\"\n",
       "cfg.toml:2:10: node.listen: listen address \"127.0.0.1:0\" must end in a port number "
       "1..65535"},
      {"[node]\nlisten = \"127.0.0.1:65536\"\n",
       "cfg.toml:2:10: node.listen: listen address \"127.0.0.1:65536\" must end in a port number "
       "1..65535"},
      {"[node]\nlisten = \"7400\"\n",
       "cfg.toml:2:10: node.listen: listen address \"7400\" must be host:port"},
      {"[node]\nname = \"\"\n", "cfg.toml:2:8: node.name: must not be empty"},
      {"[node]\nname = \"a b\"\n",
       "cfg.toml:2:8: node.name: may contain only letters, digits, '.', '_' and '-'"},
      {"[node]\ndata_dir = \"\"\n", "cfg.toml:2:12: node.data_dir: must not be empty"},
      {"[log]\nlevel = \"verbose\"\n",
       "cfg.toml:2:9: log.level: must be one of \"trace\", \"debug\", \"info\", \"warn\", "
       "\"error\", \"off\", got \"verbose\""},
      {"[log]\nformat = \"xml\"\n",
       "cfg.toml:2:10: log.format: must be one of \"human\", \"json\", got \"xml\""},
      {"[audit]\nmax_file_bytes = 1000\n",
       "cfg.toml:2:18: audit.max_file_bytes: must be in [65536, 4294967296], got 1000"},
      {"[audit]\nkeep_files = 0\n", "cfg.toml:2:14: audit.keep_files: must be in [1, 1000], got 0"},
      {"[audit]\nsync_interval_ms = 5000\n",
       "cfg.toml:2:20: audit.sync_interval_ms: must be in [1, 1000], got 5000"},
      {"[root_of_trust]\nkind = \"pkcs11\"\n",
       "cfg.toml:2:8: root_of_trust.kind: must be one of \"passphrase\", got \"pkcs11\""},
      {"[root_of_trust]\npassphrase_env = \"1BAD\"\n",
       "cfg.toml:2:18: root_of_trust.passphrase_env: must be an environment variable name "
       "([A-Za-z_][A-Za-z0-9_]*)"},
      {"[root_of_trust]\n\npassphrase_env = \"\"\n",
       "cfg.toml:3:18: root_of_trust.passphrase_env: must not be empty when "
       "root_of_trust.passphrase_file is empty (no passphrase source)"},
  };
  for (const Case& c : cases) {
    Status status = ParseError(c.text);
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << c.text;
    EXPECT_EQ(status.message(), c.message) << c.text;
  }
}

TEST(ConfigTest, BoundaryValuesAreAccepted) {
  NodeConfig config = ParseOk(
      "[limits]\nmax_frame_bytes = 2097152\n[node]\nlisten = \"h:65535\"\n"
      "[root_of_trust]\nscrypt_n = 1048576\npassphrase_env = \"\"\npassphrase_file = \"pw\"\n");
  EXPECT_EQ(config.limits.max_frame_bytes, 2 * 1024 * 1024);
  EXPECT_EQ(config.root_of_trust.scrypt_n, 1048576);
  config = ParseOk("[limits]\nmax_frame_bytes = 67108864\n[node]\nlisten = \"h:1\"\n");
  EXPECT_EQ(config.limits.max_frame_bytes, 64 * 1024 * 1024);
}

TEST(ConfigTest, AllProblemsAreReportedInFileOrder) {
  Status status = ParseError(
      "[tls]\nidle_timeout_ms = 0\n[node]\nnmae = \"x\"\n[limits]\nmax_frame_bytes = \"big\"\n");
  EXPECT_EQ(status.message(),
            "cfg.toml:2:19: tls.idle_timeout_ms: must be in [1, 86400000], got 0\n"
            "cfg.toml:4:1: unknown key 'node.nmae' (did you mean 'name'?)\n"
            "cfg.toml:6:19: limits.max_frame_bytes: expected an integer, got a string");
}

TEST(ConfigTest, RelativePathsResolveAgainstBaseDir) {
  NodeConfig config = ParseOk(R"(
[node]
data_dir = "../data/n1"
[tls]
ca_file = "/abs/ca.pem"
cert_file = "./certs/n1.pem"
[root_of_trust]
passphrase_file = "secrets/pass"
[log]
file = "logs/coffer.log"
)",
                              "/srv/coffer/conf");
  EXPECT_EQ(config.node.data_dir, "/srv/coffer/data/n1");
  EXPECT_EQ(config.tls.ca_file, "/abs/ca.pem");
  EXPECT_EQ(config.tls.cert_file, "/srv/coffer/conf/certs/n1.pem");
  EXPECT_EQ(config.tls.key_file, "/srv/coffer/conf/certs/node1.key");  // default, resolved too
  EXPECT_EQ(config.root_of_trust.passphrase_file, "/srv/coffer/conf/secrets/pass");
  EXPECT_EQ(config.log.file, "/srv/coffer/conf/logs/coffer.log");
  EXPECT_EQ(config.node.name, "node1");  // not a path
  EXPECT_EQ(config.node.listen, "127.0.0.1:7400");

  // An empty base dir leaves paths as written.
  EXPECT_EQ(ParseOk("[node]\ndata_dir = \"../d\"\n").node.data_dir, "../d");
}

TEST(ConfigTest, LoadConfigFileResolvesAgainstTheFilesDirectory) {
  TempDir dir;
  std::string path = dir.Write("coffer.toml", "[node]\ndata_dir = \"state\"\n");
  StatusOr<NodeConfig> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->node.data_dir, dir.path() + "/state");
  EXPECT_EQ(config->tls.ca_file, dir.path() + "/certs/ca.pem");
}

TEST(ConfigTest, LoadConfigFileRelativePathIsMadeAbsolute) {
  TempDir dir;
  dir.Write("c.toml", "");
  std::filesystem::path old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  StatusOr<NodeConfig> config = LoadConfigFile("c.toml");
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->node.data_dir,
            (std::filesystem::canonical(dir.path()) / "data/node1").string());
}

TEST(ConfigTest, LoadConfigFileErrorsNameTheFile) {
  TempDir dir;
  StatusOr<NodeConfig> missing = LoadConfigFile(dir.path() + "/nope.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.toml"));

  std::string path = dir.Write("bad.toml", "[log]\nlevel = \"loud\"\n");
  StatusOr<NodeConfig> bad = LoadConfigFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), StartsWith(path + ":2:9: log.level: "));

  StatusOr<NodeConfig> directory = LoadConfigFile(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), Code::kInvalidArgument);
}

TEST(ConfigTest, ValidateConfigNamesTheSetting) {
  NodeConfig config;
  config.limits.max_frame_bytes = 100;
  Status status = ValidateConfig(config);
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.message(), "limits.max_frame_bytes: must be in [2097152, 67108864], got 100");

  config = NodeConfig{};
  config.node.listen = "localhost";
  EXPECT_THAT(ValidateConfig(config).message(), StartsWith("node.listen: "));

  config = NodeConfig{};
  config.tls.handshake_timeout_ms = 0;
  EXPECT_THAT(ValidateConfig(config).message(), StartsWith("tls.handshake_timeout_ms: "));

  config = NodeConfig{};
  config.limits.unauthenticated_timeout_ms = 50;
  EXPECT_EQ(ValidateConfig(config).message(),
            "limits.unauthenticated_timeout_ms: must be in [100, 600000], got 50");

  config = NodeConfig{};
  config.limits.http_max_connections_per_source = 0;
  EXPECT_THAT(ValidateConfig(config).message(),
              StartsWith("limits.http_max_connections_per_source: "));

  // Admins' reserved slots must leave some to the others.
  config = NodeConfig{};
  config.limits.max_connections = 16;
  EXPECT_EQ(ValidateConfig(config).message(),
            "limits.admin_reserved_connections: must be less than limits.max_connections (16), "
            "got 16");
  config.limits.admin_reserved_connections = 15;
  EXPECT_TRUE(ValidateConfig(config).ok());

  config = NodeConfig{};
  config.log.format = "yaml";
  EXPECT_THAT(ValidateConfig(config).message(), StartsWith("log.format: "));

  config = NodeConfig{};
  config.root_of_trust.passphrase_env = "";
  EXPECT_THAT(ValidateConfig(config).message(), StartsWith("root_of_trust.passphrase_env: "));
  config.root_of_trust.passphrase_file = "pw.txt";
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(HostPortTest, ParsesValidAddresses) {
  StatusOr<HostPort> v4 = ParseHostPort("127.0.0.1:7400");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7400);
  StatusOr<HostPort> v6 = ParseHostPort("[::1]:65535");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
  StatusOr<HostPort> name = ParseHostPort("vault.example:1");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "vault.example");
  EXPECT_EQ(name->port, 1);
}

TEST(HostPortTest, RejectsInvalidAddresses) {
  for (std::string_view bad :
       {"", "host", ":7400", "host:", "host:0", "host:65536", "host:-1", "host:+80", "host:80x",
        "::1:7400", "[]:80", "[::1:80", "host:0000080"}) {
    StatusOr<HostPort> parsed = ParseHostPort(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << bad;
  }
}

class ReadPassphraseTest : public ::testing::Test {
 protected:
  void SetUp() override { env_name_ = "COFFER_CONFIG_TEST_PASS_" + std::to_string(::getpid()); }
  void TearDown() override { ::unsetenv(env_name_.c_str()); }

  NodeConfig FileConfig(const std::string& file) {
    NodeConfig config;
    config.root_of_trust.passphrase_file = file;
    config.root_of_trust.passphrase_env = env_name_;
    return config;
  }

  TempDir dir_;
  std::string env_name_;
};

TEST_F(ReadPassphraseTest, FileTakesPrecedenceAndOneTrailingNewlineIsTrimmed) {
  ::setenv(env_name_.c_str(), "from-env", 1);
  StatusOr<SecretBytes> pass = ReadPassphrase(FileConfig(dir_.Write("p", "from file\n")));
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_EQ(pass->reveal(), "from file");

  pass = ReadPassphrase(FileConfig(dir_.Write("p2", "two lines\n\n")));
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->reveal(), "two lines\n");

  pass = ReadPassphrase(FileConfig(dir_.Write("p3", "crlf\r\n")));
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->reveal(), "crlf");

  pass = ReadPassphrase(FileConfig(dir_.Write("p4", " spaces kept ")));
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->reveal(), " spaces kept ");
}

TEST_F(ReadPassphraseTest, EnvironmentVariableWhenNoFile) {
  ::setenv(env_name_.c_str(), "from-env", 1);
  StatusOr<SecretBytes> pass = ReadPassphrase(FileConfig(""));
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_EQ(pass->reveal(), "from-env");
}

TEST_F(ReadPassphraseTest, MissingSourcesAreNamed) {
  std::string missing = dir_.path() + "/absent";
  StatusOr<SecretBytes> pass = ReadPassphrase(FileConfig(missing));
  ASSERT_FALSE(pass.ok());
  EXPECT_EQ(pass.status().code(), Code::kNotFound);
  EXPECT_THAT(pass.status().message(), HasSubstr(missing));

  pass = ReadPassphrase(FileConfig(""));
  ASSERT_FALSE(pass.ok());
  EXPECT_EQ(pass.status().code(), Code::kNotFound);
  EXPECT_THAT(pass.status().message(), HasSubstr(env_name_));
}

TEST_F(ReadPassphraseTest, EmptyPassphraseIsInvalidArgument) {
  for (const char* contents : {"", "\n", "\r\n"}) {
    std::string file = dir_.Write("empty", contents);
    StatusOr<SecretBytes> pass = ReadPassphrase(FileConfig(file));
    ASSERT_FALSE(pass.ok());
    EXPECT_EQ(pass.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(pass.status().message(), HasSubstr(file));
  }
  ::setenv(env_name_.c_str(), "", 1);
  StatusOr<SecretBytes> pass = ReadPassphrase(FileConfig(""));
  ASSERT_FALSE(pass.ok());
  EXPECT_EQ(pass.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(pass.status().message(), HasSubstr(env_name_));
}

}  // namespace
}  // namespace coffer::node
