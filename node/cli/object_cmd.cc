// coffer key create; coffer secret register; coffer object
// register|get|locate|set|activate|revoke|destroy|rename
#include <iostream>
#include <map>

#include "node/cli/commands.h"
#include "node/cli/list_pages.h"

namespace coffer::node::cli {
namespace {

constexpr const char* kCommentHelp =
    "free text kept with the object (feature object-comment: needs cluster version 0.3; "
    "FEATURE_NOT_ACTIVE before)";
constexpr const char* kWalletHelp =
    "the wallet (name or uuid) the new object joins, in the same write; an endpoint must "
    "name one it has read-modify on (feature endpoint-access: cluster version 0.3)";

struct KeyCreateFlags {
  ClientFlags client;
  std::string name;
  int64_t length = 256;
  bool activate = false;
  std::vector<std::string> attrs, tags;
  std::string comment;
  std::string wallet;
};

struct RegisterFlags {
  ClientFlags client;
  std::string name;
  std::string type = "secret";
  std::string value;
  std::string file;
  bool activate = false;
  std::vector<std::string> attrs, tags;
  std::string comment;
  std::string wallet;
};

struct GetFlags {
  ClientFlags client;
  std::string object;
  bool material = false;
};

struct LocateFlags {
  ClientFlags client;
  std::string name, type, state;
  std::vector<std::string> attrs, tags;
  unsigned limit = 0;
};

struct ObjectSetFlags {
  ClientFlags client;
  std::string object;
  std::vector<std::string> attrs, tags, deletes;
};

struct ObjectLifecycleFlags {
  ClientFlags client;
  std::string object;
  std::string reason = "cessation";
};

struct RekeyFlags {
  ClientFlags client;
  std::string key;
  std::string name;
  std::string deactivate_old_in = "0";
};

// "0", or a positive count with one unit: s, m, h or d.
StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text == "0") return 0;
  static const std::map<char, int64_t> kUnits = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  auto unit = text.empty() ? kUnits.end() : kUnits.find(text.back());
  const std::string digits = text.empty() ? "" : text.substr(0, text.size() - 1);
  if (unit == kUnits.end() || digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("'" + text +
                           "' is not a delay: give 0, or a number and one of s, m, h, d (30d)");
  }
  return std::stoll(digits) * unit->second;
}

struct RenameFlags {
  ClientFlags client;
  std::string object;
  std::string new_name;
};

void AddRegisterCommand(CLI::App* parent, const ClientFlags& defaults, bool fixed_type) {
  auto cmd = AddClientCommand<RegisterFlags>(
      parent, "register", "store existing material", defaults, false,
      [fixed_type](const RegisterFlags& f) {
        auto type = ParseType(fixed_type ? std::string("secret") : f.type);
        if (!type.ok()) return Fail(type.status());
        pb::Op op;
        auto* c = op.mutable_register_object();
        c->set_type(*type);
        c->set_name(f.name);
        c->set_activate(f.activate);
        c->set_comment(f.comment);
        c->set_wallet(f.wallet);
        if (!f.wallet.empty()) {
          if (Status s = RequireClusterFeature(f.client, "endpoint-access"); !s.ok()) {
            return Fail(s);
          }
        }
        if (!f.file.empty()) {
          auto data = ReadFile(f.file, limits::kMaxMaterialBytes);
          if (!data.ok()) return Fail(data.status());
          c->set_material(*data);
        } else {
          c->set_material(f.value);
        }
        Status s = AddAttributes(f.attrs, f.tags, c->mutable_attributes());
        if (!s.ok()) return Fail(s);
        return RunWrite(f.client, op);
      });
  RegisterFlags& flags = *cmd.flags;
  CLI::App* reg = cmd.app;
  reg->add_option("--name", flags.name, "unique name");
  auto* v = reg->add_option("--value", flags.value,
                            "material given inline (visible in ps; prefer --file)");
  auto* fl = reg->add_option("--file", flags.file, "read material from a file");
  v->excludes(fl);
  if (!fixed_type) {
    reg->add_option("--type", flags.type,
                    "secret, certificate, private-key, public-key, symmetric-key, opaque")
        ->capture_default_str();
  }
  reg->add_flag("--activate", flags.activate, "register ACTIVE");
  reg->add_option("--attr", flags.attrs, "attribute name=value (repeatable)");
  reg->add_option("--tag", flags.tags, "tag (repeatable)");
  reg->add_option("--comment", flags.comment, kCommentHelp);
  reg->add_option("--wallet", flags.wallet, kWalletHelp);
}

void AddKeyCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* key = app.add_subcommand("key", "symmetric keys");
  key->require_subcommand(1);
  auto create = AddClientCommand<KeyCreateFlags>(
      key, "create", "create an AES key", defaults, false, [](const KeyCreateFlags& f) {
        pb::Op op;
        auto* c = op.mutable_create_key();
        c->set_name(f.name);
        c->set_algorithm("AES");
        c->set_length_bits(f.length);
        c->set_activate(f.activate);
        c->set_comment(f.comment);
        c->set_wallet(f.wallet);
        if (!f.wallet.empty()) {
          if (Status s = RequireClusterFeature(f.client, "endpoint-access"); !s.ok()) {
            return Fail(s);
          }
        }
        Status s = AddAttributes(f.attrs, f.tags, c->mutable_attributes());
        if (!s.ok()) return Fail(s);
        return RunWrite(f.client, op);
      });
  create.app->add_option("--name", create.flags->name, "unique name");
  create.app->add_option("--length", create.flags->length, "bits: 128, 192 or 256")
      ->capture_default_str();
  create.app->add_flag("--activate", create.flags->activate, "create ACTIVE instead of PRE_ACTIVE");
  create.app->add_option("--attr", create.flags->attrs, "attribute name=value (repeatable)");
  create.app->add_option("--tag", create.flags->tags, "tag (repeatable)");
  create.app->add_option("--comment", create.flags->comment, kCommentHelp);
  create.app->add_option("--wallet", create.flags->wallet, kWalletHelp);

  auto rekey = AddClientCommand<RekeyFlags>(
      key, "rekey",
      "replace a key by a new one of the same algorithm and length (feature key-rekey)", defaults,
      false, [](const RekeyFlags& f) {
        auto uuid = ResolveObject(f.client, f.key);
        if (!uuid.ok()) return Fail(uuid.status());
        auto delay = ParseDurationSeconds(f.deactivate_old_in);
        if (!delay.ok()) return Fail(delay.status());
        pb::Op op;
        auto* c = op.mutable_rekey();
        c->set_uuid(*uuid);
        c->set_name(f.name);
        c->set_deactivate_after_seconds(*delay);
        return RunWrite(f.client, op);
      });
  rekey.app->add_option("KEY", rekey.flags->key, "the key to replace: uuid or unique name")
      ->required();
  rekey.app->add_option("--name", rekey.flags->name, "unique name of the new key");
  rekey.app
      ->add_option("--deactivate-old-in", rekey.flags->deactivate_old_in,
                   "when the old key becomes DEACTIVATED: 0 (at once), or a delay such as 90s, "
                   "30m, 12h, 30d")
      ->capture_default_str();
}

}  // namespace

void AddObjectCommands(CLI::App& app, const ClientFlags& defaults) {
  AddKeyCommands(app, defaults);
  auto* secret = app.add_subcommand("secret", "secret data");
  secret->require_subcommand(1);
  AddRegisterCommand(secret, defaults, true);

  auto* object = app.add_subcommand("object", "any managed object: keys, secrets, certificates");
  object->require_subcommand(1);
  AddRegisterCommand(object, defaults, false);

  auto get = AddClientCommand<GetFlags>(object, "get", "show an object and its attributes",
                                        defaults, true, [](const GetFlags& f) {
                                          pb::Request r;
                                          auto uuid = ResolveObject(f.client, f.object);
                                          if (!uuid.ok()) return Fail(uuid.status());
                                          r.mutable_get()->set_uuid(*uuid);
                                          r.mutable_get()->set_include_material(f.material);
                                          return Run(f.client, r, [&](const pb::Response& resp) {
                                            return RenderObject(resp.object(), Format(f.client));
                                          });
                                        });
  get.app->add_option("OBJECT", get.flags->object, "object uuid or unique name")->required();
  get.app->add_flag("--material", get.flags->material, "include the key material (audited)");

  auto locate = AddClientCommand<LocateFlags>(
      object, "locate", "find objects (criteria combine with AND)", defaults, true,
      [](const LocateFlags& f) {
        pb::Request r;
        auto* q = r.mutable_locate();
        q->set_name(f.name);
        q->set_limit(f.limit);
        if (!f.type.empty()) {
          auto t = ParseType(f.type);
          if (!t.ok()) return Fail(t.status());
          q->set_type(*t);
        }
        if (!f.state.empty()) {
          auto s = ParseState(f.state);
          if (!s.ok()) return Fail(s.status());
          q->set_state(*s);
        }
        for (const auto& a : f.attrs) {
          size_t eq = a.find('=');
          if (eq == std::string::npos) return Fail(InvalidArgument("--attr takes name=value"));
          (*q->mutable_attributes())[a.substr(0, eq)] = a.substr(eq + 1);
        }
        for (const auto& t : f.tags) (*q->mutable_attributes())["tag:" + t] = "true";
        return RunList(f.client, r, [&](const pb::Response& resp) {
          return RenderObjects(resp.located(), Format(f.client));
        });
      });
  LocateFlags& lf = *locate.flags;
  locate.app->add_option("--name", lf.name, "exact name");
  locate.app->add_option("--type", lf.type, "object type");
  locate.app->add_option("--state", lf.state, "state, e.g. active, pre-active, destroyed");
  locate.app->add_option("--attr", lf.attrs, "attribute name=value (repeatable)");
  locate.app->add_option("--tag", lf.tags, "tag (repeatable)");
  locate.app->add_option("--limit", lf.limit, "at most this many (default 1000)");

  auto set = AddClientCommand<ObjectSetFlags>(
      object, "set", "set or delete attributes", defaults, false, [](const ObjectSetFlags& f) {
        pb::Op op;
        auto* c = op.mutable_set_attributes();
        auto uuid = ResolveObject(f.client, f.object);
        if (!uuid.ok()) return Fail(uuid.status());
        c->set_uuid(*uuid);
        Status s = AddAttributes(f.attrs, f.tags, c->mutable_attributes());
        if (!s.ok()) return Fail(s);
        for (const auto& d : f.deletes) (*c->mutable_attributes())[d].set_deleted(true);
        return RunWrite(f.client, op);
      });
  set.app->add_option("OBJECT", set.flags->object, "object uuid or unique name")->required();
  set.app->add_option("--attr", set.flags->attrs, "attribute name=value (repeatable)");
  set.app->add_option("--tag", set.flags->tags, "add a tag (repeatable)");
  set.app->add_option("--delete", set.flags->deletes,
                      "delete an attribute or tag:NAME (repeatable)");

  auto lifecycle = [&](const std::string& verb, const std::string& help) {
    auto cmd = AddClientCommand<ObjectLifecycleFlags>(
        object, verb, help, defaults, false, [verb](const ObjectLifecycleFlags& f) {
          auto uuid = ResolveObject(f.client, f.object);
          if (!uuid.ok()) return Fail(uuid.status());
          pb::Op op;
          if (verb == "activate") {
            op.mutable_activate()->set_uuid(*uuid);
          } else if (verb == "destroy") {
            op.mutable_destroy()->set_uuid(*uuid);
          } else {
            const std::map<std::string, pb::RevocationReason> reasons = {
                {"compromise", pb::KEY_COMPROMISE},
                {"cessation", pb::CESSATION_OF_OPERATION},
                {"superseded", pb::SUPERSEDED},
                {"affiliation", pb::AFFILIATION_CHANGED}};
            op.mutable_revoke()->set_uuid(*uuid);
            op.mutable_revoke()->set_reason(reasons.at(f.reason));
          }
          return RunWrite(f.client, op);
        });
    cmd.app->add_option("OBJECT", cmd.flags->object, "object uuid or unique name")->required();
    return cmd;
  };
  lifecycle("activate", "PRE_ACTIVE -> ACTIVE");
  auto revoke =
      lifecycle("revoke", "ACTIVE -> DEACTIVATED, or any -> COMPROMISED with --reason compromise");
  revoke.app
      ->add_option("--reason", revoke.flags->reason,
                   "compromise, cessation, superseded, affiliation")
      ->check(CLI::IsMember({"compromise", "cessation", "superseded", "affiliation"}))
      ->capture_default_str();
  lifecycle("destroy", "erase the material; the object stays as a tombstone");

  auto rename = AddClientCommand<RenameFlags>(object, "rename", "give an object a new unique name",
                                              defaults, false, [](const RenameFlags& f) {
                                                pb::Op op;
                                                op.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
                                                auto uuid = ResolveObject(f.client, f.object);
                                                if (!uuid.ok()) return Fail(uuid.status());
                                                op.mutable_rename()->set_uuid(*uuid);
                                                op.mutable_rename()->set_new_name(f.new_name);
                                                return RunWrite(f.client, op);
                                              });
  rename.app->add_option("OBJECT", rename.flags->object, "object uuid or unique name")->required();
  rename.app->add_option("NAME", rename.flags->new_name)->required();
}

}  // namespace coffer::node::cli
