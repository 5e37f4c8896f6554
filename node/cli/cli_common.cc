#include "node/cli/cli_common.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "common/ids.h"
#include "node/client/client.h"
#include "node/client/retry_policy.h"

namespace coffer::node::cli {

int Fail(const Status& status) {
  std::cerr << "error: " << EscapeForTerminal(status.ToString()) << "\n";
  if (status.code() == Code::kReadOnlyRestricted || status.code() == Code::kReadOnlyNode) {
    return kExitDegraded;
  }
  return kExitError;
}

ClientFlags ClientFlagsFromEnvironment() {
  ClientFlags flags;
  for (auto [name, field] :
       {std::pair{"COFFER_ADDRESS", &flags.address}, std::pair{"COFFER_CA", &flags.ca},
        std::pair{"COFFER_CERT", &flags.cert}, std::pair{"COFFER_KEY", &flags.key},
        std::pair{"COFFER_SUBGROUP", &flags.subgroup}}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') *field = value;
  }
  return flags;
}

void AddClientFlags(CLI::App* app, ClientFlags* flags, bool no_request_id) {
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
  app->add_option(
         "--timeout-ms", flags->timeout_ms,
         "timeout of each request: connecting, failing over and the answer together (a node that "
         "does not answer gets a share of it, the others the rest)")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app->add_option("-o,--output", flags->output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  if (!no_request_id) {
    app->add_option("--request-id", flags->request_id,
                    "id that makes a retry safe (default: a new random id)");
    app->add_option("--retry-of", flags->retry_of,
                    "ORIGIN:SEQ named by an OUTCOME_UNKNOWN: with the same --request-id, makes "
                    "the retry safe on any node");
  }
}

OutputFormat Format(const ClientFlags& flags) {
  return flags.output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
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

StatusOr<pb::Response> Call(const ClientFlags& flags, pb::Request request) {
  RetryPolicyOptions options{SplitAddresses(flags.address), flags.subgroup,
                             TlsFiles{flags.ca, flags.cert, flags.key},
                             std::chrono::milliseconds(flags.timeout_ms)};
  if (options.addresses.empty()) return InvalidArgument("--address names no node");
  if (request.has_write() && request.request_id().empty() && !flags.request_id.empty()) {
    request.set_request_id(flags.request_id);
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
    // Without a record only the node that took the request can recognise
    // the retry (docs/cluster.md, "Retries across nodes").
    const char* where = request.has_retry_of() ? "on any node" : "on that same node";
    return Status(status.code(), status.message() + "; retry " + where +
                                     " with the same command and " + flags_text);
  };
  StatusOr<pb::Response> response = flags.session->Call(options, &request);
  if (!response.ok()) return how_to_retry(response.status());
  Status answered = StatusFromResponse(*response);
  if (answered.code() == Code::kOutcomeUnknown) return how_to_retry(answered);
  return response;
}

Status RequireClusterFeature(const ClientFlags& flags, std::string_view feature) {
  pb::Request ask;
  ask.mutable_cluster_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response answer, Call(flags, ask));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(answer));
  const pb::VersionView& versions = answer.cluster_status().versions();
  std::string held;
  for (const std::string& h : versions.holders()) held += (held.empty() ? "" : "; ") + h;
  if (!held.empty()) held = ". Held back by: " + held;
  for (const pb::FeatureView& f : versions.features()) {
    if (f.name() != feature) continue;
    if (f.active()) return Status::Ok();
    return Status(Code::kFeatureNotActive,
                  "feature " + std::string(feature) + " needs cluster version " + f.introduced() +
                      "; the cluster version is " + versions.cluster_version() + held);
  }
  return Status(Code::kFeatureNotActive, "feature " + std::string(feature) + " is not in release " +
                                             versions.binary_release() +
                                             " of the node that answered (cluster version " +
                                             versions.cluster_version() +
                                             "): upgrade the cluster (`coffer upgrade`)" + held);
}

StatusOr<std::string> PickObject(const std::string& text, const pb::LocateResult& found) {
  const auto& objects = found.objects();
  if (objects.empty()) {
    return InvalidArgument("'" + text + "' is neither an object uuid nor an object's name");
  }
  if (objects.size() > 1) {
    std::string uuids;
    for (const pb::ObjectView& o : objects) uuids += (uuids.empty() ? "" : ", ") + o.uuid();
    return InvalidArgument(
        "object name '" + text + "' is ambiguous: " + std::to_string(objects.size()) +
        " objects carry it (a name conflict, see `coffer conflict list`): " + uuids +
        "; name one by its uuid");
  }
  return objects[0].uuid();
}

StatusOr<std::string> ResolveObject(const ClientFlags& flags, const std::string& text) {
  if (Uuid::IsValid(text)) return text;
  pb::Request request;
  request.mutable_locate()->set_name(text);
  request.mutable_locate()->set_limit(10);
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(flags, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  return PickObject(text, response.located());
}

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
    return EscapeForTerminal(r.op_result().uuid()) + "\n";
  });
}

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
  const std::map<std::string, pb::ObjectType> types = {
      {"secret", pb::SECRET_DATA},          {"certificate", pb::CERTIFICATE},
      {"private-key", pb::PRIVATE_KEY},     {"public-key", pb::PUBLIC_KEY},
      {"symmetric-key", pb::SYMMETRIC_KEY}, {"opaque", pb::OPAQUE_OBJECT}};
  auto it = types.find(text);
  if (it == types.end()) {
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

StatusOr<std::string> ReadFile(const std::string& path, size_t limit,
                               std::chrono::milliseconds wait) {
  return ReadBoundedFile(path, limit, "input file", wait);
}

}  // namespace coffer::node::cli
