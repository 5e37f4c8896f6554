// coffer endpoint create|bind|grant|list
#include <iostream>

#include "node/cli/commands.h"
#include "node/cli/list_pages.h"

namespace coffer::node::cli {
namespace {

struct EndpointCreateFlags {
  ClientFlags client;
  std::string name;
  std::string subject;  // "" = the name
  std::string description;
};

struct EndpointBindFlags {
  ClientFlags client;
  std::string endpoint;
  std::string cert;
};

struct GrantFlags {
  ClientFlags client;
  std::string endpoint;
  std::string wallet;
  std::string access = "read-only";
  bool manage = false;
};

struct EndpointListFlags {
  ClientFlags client;
};

}  // namespace

void AddEndpointCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* e = app.add_subcommand("endpoint", "endpoints: named clients and their wallet grants");
  e->require_subcommand(1);
  auto create = AddClientCommand<EndpointCreateFlags>(
      e, "create", "create an endpoint", defaults, false, [](const EndpointCreateFlags& f) {
        pb::Op op;
        op.mutable_endpoint_create()->set_name(f.name);
        op.mutable_endpoint_create()->set_certificate_subject(f.subject);
        op.mutable_endpoint_create()->set_description(f.description);
        return RunWrite(f.client, op);
      });
  create.app->add_option("NAME", create.flags->name)->required();
  create.app->add_option("--subject", create.flags->subject, "certificate CN (default: NAME)");
  create.app->add_option("--description", create.flags->description);
  auto bind = AddClientCommand<EndpointBindFlags>(
      e, "bind",
      "bind (or re-enroll) an endpoint to its certificate's key: from then on that certificate "
      "reaches the wallets granted to the endpoint, and a certificate bound before does not",
      defaults, false, [](const EndpointBindFlags& f) {
        auto pem = ReadFile(f.cert, limits::kMaxCertificatePemBytes);
        if (!pem.ok()) return Fail(pem.status());
        pb::Op op;
        op.mutable_endpoint_bind()->set_endpoint(f.endpoint);
        op.mutable_endpoint_bind()->set_certificate_pem(*pem);
        return RunWrite(f.client, op);
      });
  bind.app->add_option("ENDPOINT", bind.flags->endpoint, "endpoint name or uuid")->required();
  bind.app
      ->add_option("--endpoint-cert", bind.flags->cert,
                   "the endpoint's certificate (PEM, role endpoint, CN as the endpoint's subject)")
      ->required();
  auto grant = AddClientCommand<GrantFlags>(
      e, "grant", "grant (or with --access none, revoke) wallet access", defaults, false,
      [](const GrantFlags& f) {
        pb::Op op;
        auto* g = op.mutable_endpoint_grant();
        g->set_endpoint(f.endpoint);
        g->set_wallet(f.wallet);
        g->set_access(f.access == "read-modify" ? pb::ACCESS_READ_MODIFY
                      : f.access == "read-only" ? pb::ACCESS_READ_ONLY
                                                : pb::ACCESS_NONE);
        g->set_manage_wallet(f.manage);
        return RunWrite(f.client, op);
      });
  grant.app->add_option("ENDPOINT", grant.flags->endpoint)->required();
  grant.app->add_option("WALLET", grant.flags->wallet)->required();
  grant.app->add_option("--access", grant.flags->access, "read-only, read-modify or none")
      ->check(CLI::IsMember({"read-only", "read-modify", "none"}))
      ->capture_default_str();
  grant.app->add_flag("--manage", grant.flags->manage, "may also manage the wallet");
  AddClientCommand<EndpointListFlags>(
      e, "list", "list endpoints and grants", defaults, true, [](const EndpointListFlags& f) {
        pb::Request r;
        r.mutable_endpoint_list();
        return RunList(f.client, r, [&](const pb::Response& resp) {
          return RenderEndpoints(resp.endpoints(), Format(f.client));
        });
      });
}

}  // namespace coffer::node::cli
