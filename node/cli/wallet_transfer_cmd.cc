// coffer wallet export|import (a wallet sealed under a secret, wallet_export.h)
// and merge|move (one wallet's members into another), docs/wallet-export.md.
#include <filesystem>
#include <iostream>

#include "common/clock.h"
#include "node/cli/cli_output.h"
#include "node/cli/commands.h"
#include "node/cli/wallet_export.h"
#include "node/cli/wallet_files.h"

namespace coffer::node::cli {
namespace {

struct TransferFlags {
  ClientFlags client;
  std::string wallet;  // export: the source; import: --into ("" = the exported name)
  std::string file;
  std::string secret_file;
  std::string secret_env;
};

struct MergeFlags {
  ClientFlags client;
  std::string source;
  std::string target;
};

// Transfer records one merge or move writes at most (each carries up to
// limits::kMaxMembersPerTransfer members).
constexpr size_t kMaxTransferRecords = 10'000;

// The attributes a client may set (the rest, dates, algorithm and links,
// are the cluster's own and start again on import).
bool CarriedAttribute(const std::string& name) {
  return name == "usage_mask" || name == "extractable" || name == "description" ||
         name == "contact" || name.starts_with("tag:") || name.starts_with("x-");
}

int Export(const TransferFlags& f) {
  auto secret = ReadSecretFlag(f.secret_file, f.secret_env, "export secret");
  if (!secret.ok()) return Fail(secret.status());
  if (std::filesystem::exists(f.file)) {  // checked again when it is created
    return Fail(AlreadyExists(f.file + " exists; export writes a new file"));
  }
  auto wallet = FetchWalletMaterial(f.client, f.wallet, pb::WALLET_OBJECTS_EXPORT);
  if (!wallet.ok()) return Fail(wallet.status());
  pb::WalletExport contents;
  contents.set_wallet_name(wallet->wallet.name());
  contents.set_wallet_description(wallet->wallet.description());
  contents.set_exported_micros(SystemClock().WallMicros());
  for (pb::ObjectView& o : wallet->objects) *contents.add_objects() = std::move(o);
  auto sealed = SealWalletExport(contents, *secret);
  if (!sealed.ok()) return Fail(sealed.status());
  if (Status s = WriteNewPrivateFile(f.file, *sealed); !s.ok()) return Fail(s);
  for (const std::string& why : wallet->left_out) {
    std::cerr << "left out " << EscapeForTerminal(why) << "\n";
  }
  std::cout << f.file << ": " << contents.objects_size() << " objects, " << wallet->left_out.size()
            << " left out\n";
  return kExitOk;
}

// The wallet `name`, created if it does not exist.
Status EnsureWallet(const ClientFlags& client, const std::string& name,
                    const std::string& description) {
  pb::Request show;
  show.mutable_wallet_get()->set_wallet(name);
  COFFER_ASSIGN_OR_RETURN(pb::Response shown, Call(client, show));
  Status exists = StatusFromResponse(shown);
  if (exists.code() != Code::kNotFound) return exists;
  pb::Op create;
  create.mutable_wallet_create()->set_name(name);
  create.mutable_wallet_create()->set_description(description);
  return WriteOp(client, create).status();
}

int Import(const TransferFlags& f) {
  auto secret = ReadSecretFlag(f.secret_file, f.secret_env, "export secret");
  if (!secret.ok()) return Fail(secret.status());
  auto sealed = ReadFile(f.file, limits::kMaxKeystoreBytes);
  if (!sealed.ok()) return Fail(sealed.status());
  // Opened and authenticated as a whole before anything is written.
  auto contents = OpenWalletExport(*sealed, *secret);
  if (!contents.ok()) return Fail(contents.status().Annotate(f.file));
  const std::string target = f.wallet.empty() ? contents->wallet_name() : f.wallet;
  if (Status s = RequireClusterFeature(f.client, "wallet-export"); !s.ok()) return Fail(s);
  if (Status s = EnsureWallet(f.client, target, contents->wallet_description()); !s.ok()) {
    return Fail(s.Annotate("wallet '" + target + "'"));
  }
  int imported = 0, skipped = 0;
  for (const pb::ObjectView& o : contents->objects()) {
    auto existing = ObjectNamed(f.client, o.name());
    if (!existing.ok()) return Fail(existing.status());
    if (!existing->empty()) {
      ++skipped;
      std::cerr << "skipped '" << EscapeForTerminal(o.name())
                << "': an object of that name exists\n";
      continue;
    }
    pb::Op op;
    auto* r = op.mutable_register_object();
    r->set_type(o.type());
    r->set_name(o.name());
    r->set_material(o.material());
    r->set_activate(o.state() == pb::ACTIVE);
    r->set_wallet(target);
    r->set_source(pb::REGISTER_EXPORT_IMPORT);
    for (const auto& [name, value] : o.attributes()) {
      if (CarriedAttribute(name) && !value.deleted()) (*r->mutable_attributes())[name] = value;
    }
    auto uuid = WriteOp(f.client, op);
    if (!uuid.ok()) return Fail(uuid.status().Annotate("importing '" + o.name() + "'"));
    ++imported;
    std::cout << EscapeForTerminal(*uuid) << "  " << ObjectTypeName(o.type()) << "  "
              << EscapeForTerminal(o.name()) << "\n";
  }
  std::cout << "wallet " << EscapeForTerminal(target) << ": " << imported << " imported, "
            << skipped << " skipped\n";
  return kExitOk;
}

// Every member of the source joins the target; with `move` each also leaves
// the source. Each WalletTransferOp is one record carrying up to
// limits::kMaxMembersPerTransfer members, whole or not at all; a larger
// wallet takes several, each moving the members not yet done.
int Merge(const MergeFlags& f, bool move) {
  if (Status s = RequireClusterFeature(f.client, "wallet-export"); !s.ok()) return Fail(s);
  pb::Request transfer;
  auto* op = transfer.mutable_write()->mutable_wallet_transfer();
  op->set_source(f.source);
  op->set_target(f.target);
  op->set_move(move);
  uint64_t done = 0;
  // Each write moves at least one member or answers ALREADY_EXISTS (nothing
  // left), so the wallet's size bounds the loop; the cap guards the rest.
  for (size_t records = 0; records < kMaxTransferRecords; ++records) {
    auto answer = Call(f.client, transfer);
    if (!answer.ok()) return Fail(answer.status());
    Status s = StatusFromResponse(*answer);
    if (s.code() == Code::kAlreadyExists) {
      std::cout << EscapeForTerminal(f.target) << ": " << done << " members "
                << (move ? "moved from " : "merged from ") << EscapeForTerminal(f.source) << "\n";
      return kExitOk;
    }
    if (!s.ok()) {
      return Fail(s.Annotate(std::to_string(done) + " members were " + (move ? "moved" : "merged") +
                             " before this"));
    }
    done += answer->op_result().count();
  }
  return Fail(ResourceExhausted("stopped after " + std::to_string(kMaxTransferRecords) +
                                " transfer records (" + std::to_string(done) + " members)"));
}

void AddSecretFlags(CLI::App* cmd, TransferFlags* f) {
  AddSecretSourceFlags(cmd, "secret", &f->secret_file, &f->secret_env, "the export secret");
}

}  // namespace

void AddWalletTransferCommands(CLI::App* wallet, const ClientFlags& defaults) {
  auto ex = AddClientCommand<TransferFlags>(
      wallet, "export",
      "seal the wallet's objects and metadata into a new file under a secret (scrypt, "
      "AES-256-GCM)",
      defaults, true, Export);
  ex.app->add_option("WALLET", ex.flags->wallet, "wallet name or uuid")->required();
  ex.app->add_option("--file", ex.flags->file, "the new export file (must not exist)")->required();
  AddSecretFlags(ex.app, ex.flags);
  auto im = AddClientCommand<TransferFlags>(
      wallet, "import",
      "open an export (nothing is written unless it authenticates) and register its objects "
      "into a wallet",
      defaults, /*no_request_id=*/true, Import);  // several writes; a rerun skips what exists
  im.app->add_option("--file", im.flags->file, "the export file")->required();
  im.app->add_option("--into", im.flags->wallet,
                     "the wallet to import into (default: the exported wallet's name; created "
                     "if missing)");
  AddSecretFlags(im.app, im.flags);
  for (bool move : {false, true}) {
    auto cmd = AddClientCommand<MergeFlags>(
        wallet, move ? "move" : "merge",
        move ? "move every member of SOURCE into TARGET (they leave SOURCE)"
             : "add every member of SOURCE to TARGET (SOURCE unchanged)",
        // Several writes; a rerun goes on with the members not yet done.
        defaults, /*no_request_id=*/true, [move](const MergeFlags& f) { return Merge(f, move); });
    cmd.app->add_option("SOURCE", cmd.flags->source, "wallet name or uuid")->required();
    cmd.app->add_option("TARGET", cmd.flags->target, "wallet name or uuid")->required();
  }
}

}  // namespace coffer::node::cli
