// coffer wallet upload|download: PKCS#12 keystores into and out of a
// wallet (docs/keystores.md; the codec is pkcs12_keystore.h).
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "node/cli/cli_output.h"
#include "node/cli/commands.h"
#include "node/cli/pkcs12_keystore.h"
#include "node/cli/wallet_files.h"

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

// --overwrite: the object holding the name is renamed aside and leaves
// the wallet (nothing is revoked or destroyed).
Status MoveAside(const KeystoreFlags& f, const std::string& uuid, const std::string& name) {
  pb::Op rename;
  rename.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
  rename.mutable_rename()->set_uuid(uuid);
  rename.mutable_rename()->set_new_name(name + ".replaced." + uuid.substr(0, 8));
  COFFER_RETURN_IF_ERROR(WriteOp(f.client, rename).status());
  pb::Op leave;
  leave.mutable_wallet_member()->set_wallet(f.wallet);
  leave.mutable_wallet_member()->set_object(uuid);
  leave.mutable_wallet_member()->set_present(false);
  Status left = WriteOp(f.client, leave).status();
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
  auto password = ReadSecretFlag(f.password_file, f.password_env, "keystore password");
  if (!password.ok()) return Fail(password.status());
  auto der = ReadFile(f.file, limits::kMaxKeystoreBytes);
  if (!der.ok()) return Fail(der.status());
  auto entries = ReadPkcs12(*der, *password);
  if (!entries.ok()) return Fail(entries.status().Annotate(f.file));
  UniqueNames(*entries);
  if (Status s = RequireClusterFeature(f.client, "wallet-keystore"); !s.ok()) return Fail(s);
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
    r->set_source(pb::REGISTER_KEYSTORE_UPLOAD);
    if (!e.secret_type.empty())
      (*r->mutable_attributes())[kSecretTypeAttribute].set_text(e.secret_type);
    auto uuid = WriteOp(f.client, op);
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
  auto password = ReadSecretFlag(f.password_file, f.password_env, "keystore password");
  if (!password.ok()) return Fail(password.status());
  if (std::filesystem::exists(f.file)) {  // checked again when it is created
    return Fail(AlreadyExists(f.file + " exists; download writes a new file"));
  }
  auto wallet = FetchWalletMaterial(f.client, f.wallet, pb::WALLET_OBJECTS_DOWNLOAD);
  if (!wallet.ok()) return Fail(wallet.status());
  std::vector<KeystoreEntry> entries;
  std::vector<std::string> left_out = wallet->left_out;
  for (const pb::ObjectView& o : wallet->objects) {
    if (!HasPkcs12Bag(o.type())) {
      left_out.push_back(o.uuid() + " (" + ObjectTypeName(o.type()) + ": no PKCS#12 bag)");
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
  AddSecretSourceFlags(cmd, "password", &f->password_file, &f->password_env,
                       "the keystore password");
}

}  // namespace

void AddKeystoreCommands(CLI::App* wallet, const ClientFlags& defaults) {
  auto upload = AddClientCommand<KeystoreFlags>(
      wallet, "upload",
      "put every key, certificate and secret of a PKCS#12 keystore into the wallet (ACTIVE)",
      defaults, /*no_request_id=*/true, Upload);  // several writes; a rerun skips what exists
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
