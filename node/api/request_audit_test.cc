// What the request handler writes to the audit log (request_audit.h): one
// JSON line per audited request, never material, whatever the request id.
#include "node/api/request_audit.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/limits.h"
#include "node/api/request_handler.h"
#include "storage/test_util.h"

namespace coffer::node {
namespace {

using storage::testing::Backend;
using storage::testing::TempDir;

std::vector<nlohmann::json> AuditLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

struct Handler {
  TempDir dir;
  std::unique_ptr<storage::testing::TestNode> node =
      storage::testing::MakeNode(Backend::kMemEnv, "/audit", 1);
  std::unique_ptr<audit::AuditLog> log;
  NodeInfo info;
  std::string file = dir.path() + "/audit.log";

  Handler() {
    audit::AuditOptions options;
    options.file = file;
    options.node = "alpha";
    log = std::move(audit::AuditLog::Open(options)).value();
    info.node_name = "alpha";
    info.audit = log.get();
  }
  pb::Response Ask(const pb::Request& request, const ClientIdentity& who) {
    return HandleRequest(*node->store, request, who, info, storage::Durability::kSync, node->clock);
  }
  std::vector<nlohmann::json> Lines() {
    EXPECT_TRUE(log->Flush().ok());
    return AuditLines(file);
  }
};

ClientIdentity Admin() { return {"admin", std::string(kAdminRole), ""}; }

TEST(RequestAuditTest, AMaterialReadIsAuditedWithoutTheMaterial) {
  Handler h;
  const std::string material = "TOP-SECRET-MATERIAL-0123456789";
  pb::Request create;
  create.set_request_id("register-1");
  auto* reg = create.mutable_write()->mutable_register_object();
  reg->set_type(pb::SECRET_DATA);
  reg->set_name("db-password");
  reg->set_material(material);
  (*reg->mutable_attributes())["x-note"].set_text("ATTRIBUTE-VALUE-NOT-AUDITED");
  pb::Response created = h.Ask(create, Admin());
  ASSERT_EQ(created.code(), "OK") << created.message();
  const std::string uuid = created.op_result().uuid();

  pb::Request get;
  get.set_request_id("get-1");
  get.mutable_get()->set_uuid(uuid);
  get.mutable_get()->set_include_material(true);
  pb::Response got = h.Ask(get, Admin());
  ASSERT_EQ(got.code(), "OK");
  ASSERT_EQ(got.object().material(), material);

  std::vector<nlohmann::json> lines = h.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["op"], "register");
  EXPECT_EQ(lines[0]["objects"], nlohmann::json::array({"db-password", uuid}));
  EXPECT_EQ(lines[1]["op"], "get+material");
  EXPECT_EQ(lines[1]["objects"], nlohmann::json::array({uuid}));
  EXPECT_EQ(lines[1]["code"], "OK");
  EXPECT_EQ(lines[1]["client"], "admin");
  EXPECT_EQ(lines[1]["role"], "admin");
  EXPECT_EQ(lines[1]["request_id"], "get-1");
  EXPECT_EQ(lines[1]["node"], "alpha");
  std::ifstream in(h.file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("TOP-SECRET"), std::string::npos);
  EXPECT_EQ(text.find("VE9QLVNFQ1JFVC"), std::string::npos);  // its base64
  EXPECT_EQ(text.find("ATTRIBUTE-VALUE"), std::string::npos);
}

// A keystore download reads a wallet's objects with their material in
// pages cut by bytes; a non-extractable key is listed as left out; the
// audit line names the purpose and never the material.
TEST(RequestAuditTest, AWalletDownloadPagesItsMaterialAndIsAuditedByPurpose) {
  Handler h;
  pb::Request wallet;
  wallet.set_request_id("wallet-1");
  wallet.mutable_write()->mutable_wallet_create()->set_name("payroll");
  pb::Response made = h.Ask(wallet, Admin());
  ASSERT_EQ(made.code(), "OK") << made.message();
  // 20 secrets of 64 KiB: more than one page (limits::kListResponseBytes).
  const size_t secrets = limits::kListResponseBytes / limits::kMaxMaterialBytes + 4;
  std::set<std::string> expected;
  for (size_t i = 0; i < secrets; ++i) {
    pb::Request reg;
    reg.set_request_id("upload-" + std::to_string(i));
    auto* r = reg.mutable_write()->mutable_register_object();
    r->set_type(pb::SECRET_DATA);
    r->set_name("s" + std::to_string(i));
    r->set_material(std::string(limits::kMaxMaterialBytes, static_cast<char>('a' + i % 26)));
    r->set_wallet("payroll");
    r->set_source(pb::REGISTER_KEYSTORE_UPLOAD);
    pb::Response created = h.Ask(reg, Admin());
    ASSERT_EQ(created.code(), "OK") << created.message();
    expected.insert(created.op_result().uuid());
  }
  pb::Request key;
  key.set_request_id("key-1");
  auto* k = key.mutable_write()->mutable_create_key();
  k->set_name("sealed-in");
  k->set_wallet("payroll");
  (*k->mutable_attributes())["extractable"].set_boolean(false);
  pb::Response key_created = h.Ask(key, Admin());
  ASSERT_EQ(key_created.code(), "OK") << key_created.message();

  pb::Request page;
  page.mutable_wallet_objects()->set_wallet("payroll");
  page.mutable_wallet_objects()->set_purpose(pb::WALLET_OBJECTS_DOWNLOAD);
  std::set<std::string> served;
  std::vector<std::string> left_out;
  int pages = 0;
  for (; pages < 10; ++pages) {
    pb::Response got = h.Ask(page, Admin());
    ASSERT_EQ(got.code(), "OK") << got.message();
    EXPECT_EQ(got.wallet_objects().wallet().name(), "payroll");
    EXPECT_EQ(got.wallet_objects().wallet().members_size(), 0) << "not repeated per page";
    EXPECT_LE(got.ByteSizeLong(), limits::kListResponseBytes + limits::kMaxMaterialBytes);
    for (const pb::WalletObject& o : got.wallet_objects().objects()) {
      if (o.has_object()) {
        EXPECT_EQ(o.object().material().size(), limits::kMaxMaterialBytes);
        served.insert(o.uuid());
      } else {
        left_out.push_back(o.uuid() + " " + o.left_out());
      }
    }
    if (got.wallet_objects().next_after().empty()) break;
    page.mutable_wallet_objects()->set_after(got.wallet_objects().next_after());
  }
  EXPECT_GE(pages, 1) << "the wallet takes more than one page";
  EXPECT_EQ(served, expected);
  EXPECT_EQ(left_out,
            std::vector<std::string>{key_created.op_result().uuid() + " not extractable"});
  pb::Request no_purpose;
  no_purpose.mutable_wallet_objects()->set_wallet("payroll");
  EXPECT_EQ(h.Ask(no_purpose, Admin()).code(), "INVALID_ARGUMENT");

  std::vector<nlohmann::json> lines = h.Lines();
  int downloads = 0, uploads = 0;
  for (const auto& line : lines) {
    if (line["op"] == "wallet_objects:download+material") {
      ++downloads;
      EXPECT_EQ(line["objects"], nlohmann::json::array({"payroll"}));
    }
    if (line["op"] == "register:upload") ++uploads;
  }
  EXPECT_EQ(downloads, pages + 1);
  EXPECT_EQ(uploads, static_cast<int>(secrets));
  std::ifstream in(h.file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(std::string(64, 'a')), std::string::npos);
}

// Issue 11 item 6: an endpoint certificate (refused everything) forged an
// admin destroy line through a request id with a newline.
TEST(RequestAuditTest, AForgedLineInARequestIdStaysInsideOneRefusedRequestsLine) {
  Handler h;
  const std::string forged =
      "x uuid= code=OK\naudit client=admin role=admin op=destroy request_id=y uuid=u "
      "code=OK\x1b[0m";
  pb::Request destroy;
  destroy.set_request_id(forged);
  destroy.mutable_write()->mutable_destroy()->set_uuid("u\nclient=admin");
  pb::Response refused = h.Ask(destroy, {"db01", std::string(kEndpointRole), ""});
  EXPECT_EQ(refused.code(), "PERMISSION_DENIED");
  std::vector<nlohmann::json> lines = h.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["client"], "db01");
  EXPECT_EQ(lines[0]["role"], "endpoint");
  EXPECT_EQ(lines[0]["op"], "destroy");
  EXPECT_EQ(lines[0]["code"], "PERMISSION_DENIED");
  EXPECT_EQ(lines[0]["request_id"], forged);
  EXPECT_EQ(lines[0]["objects"], nlohmann::json::array({"u\nclient=admin"}));
}

TEST(RequestAuditTest, PlainReadsAreNotAuditedRefusalsAre) {
  pb::Request status;
  status.mutable_node_status();
  pb::Response ok;
  ok.set_code("OK");
  pb::Response denied;
  denied.set_code("PERMISSION_DENIED");
  EXPECT_FALSE(IsAudited(status, ok));
  EXPECT_TRUE(IsAudited(status, denied));
  pb::Request token;
  token.mutable_join_token();
  EXPECT_TRUE(IsAudited(token, ok));
}

TEST(RequestAuditTest, AJoinRequestNamesTheCandidateNeverTheToken) {
  pb::Request join;
  join.mutable_join()->set_token("SECRET-JOIN-TOKEN");
  join.mutable_join()->set_name("node7");
  pb::Response ok;
  ok.set_code("OK");
  audit::AuditEvent event = AuditEventFor(join, {"node7", "node", ""}, ok);
  EXPECT_EQ(event.objects, std::vector<std::string>{"node7"});
  EXPECT_EQ(audit::AuditLine(event, "n", 0).find("SECRET"), std::string::npos);

  pb::Request chunk;
  chunk.mutable_snapshot_chunk()->set_node_id(7);
  EXPECT_EQ(AuditEventFor(chunk, {"node7", "node", ""}, ok).objects,
            std::vector<std::string>{"node:7"});
}

}  // namespace
}  // namespace coffer::node
