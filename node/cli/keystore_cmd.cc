// coffer wallet upload|download: PKCS#12 keystores into and out of a
// wallet (docs/keystores.md; the codec is pkcs12_keystore.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "node/cli/cli_output.h"
#include "node/cli/commands.h"
#include "node/cli/pkcs12_keystore.h"

namespace coffer::node::cli {
namespace {

struct KeystoreFlags {
  ClientFlags client;
  std::string wallet;
  std::string file;
  std::string password_file;
  std::string password_env;
  bool overwrite = false;  // upload only
};

// The keystore password: the first line of --password-file, or the value
// of the environment variable --password-env (never a command-line value,
// which `ps` would show).
StatusOr<SecretBytes> KeystorePassword(const KeystoreFlags& f) {
  std::string password;
  if (!f.password_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(password, ReadFile(f.password_file, 64 * 1024));
    password = password.substr(0, password.find('\n'));
    if (!password.empty() && password.back() == '\r') password.pop_back();
  } else if (!f.password_env.empty()) {
    const char* value = std::getenv(f.password_env.c_str());
    if (value == nullptr) return NotFound("environment variable " + f.password_env + " is not set");
    password = value;
  } else {
    return InvalidArgument(
        "give the keystore password: --password-file FILE or --password-env VAR");
  }
  if (password.empty()) return InvalidArgument("the keystore password is empty");
  return SecretBytes(std::move(password));
}

// Creates `path` (it must not exist) readable by its owner only, and
// writes `bytes` into it.
Status WriteNewPrivateFile(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
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
  if (::close(fd) != 0) return Unavailable("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

// The uuid of the live object named `name`, "" if none.
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

// One write; its uuid.
StatusOr<std::string> Write(const ClientFlags& client, const pb::Op& op) {
  pb::Request request;
  *request.mutable_write() = op;
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(client, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  return response.op_result().uuid();
}

// --overwrite: the object holding the name is renamed aside and leaves
// the wallet (nothing is revoked or destroyed).
Status MoveAside(const KeystoreFlags& f, const std::string& uuid, const std::string& name) {
  pb::Op rename;
  rename.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
  rename.mutable_rename()->set_uuid(uuid);
  rename.mutable_rename()->set_new_name(name + ".replaced." + uuid.substr(0, 8));
  COFFER_RETURN_IF_ERROR(Write(f.client, rename).status());
  pb::Op leave;
  leave.mutable_wallet_member()->set_wallet(f.wallet);
  leave.mutable_wallet_member()->set_object(uuid);
  leave.mutable_wallet_member()->set_present(false);
  Status left = Write(f.client, leave).status();
  return left.code() == Code::kNotFound ? Status::Ok() : left;  // was not a member
}

// A PKCS#12 names a private key and its certificate alike (`openssl
// pkcs12 -export -name web`), but object names are unique: the private key
// keeps the name, another entry of the same name in the file becomes
// NAME.TYPE (web.certificate).
void UniqueNames(std::vector<KeystoreEntry>& entries) {
  std::set<std::string> taken;
  for (const KeystoreEntry& e : entries) {
    if (e.type == pb::PRIVATE_KEY && !e.name.empty()) taken.insert(e.name);
  }
  for (KeystoreEntry& e : entries) {
    if (e.type == pb::PRIVATE_KEY || e.name.empty()) continue;
    if (taken.contains(e.name)) e.name += "." + ObjectTypeName(e.type);
    taken.insert(e.name);
  }
}

int Upload(const KeystoreFlags& f) {
  auto password = KeystorePassword(f);
  if (!password.ok()) return Fail(password.status());
  auto der = ReadFile(f.file, limits::kMaxKeystoreBytes);
  if (!der.ok()) return Fail(der.status());
  auto entries = ReadPkcs12(*der, *password);
  if (!entries.ok()) return Fail(entries.status().Annotate(f.file));
  UniqueNames(*entries);
  std::map<std::string, std::pair<int, int>> counts;  // type -> added, skipped
  for (const KeystoreEntry& e : *entries) {
    auto existing = ObjectNamed(f.client, e.name);
    if (!existing.ok()) return Fail(existing.status().Annotate("'" + e.name + "'"));
    if (!existing->empty() && !f.overwrite) {
      ++counts[ObjectTypeName(e.type)].second;
      std::cerr << "skipped '" << EscapeForTerminal(e.name)
                << "': an object of that name exists (--overwrite replaces it)\n";
      continue;
    }
    if (!existing->empty()) {
      Status aside = MoveAside(f, *existing, e.name);
      if (!aside.ok()) return Fail(aside.Annotate("moving '" + e.name + "' aside"));
    }
    pb::Op op;
    auto* r = op.mutable_register_object();
    r->set_type(e.type);
    r->set_name(e.name);
    r->set_material(e.material.reveal());
    r->set_activate(true);
    r->set_wallet(f.wallet);
    if (!e.secret_type.empty())
      (*r->mutable_attributes())[kSecretTypeAttribute].set_text(e.secret_type);
    auto uuid = Write(f.client, op);
    if (!uuid.ok()) return Fail(uuid.status().Annotate("registering '" + e.name + "'"));
    ++counts[ObjectTypeName(e.type)].first;
    std::cout << EscapeForTerminal(*uuid) << "  " << ObjectTypeName(e.type) << "  "
              << EscapeForTerminal(e.name) << "\n";
  }
  for (const auto& [type, n] : counts) {
    std::cout << type << ": " << n.first << " added, " << n.second << " skipped\n";
  }
  return kExitOk;
}

int Download(const KeystoreFlags& f) {
  auto password = KeystorePassword(f);
  if (!password.ok()) return Fail(password.status());
  if (std::filesystem::exists(f.file)) {  // checked again when it is created
    return Fail(AlreadyExists(f.file + " exists; download writes a new file"));
  }
  pb::Request show;
  show.mutable_wallet_get()->set_wallet(f.wallet);
  auto wallet = Call(f.client, show);
  if (!wallet.ok()) return Fail(wallet.status());
  if (Status s = StatusFromResponse(*wallet); !s.ok()) return Fail(s);
  std::vector<KeystoreEntry> entries;
  std::vector<std::string> left_out;
  for (const std::string& uuid : wallet->wallet().members()) {
    pb::Request get;
    get.mutable_get()->set_uuid(uuid);
    get.mutable_get()->set_include_material(true);
    auto got = Call(f.client, get);
    if (!got.ok()) return Fail(got.status());
    const pb::ObjectView& o = got->object();
    Status s = StatusFromResponse(*got);
    if (s.code() == Code::kPermissionDenied) {  // the node never serves such material
      left_out.push_back(uuid + " (not extractable)");
      continue;
    }
    if (s.code() == Code::kInvalidState) {
      left_out.push_back(uuid + " (destroyed: no material)");
      continue;
    }
    if (!s.ok()) return Fail(s.Annotate(uuid));
    if (!HasPkcs12Bag(o.type())) {
      left_out.push_back(uuid + " (" + ObjectTypeName(o.type()) + ": no PKCS#12 bag)");
      continue;
    }
    KeystoreEntry e{o.type(), o.name(), SecretBytes(o.material()), ""};
    auto type = o.attributes().find(kSecretTypeAttribute);
    if (type != o.attributes().end()) e.secret_type = type->second.text();
    entries.push_back(std::move(e));
  }
  for (const std::string& why : left_out) {
    std::cerr << "left out " << EscapeForTerminal(why) << "\n";
  }
  auto der = WritePkcs12(entries, *password);
  if (!der.ok()) return Fail(der.status());
  if (Status s = WriteNewPrivateFile(f.file, *der); !s.ok()) return Fail(s);
  std::cout << f.file << ": " << entries.size() << " objects, " << left_out.size() << " left out\n";
  return kExitOk;
}

void AddPasswordFlags(CLI::App* cmd, KeystoreFlags* f) {
  auto* file = cmd->add_option("--password-file", f->password_file,
                               "the keystore password: the first line of this file");
  auto* env = cmd->add_option("--password-env", f->password_env,
                              "the keystore password: this environment variable");
  file->excludes(env);
}

}  // namespace

void AddKeystoreCommands(CLI::App* wallet, const ClientFlags& defaults) {
  auto upload = AddClientCommand<KeystoreFlags>(
      wallet, "upload",
      "put every key, certificate and secret of a PKCS#12 keystore into the wallet (ACTIVE)",
      defaults, false, Upload);
  upload.app->add_option("WALLET", upload.flags->wallet, "wallet name or uuid")->required();
  upload.app->add_option("--file", upload.flags->file, "the PKCS#12 (.p12, .pfx)")->required();
  upload.app->add_flag("--overwrite", upload.flags->overwrite,
                       "an object with an entry's name is renamed aside (NAME.replaced.UUID8) and "
                       "leaves the wallet; the entry takes the name (default: skip it)");
  AddPasswordFlags(upload.app, upload.flags);
  auto download = AddClientCommand<KeystoreFlags>(
      wallet, "download",
      "write the wallet's objects into a new PKCS#12 (non-extractable ones are left out, "
      "and named)",
      defaults, true, Download);
  download.app->add_option("WALLET", download.flags->wallet, "wallet name or uuid")->required();
  download.app->add_option("--file", download.flags->file, "the new PKCS#12 (must not exist)")
      ->required();
  AddPasswordFlags(download.app, download.flags);
}

}  // namespace coffer::node::cli
