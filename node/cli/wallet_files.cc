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

StatusOr<WalletMaterial> FetchWalletMaterial(const ClientFlags& client, const std::string& wallet) {
  WalletMaterial out;
  pb::Request show;
  show.mutable_wallet_get()->set_wallet(wallet);
  COFFER_ASSIGN_OR_RETURN(pb::Response shown, Call(client, show));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(shown));
  out.wallet = shown.wallet();
  for (const std::string& uuid : out.wallet.members()) {
    pb::Request get;
    get.mutable_get()->set_uuid(uuid);
    get.mutable_get()->set_include_material(true);
    COFFER_ASSIGN_OR_RETURN(pb::Response got, Call(client, get));
    Status s = StatusFromResponse(got);
    if (s.code() == Code::kPermissionDenied) {  // the node never serves such material
      out.left_out.push_back(uuid + " (not extractable)");
    } else if (s.code() == Code::kInvalidState) {
      out.left_out.push_back(uuid + " (destroyed: no material)");
    } else if (!s.ok()) {
      return s.Annotate(uuid);
    } else {
      out.objects.push_back(got.object());
    }
  }
  return out;
}

}  // namespace coffer::node::cli
