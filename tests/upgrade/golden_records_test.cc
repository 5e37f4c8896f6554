// Golden records (architecture.md #9): one log record of every body type of
// this release, encoded and checked in under testdata/<release>/. The test
// decodes each file and encodes it again byte for byte, and encodes the
// record built here to the same bytes, so a change to a record's wire form
// fails here before it reaches a mixed cluster. Files of earlier releases
// stay and must still decode and re-encode identically.
//
// A new record type fails CoversEveryRecordBody until its golden record is
// added: write the files with COFFER_WRITE_GOLDEN=1 (never over an existing
// file) and check them in.
//
// Also: a record carrying a field this binary does not know (written by a
// later release) passes through a node of this release, and its log, intact.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"
#include "upgrade/binary_profile.h"

namespace coffer::integration {
namespace {

// The envelope every golden record shares; each body is appended.
constexpr char kEnvelope[] = R"pb(
  origin: 3
  seq: 41
  hlc { wall_micros: 1796000000000000 logical: 2 }
  request_id: "golden-request"
  format: 3
  result { uuid: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f" }
  signature: "sig-bytes"
  prev_digest: "0123456789abcdef0123456789abcdef"
)pb";

const std::map<std::string, std::string>& Bodies() {
  static const std::map<std::string, std::string> bodies = {
      {"object_created", R"pb(object_created {
                                uuid: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                type: SECRET_DATA
                                name: "db-password"
                                attributes {
                                  key: "extractable"
                                  value { boolean: true }
                                }
                                attributes {
                                  key: "x-owner"
                                  value { text: "payments" }
                                }
                                stage: STAGE_ACTIVE
                                material_length: 6
                                material_digest: "digest-of-material-32-bytes....."
                              })pb"},
      // Release 0.3: a rekey's creation (feature key-rekey, record format 4;
      // the envelope's format field is not what this test checks).
      {"object_created_rekey", R"pb(object_created {
                                      uuid: "9c1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                      type: SYMMETRIC_KEY
                                      attributes {
                                        key: "replaces"
                                        value { text: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f" }
                                      }
                                      stage: STAGE_ACTIVE
                                      material_length: 32
                                      material_digest: "digest-of-material-32-bytes....."
                                      replaces: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                      in_wallets: "7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                      replaced_deactivation_micros: 1796000000000000
                                    })pb"},
      {"attributes_set", R"pb(attributes_set {
                                uuid: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                attributes {
                                  key: "usage_mask"
                                  value { integer: 12 }
                                }
                                attributes {
                                  key: "x-old"
                                  value { deleted: true }
                                }
                              })pb"},
      {"lifecycle_raised", R"pb(lifecycle_raised {
                                  uuid: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                  stage: STAGE_DEACTIVATED
                                  compromised: true
                                  reason: KEY_COMPROMISE
                                  attributes {
                                    key: "compromise_date"
                                    value { integer: 1796000000000000 }
                                  }
                                })pb"},
      {"wallet_created", R"pb(wallet_created {
                                uuid: "7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                name: "hr"
                                description: "HR keys"
                              })pb"},
      {"member_set", R"pb(member_set {
                            wallet: "7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                            object: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                            present: true
                          })pb"},
      {"endpoint_created", R"pb(endpoint_created {
                                  uuid: "8b1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                  name: "db1"
                                  certificate_subject: "CN=db1"
                                  description: "orders database"
                                })pb"},
      // Release 0.3: an endpoint's certificate key (feature endpoint-access,
      // record format 4).
      {"endpoint_bound", R"pb(endpoint_bound {
                                endpoint: "8b1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                public_key_sha256: "sha256-of-the-public-key-32bytes"
                              })pb"},
      // Release 0.3: a wallet merge or move (feature wallet-export, record
      // format 4).
      {"members_moved", R"pb(members_moved {
                               source: "7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                               target: "7b1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                               objects: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                               objects: "6e1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                               move: true
                             })pb"},
      {"grant_set", R"pb(grant_set {
                           endpoint: "8b1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                           wallet: "7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                           access: ACCESS_READ_MODIFY
                           manage_wallet: true
                         })pb"},
      {"renamed", R"pb(renamed {
                         kind: ENTITY_WALLET
                         uuid: "7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                         name: "people"
                       })pb"},
      {"cluster_created", R"pb(cluster_created {
                                 cluster_id: "9c1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
                                 name: "prod"
                                 cluster_version: "0.2"
                                 first_node {
                                   node_id: 1
                                   name: "alpha"
                                   role: NODE_READ_WRITE
                                   peer_address: "10.0.0.1:7301"
                                   client_address: "10.0.0.1:7300"
                                   release_version: "0.2.0"
                                   public_key: "der-key"
                                 }
                               })pb"},
      {"node_added", R"pb(node_added {
                            node_id: 2
                            name: "beta"
                            role: NODE_READ_WRITE
                            peer: 1
                            subgroup: "dc1"
                            peer_address: "10.0.0.2:7301"
                            client_address: "10.0.0.2:7300"
                            release_version: "0.2.0"
                            state: NODE_PENDING
                            public_key: "der-key-2"
                          })pb"},
      {"node_state_set", R"pb(node_state_set {
                                node_id: 2
                                state: NODE_DISABLED
                                applied {
                                  applied { key: 1 value: 17 }
                                  applied { key: 2 value: 9 }
                                }
                              })pb"},
      {"node_deleted", R"pb(node_deleted { node_id: 5 })pb"},
      {"cluster_setting_set",
       R"pb(cluster_setting_set { max_disable_seconds: 3600 version_hold: VERSION_HOLD_HOLD })pb"},
      {"node_version_set", R"pb(node_version_set { node_id: 2 release: "0.3.1" fence: "0.3" })pb"},
      {"cluster_version_set", R"pb(cluster_version_set { version: "0.3" })pb"},
      {"upgrade_plan_set",
       R"pb(upgrade_plan_set {
              plan {
                plan_id: "2b1c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b"
                revision: 7
                owner: "ops1:4242:beef"
                lease_until_micros: 1796000010000000
                from_release: "0.2.0"
                to_release: "0.3.0"
                binary: "/usr/lib/coffer/0.3.0/coffer"
                state: UPGRADE_PAUSED
                nodes {
                  node_id: 5
                  name: "ro1"
                  step: STEP_DONE
                  stops: 1
                  old_binary: "/usr/lib/coffer/0.2.0/coffer"
                  canary_out_revision: 4
                  canary_in_revision: 5
                }
                nodes {
                  node_id: 1
                  name: "rw1"
                  step: STEP_WAIT_ACTIVE
                  step_started_micros: 1796000000000000
                }
                pause {
                  check: "node-active"
                  node_id: 1
                  step: STEP_WAIT_ACTIVE
                  observed: "state ENABLING; does not hear rw2"
                  at_micros: 1796000005000000
                }
                checks { name: "backup" passed: true overridden: true observed: "no backup" }
                overrides: "backup"
                pause_requested: false
                created_micros: 1795999990000000
                updated_micros: 1796000005000000
                from_cluster_version: "0.2"
              }
            })pb"},
  };
  return bodies;
}

std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

pb::LogRecord Build(const std::string& body) {
  pb::LogRecord record;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kEnvelope + body, &record)) << body;
  return record;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::filesystem::path kTestData = COFFER_UPGRADE_TESTDATA;
const std::string kThisRelease = upgrade::CurrentRelease().versions.release.ToString();

TEST(GoldenRecordsTest, CoversEveryRecordBody) {
  const auto* body = pb::LogRecord::descriptor()->FindOneofByName("body");
  ASSERT_NE(body, nullptr);
  for (int i = 0; i < body->field_count(); ++i) {
    EXPECT_TRUE(Bodies().contains(body->field(i)->name()))
        << "no golden record for " << body->field(i)->name();
  }
}

TEST(GoldenRecordsTest, ThisReleasesRecordsEncodeAsCheckedIn) {
  const auto dir = kTestData / kThisRelease;
  const bool write = std::getenv("COFFER_WRITE_GOLDEN") != nullptr;
  for (const auto& [name, body] : Bodies()) {
    const auto path = dir / (name + ".bin");
    const std::string encoded = Deterministic(Build(body));
    if (write && !std::filesystem::exists(path)) {
      std::filesystem::create_directories(dir);
      std::ofstream(path, std::ios::binary) << encoded;
    }
    ASSERT_TRUE(std::filesystem::exists(path))
        << path << " is missing: run with COFFER_WRITE_GOLDEN=1 and check it in";
    EXPECT_EQ(ReadFile(path), encoded) << name << ": this binary encodes it differently";
  }
}

TEST(GoldenRecordsTest, EveryReleasesRecordsDecodeAndReEncodeByteForByte) {
  int files = 0;
  for (const auto& release : std::filesystem::directory_iterator(kTestData)) {
    for (const auto& file : std::filesystem::directory_iterator(release.path())) {
      const std::string bytes = ReadFile(file.path());
      pb::LogRecord record;
      ASSERT_TRUE(record.ParseFromString(bytes)) << file.path();
      EXPECT_NE(record.body_case(), pb::LogRecord::BODY_NOT_SET) << file.path();
      EXPECT_EQ(Deterministic(record), bytes) << file.path();
      ++files;
    }
  }
  EXPECT_GE(files, static_cast<int>(Bodies().size()));
}

// A later release's field (number 99 of ObjectCreated, unknown here) in a
// record relayed through two nodes of this release: kept in the store's log
// and sent on as it came, so the chain digest (which covers it) still holds.
TEST(GoldenRecordsTest, AnUnknownFieldPassesThroughAnOlderNodeIntact) {
  using storage::testing::Backend;
  auto origin = storage::testing::MakeNode(Backend::kMemEnv, "/origin", 1, 1);
  auto relay = storage::testing::MakeNode(Backend::kMemEnv, "/relay", 2, 2);
  auto last = storage::testing::MakeNode(Backend::kMemEnv, "/last", 3, 3);
  ASSERT_TRUE(origin && relay && last);
  ASSERT_TRUE(origin->store->Execute(storage::testing::Register(pb::SECRET_DATA, "n"), "r").ok());
  pb::LogRecord record = storage::testing::LogOf(*origin->store, 1, 1, 1).at(0);
  record.mutable_object_created()
      ->GetReflection()
      ->MutableUnknownFields(record.mutable_object_created())
      ->AddVarint(99, 424242);
  ASSERT_TRUE(relay->store->ApplyRemote(record).ok());
  pb::LogRecord relayed = storage::testing::LogOf(*relay->store, 1, 1, 1).at(0);
  const auto& unknown =
      relayed.object_created().GetReflection()->GetUnknownFields(relayed.object_created());
  ASSERT_EQ(unknown.field_count(), 1);
  EXPECT_EQ(unknown.field(0).number(), 99);
  EXPECT_EQ(unknown.field(0).varint(), 424242u);
  EXPECT_EQ(Deterministic(relayed), Deterministic(record));
  EXPECT_EQ(storage::ChainDigest(relayed), storage::ChainDigest(record));
  ASSERT_TRUE(last->store->ApplyRemote(relayed).ok());
  EXPECT_EQ(last->store->ChainHead(1), relay->store->ChainHead(1));
  EXPECT_EQ(last->store->StateDigest(), relay->store->StateDigest());
}

}  // namespace
}  // namespace coffer::integration
