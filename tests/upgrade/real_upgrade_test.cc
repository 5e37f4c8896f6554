// The first real rolling upgrade (issue 16): a cluster of the previous
// release, built from its own commit (upgrade/previous-release,
// scripts/build-previous-release.sh), two read-write pairs and a read-only
// node, upgraded node by node to this build by the orchestrator while a
// writer has critical writes acknowledged. The release's gated features
// (key-rekey; endpoint-access through an object created into a wallet)
// are refused by every node until `finalize` (a node still on
// the previous release does not know the request at all; a node of this
// release answers FEATURE_NOT_ACTIVE naming what holds the version back)
// and works on every node after it. Nothing acknowledged is lost.
#include <filesystem>

#include "node/net/certs.h"
#include "node/net/tls.h"
#include "storage/object_store/test_ops.h"
#include "tests/harness/coffer_cli.h"
#include "tests/upgrade/orchestrator_fixture.h"
#include "upgrade/version.h"

namespace coffer::integration {
namespace {

using ::testing::HasSubstr;

const Release kPrevious = *Release::Parse(COFFER_PREVIOUS_RELEASE);

using storage::testing::CreateKey;
using storage::testing::Rekey;
using storage::testing::WalletMember;

std::string Attribute(const pb::ObjectView& v, const std::string& name) {
  auto it = v.attributes().find(name);
  return it == v.attributes().end() ? "" : it->second.text();
}

pb::Op EndpointCreate(const std::string& name) {
  pb::Op op;
  op.mutable_endpoint_create()->set_name(name);
  return op;
}

// One request of each 0.3.0 feature but rekey (asserted on its own), with
// the feature's name. Each names wallet "db".
std::vector<std::pair<std::string, pb::Request>> GatedRequests(const std::string& tag) {
  std::vector<std::pair<std::string, pb::Request>> out;
  pb::Request into_wallet;  // endpoint-access
  *into_wallet.mutable_write() = CreateKey("gated-" + tag);
  into_wallet.mutable_write()->mutable_create_key()->set_wallet("db");
  out.emplace_back("endpoint-access", into_wallet);
  pb::Request download;  // wallet-keystore
  download.mutable_wallet_objects()->set_wallet("db");
  download.mutable_wallet_objects()->set_purpose(pb::WALLET_OBJECTS_DOWNLOAD);
  out.emplace_back("wallet-keystore", download);
  pb::Request upload;
  auto* r = upload.mutable_write()->mutable_register_object();
  r->set_type(pb::SECRET_DATA);
  r->set_name("uploaded-" + tag);
  r->set_material("m");
  r->set_source(pb::REGISTER_KEYSTORE_UPLOAD);
  out.emplace_back("wallet-keystore", upload);
  pb::Request merge;  // wallet-export
  merge.mutable_write()->mutable_wallet_transfer()->set_source("db");
  merge.mutable_write()->mutable_wallet_transfer()->set_target("db-copy");
  out.emplace_back("wallet-export", merge);
  pb::Request exported = download;
  exported.mutable_wallet_objects()->set_purpose(pb::WALLET_OBJECTS_EXPORT);
  out.emplace_back("wallet-export", exported);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].second.has_write()) out[i].second.set_request_id(tag + "-" + std::to_string(i));
  }
  return out;
}

// A client TLS context for an endpoint certificate of CN `cn`.
std::unique_ptr<boost::asio::ssl::context> EndpointTls(const node::PemPair& ca,
                                                       const std::string& cn, node::PemPair* cert) {
  *cert = *node::IssueCertificate(ca, {cn, "endpoint", {}, {}, 30});
  return std::move(node::MakeClientTlsContext(
                       node::TlsCredentials{ca.cert_pem, cert->cert_pem, cert->key_pem}))
      .value();
}

// `request` sent on `node` with the endpoint's certificate.
StatusOr<pb::Response> AskAsEndpoint(NodeProcess& node, boost::asio::ssl::context& tls,
                                     const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(auto client, node.Connect(tls));
  return client->Call(request, std::chrono::seconds(10));
}

class RealUpgradeTest : public OrchestratorTest {};

TEST_F(RealUpgradeTest, APreviousReleaseClusterUpgradesToThisOneUnderLoad) {
  const std::string previous = COFFER_PREVIOUS_BIN;
  if (!std::filesystem::exists(previous)) {
    GTEST_SKIP() << "no " << previous
                 << ": scripts/build-previous-release.sh builds it (scripts/test.sh runs it)";
  }
  ASSERT_LT(kPrevious, kOld);
  ASSERT_NO_FATAL_FAILURE(FormCluster(previous));
  for (NodeProcess* n : all_) {
    auto status = StatusOf(*n);
    ASSERT_TRUE(status.ok()) << n->name();
    ASSERT_EQ(status->version(), kPrevious.ToString()) << n->name();
    ASSERT_EQ(status->cluster_version(), kPrevious.MinorString()) << n->name();
  }
  // A key in a wallet, to rotate once the feature is on.
  auto key = Write(*a_, CreateKey("master", /*activate=*/true));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  ASSERT_TRUE(Write(*a_, WalletCreate("db")).ok());
  ASSERT_TRUE(Write(*a_, WalletMember("db", key->uuid())).ok());
  ASSERT_TRUE(Write(*a_, WalletCreate("db-copy")).ok());
  node::PemPair db01_cert;
  auto db01 = EndpointTls(ca_, "db01", &db01_cert);
  // The previous release does not know the request.
  auto unknown = Write(*a_, Rekey(key->uuid()));
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument) << unknown.status().ToString();
  // Nor RegisterOp/CreateKeyOp.wallet: it would create the key outside the
  // wallet. The CLI asks the node's registry first and sends nothing.
  std::string out;
  EXPECT_EQ(Coffer("key create --name via-cli --wallet db" + CofferFlags(*a_), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("FEATURE_NOT_ACTIVE"));
  EXPECT_THAT(out, HasSubstr("not in release " + kPrevious.ToString()));
  EXPECT_EQ(Coffer("object locate --name via-cli -o json" + CofferFlags(*a_), &out, true), 0);
  EXPECT_THAT(out, ::testing::Not(HasSubstr("via-cli"))) << "nothing was created";

  Writer writer({a_, b_, c_, d_});
  PairSampler sampler({{a_, b_}, {c_, d_}});
  auto o = NewOrchestrator("real-upgrade");
  orch::PlanSpec spec{kOld, COFFER_BIN, {"backup"}, {}};
  auto prepared = o->Prepare(spec);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  ASSERT_TRUE(prepared->verdict.ok()) << prepared->verdict.ToString();
  EXPECT_EQ(prepared->plan.from_release(), kPrevious.ToString());
  auto written = o->Begin(*prepared);
  ASSERT_TRUE(written.ok()) << written.status().ToString();

  // While some nodes run this release and some the previous one, a node of
  // this release refuses the rekey and names the nodes still behind.
  std::map<std::string, NodeProcess*> by_name;
  for (NodeProcess* n : all_) by_name[n->name()] = n;
  std::optional<Status> mixed_refusal;
  std::string mixed_behind;
  auto log = Log();
  const auto started = std::chrono::steady_clock::now();
  auto ran = o->Run(*written, [&](const pb::UpgradePlan& plan, const upgrade::Decision& d,
                                  const upgrade::ClusterObservation& seen) {
    log(plan, d, seen);
    if (mixed_refusal) return;
    const pb::UpgradeNode* upgraded = nullptr;
    const pb::UpgradeNode* behind = nullptr;
    for (const auto& n : plan.nodes()) {
      if (n.step() == pb::STEP_DONE && upgraded == nullptr) upgraded = &n;
      if (n.step() == pb::STEP_PENDING && behind == nullptr) behind = &n;
    }
    if (upgraded == nullptr || behind == nullptr) return;
    mixed_refusal = Write(*by_name.at(upgraded->name()), Rekey(key->uuid())).status();
    mixed_behind = behind->name();
  });
  const double upgrade_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  ASSERT_EQ(ran->state(), pb::UPGRADE_DONE)
      << ran->pause().check() << ": " << ran->pause().observed();
  ASSERT_TRUE(mixed_refusal.has_value());
  EXPECT_EQ(mixed_refusal->code(), Code::kFeatureNotActive) << mixed_refusal->ToString();
  EXPECT_THAT(mixed_refusal->message(), HasSubstr("key-rekey"));
  EXPECT_THAT(mixed_refusal->message(), HasSubstr("node " + mixed_behind + " ("));

  // Done, not finalized: every node on this release, the version held, the
  // feature still refused everywhere.
  for (NodeProcess* n : all_) {
    auto status = StatusOf(*n);
    ASSERT_TRUE(status.ok()) << n->name();
    EXPECT_EQ(status->version(), kOld.ToString()) << n->name();
    EXPECT_EQ(status->cluster_version(), kPrevious.MinorString()) << n->name();
  }
  for (NodeProcess* n : {a_, b_, c_, d_}) {
    auto refused = Write(*n, Rekey(key->uuid()));
    EXPECT_EQ(refused.status().code(), Code::kFeatureNotActive) << n->name();
    EXPECT_THAT(refused.status().message(), HasSubstr("key-rekey")) << n->name();
    for (const auto& [feature, request] : GatedRequests(n->name())) {
      auto gated = Ask(*n, request);
      EXPECT_EQ(gated.status().code(), Code::kFeatureNotActive) << n->name() << " " << feature;
      EXPECT_THAT(gated.status().message(), HasSubstr(feature)) << n->name();
    }
  }
  // The CLI's own check, on a node of this release: the version is held.
  EXPECT_EQ(Coffer("wallet merge db db-copy" + CofferFlags(*c_), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("FEATURE_NOT_ACTIVE"));
  EXPECT_THAT(out, HasSubstr("wallet-export needs cluster version 0.3"));
  // An endpoint certificate: refused whatever it asks until 0.3.
  for (NodeProcess* n : all_) {
    pb::Request status;
    status.mutable_cluster_status();
    auto refused = AskAsEndpoint(*n, *db01, status);
    ASSERT_TRUE(refused.ok()) << n->name() << ": " << refused.status().ToString();
    EXPECT_EQ(refused->code(), "FEATURE_NOT_ACTIVE") << n->name();
    EXPECT_THAT(refused->message(), HasSubstr("endpoint-access")) << n->name();
  }
  sampler.Stop();
  writer.Stop();
  EXPECT_GT(sampler.samples(), 20);
  EXPECT_THAT(sampler.gaps(), ::testing::IsEmpty());
  EXPECT_LT(writer.longest_gap(), std::chrono::seconds(5));
  auto acked = writer.acked();
  EXPECT_GT(acked.size(), 50u);
  ASSERT_NO_FATAL_FAILURE(ExpectNothingLost(acked));

  auto version = o->FinalizePlan(std::chrono::seconds(60));
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, kOld.MinorString());
  ASSERT_TRUE(WaitFor(
      [&] {
        for (NodeProcess* n : all_) {
          auto status = StatusOf(*n);
          if (!status.ok() || status->cluster_version() != kOld.MinorString()) return false;
        }
        return true;
      },
      std::chrono::seconds(30)));

  // After finalize: a chain of three keys, rotated through two pairs.
  auto second = Write(*a_, Rekey(key->uuid()));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(
      WaitFor([&] { return GetObject(*c_, second->uuid()).ok(); }, std::chrono::seconds(30)));
  auto third = Write(*c_, Rekey(second->uuid()));
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  pb::Op into_wallet = CreateKey("after-finalize");
  into_wallet.mutable_create_key()->set_wallet("db");
  auto joined = Write(*d_, into_wallet);
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Converged(all_); }, std::chrono::seconds(30)));
  for (NodeProcess* n : all_) {
    auto wallet = GetWallet(*n, "db");
    ASSERT_TRUE(wallet.ok()) << n->name();
    EXPECT_EQ(wallet->members_size(), 4) << n->name();  // the chain and after-finalize
    EXPECT_EQ(wallet->replaced_by().at(key->uuid()), second->uuid()) << n->name();
    EXPECT_EQ(wallet->replaced_by().at(second->uuid()), third->uuid()) << n->name();
    auto newest = GetObject(*n, third->uuid());
    ASSERT_TRUE(newest.ok()) << n->name();
    EXPECT_EQ(Attribute(*newest, "replaces"), second->uuid()) << n->name();
    EXPECT_EQ(newest->state(), pb::ACTIVE) << n->name();
    auto oldest = GetObject(*n, key->uuid());
    ASSERT_TRUE(oldest.ok()) << n->name();
    EXPECT_EQ(oldest->state(), pb::DEACTIVATED) << n->name();
  }
  // And every other 0.3.0 feature, on every node: the download and merge
  // through pair c/d and the read-only node, an endpoint bound to db01's
  // certificate reading "db" on every node.
  for (const auto& [feature, request] : GatedRequests("after")) {
    if (request.has_write() && request.write().has_create_key()) continue;  // done above
    auto answered = Ask(request.has_write() ? *c_ : *e_, request);
    ASSERT_TRUE(answered.ok()) << feature << ": " << answered.status().ToString();
    if (request.has_wallet_objects()) {
      EXPECT_GE(answered->wallet_objects().objects_size(), 4) << feature;
    }
  }
  ASSERT_EQ(Coffer("key create --name via-cli --wallet db" + CofferFlags(*c_), &out), 0) << out;
  ASSERT_TRUE(Write(*a_, EndpointCreate("db01")).ok());
  pb::Op grant;
  grant.mutable_endpoint_grant()->set_endpoint("db01");
  grant.mutable_endpoint_grant()->set_wallet("db");
  grant.mutable_endpoint_grant()->set_access(pb::ACCESS_READ_ONLY);
  ASSERT_TRUE(Write(*a_, grant).ok());
  pb::Op bind;
  bind.mutable_endpoint_bind()->set_endpoint("db01");
  bind.mutable_endpoint_bind()->set_certificate_pem(db01_cert.cert_pem);
  ASSERT_TRUE(Write(*a_, bind).ok());
  ASSERT_TRUE(WaitFor([&] { return Converged(all_); }, std::chrono::seconds(30)));
  for (NodeProcess* n : all_) {
    pb::Request get;
    get.mutable_get()->set_uuid(third->uuid());
    auto got = AskAsEndpoint(*n, *db01, get);
    ASSERT_TRUE(got.ok()) << n->name() << ": " << got.status().ToString();
    EXPECT_EQ(got->code(), "OK") << n->name() << ": " << got->message();
    pb::Request outside;  // not in a wallet it was granted
    outside.mutable_get()->set_uuid(acked.front());
    auto denied = AskAsEndpoint(*n, *db01, outside);
    ASSERT_TRUE(denied.ok()) << n->name();
    EXPECT_EQ(denied->code(), "PERMISSION_DENIED") << n->name();
  }

  std::map<std::string, int> errors = writer.errors();
  std::string error_text;
  for (const auto& [code, count] : errors) error_text += " " + code + "=" + std::to_string(count);
  std::fprintf(stderr,
               "real upgrade %s -> %s: %.1f s for 5 nodes, %zu writes acknowledged, 0 lost, "
               "errors:%s\n",
               kPrevious.ToString().c_str(), kOld.ToString().c_str(), upgrade_seconds, acked.size(),
               error_text.empty() ? " none" : error_text.c_str());
}

}  // namespace
}  // namespace coffer::integration
