#include "node/cli/wallet_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace coffer::node::cli {

StatusOr<SecretBytes> ReadSecretFlag(const std::string& file, const std::string& env,
                                     const std::string& what) {
  std::string secret;
  if (!file.empty()) {
    COFFER_ASSIGN_OR_RETURN(secret, ReadFile(file, 64 * 1024));
    secret = secret.substr(0, secret.find('\n'));
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  } else if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) return NotFound("environment variable " + env + " is not set");
    secret = value;
  } else {
    return InvalidArgument("give the " + what +
                           ": a file (its first line) or an environment "
                           "variable, never on the command line");
  }
  if (secret.empty()) return InvalidArgument("the " + what + " is empty");
  return SecretBytes(std::move(secret));
}

void AddSecretSourceFlags(CLI::App* cmd, const std::string& word, std::string* file,
                          std::string* env, const std::string& what) {
  auto* from_file =
      cmd->add_option("--" + word + "-file", *file, what + ": the first line of this file");
  auto* from_env =
      cmd->add_option("--" + word + "-env", *env, what + ": this environment variable");
  from_file->excludes(from_env);
}

Status WriteNewPrivateFile(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) return AlreadyExists(path + " exists; a new file is written");
  if (fd < 0) return Unavailable("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status failed = Unavailable("cannot write " + path + ": " + std::strerror(errno));
      ::close(fd);
      ::unlink(path.c_str());
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(path.c_str());
    return Unavailable("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

StatusOr<std::string> WriteOp(const ClientFlags& client, const pb::Op& op) {
  pb::Request request;
  *request.mutable_write() = op;
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(client, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  return response.op_result().uuid();
}

StatusOr<std::string> ObjectNamed(const ClientFlags& client, const std::string& name) {
  if (name.empty()) return std::string();
  pb::Request locate;
  locate.mutable_locate()->set_name(name);
  locate.mutable_locate()->set_limit(1);
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(client, locate));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  return response.located().objects().empty() ? std::string()
                                              : response.located().objects(0).uuid();
}

StatusOr<WalletMaterial> FetchWalletMaterial(const ClientFlags& client, const std::string& wallet,
                                             pb::WalletObjectsPurpose purpose) {
  COFFER_RETURN_IF_ERROR(RequireClusterFeature(
      client, purpose == pb::WALLET_OBJECTS_EXPORT ? "wallet-export" : "wallet-keystore"));
  WalletMaterial out;
  pb::Request page;
  page.mutable_wallet_objects()->set_wallet(wallet);
  page.mutable_wallet_objects()->set_purpose(purpose);
  // Each page moves the cursor forward (uuid order), so this ends; the
  // bound guards against a node that answers the same cursor again.
  for (size_t pages = 0; pages < limits::kMaxWalletPages; ++pages) {
    COFFER_ASSIGN_OR_RETURN(pb::Response answer, Call(client, page));
    COFFER_RETURN_IF_ERROR(StatusFromResponse(answer));
    pb::WalletObjects& got = *answer.mutable_wallet_objects();
    if (pages == 0) out.wallet = got.wallet();
    for (pb::WalletObject& member : *got.mutable_objects()) {
      if (member.has_object()) {
        out.objects.push_back(std::move(*member.mutable_object()));
      } else {
        out.left_out.push_back(member.uuid() + " (" + member.left_out() + ")");
      }
    }
    if (got.next_after().empty()) return out;
    if (got.next_after() <= page.wallet_objects().after()) {
      return DataLoss("the node answered a wallet page that does not move forward");
    }
    page.mutable_wallet_objects()->set_after(got.next_after());
  }
  return ResourceExhausted("wallet '" + wallet + "' has more than " +
                           std::to_string(limits::kMaxWalletPages) + " pages of objects");
}

}  // namespace coffer::node::cli
