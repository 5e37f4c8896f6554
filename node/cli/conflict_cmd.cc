// coffer conflict list|accept|rename
#include <iostream>

#include "node/cli/commands.h"
#include "node/cli/list_pages.h"
#include "node/client/client.h"

namespace coffer::node::cli {
namespace {

struct ConflictListFlags {
  ClientFlags client;
};

struct ResolveFlags {
  ClientFlags client;
  std::string kind = "wallet";
  std::string entity;
  std::string new_name;  // rename only
};

pb::EntityKind KindOf(const std::string& kind) {
  return kind == "object"   ? pb::ENTITY_OBJECT
         : kind == "wallet" ? pb::ENTITY_WALLET
                            : pb::ENTITY_ENDPOINT;
}

// OK if the entity is in `conflict list` (it carries a generated name);
// else INVALID_STATE: resolving gives a name only to an entity that lost
// one (any other object is renamed with `object rename`).
Status CheckInConflict(const ResolveFlags& f) {
  pb::Request request;
  request.mutable_conflict_list();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, CallAllPages(f.client, request));
  for (const pb::ConflictView& c : response.conflicts().conflicts()) {
    if (c.kind() == KindOf(f.kind) && c.uuid() == f.entity) return Status::Ok();
  }
  return InvalidState(f.kind + " " + f.entity +
                      " is not in conflict (not in `coffer conflict list`); only an entity that "
                      "lost its name to a concurrent creation can be resolved");
}

// `conflict accept` (keep the generated name) or `conflict rename` (take
// f.new_name), refused unless the entity is in `conflict list`.
int Resolve(const ResolveFlags& f, bool accept_generated) {
  if (Status s = CheckInConflict(f); !s.ok()) return Fail(s);
  pb::Op op;
  op.mutable_rename()->set_kind(KindOf(f.kind));
  op.mutable_rename()->set_uuid(f.entity);
  if (accept_generated) {
    op.mutable_rename()->set_accept_generated(true);
  } else {
    op.mutable_rename()->set_new_name(f.new_name);
  }
  return RunWrite(f.client, op);
}

}  // namespace

void AddConflictCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* c = app.add_subcommand("conflict", "unique-name conflicts between concurrent creations");
  c->require_subcommand(1);
  AddClientCommand<ConflictListFlags>(
      c, "list", "entities that lost a name and carry a generated one", defaults, true,
      [](const ConflictListFlags& f) {
        pb::Request r;
        r.mutable_conflict_list();
        return RunList(f.client, r, [&](const pb::Response& resp) {
          return RenderConflicts(resp.conflicts(), Format(f.client));
        });
      });
  auto accept = AddClientCommand<ResolveFlags>(
      c, "accept", "keep the generated name", defaults, false,
      [](const ResolveFlags& f) { return Resolve(f, /*accept_generated=*/true); });
  auto rename = AddClientCommand<ResolveFlags>(
      c, "rename", "give the entity a new name", defaults, false,
      [](const ResolveFlags& f) { return Resolve(f, /*accept_generated=*/false); });
  for (const Command<ResolveFlags>& cmd : {accept, rename}) {
    cmd.app->add_option("KIND", cmd.flags->kind, "object, wallet or endpoint")
        ->check(CLI::IsMember({"object", "wallet", "endpoint"}))
        ->required();
    cmd.app->add_option("UUID", cmd.flags->entity)->required();
  }
  rename.app->add_option("NAME", rename.flags->new_name)->required();
}

}  // namespace coffer::node::cli
