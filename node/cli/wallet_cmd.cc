// coffer wallet create|add|remove|list|show
#include <iostream>

#include "node/cli/commands.h"

namespace coffer::node::cli {
namespace {

struct CreateFlags {
  ClientFlags client;
  std::string name;
  std::string description;
};

struct MemberFlags {
  ClientFlags client;
  std::string wallet;
  std::string object;
};

struct ListFlags {
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
  auto create = AddClientCommand<CreateFlags>(
      w, "create", "create a wallet", defaults, false, [](const CreateFlags& f) {
        pb::Op op;
        op.mutable_wallet_create()->set_name(f.name);
        op.mutable_wallet_create()->set_description(f.description);
        return RunWrite(f.client, op);
      });
  create.app->add_option("NAME", create.flags->name)->required();
  create.app->add_option("--description", create.flags->description);
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
  AddClientCommand<ListFlags>(w, "list", "list wallets", defaults, true, [](const ListFlags& f) {
    pb::Request r;
    r.mutable_wallet_list();
    return Run(f.client, r, [&](const pb::Response& resp) {
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
}

}  // namespace coffer::node::cli
