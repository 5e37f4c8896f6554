// Byte budgets (issue 11, items 1 and 2, and input limits): replication and
// induction of large objects between real `coffer node start` processes, and
// a client string over its limit refused at the API boundary.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/limits.h"
#include "tests/harness/cluster_fixture.h"
#include "tests/harness/coffer_cli.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

constexpr int kLargeSecrets = 300;

// Registers kLargeSecrets secrets of 64 KiB on `node` (one origin, so one
// range of 256 records is 16.8 MB: on main over the 16 MiB peer frame),
// from four writers; every write must be acknowledged.
void RegisterLargeSecrets(NodeProcess& node) {
  const std::string material(limits::kMaxMaterialBytes, 's');
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::string first_error;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      for (int i = next++; i < kLargeSecrets; i = next++) {
        auto written = Write(node, RegisterSecret("large-" + std::to_string(i), material));
        if (!written.ok() && failed++ == 0) first_error = written.status().ToString();
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(failed.load(), 0) << first_error;
}

// Item 1: a read-only node stopped while the pair takes 300 secrets of
// 64 KiB catches up once restarted, and no message over the frame limit is
// ever built. On main the pair built batches of 256 records (16.8 MB), over
// the 16 MiB peer frame, and dropped them (the issue saw this forever; in
// this test main's node caught up after ~4 drops, so the test checks the
// drops).
TEST_F(ClusterTest, RestartedNodeCatchesUpThroughLargeObjects) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  FormPairAndReadOnly(a, b, c);
  c.Kill(SIGTERM);
  RegisterLargeSecrets(a);
  ASSERT_TRUE(c.Start());
  EXPECT_TRUE(WaitFor(
      [&] {
        return Converged({&a, &b, &c});
      },
      45s))
      << "gamma did not catch up: " << StatusOf(c)->DebugString();
  // No sender built a message the receiver's frame limit refuses (on main:
  // "message to node 3 dropped: ... 16824502 bytes exceeds the maximum frame
  // size of 16777216 bytes", retried every ~250 ms).
  for (NodeProcess* sender : {&a, &b}) {
    EXPECT_EQ(ReadWholeFile(sender->log_file()).find("exceeds the maximum frame size"),
              std::string::npos)
        << sender->name();
  }
}

// Item 2: a node joins a store holding 300 secrets of 64 KiB with the
// default chunk size. On main the first chunk (512 entries, 19.7 MB) was
// over the 4 MiB client frame and the join failed.
TEST_F(ClusterTest, JoinOfAStoreWithLargeObjectsSucceedsWithDefaults) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 30s));
  RegisterLargeSecrets(a);
  NodeProcess& c = Add("gamma");
  auto token = Token(a, pb::NODE_READ_ONLY);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  c.Launch({"--join", a.address(), "--token", *token});
  ASSERT_TRUE(c.WaitServing(45s));
  EXPECT_TRUE(WaitFor([&] { return InState(c, "ACTIVE") && Converged({&a, &b, &c}); }, 30s));
  auto status = StatusOf(c);
  ASSERT_TRUE(status.ok());
  EXPECT_GE(status->object_count(), static_cast<uint64_t>(kLargeSecrets));
}

// Field limits at the API boundary: an endpoint whose certificate subject is
// almost 4 MiB (it fits the 4 MiB frame) is refused with INVALID_ARGUMENT
// naming the field and its limit; on main it was stored, and two of them
// made `endpoint list` fail for good.
TEST_F(ClusterTest, EndpointWithAHugeCertificateSubjectIsRefused) {
  NodeProcess& n = Add("solo");
  ASSERT_TRUE(n.Start());
  pb::Op op;
  op.mutable_endpoint_create()->set_name("db01");
  op.mutable_endpoint_create()->set_certificate_subject(
      std::string(4 * limits::kMiB - 4 * limits::kKiB, 'c'));
  auto created = Write(n, op);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kInvalidArgument) << created.status().ToString();
  EXPECT_NE(created.status().message().find("certificate_subject"), std::string::npos)
      << created.status().message();
  pb::Request list;
  list.mutable_endpoint_list();
  auto listed = Ask(n, list);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->endpoints().endpoints_size(), 0);
}

// List responses cut by bytes: 24 objects of ~245 KiB of attributes (5.9 MB
// in all, over the 4 MiB frame; on main `object locate` failed) come in
// pages within the list budget, each naming the cursor of the next, and the
// CLI follows them and shows all 24.
TEST(ListBudgetTest, LocateIsPagedByBytesAndTheCliShowsEveryObject) {
  NodeProcess node;
  ASSERT_TRUE(node.Start());
  const std::string value(limits::kMaxAttributeTextBytes, 'v');
  for (int i = 0; i < 24; ++i) {
    pb::Op op = RegisterSecret("wide-" + std::to_string(i), "material");
    for (int a = 0; a < 60; ++a) {
      (*op.mutable_register_object()->mutable_attributes())["x-a" + std::to_string(a)].set_text(
          value);
    }
    auto written = Write(node, op);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }
  pb::Request locate;
  locate.mutable_locate();
  int pages = 0;
  int objects = 0;
  for (; pages < 50; ++pages) {
    auto page = Ask(node, locate);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->located().ByteSizeLong(), limits::kListResponseBytes + limits::kMaxRecordBytes);
    objects += page->located().objects_size();
    if (page->located().next_after().empty()) break;
    locate.mutable_locate()->set_after(page->located().next_after());
  }
  EXPECT_EQ(objects, 24);
  EXPECT_GE(pages, 4);

  std::string out;
  ASSERT_EQ(Coffer("object locate -o json" + CofferFlags(node), &out, /*stdout_only=*/true), 0)
      << out.substr(0, 500);
  auto json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << out.substr(0, 500);
  std::string text = json.dump();
  for (int i = 0; i < 24; ++i) {
    EXPECT_NE(text.find("\"wide-" + std::to_string(i) + "\""), std::string::npos) << i;
  }
}

// CLI inputs with a size limit (issue 11, item 8): `--file /dev/zero` is
// refused at once (on main the CLI read it until memory ran out: 1 GB RSS
// under a 1.5 GB cap, 6 GB without one).
TEST(CliInputLimitTest, DevZeroIsRefusedAtOnce) {
  NodeProcess node;
  ASSERT_TRUE(node.Start());
  std::string out;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Coffer("secret register --name z --file /dev/zero" + CofferFlags(node), &out), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_NE(out.find("larger than the limit"), std::string::npos) << out;
  auto status = StatusOf(node);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->object_count(), 0u);
}

// Issue 11, item 8: a key length beyond 32 bits is refused, not truncated
// to 256 (on main `key create --length 4294967552` made a 256-bit key).
TEST(CliInputLimitTest, KeyLengthBeyond32BitsIsRefused) {
  NodeProcess node;
  ASSERT_TRUE(node.Start());
  std::string out;
  EXPECT_EQ(Coffer("key create --name k --length 4294967552" + CofferFlags(node), &out), 1) << out;
  EXPECT_NE(out.find("INVALID_ARGUMENT"), std::string::npos) << out;
  auto status = StatusOf(node);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->object_count(), 0u);
}

}  // namespace
}  // namespace coffer::integration
