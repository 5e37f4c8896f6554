// Endpoint access through grants (endpoint_access.h), through HandleRequest
// on a real store: an endpoint certificate reaches only the wallets granted
// to the endpoint it is bound to, at the granted level.
#include "node/api/endpoint_access.h"

#include <gtest/gtest.h>

#include <set>

#include "node/api/request_handler.h"
#include "node/api/request_kinds.h"
#include "node/net/certs.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::node {
namespace {

namespace st = storage::testing;

class EndpointAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = st::MakeNodeOn(st::OpenKvStore(st::Backend::kMemEnv, "/endpoint-access"), 1);
    ASSERT_NE(node_, nullptr);
    ca_ = *CreateCertificateAuthority("endpoint access test CA");
    wallet_a_ = Admin(st::WalletCreate("A"));
    wallet_b_ = Admin(st::WalletCreate("B"));
    key_a_ = Admin(st::CreateKey("ka", true));
    key_b_ = Admin(st::CreateKey("kb", true));
    pb::Op sealed = st::CreateKey("ka-sealed", true);
    (*sealed.mutable_create_key()->mutable_attributes())["extractable"].set_boolean(false);
    key_sealed_ = Admin(sealed);
    Admin(st::WalletMember("A", key_a_));
    Admin(st::WalletMember("A", key_sealed_));
    Admin(st::WalletMember("B", key_b_));
    pb::Op endpoint;
    endpoint.mutable_endpoint_create()->set_name("db01");
    Admin(endpoint);
    Grant("A", pb::ACCESS_READ_ONLY, false);
    cert_ = Issue("db01", "endpoint");
  }

  // `request` as `who`, through the whole handler.
  pb::Response Ask(pb::Request request, const ClientIdentity& who) {
    if (request.request_id().empty()) request.set_request_id("r" + std::to_string(++ids_));
    return HandleRequest(*node_->store, request, who, info_, storage::Durability::kSync,
                         node_->clock);
  }
  pb::Response Write(const pb::Op& op, const ClientIdentity& who) {
    pb::Request request;
    *request.mutable_write() = op;
    return Ask(request, who);
  }
  // An admin's write; its uuid.
  std::string Admin(const pb::Op& op) {
    pb::Response r = Write(op, admin_);
    EXPECT_EQ(r.code(), "OK") << op.ShortDebugString() << ": " << r.message();
    return r.op_result().uuid();
  }
  void Grant(const std::string& wallet, pb::Access access, bool manage) {
    pb::Op op;
    op.mutable_endpoint_grant()->set_endpoint("db01");
    op.mutable_endpoint_grant()->set_wallet(wallet);
    op.mutable_endpoint_grant()->set_access(access);
    op.mutable_endpoint_grant()->set_manage_wallet(manage);
    Admin(op);
  }
  PemPair Issue(const std::string& cn, const std::string& role) {
    return *IssueCertificate(ca_, {cn, role, {}, {}, 30});
  }
  pb::Response Bind(const PemPair& cert) {
    pb::Op op;
    op.mutable_endpoint_bind()->set_endpoint("db01");
    op.mutable_endpoint_bind()->set_certificate_pem(cert.cert_pem);
    return Write(op, admin_);
  }
  static ClientIdentity Who(const PemPair& cert) { return *CertificateIdentity(cert.cert_pem); }

  pb::Request Get(const std::string& uuid, bool material) {
    pb::Request r;
    r.mutable_get()->set_uuid(uuid);
    r.mutable_get()->set_include_material(material);
    return r;
  }
  std::set<std::string> Located(const ClientIdentity& who) {
    pb::Request r;
    r.mutable_locate();
    pb::Response response = Ask(r, who);
    EXPECT_EQ(response.code(), "OK") << response.message();
    std::set<std::string> out;
    for (const auto& o : response.located().objects()) out.insert(o.uuid());
    return out;
  }

  std::unique_ptr<st::TestNode> node_;
  NodeInfo info_;
  PemPair ca_, cert_;
  ClientIdentity admin_{"admin", std::string(kAdminRole), ""};
  std::string wallet_a_, wallet_b_, wallet_c_, key_a_, key_b_, key_sealed_;
  int ids_ = 0;
};

TEST_F(EndpointAccessTest, AnUnboundEndpointCertificateIsRefusedEverything) {
  pb::Response r = Ask(Get(key_a_, false), Who(cert_));
  EXPECT_EQ(r.code(), "PERMISSION_DENIED");
  EXPECT_NE(r.message().find("bound to no endpoint"), std::string::npos) << r.message();
  pb::Request status;
  status.mutable_cluster_status();
  EXPECT_EQ(Ask(status, Who(cert_)).code(), "PERMISSION_DENIED");
}

TEST_F(EndpointAccessTest, ReadOnlyReadsItsWalletsExtractableMaterialAndNothingElse) {
  ASSERT_EQ(Bind(cert_).code(), "OK");
  const ClientIdentity db01 = Who(cert_);
  pb::Response got = Ask(Get(key_a_, true), db01);
  ASSERT_EQ(got.code(), "OK") << got.message();
  EXPECT_EQ(got.object().material().size(), 32u);
  EXPECT_EQ(Ask(Get(key_sealed_, true), db01).code(), "PERMISSION_DENIED");  // not extractable
  EXPECT_EQ(Ask(Get(key_sealed_, false), db01).code(), "OK");
  pb::Response other = Ask(Get(key_b_, false), db01);
  EXPECT_EQ(other.code(), "PERMISSION_DENIED");
  EXPECT_NE(other.message().find("no read-only or read-modify grant"), std::string::npos)
      << other.message();
  // A uuid that does not exist is refused the same way (nothing leaks).
  EXPECT_EQ(Ask(Get("00000000-0000-4000-8000-000000000000", false), db01).code(),
            "PERMISSION_DENIED");
  EXPECT_EQ(Located(db01), (std::set<std::string>{key_a_, key_sealed_}));
  EXPECT_EQ(Located(admin_).size(), 3u);
  pb::Request wallets;
  wallets.mutable_wallet_list();
  pb::Response listed = Ask(wallets, db01);
  ASSERT_EQ(listed.code(), "OK");
  ASSERT_EQ(listed.wallets().wallets_size(), 1);
  EXPECT_EQ(listed.wallets().wallets(0).uuid(), wallet_a_);
  pb::Request show_b;
  show_b.mutable_wallet_get()->set_wallet("B");
  EXPECT_EQ(Ask(show_b, db01).code(), "PERMISSION_DENIED");
  // Every write is refused: read-only.
  pb::Op create = st::CreateKey("new");
  create.mutable_create_key()->set_wallet("A");
  EXPECT_EQ(Write(create, db01).code(), "PERMISSION_DENIED");
  EXPECT_EQ(Write(st::Revoke(key_a_), db01).code(), "PERMISSION_DENIED");
  EXPECT_EQ(Write(st::Destroy(key_a_), db01).code(), "PERMISSION_DENIED");
  EXPECT_EQ(Write(st::WalletCreate("C"), db01).code(), "PERMISSION_DENIED");
  pb::Request endpoints;
  endpoints.mutable_endpoint_list();
  EXPECT_EQ(Ask(endpoints, db01).code(), "PERMISSION_DENIED");
}

TEST_F(EndpointAccessTest, ReadModifyCreatesAndRevokesInItsWalletOnly) {
  Grant("A", pb::ACCESS_READ_MODIFY, false);
  ASSERT_EQ(Bind(cert_).code(), "OK");
  const ClientIdentity db01 = Who(cert_);
  pb::Op create = st::CreateKey("made-by-db01", true);
  create.mutable_create_key()->set_wallet("A");
  pb::Response made = Write(create, db01);
  ASSERT_EQ(made.code(), "OK") << made.message();
  auto in_a = node_->store->InWallet(wallet_a_, made.op_result().uuid());
  ASSERT_TRUE(in_a.ok());
  EXPECT_TRUE(*in_a) << "created into wallet A in the same write";
  EXPECT_EQ(Write(st::CreateKey("nowhere"), db01).code(), "PERMISSION_DENIED");
  pb::Op into_b = st::CreateKey("into-b");
  into_b.mutable_create_key()->set_wallet("B");
  EXPECT_EQ(Write(into_b, db01).code(), "PERMISSION_DENIED");
  pb::Op secret = st::Register(pb::SECRET_DATA, "s3cr3t", "db01-secret");
  secret.mutable_register_object()->set_wallet(wallet_a_);
  EXPECT_EQ(Write(secret, db01).code(), "OK");
  EXPECT_EQ(Write(st::Revoke(made.op_result().uuid()), db01).code(), "OK");
  EXPECT_EQ(Write(st::Revoke(key_b_), db01).code(), "PERMISSION_DENIED");
  pb::Op tag;
  tag.mutable_set_attributes()->set_uuid(key_a_);
  (*tag.mutable_set_attributes()->mutable_attributes())["x-rotated"].set_text("yes");
  pb::Response tagged = Write(tag, db01);
  EXPECT_EQ(tagged.code(), "OK") << tagged.message();
  EXPECT_EQ(Write(st::Destroy(key_a_), db01).code(), "PERMISSION_DENIED");  // admin only
  EXPECT_EQ(Write(st::Rekey(key_a_), db01).code(), "PERMISSION_DENIED");
  // No manage-wallet: membership and grants stay the admin's.
  EXPECT_EQ(Write(st::WalletMember("A", key_b_), db01).code(), "PERMISSION_DENIED");
}

TEST_F(EndpointAccessTest, ManageWalletAddsOnlyObjectsItCanReadAndGrantsOnThatWallet) {
  Grant("A", pb::ACCESS_READ_ONLY, true);
  ASSERT_EQ(Bind(cert_).code(), "OK");
  const ClientIdentity db01 = Who(cert_);
  // kb is in B, which db01 cannot read: adding it to A would reveal it.
  EXPECT_EQ(Write(st::WalletMember("A", key_b_), db01).code(), "PERMISSION_DENIED");
  EXPECT_EQ(Write(st::WalletMember("A", key_a_, false), db01).code(), "OK");
  EXPECT_EQ(Write(st::WalletMember("A", key_sealed_, false), db01).code(), "OK");
  pb::Op other;
  other.mutable_endpoint_create()->set_name("db02");
  Admin(other);
  pb::Op grant;
  grant.mutable_endpoint_grant()->set_endpoint("db02");
  grant.mutable_endpoint_grant()->set_wallet("A");
  grant.mutable_endpoint_grant()->set_access(pb::ACCESS_READ_ONLY);
  EXPECT_EQ(Write(grant, db01).code(), "OK");
  grant.mutable_endpoint_grant()->set_wallet("B");
  EXPECT_EQ(Write(grant, db01).code(), "PERMISSION_DENIED");
  // Not its own grant: read-only + manage does not make itself read-modify.
  grant.mutable_endpoint_grant()->set_endpoint("db01");
  grant.mutable_endpoint_grant()->set_wallet("A");
  grant.mutable_endpoint_grant()->set_access(pb::ACCESS_READ_MODIFY);
  pb::Response own = Write(grant, db01);
  EXPECT_EQ(own.code(), "PERMISSION_DENIED");
  EXPECT_NE(own.message().find("its own grant"), std::string::npos) << own.message();
}

// Whole-wallet requests (features wallet-keystore, wallet-export): a
// download of a wallet it can read, merge only into a wallet it manages
// from one it can read, move only with manage-wallet on both.
TEST_F(EndpointAccessTest, WholeWalletReadsAndTransfersFollowTheGrants) {
  Grant("A", pb::ACCESS_READ_ONLY, true);
  wallet_c_ = Admin(st::WalletCreate("C"));
  Grant("C", pb::ACCESS_READ_ONLY, true);
  ASSERT_EQ(Bind(cert_).code(), "OK");
  const ClientIdentity db01 = Who(cert_);
  auto download = [&](const std::string& wallet) {
    pb::Request r;
    r.mutable_wallet_objects()->set_wallet(wallet);
    r.mutable_wallet_objects()->set_purpose(pb::WALLET_OBJECTS_DOWNLOAD);
    return Ask(r, db01);
  };
  pb::Response a = download("A");
  ASSERT_EQ(a.code(), "OK") << a.message();
  ASSERT_EQ(a.wallet_objects().objects_size(), 2);
  EXPECT_EQ(download("B").code(), "PERMISSION_DENIED");
  auto transfer = [&](const std::string& source, const std::string& target, bool move) {
    pb::Op op;
    op.mutable_wallet_transfer()->set_source(source);
    op.mutable_wallet_transfer()->set_target(target);
    op.mutable_wallet_transfer()->set_move(move);
    return Write(op, db01);
  };
  EXPECT_EQ(transfer("B", "C", false).code(), "PERMISSION_DENIED");  // cannot read B
  EXPECT_EQ(transfer("A", "B", false).code(), "PERMISSION_DENIED");  // does not manage B
  pb::Response merged = transfer("A", "C", false);
  ASSERT_EQ(merged.code(), "OK") << merged.message();
  EXPECT_EQ(merged.op_result().count(), 2u);
  Grant("A", pb::ACCESS_READ_ONLY, false);  // no longer manages A: may not empty it
  EXPECT_EQ(transfer("C", "A", true).code(), "PERMISSION_DENIED");
  EXPECT_EQ(transfer("A", "C", true).code(), "PERMISSION_DENIED");
}

TEST_F(EndpointAccessTest, ReEnrollmentReplacesTheKeySoTheOldCertificateStopsWorking) {
  ASSERT_EQ(Bind(cert_).code(), "OK");
  EXPECT_EQ(Ask(Get(key_a_, false), Who(cert_)).code(), "OK");
  const PemPair renewed = Issue("db01", "endpoint");  // a new key pair
  ASSERT_EQ(Bind(renewed).code(), "OK");
  EXPECT_EQ(Ask(Get(key_a_, false), Who(renewed)).code(), "OK");
  EXPECT_EQ(Ask(Get(key_a_, false), Who(cert_)).code(), "PERMISSION_DENIED");
  pb::Request endpoints;
  endpoints.mutable_endpoint_list();
  pb::Response listed = Ask(endpoints, admin_);
  ASSERT_EQ(listed.endpoints().endpoints_size(), 1);
  EXPECT_EQ(listed.endpoints().endpoints(0).public_key_sha256().size(), 64u);
}

TEST_F(EndpointAccessTest, BindRefusesACertificateOfAnotherRoleOrAnotherName) {
  pb::Response admin_cert = Bind(Issue("db01", "admin"));
  EXPECT_EQ(admin_cert.code(), "INVALID_ARGUMENT");
  EXPECT_NE(admin_cert.message().find("role endpoint"), std::string::npos) << admin_cert.message();
  pb::Response other_name = Bind(Issue("db99", "endpoint"));
  EXPECT_EQ(other_name.code(), "INVALID_ARGUMENT");
  EXPECT_NE(other_name.message().find("expects CN 'db01'"), std::string::npos)
      << other_name.message();
  pb::Op garbage;
  garbage.mutable_endpoint_bind()->set_endpoint("db01");
  garbage.mutable_endpoint_bind()->set_certificate_pem("-----BEGIN CERTIFICATE-----\nAAAA\n");
  EXPECT_EQ(Write(garbage, admin_).code(), "INVALID_ARGUMENT");
  // A client cannot slip in a key hash of its choosing: the node computes it.
  pb::Op forged;
  forged.mutable_endpoint_bind()->set_endpoint("db01");
  forged.mutable_endpoint_bind()->set_public_key_sha256(std::string(32, 'x'));
  forged.mutable_endpoint_bind()->set_certificate_subject("db01");
  EXPECT_EQ(Write(forged, admin_).code(), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace coffer::node
