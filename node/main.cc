// `coffer`: the one binary. Run a node, manage certificates and configs, and
// talk to a node over the client API. Flags and config files are parsed here
// only (architecture.md #10).
//
// Exit codes: 0 ok, 1 error, 2 degraded (the node answers but cannot take
// critical writes).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/ids.h"
#include "common/log.h"
#include "node/api/request_handler.h"
#include "node/cli/cli_output.h"
#include "node/client/client.h"
#include "node/client/failover_client.h"
#include "node/cluster/join.h"
#include "node/config/config.h"
#include "node/monitoring/cluster_gather.h"
#include "node/net/certs.h"
#include "node/net/tls.h"
#include "node/node.h"
#include "upgrade/version.h"

namespace coffer::node {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitDegraded = 2;

// Prints the error. A node that answers but cannot take critical writes
// (restricted or read-only) is "degraded" (exit 2), anything else exit 1.
int Fail(const Status& status) {
  std::cerr << "error: " << status.ToString() << "\n";
  if (status.code() == Code::kReadOnlyRestricted || status.code() == Code::kReadOnlyNode) {
    return kExitDegraded;
  }
  return kExitError;
}

// ---------------------------------------------------------------- client

struct ClientFlags {
  std::string address = "127.0.0.1:7400";
  // The same certs/ directory as the node's embedded defaults and `coffer cert`.
  std::string ca = "certs/ca.pem";
  std::string cert = "certs/admin.pem";
  std::string key = "certs/admin.key";
  int timeout_ms = 10000;
  std::string output = "table";
  std::string request_id;
  std::string retry_of;  // "ORIGIN:SEQ" from an earlier OUTCOME_UNKNOWN
  std::string subgroup;  // preferred subgroup when --address lists several nodes
};

// Parses "ORIGIN:SEQ" (a record named by an OUTCOME_UNKNOWN answer).
StatusOr<pb::RecordRef> ParseRecordRef(const std::string& text) {
  size_t colon = text.find(':');
  uint64_t origin = 0, seq = 0;
  if (colon != std::string::npos) {
    auto parse = [](std::string_view digits, uint64_t* out) {
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
      return ec == std::errc() && end == digits.data() + digits.size();
    };
    std::string_view all(text);
    if (parse(all.substr(0, colon), &origin) && parse(all.substr(colon + 1), &seq) && origin > 0 &&
        origin <= UINT32_MAX && seq > 0) {
      pb::RecordRef ref;
      ref.set_origin(static_cast<uint32_t>(origin));
      ref.set_seq(seq);
      return ref;
    }
  }
  return InvalidArgument("--retry-of '" + text +
                         "' is not ORIGIN:SEQ (two numbers above 0, as an OUTCOME_UNKNOWN names)");
}

OutputFormat Format(const ClientFlags& flags) {
  return flags.output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
}

// Sends one request; on UNAVAILABLE or OUTCOME_UNKNOWN retries (at most three
// attempts) on a new connection with the same request id, which makes the
// retry of a write safe; a retry after an OUTCOME_UNKNOWN that named its
// record names it too (Request.retry_of), which makes it safe on any node.
// An outcome still unknown at the end is reported with the flags that retry it.
// Requests about the data, which any node may answer: with several
// addresses they go through FailoverClient. The others (node status, join
// tokens, lifecycle steps such as enable, which runs on one node) go to the
// first address only.
bool AnyNodeMayAnswer(const pb::Request& request) {
  if (request.has_write()) {
    return !request.write().has_cluster_init() && !IsLifecycleOp(request.write());
  }
  return IsDataRead(request);
}

std::vector<std::string> SplitAddresses(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

StatusOr<pb::Response> Call(const ClientFlags& flags, pb::Request request) {
  std::vector<std::string> addresses = SplitAddresses(flags.address);
  if (addresses.empty()) return InvalidArgument("--address names no node");
  COFFER_ASSIGN_OR_RETURN(HostPort address, ParseHostPort(addresses.front()));
  COFFER_ASSIGN_OR_RETURN(auto tls,
                          MakeClientTlsContext(TlsFiles{flags.ca, flags.cert, flags.key}));
  if (request.has_write() && request.request_id().empty()) {
    if (!flags.request_id.empty()) {
      request.set_request_id(flags.request_id);
    } else {
      SystemRng rng;
      request.set_request_id(Uuid::Generate(rng).str());
    }
  }
  if (request.has_write() && !flags.retry_of.empty()) {
    COFFER_ASSIGN_OR_RETURN(*request.mutable_retry_of(), ParseRecordRef(flags.retry_of));
  }
  auto how_to_retry = [&](const Status& status) {
    if (status.code() != Code::kOutcomeUnknown || !request.has_write()) return status;
    std::string flags_text = "--request-id " + request.request_id();
    if (request.has_retry_of()) {
      flags_text += " --retry-of " + std::to_string(request.retry_of().origin()) + ":" +
                    std::to_string(request.retry_of().seq());
    }
    return Status(status.code(),
                  status.message() + "\nretry on any node with the same command and " + flags_text);
  };
  auto timeout = std::chrono::milliseconds(flags.timeout_ms);
  if (addresses.size() > 1 && AnyNodeMayAnswer(request)) {
    FailoverOptions options{addresses, flags.subgroup, TlsFiles{flags.ca, flags.cert, flags.key},
                            timeout};
    COFFER_ASSIGN_OR_RETURN(auto client, FailoverClient::Create(std::move(options)));
    auto response = client->Call(request);
    if (!response.ok()) return how_to_retry(response.status());
    if (response->has_outcome_record()) *request.mutable_retry_of() = response->outcome_record();
    Status answered = StatusFromResponse(*response);
    if (answered.code() == Code::kOutcomeUnknown) return how_to_retry(answered);
    return response;
  }
  Status last = Unavailable("no attempt made");
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto client = CofferClient::Connect(address.host, address.port, *tls, timeout);
    if (!client.ok()) {
      last = client.status();
      if (last.code() != Code::kUnavailable) return last;
      continue;
    }
    auto response = (*client)->Call(request, timeout);
    if (!response.ok()) {
      last = response.status();
      if (last.code() != Code::kUnavailable && last.code() != Code::kOutcomeUnknown) return last;
      continue;
    }
    // The node itself may answer that the outcome is unknown (its pair peer
    // did not confirm in time) or that it is unavailable: retry those too.
    Code answered = StatusFromResponse(*response).code();
    if (answered != Code::kUnavailable && answered != Code::kOutcomeUnknown) return response;
    last = StatusFromResponse(*response);
    if (response->has_outcome_record()) *request.mutable_retry_of() = response->outcome_record();
  }
  return how_to_retry(last);
}

// Calls and prints: the rendered result on success, the error otherwise.
int Run(const ClientFlags& flags, const pb::Request& request,
        const std::function<std::string(const pb::Response&)>& render) {
  auto response = Call(flags, request);
  if (!response.ok()) return Fail(response.status());
  Status status = StatusFromResponse(*response);
  if (!status.ok()) return Fail(status);
  std::cout << render(*response);
  return kExitOk;
}

int RunWrite(const ClientFlags& flags, const pb::Op& op) {
  pb::Request request;
  *request.mutable_write() = op;
  return Run(flags, request, [&](const pb::Response& r) {
    if (Format(flags) == OutputFormat::kJson) return RenderJson(r.op_result());
    return r.op_result().uuid() + "\n";
  });
}

// COFFER_ADDRESS, COFFER_CA, COFFER_CERT, COFFER_KEY and COFFER_SUBGROUP replace the built-in
// defaults; flags on the command line replace both. (Set here, once, rather
// than with CLI11's envname: sibling subcommands bind the same variables, and
// an unused sibling's option would write the environment's value over a flag
// given on the command line.)
void ApplyClientEnvironment(ClientFlags* flags) {
  for (auto [name, field] :
       {std::pair{"COFFER_ADDRESS", &flags->address}, std::pair{"COFFER_CA", &flags->ca},
        std::pair{"COFFER_CERT", &flags->cert}, std::pair{"COFFER_KEY", &flags->key},
        std::pair{"COFFER_SUBGROUP", &flags->subgroup}}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') *field = value;
  }
}

void AddClientFlags(CLI::App* app, ClientFlags* flags, bool read_command) {
  app->add_option("--address", flags->address,
                  "node client API address host:port, or several separated by commas: data "
                  "requests then fail over between them (env COFFER_ADDRESS)")
      ->capture_default_str();
  app->add_option("--subgroup", flags->subgroup,
                  "with several addresses: try the nodes of this subgroup first (env "
                  "COFFER_SUBGROUP)");
  app->add_option("--ca", flags->ca, "cluster CA certificate (PEM) (env COFFER_CA)")
      ->capture_default_str();
  app->add_option("--cert", flags->cert, "client certificate (PEM) (env COFFER_CERT)")
      ->capture_default_str();
  app->add_option("--key", flags->key, "client private key (PEM) (env COFFER_KEY)")
      ->capture_default_str();
  app->add_option("--timeout-ms", flags->timeout_ms, "per-attempt timeout")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app->add_option("-o,--output", flags->output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  if (!read_command) {
    app->add_option("--request-id", flags->request_id,
                    "id that makes a retry safe (default: a new random id)");
    app->add_option("--retry-of", flags->retry_of,
                    "ORIGIN:SEQ named by an OUTCOME_UNKNOWN: with the same --request-id, makes "
                    "the retry safe on any node");
  }
}

// Parses "name=value" attribute flags. Values: true/false are booleans,
// integers for usage_mask, text otherwise.
StatusOr<std::pair<std::string, pb::AttributeValue>> ParseAttribute(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument("attribute '" + text + "' is not name=value");
  }
  std::string name = text.substr(0, eq);
  std::string value = text.substr(eq + 1);
  pb::AttributeValue v;
  if (name == "extractable") {
    if (value != "true" && value != "false") return InvalidArgument("extractable is true|false");
    v.set_boolean(value == "true");
  } else if (name == "usage_mask") {
    try {
      size_t used = 0;
      long long n = std::stoll(value, &used);
      if (used != value.size()) throw std::invalid_argument("trailing");
      v.set_integer(n);
    } catch (const std::exception&) {
      return InvalidArgument("usage_mask takes an integer");
    }
  } else {
    v.set_text(value);
  }
  return std::make_pair(name, v);
}

Status AddAttributes(const std::vector<std::string>& attrs, const std::vector<std::string>& tags,
                     google::protobuf::Map<std::string, pb::AttributeValue>* out) {
  for (const auto& a : attrs) {
    COFFER_ASSIGN_OR_RETURN(auto parsed, ParseAttribute(a));
    (*out)[parsed.first] = parsed.second;
  }
  for (const auto& t : tags) (*out)["tag:" + t].set_boolean(true);
  return Status::Ok();
}

StatusOr<pb::ObjectType> ParseType(const std::string& text) {
  static const std::map<std::string, pb::ObjectType> kTypes = {
      {"secret", pb::SECRET_DATA},          {"certificate", pb::CERTIFICATE},
      {"private-key", pb::PRIVATE_KEY},     {"public-key", pb::PUBLIC_KEY},
      {"symmetric-key", pb::SYMMETRIC_KEY}, {"opaque", pb::OPAQUE_OBJECT}};
  auto it = kTypes.find(text);
  if (it == kTypes.end()) {
    return InvalidArgument(
        "unknown type '" + text +
        "' (secret, certificate, private-key, public-key, symmetric-key, opaque)");
  }
  return it->second;
}

StatusOr<pb::State> ParseState(const std::string& text) {
  std::string upper = text;
  for (auto& c : upper) c = c == '-' ? '_' : static_cast<char>(::toupper(c));
  pb::State state;
  if (!pb::State_Parse(upper, &state) || state == pb::STATE_UNSPECIFIED) {
    return InvalidArgument("unknown state '" + text + "'");
  }
  return state;
}

StatusOr<std::string> ReadFile(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream data;
  data << in.rdbuf();
  if (data.str().size() > limit) return ResourceExhausted(path + " is larger than the limit");
  return data.str();
}

// ---------------------------------------------------------------- commands

void AddConfigCommands(CLI::App& app) {
  auto* config = app.add_subcommand("config", "check and print node configuration files");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "validate a config file (errors as FILE:LINE:COL)");
  static std::string check_path;
  check->add_option("FILE", check_path)->required();
  check->final_callback([] {
    auto parsed = LoadConfigFile(check_path);
    if (!parsed.ok()) {
      std::cerr << parsed.status().message() << "\n";
      throw CLI::RuntimeError(kExitError);
    }
    std::cout << check_path << ": ok\n";
  });
  auto* print = config->add_subcommand("print-default", "print the default config with comments");
  print->final_callback([] { std::cout << DefaultConfigToml(); });
}

void AddCertCommands(CLI::App& app) {
  auto* cert = app.add_subcommand("cert", "make a development CA and certificates");
  cert->require_subcommand(1);
  static std::string dir = "certs";
  static std::string name;
  static std::string role = "node";
  static std::vector<std::string> ips;
  static std::vector<std::string> dns;
  static int days = 825;

  auto* ca = cert->add_subcommand("ca", "create a cluster CA (DIR/ca.pem, DIR/ca.key)");
  ca->add_option("--dir", dir, "output directory")->capture_default_str();
  ca->add_option("--name", name, "CA common name")->default_str("Coffer cluster CA");
  ca->final_callback([] {
    auto pair = CreateCertificateAuthority(name.empty() ? "Coffer cluster CA" : name);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    Status s = pair.ok() ? WritePemPair(*pair, dir + "/ca.pem", dir + "/ca.key") : pair.status();
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
    std::cout << dir << "/ca.pem\n";
  });

  auto* issue = cert->add_subcommand("issue", "issue a node or client certificate (DIR/NAME.pem)");
  issue->add_option("--dir", dir, "directory holding ca.pem/ca.key and receiving the files")
      ->capture_default_str();
  issue->add_option("--name", name, "common name: node name or client name")->required();
  issue->add_option("--role", role, "node, admin or endpoint")
      ->check(CLI::IsMember({"node", "admin", "endpoint"}))
      ->capture_default_str();
  issue->add_option("--ip", ips, "IP subjectAltName (repeatable)");
  issue->add_option("--dns", dns, "DNS subjectAltName (repeatable)");
  issue->add_option("--days", days, "validity in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  issue->final_callback([] {
    auto ca_pair = ReadPemPair(dir + "/ca.pem", dir + "/ca.key");
    if (!ca_pair.ok()) throw CLI::RuntimeError(Fail(ca_pair.status()));
    CertificateRequest request{name, role, ips, dns, days};
    auto leaf = IssueCertificate(*ca_pair, request);
    Status s = leaf.ok() ? WritePemPair(*leaf, dir + "/" + name + ".pem", dir + "/" + name + ".key")
                         : leaf.status();
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
    std::cout << dir << "/" << name << ".pem\n";
  });
}

void AddNodeLifecycleCommands(CLI::App* node, ClientFlags& flags);

void AddNodeCommands(CLI::App& app, ClientFlags& flags) {
  auto* node = app.add_subcommand("node", "run a node and ask it about itself");
  node->require_subcommand(1);
  auto* start = node->add_subcommand("start", "run a node in the foreground until SIGINT/SIGTERM");
  static std::string config_path;
  static std::string join_address, join_token;
  start->add_option("--config", config_path, "node config file (TOML); omitted: embedded defaults");
  auto* join = start->add_option(
      "--join", join_address,
      "join a cluster first: the client API address (host:port) of a controller node");
  start->add_option("--token", join_token, "the join token from `coffer cluster join-token`")
      ->needs(join);
  join->needs("--token");
  static double join_retry_for = 300;
  static uint32_t join_chunk_entries = 0;
  start
      ->add_option("--join-retry-for", join_retry_for,
                   "seconds to keep retrying while the controller is unreachable mid-transfer")
      ->check(CLI::Range(0.0, 86400.0))
      ->needs(join);
  start
      ->add_option("--join-chunk-entries", join_chunk_entries,
                   "snapshot entries per chunk (default 512, at most 4096)")
      ->check(CLI::Range(1u, 4096u))
      ->needs(join);
  start->final_callback([] {
    NodeConfig config;
    if (!config_path.empty()) {
      auto loaded = LoadConfigFile(config_path);
      if (!loaded.ok()) {
        std::cerr << loaded.status().message() << "\n";
        throw CLI::RuntimeError(kExitError);
      }
      config = *loaded;
    }
    LogOptions log{config.log.level, config.log.format, config.log.file};
    Status s = InitLogging(log);
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
    auto passphrase = ReadPassphrase(config);
    if (!passphrase.ok()) throw CLI::RuntimeError(Fail(passphrase.status()));
    if (!join_address.empty()) {
      JoinOptions options{join_address, join_token};
      options.controller_retry_for =
          std::chrono::milliseconds(static_cast<int64_t>(join_retry_for * 1000));
      options.chunk_entries = join_chunk_entries;
      // A bar redrawn in place on a terminal; otherwise a plain line at most
      // once a second, and the last one.
      const bool terminal = isatty(fileno(stderr)) != 0;
      double last_line = -1;
      s = JoinCluster(config, *passphrase, options, [&](const JoinProgress& p) {
        if (!terminal && !p.done && last_line >= 0 && p.seconds - last_line < 1.0) return;
        last_line = p.seconds;
        std::cerr << RenderJoinProgress(p, terminal) << std::flush;
      });
      if (!s.ok()) {
        spdlog::error("cannot join: {}", s.ToString());
        throw CLI::RuntimeError(Fail(s));
      }
    }
    auto running = Node::Start(config, std::move(passphrase).value());
    if (!running.ok()) {
      spdlog::error("cannot start: {}", running.status().ToString());
      throw CLI::RuntimeError(Fail(running.status()));
    }
    s = (*running)->RunUntilSignal();
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
  });

  AddNodeLifecycleCommands(node, flags);
  auto* status = node->add_subcommand("status", "the node's identity, mode, position and digest");
  AddClientFlags(status, &flags, true);
  status->final_callback([&flags] {
    pb::Request request;
    request.mutable_node_status();
    auto response = Call(flags, request);
    if (!response.ok()) throw CLI::RuntimeError(Fail(response.status()));
    Status s = StatusFromResponse(*response);
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
    std::cout << RenderNodeStatus(response->node_status(), Format(flags));
    if (response->node_status().mode() != "read-write") throw CLI::RuntimeError(kExitDegraded);
  });
}

// Finds a member by name or id, as the node at --address sees membership.
StatusOr<pb::MemberView> FindMember(const ClientFlags& flags, const std::string& node) {
  pb::Request request;
  request.mutable_cluster_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(flags, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  for (const auto& m : response.cluster_status().members()) {
    if (m.name() == node || std::to_string(m.node_id()) == node) return m;
  }
  return NotFound("no member '" + node + "' in the cluster as " + flags.address + " sees it");
}

// Polls the node at --address until member `node_id` is in one of `states`
// ("" = no longer a member), printing each change; at most `timeout_seconds`.
int WaitForMemberState(const ClientFlags& flags, uint32_t node_id,
                       const std::set<std::string>& states, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  std::string last = "?";
  while (true) {
    pb::Request request;
    request.mutable_cluster_status();
    auto response = Call(flags, request);
    std::string state;
    if (response.ok() && StatusFromResponse(*response).ok()) {
      for (const auto& m : response->cluster_status().members()) {
        if (m.node_id() == node_id) state = m.state();
      }
      if (state != last)
        std::cout << "node " << node_id << ": " << (state.empty() ? "deleted" : state) << "\n";
      last = state;
      if (states.contains(state)) return kExitOk;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "error: UNAVAILABLE: node " << node_id
                << " did not reach the expected state within " << timeout_seconds << " s\n";
      return kExitError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
  }
}

// Registers a client command whose callback builds a request and prints.
template <typename Build>
CLI::App* ClientCommand(CLI::App* parent, const std::string& name, const std::string& help,
                        ClientFlags& flags, bool read, Build build) {
  auto* cmd = parent->add_subcommand(name, help);
  AddClientFlags(cmd, &flags, read);
  cmd->final_callback([&flags, build] {
    int code = build(flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
  return cmd;
}

void AddObjectCommands(CLI::App& app, ClientFlags& flags) {
  static std::string name, uuid, type_text = "secret", value, file, state_text,
                                 reason = "cessation";
  static std::string new_name, locate_type;
  static int length = 256;
  static bool activate = false, material = false;
  static std::vector<std::string> attrs, tags, deletes;
  static unsigned limit = 0;

  auto* key = app.add_subcommand("key", "symmetric keys");
  key->require_subcommand(1);
  auto* create = ClientCommand(key, "create", "create an AES key", flags, false, [](auto& f) {
    pb::Op op;
    auto* c = op.mutable_create_key();
    c->set_name(name);
    c->set_algorithm("AES");
    c->set_length_bits(length);
    c->set_activate(activate);
    Status s = AddAttributes(attrs, tags, c->mutable_attributes());
    if (!s.ok()) return Fail(s);
    return RunWrite(f, op);
  });
  create->add_option("--name", name, "unique name");
  create->add_option("--length", length, "bits: 128, 192 or 256")->capture_default_str();
  create->add_flag("--activate", activate, "create ACTIVE instead of PRE_ACTIVE");
  create->add_option("--attr", attrs, "attribute name=value (repeatable)");
  create->add_option("--tag", tags, "tag (repeatable)");

  auto register_cmd = [&](CLI::App* parent, bool fixed_type) {
    auto* reg = ClientCommand(
        parent, "register", "store existing material", flags, false, [fixed_type](auto& f) {
          auto type = ParseType(fixed_type ? std::string("secret") : type_text);
          if (!type.ok()) return Fail(type.status());
          pb::Op op;
          auto* c = op.mutable_register_object();
          c->set_type(*type);
          c->set_name(name);
          c->set_activate(activate);
          if (!file.empty()) {
            auto data = ReadFile(file, 64 * 1024);
            if (!data.ok()) return Fail(data.status());
            c->set_material(*data);
          } else {
            c->set_material(value);
          }
          Status s = AddAttributes(attrs, tags, c->mutable_attributes());
          if (!s.ok()) return Fail(s);
          return RunWrite(f, op);
        });
    reg->add_option("--name", name, "unique name");
    auto* v =
        reg->add_option("--value", value, "material given inline (visible in ps; prefer --file)");
    auto* fl = reg->add_option("--file", file, "read material from a file");
    v->excludes(fl);
    if (!fixed_type) {
      reg->add_option("--type", type_text,
                      "secret, certificate, private-key, public-key, symmetric-key, opaque")
          ->capture_default_str();
    }
    reg->add_flag("--activate", activate, "register ACTIVE");
    reg->add_option("--attr", attrs, "attribute name=value (repeatable)");
    reg->add_option("--tag", tags, "tag (repeatable)");
  };
  auto* secret = app.add_subcommand("secret", "secret data");
  secret->require_subcommand(1);
  register_cmd(secret, true);

  auto* object = app.add_subcommand("object", "any managed object: keys, secrets, certificates");
  object->require_subcommand(1);
  register_cmd(object, false);

  auto* get =
      ClientCommand(object, "get", "show an object and its attributes", flags, true, [](auto& f) {
        pb::Request r;
        r.mutable_get()->set_uuid(uuid);
        r.mutable_get()->set_include_material(material);
        return Run(
            f, r, [&](const pb::Response& resp) { return RenderObject(resp.object(), Format(f)); });
      });
  get->add_option("UUID", uuid)->required();
  get->add_flag("--material", material, "include the key material (audited)");

  auto* locate = ClientCommand(object, "locate", "find objects (criteria combine with AND)", flags,
                               true, [](auto& f) {
                                 pb::Request r;
                                 auto* q = r.mutable_locate();
                                 q->set_name(name);
                                 q->set_limit(limit);
                                 if (!locate_type.empty()) {
                                   auto t = ParseType(locate_type);
                                   if (!t.ok()) return Fail(t.status());
                                   q->set_type(*t);
                                 }
                                 if (!state_text.empty()) {
                                   auto s = ParseState(state_text);
                                   if (!s.ok()) return Fail(s.status());
                                   q->set_state(*s);
                                 }
                                 for (const auto& a : attrs) {
                                   size_t eq = a.find('=');
                                   if (eq == std::string::npos) {
                                     return Fail(InvalidArgument("--attr takes name=value"));
                                   }
                                   (*q->mutable_attributes())[a.substr(0, eq)] = a.substr(eq + 1);
                                 }
                                 for (const auto& t : tags)
                                   (*q->mutable_attributes())["tag:" + t] = "true";
                                 return Run(f, r, [&](const pb::Response& resp) {
                                   return RenderObjects(resp.located(), Format(f));
                                 });
                               });
  locate->add_option("--name", name, "exact name");
  locate->add_option("--type", locate_type, "object type");
  locate->add_option("--state", state_text, "state, e.g. active, pre-active, destroyed");
  locate->add_option("--attr", attrs, "attribute name=value (repeatable)");
  locate->add_option("--tag", tags, "tag (repeatable)");
  locate->add_option("--limit", limit, "at most this many (default 1000)");

  auto* set = ClientCommand(object, "set", "set or delete attributes", flags, false, [](auto& f) {
    pb::Op op;
    auto* c = op.mutable_set_attributes();
    c->set_uuid(uuid);
    Status s = AddAttributes(attrs, tags, c->mutable_attributes());
    if (!s.ok()) return Fail(s);
    for (const auto& d : deletes) (*c->mutable_attributes())[d].set_deleted(true);
    return RunWrite(f, op);
  });
  set->add_option("UUID", uuid)->required();
  set->add_option("--attr", attrs, "attribute name=value (repeatable)");
  set->add_option("--tag", tags, "add a tag (repeatable)");
  set->add_option("--delete", deletes, "delete an attribute or tag:NAME (repeatable)");

  auto lifecycle = [&](const std::string& verb, const std::string& help) {
    auto* cmd = ClientCommand(object, verb, help, flags, false, [verb](auto& f) {
      pb::Op op;
      if (verb == "activate") {
        op.mutable_activate()->set_uuid(uuid);
      } else if (verb == "destroy") {
        op.mutable_destroy()->set_uuid(uuid);
      } else {
        static const std::map<std::string, pb::RevocationReason> kReasons = {
            {"compromise", pb::KEY_COMPROMISE},
            {"cessation", pb::CESSATION_OF_OPERATION},
            {"superseded", pb::SUPERSEDED},
            {"affiliation", pb::AFFILIATION_CHANGED}};
        op.mutable_revoke()->set_uuid(uuid);
        op.mutable_revoke()->set_reason(kReasons.at(reason));
      }
      return RunWrite(f, op);
    });
    cmd->add_option("UUID", uuid)->required();
    return cmd;
  };
  lifecycle("activate", "PRE_ACTIVE -> ACTIVE");
  lifecycle("revoke", "ACTIVE -> DEACTIVATED, or any -> COMPROMISED with --reason compromise")
      ->add_option("--reason", reason, "compromise, cessation, superseded, affiliation")
      ->check(CLI::IsMember({"compromise", "cessation", "superseded", "affiliation"}))
      ->capture_default_str();
  lifecycle("destroy", "erase the material; the object stays as a tombstone");

  auto* rename = ClientCommand(object, "rename", "give an object a new unique name", flags, false,
                               [](auto& f) {
                                 pb::Op op;
                                 op.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
                                 op.mutable_rename()->set_uuid(uuid);
                                 op.mutable_rename()->set_new_name(new_name);
                                 return RunWrite(f, op);
                               });
  rename->add_option("UUID", uuid)->required();
  rename->add_option("NAME", new_name)->required();
}

void AddWalletCommands(CLI::App& app, ClientFlags& flags) {
  static std::string wallet, object, description, endpoint, access = "read-only";
  static bool manage = false;
  auto* w = app.add_subcommand("wallet", "virtual wallets: named sets of objects");
  w->require_subcommand(1);
  auto* create = ClientCommand(w, "create", "create a wallet", flags, false, [](auto& f) {
    pb::Op op;
    op.mutable_wallet_create()->set_name(wallet);
    op.mutable_wallet_create()->set_description(description);
    return RunWrite(f, op);
  });
  create->add_option("NAME", wallet)->required();
  create->add_option("--description", description);
  for (bool add : {true, false}) {
    auto* cmd = ClientCommand(w, add ? "add" : "remove",
                              add ? "add an object to a wallet" : "remove an object from a wallet",
                              flags, false, [add](auto& f) {
                                pb::Op op;
                                op.mutable_wallet_member()->set_wallet(wallet);
                                op.mutable_wallet_member()->set_object(object);
                                op.mutable_wallet_member()->set_present(add);
                                return RunWrite(f, op);
                              });
    cmd->add_option("WALLET", wallet, "wallet name or uuid")->required();
    cmd->add_option("UUID", object, "object uuid")->required();
  }
  ClientCommand(w, "list", "list wallets", flags, true, [](auto& f) {
    pb::Request r;
    r.mutable_wallet_list();
    return Run(f, r,
               [&](const pb::Response& resp) { return RenderWallets(resp.wallets(), Format(f)); });
  });
  auto* show = ClientCommand(w, "show", "a wallet and its members", flags, true, [](auto& f) {
    pb::Request r;
    r.mutable_wallet_get()->set_wallet(wallet);
    return Run(f, r,
               [&](const pb::Response& resp) { return RenderWallet(resp.wallet(), Format(f)); });
  });
  show->add_option("WALLET", wallet)->required();

  auto* e = app.add_subcommand("endpoint", "endpoints: named clients and their wallet grants");
  e->require_subcommand(1);
  auto* ecreate = ClientCommand(e, "create", "create an endpoint", flags, false, [](auto& f) {
    pb::Op op;
    op.mutable_endpoint_create()->set_name(endpoint);
    op.mutable_endpoint_create()->set_certificate_subject(object);
    op.mutable_endpoint_create()->set_description(description);
    return RunWrite(f, op);
  });
  ecreate->add_option("NAME", endpoint)->required();
  ecreate->add_option("--subject", object, "certificate CN (default: NAME)");
  ecreate->add_option("--description", description);
  auto* grant = ClientCommand(e, "grant", "grant (or with --access none, revoke) wallet access",
                              flags, false, [](auto& f) {
                                pb::Op op;
                                auto* g = op.mutable_endpoint_grant();
                                g->set_endpoint(endpoint);
                                g->set_wallet(wallet);
                                g->set_access(access == "read-modify" ? pb::ACCESS_READ_MODIFY
                                              : access == "read-only" ? pb::ACCESS_READ_ONLY
                                                                      : pb::ACCESS_NONE);
                                g->set_manage_wallet(manage);
                                return RunWrite(f, op);
                              });
  grant->add_option("ENDPOINT", endpoint)->required();
  grant->add_option("WALLET", wallet)->required();
  grant->add_option("--access", access, "read-only, read-modify or none")
      ->check(CLI::IsMember({"read-only", "read-modify", "none"}))
      ->capture_default_str();
  grant->add_flag("--manage", manage, "may also manage the wallet");
  ClientCommand(e, "list", "list endpoints and grants", flags, true, [](auto& f) {
    pb::Request r;
    r.mutable_endpoint_list();
    return Run(f, r, [&](const pb::Response& resp) {
      return RenderEndpoints(resp.endpoints(), Format(f));
    });
  });
}

// The cluster status from the node at --address, plus every other member's
// own status, asked at its client address with the same credentials.
StatusOr<pb::ClusterStatus> GatherClusterStatus(const ClientFlags& flags) {
  pb::Request request;
  request.mutable_cluster_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(flags, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  pb::ClusterStatus status = response.cluster_status();
  GatherMemberStatuses(status, [&](const std::string& address, const pb::Request& ask) {
    ClientFlags member = flags;
    member.address = address;
    return Call(member, ask);
  });
  return status;
}

// Degraded: a member did not answer, or a read-write member is restricted.
bool Degraded(const pb::ClusterStatus& status) {
  if (!status.unreachable().empty()) return true;
  if (status.self().mode() == "restricted") return true;
  for (const auto& n : status.nodes()) {
    if (n.mode() == "restricted") return true;
  }
  return false;
}

// "" if every member answered with the same digest; else what differs.
std::string DigestVerdict(const pb::ClusterStatus& status) {
  if (!status.unreachable().empty()) {
    return std::to_string(status.unreachable_size()) + " of " +
           std::to_string(status.members_size()) + " nodes did not answer";
  }
  std::map<std::string, std::vector<std::string>> by_digest;
  by_digest[status.self().digest()].push_back(status.self().node_name());
  for (const auto& n : status.nodes()) by_digest[n.digest()].push_back(n.node_name());
  if (by_digest.size() == 1) return "";
  std::string text = "digests differ:";
  for (const auto& [digest, names] : by_digest) {
    text += " " + digest.substr(0, 16) + " on";
    for (const auto& name : names) text += " " + name;
    text += ";";
  }
  return text;
}

// coffer node disable|enable|delete|force-delete NODE [--wait]
void AddNodeLifecycleCommands(CLI::App* node, ClientFlags& flags) {
  static std::string target;
  static bool wait = false, allow_multiple = false;
  static int wait_seconds = 600;
  struct Step {
    const char* name;
    const char* help;
    std::set<std::string> done;  // states that end --wait ("" = deleted)
  };
  static const Step kSteps[] = {
      {"disable",
       "stop client writes on NODE, hand its records to the others, then DISABLED (any node)",
       {"DISABLED", "EXPIRED"}},
      {"enable",
       "bring a DISABLED node back: run it on that node; ACTIVE once caught up",
       {"ACTIVE"}},
      {"delete", "remove a DISABLED node from the cluster (run it on another node)", {""}},
      {"force-delete",
       "remove any other node: dead, unreachable or EXPIRED (records only it holds are lost)",
       {""}},
  };
  for (const Step& step : kSteps) {
    auto* cmd = ClientCommand(node, step.name, step.help, flags, false, [&step](auto& f) {
      auto member = FindMember(f, target);
      if (!member.ok()) return Fail(member.status());
      pb::Op op;
      std::string verb = step.name;
      if (verb == "disable" || verb == "enable") {
        op.mutable_node_state()->set_node_id(member->node_id());
        op.mutable_node_state()->set_state(verb == "disable" ? pb::NODE_DISABLING
                                                             : pb::NODE_ENABLING);
        op.mutable_node_state()->set_allow_multiple_disabled(allow_multiple);
      } else {
        op.mutable_node_delete()->set_node_id(member->node_id());
        op.mutable_node_delete()->set_force(verb == "force-delete");
      }
      int code = RunWrite(f, op);
      if (code != kExitOk || !wait) return code;
      return WaitForMemberState(f, member->node_id(), step.done, wait_seconds);
    });
    cmd->add_option("NODE", target, "node name or id")->required();
    cmd->add_flag("--wait", wait, "wait until the step has finished, printing each state");
    cmd->add_option("--wait-timeout", wait_seconds, "seconds --wait waits at most")
        ->check(CLI::Range(1, 7 * 24 * 3600))
        ->capture_default_str();
    if (std::string(step.name) == "disable") {
      cmd->add_flag("--allow-multiple", allow_multiple,
                    "disable although another node is already disabled");
    }
  }
}

void AddClusterCommands(CLI::App& app, ClientFlags& flags) {
  static std::string name, node_name;
  auto* c = app.add_subcommand("cluster", "cluster formation and status");
  c->require_subcommand(1);
  auto* init = ClientCommand(c, "init", "make this standalone node the first node of a new cluster",
                             flags, false, [](auto& f) {
                               pb::Op op;
                               op.mutable_cluster_init()->set_name(name);
                               op.mutable_cluster_init()->set_node_name(node_name);
                               return RunWrite(f, op);
                             });
  init->add_option("--name", name, "cluster name")->required();
  init->add_option("--node-name", node_name,
                   "this node's name (default: node.name from its config)");
  static std::string role = "read-only";
  static int64_t ttl_seconds = 3600;
  auto* token =
      ClientCommand(c, "join-token", "issue a one-time token for inducting a node through this one",
                    flags, true, [](auto& f) {
                      pb::Request r;
                      r.mutable_join_token()->set_role(role == "read-write" ? pb::NODE_READ_WRITE
                                                                            : pb::NODE_READ_ONLY);
                      r.mutable_join_token()->set_ttl_seconds(ttl_seconds);
                      return Run(f, r, [&](const pb::Response& resp) {
                        if (Format(f) == OutputFormat::kJson) return RenderJson(resp.join_token());
                        return resp.join_token().token() + "\n";
                      });
                    });
  token
      ->add_option("--role", role,
                   "read-write: the candidate becomes this node's peer (it must have none); "
                   "read-only: a read-only node")
      ->check(CLI::IsMember({"read-write", "read-only"}))
      ->capture_default_str();
  token->add_option("--ttl", ttl_seconds, "seconds the token stays valid")
      ->check(CLI::Range(int64_t{1}, int64_t{7 * 24 * 3600}))
      ->capture_default_str();
  ClientCommand(c, "status",
                "every member's role, mode, position and digest (each member is asked)", flags,
                true, [](auto& f) {
                  auto status = GatherClusterStatus(f);
                  if (!status.ok()) return Fail(status.status());
                  std::cout << RenderClusterStatus(*status, Format(f));
                  return Degraded(*status) ? kExitDegraded : kExitOk;
                });
  static uint64_t max_disable_seconds = 0;
  auto* set = ClientCommand(
      c, "set", "change cluster settings (replicated to every node)", flags, false, [](auto& f) {
        pb::Op op;
        op.mutable_cluster_set()->set_max_disable_seconds(max_disable_seconds);
        return RunWrite(f, op);
      });
  set->add_option("--max-disable-duration", max_disable_seconds,
                  "seconds a disabled node may stay disabled and still be enabled (default of a "
                  "new cluster: 86400); the others retain its missing records that long")
      ->required()
      ->check(CLI::Range(uint64_t{1}, uint64_t{365ULL * 24 * 3600}));
  static int verify_wait_seconds = 10;
  auto* verify = ClientCommand(
      c, "verify", "compare the digests of every member; exit 1 if they differ", flags, true,
      [](auto& f) {
        // Writes in flight make digests differ for a moment: poll until they
        // agree or the wait is over.
        auto deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(verify_wait_seconds);
        while (true) {
          auto status = GatherClusterStatus(f);
          if (!status.ok()) return Fail(status.status());
          std::string verdict = DigestVerdict(*status);
          if (verdict.empty() || std::chrono::steady_clock::now() >= deadline) {
            std::cout << RenderClusterStatus(*status, Format(f));
            if (verdict.empty()) {
              std::cout << "verified: " << status->members_size() << " nodes have the same digest "
                        << status->self().digest() << "\n";
              return kExitOk;
            }
            std::cerr << "error: " << verdict << "\n";
            return kExitError;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
        }
      });
  verify
      ->add_option("--wait", verify_wait_seconds,
                   "seconds to wait for the digests to agree (writes may be in flight)")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
}

void AddConflictCommands(CLI::App& app, ClientFlags& flags) {
  static std::string kind = "wallet", uuid, new_name;
  auto* c = app.add_subcommand("conflict", "unique-name conflicts between concurrent creations");
  c->require_subcommand(1);
  ClientCommand(c, "list", "entities that lost a name and carry a generated one", flags, true,
                [](auto& f) {
                  pb::Request r;
                  r.mutable_conflict_list();
                  return Run(f, r, [&](const pb::Response& resp) {
                    return RenderConflicts(resp.conflicts(), Format(f));
                  });
                });
  auto kind_of = [] {
    return kind == "object"   ? pb::ENTITY_OBJECT
           : kind == "wallet" ? pb::ENTITY_WALLET
                              : pb::ENTITY_ENDPOINT;
  };
  auto* accept =
      ClientCommand(c, "accept", "keep the generated name", flags, false, [kind_of](auto& f) {
        pb::Op op;
        op.mutable_rename()->set_kind(kind_of());
        op.mutable_rename()->set_uuid(uuid);
        op.mutable_rename()->set_accept_generated(true);
        return RunWrite(f, op);
      });
  auto* rename =
      ClientCommand(c, "rename", "give the entity a new name", flags, false, [kind_of](auto& f) {
        pb::Op op;
        op.mutable_rename()->set_kind(kind_of());
        op.mutable_rename()->set_uuid(uuid);
        op.mutable_rename()->set_new_name(new_name);
        return RunWrite(f, op);
      });
  for (auto* cmd : {accept, rename}) {
    cmd->add_option("KIND", kind, "object, wallet or endpoint")
        ->check(CLI::IsMember({"object", "wallet", "endpoint"}))
        ->required();
    cmd->add_option("UUID", uuid)->required();
  }
  rename->add_option("NAME", new_name)->required();
}

}  // namespace
}  // namespace coffer::node

int main(int argc, char** argv) {
  using namespace coffer::node;
  CLI::App app{"coffer: a multi-master replicated key vault"};
  app.set_version_flag("--version", std::string(coffer::kReleaseVersion));
  app.require_subcommand(1);
  static ClientFlags flags;
  ApplyClientEnvironment(&flags);
  AddConfigCommands(app);
  AddCertCommands(app);
  AddNodeCommands(app, flags);
  AddObjectCommands(app, flags);
  AddWalletCommands(app, flags);
  AddConflictCommands(app, flags);
  AddClusterCommands(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }
  return kExitOk;
}
