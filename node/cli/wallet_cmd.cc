// coffer wallet create|add|remove|list|show (upload|download:
// keystore_cmd.cc; export|import|merge|move: wallet_transfer_cmd.cc)
#include <iostream>

#include "node/cli/commands.h"
#include "node/cli/list_pages.h"
#include "node/cli/name_confirm.h"
#include "node/client/client.h"

namespace coffer::node::cli {
namespace {

struct WalletCreateFlags {
  ClientFlags client;
  std::string name;
  std::string description;
  std::string wait = "0";  // --wait DURATION: 0 = look once, do not wait
};

// Creates the wallet, then reports where its name stands (name_confirm.h),
// waiting up to --wait for replication to confirm it or a concurrent
// creation to take it.
int CreateWallet(const WalletCreateFlags& f) {
  auto wait = ParseWait(f.wait);
  if (!wait.ok()) return Fail(wait.status());
  pb::Request request;
  request.mutable_write()->mutable_wallet_create()->set_name(f.name);
  request.mutable_write()->mutable_wallet_create()->set_description(f.description);
  auto created = Call(f.client, request);
  if (!created.ok()) return Fail(created.status());
  if (Status s = StatusFromResponse(*created); !s.ok()) return Fail(s);
  const std::string uuid = created->op_result().uuid();
  NameProbe probe = [&]() -> StatusOr<NameView> {
    pb::Request get;
    get.mutable_wallet_get()->set_wallet(uuid);
    COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(f.client, get));
    COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
    return NameView{response.wallet().name(), response.wallet().state() == "ACTIVE"};
  };
  auto seen = WaitForName(f.name, probe, *wait);
  if (!seen.ok()) {
    std::cout << EscapeForTerminal(uuid) << std::endl;  // before the error line on stderr
    return Fail(seen.status().Annotate("wallet " + uuid + " was created; its name's state"));
  }
  NameReport report =
      RenderNameReport("wallet", uuid, f.name, seen->state, seen->name, *wait, Format(f.client));
  std::cout << report.out << std::flush;  // the uuid before the error line on stderr
  std::cerr << report.err;
  return report.exit_code;
}

struct MemberFlags {
  ClientFlags client;
  std::string wallet;
  std::string object;
};

struct WalletListFlags {
  ClientFlags client;
};

struct ShowFlags {
  ClientFlags client;
  std::string wallet;
};

}  // namespace

void AddWalletCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* w = app.add_subcommand("wallet", "virtual wallets: named sets of objects");
  w->require_subcommand(1);
  auto create = AddClientCommand<WalletCreateFlags>(
      w, "create", "create a wallet; says whether its name is confirmed", defaults, false,
      CreateWallet);
  create.app->add_option("NAME", create.flags->name)->required();
  create.app->add_option("--description", create.flags->description);
  create.app->add_option("--wait", create.flags->wait,
                         "wait up to DURATION (e.g. 10s) until replication confirms the name or "
                         "a concurrent creation takes it (default: look once)");
  for (bool add : {true, false}) {
    auto cmd = AddClientCommand<MemberFlags>(
        w, add ? "add" : "remove",
        add ? "add an object to a wallet" : "remove an object from a wallet", defaults, false,
        [add](const MemberFlags& f) {
          pb::Op op;
          op.mutable_wallet_member()->set_wallet(f.wallet);
          auto uuid = ResolveObject(f.client, f.object);
          if (!uuid.ok()) return Fail(uuid.status());
          op.mutable_wallet_member()->set_object(*uuid);
          op.mutable_wallet_member()->set_present(add);
          return RunWrite(f.client, op);
        });
    cmd.app->add_option("WALLET", cmd.flags->wallet, "wallet name or uuid")->required();
    cmd.app->add_option("OBJECT", cmd.flags->object, "object uuid or unique name")->required();
  }
  AddClientCommand<WalletListFlags>(w, "list", "list wallets", defaults, true,
                                    [](const WalletListFlags& f) {
                                      pb::Request r;
                                      r.mutable_wallet_list();
                                      return RunList(f.client, r, [&](const pb::Response& resp) {
                                        return RenderWallets(resp.wallets(), Format(f.client));
                                      });
                                    });
  auto show = AddClientCommand<ShowFlags>(w, "show", "a wallet and its members", defaults, true,
                                          [](const ShowFlags& f) {
                                            pb::Request r;
                                            r.mutable_wallet_get()->set_wallet(f.wallet);
                                            return Run(f.client, r, [&](const pb::Response& resp) {
                                              return RenderWallet(resp.wallet(), Format(f.client));
                                            });
                                          });
  show.app->add_option("WALLET", show.flags->wallet)->required();
  AddKeystoreCommands(w, defaults);        // upload, download
  AddWalletTransferCommands(w, defaults);  // export, import, merge, move
}

}  // namespace coffer::node::cli
