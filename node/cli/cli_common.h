// What the `coffer` CLI's commands share: exit codes, the client flags every
// client command takes, calling a node, and the flag parsers. Each command
// owns its flags (one struct per command, kept alive by its callback).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/bounded_read.h"
#include "common/limits.h"
#include "common/status.h"
#include "node/cli/cli_output.h"
#include "node/client/retry_policy.h"
#include "proto/api.pb.h"

namespace coffer::node::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
// The node answers but cannot take critical writes (restricted or
// read-only), or a member did not answer `cluster status`.
constexpr int kExitDegraded = 2;

// Prints "error: CODE: message" to stderr and returns the exit code:
// kExitDegraded for READ_ONLY_RESTRICTED and READ_ONLY_NODE, else kExitError.
int Fail(const Status& status);

struct ClientFlags {
  // Default: the first node of the README's local cluster.
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
  // The command's requests share it (node/client/retry_policy.h): a node
  // found silent by one is not waited for again by the next.
  std::shared_ptr<RetrySession> session = std::make_shared<RetrySession>();
};

// The client flags with COFFER_ADDRESS, COFFER_CA, COFFER_CERT, COFFER_KEY
// and COFFER_SUBGROUP in place of the built-in defaults; flags on the command
// line replace both. (Read once, rather than with CLI11's envname, so that
// an option of a command not run never writes over a given flag.)
ClientFlags ClientFlagsFromEnvironment();

// --address, --subgroup, --ca, --cert, --key, --timeout-ms, -o; and for
// commands that make one write, --request-id and --retry-of. A read, or a
// command of several writes (each its own request id: one id for all would
// make the node answer every write after the first with the first's
// result), passes `no_request_id`.
void AddClientFlags(CLI::App* app, ClientFlags* flags, bool no_request_id);

OutputFormat Format(const ClientFlags& flags);

// "a,b,c" -> {"a","b","c"}, empty parts dropped.
std::vector<std::string> SplitAddresses(const std::string& text);

// Parses "ORIGIN:SEQ" (a record named by an OUTCOME_UNKNOWN answer).
StatusOr<pb::RecordRef> ParseRecordRef(const std::string& text);

// Sends `request` with the retry policy of node/client/retry_policy.h (the
// write gets --request-id and --retry-of when given). An outcome still
// unknown at the end is returned with the flags that retry it safely.
StatusOr<pb::Response> Call(const ClientFlags& flags, pb::Request request);

// OK if the cluster `flags` reach has `feature` (upgrade/features.h) active,
// as the answering node's cluster status shows; else FEATURE_NOT_ACTIVE
// naming what holds the version back. Asked before a command sends a field
// or request of a newer release: a node of an older release would ignore a
// field it does not know (RegisterOp.wallet) instead of refusing it, and its
// registry lacks the feature, so it is never sent one.
Status RequireClusterFeature(const ClientFlags& flags, std::string_view feature);

// The uuid of the object `text` names: a uuid as it is; otherwise the name
// of exactly one object (as `object locate --name` finds it). No such object:
// INVALID_ARGUMENT "... is neither an object uuid nor an object's name".
// Several objects carry it (names in conflict): INVALID_ARGUMENT "object name
// '...' is ambiguous" listing their uuids.
StatusOr<std::string> ResolveObject(const ClientFlags& flags, const std::string& text);
// The decision of ResolveObject, given what `locate --name text` found.
StatusOr<std::string> PickObject(const std::string& text, const pb::LocateResult& found);

// Calls and prints: the rendered result on success (exit 0), the error
// otherwise (Fail).
int Run(const ClientFlags& flags, const pb::Request& request,
        const std::function<std::string(const pb::Response&)>& render);

// Runs a write: prints the uuid it names, or with -o json the whole result.
int RunWrite(const ClientFlags& flags, const pb::Op& op);

// A registered client command and its flags. `flags` lives as long as the
// command (its callback owns it).
template <typename Flags>
struct Command {
  CLI::App* app;
  Flags* flags;
};

// Registers client command `name` under `parent` with flags of its own
// (`Flags` has a `ClientFlags client` member, set from `defaults`). When the
// command is chosen, `body(flags)` runs and its exit code ends the program.
template <typename Flags, typename Body>
Command<Flags> AddClientCommand(CLI::App* parent, const std::string& name, const std::string& help,
                                const ClientFlags& defaults, bool no_request_id, Body body) {
  auto flags = std::make_shared<Flags>();
  flags->client = defaults;
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddClientFlags(cmd, &flags->client, no_request_id);
  cmd->final_callback([flags, body] {
    int code = body(*flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
  return {cmd, flags.get()};
}

// Parses a "name=value" attribute flag. Values: true/false for extractable,
// an integer for usage_mask, text otherwise.
StatusOr<std::pair<std::string, pb::AttributeValue>> ParseAttribute(const std::string& text);
// Adds --attr values and --tag values (as "tag:NAME" = true) to `out`.
Status AddAttributes(const std::vector<std::string>& attrs, const std::vector<std::string>& tags,
                     google::protobuf::Map<std::string, pb::AttributeValue>* out);
// secret, certificate, private-key, public-key, symmetric-key, opaque.
StatusOr<pb::ObjectType> ParseType(const std::string& text);
// A State name, case-insensitive, '-' for '_' (e.g. pre-active).
StatusOr<pb::State> ParseState(const std::string& text);
// The bytes of a file the user named (`--file`): a regular file, a pipe
// (`--file /dev/stdin`), a FIFO or a device, read with ReadBoundedFile
// (common/bounded_read.h): INVALID_ARGUMENT above `limit` (at most limit+1
// bytes are read, so `/dev/zero` is refused at once), UNAVAILABLE when a
// FIFO or device gives nothing within `wait`, NOT_FOUND if it does not exist.
StatusOr<std::string> ReadFile(const std::string& path, size_t limit = limits::kMaxCliInputBytes,
                               std::chrono::milliseconds wait = kDefaultInputWait);

}  // namespace coffer::node::cli
