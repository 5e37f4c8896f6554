#include "node/client/failover_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/wait_for.h"
#include "node/client/client.h"
#include "node/client/retry_policy.h"
#include "node/net/certs.h"
#include "node/net/client_server.h"
#include "node/net/tls.h"

namespace coffer::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// How a fake node answers a request other than ClusterStatusRequest.
struct Reply {
  Code code = Code::kOk;
  std::optional<pb::RecordRef> record;  // Response.outcome_record
  // Close the connection without answering (on a node with tiny frames, see
  // FakeNode::tiny_frames).
  bool close = false;
};

// Picks the reply to the `index`-th request (0-based, cluster status
// requests not counted) a node receives.
using Script = std::function<Reply(const pb::Request& request, size_t index)>;

Reply Answer(Code code) { return Reply{code, std::nullopt, false}; }

pb::RecordRef Record(uint32_t origin, uint64_t seq) {
  pb::RecordRef record;
  record.set_origin(origin);
  record.set_seq(seq);
  return record;
}

// A write without a request id (the client adds one).
pb::Request Write() {
  pb::Request request;
  request.mutable_write()->mutable_activate()->set_uuid("k");
  return request;
}

pb::Request Read() {
  pb::Request request;
  request.mutable_get()->set_uuid("k");
  return request;
}

// One node of the fake cluster: a real client API listener (ClientServer,
// mutual TLS) whose handler answers ClusterStatusRequest with the fake
// membership and everything else by its script.
struct FakeNode {
  uint32_t id = 0;
  std::string name;
  std::string subgroup;
  std::string role = "read-write";
  // Frames limited to 64 bytes: small requests and answers pass, but a
  // large answer (the membership, or the one `Reply::close` sends) cannot
  // be encoded, nor can the error response about it, so the listener closes
  // the connection without answering.
  bool tiny_frames = false;
  std::unique_ptr<ClientServer> server;
  std::string address;  // "127.0.0.1:<port>"

  std::mutex mu;
  Script script;                      // GUARDED_BY(mu); empty: answer OK
  std::vector<pb::Request> received;  // GUARDED_BY(mu); all but cluster status

  void SetScript(Script s) {
    std::lock_guard<std::mutex> lock(mu);
    script = std::move(s);
  }
  std::vector<pb::Request> Received() {
    std::lock_guard<std::mutex> lock(mu);
    return received;
  }
  size_t Writes() {
    std::lock_guard<std::mutex> lock(mu);
    size_t writes = 0;
    for (const pb::Request& r : received) writes += r.has_write() ? 1 : 0;
    return writes;
  }
};

struct Pki {
  std::string dir;
  TlsCredentials node;  // CN=node-1 OU=node, IP 127.0.0.1 (every fake node)
  TlsFiles admin;       // CN=admin OU=admin
};

class FailoverClientTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki;
    std::string pattern =
        (std::filesystem::temp_directory_path() / "coffer-failover-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    pki_->dir = pattern;
    auto ca = CreateCertificateAuthority("coffer-test-ca");
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    auto issue = [&](const std::string& cn, const std::string& ou, std::vector<std::string> ips) {
      CertificateRequest request;
      request.common_name = cn;
      request.organizational_unit = ou;
      request.ip_addresses = std::move(ips);
      auto pair = IssueCertificate(*ca, request);
      EXPECT_TRUE(pair.ok()) << pair.status().ToString();
      return pair.ok() ? *pair : PemPair{};
    };
    PemPair node = issue("node-1", "node", {"127.0.0.1"});
    PemPair admin = issue("admin", "admin", {});
    pki_->node = TlsCredentials{ca->cert_pem, node.cert_pem, node.key_pem};
    std::string d = pki_->dir + "/";
    ASSERT_TRUE(WritePemPair(*ca, d + "ca.pem", d + "ca.key").ok());
    ASSERT_TRUE(WritePemPair(admin, d + "admin.pem", d + "admin.key").ok());
    pki_->admin = TlsFiles{d + "ca.pem", d + "admin.pem", d + "admin.key"};
  }

  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(pki_->dir, ec);
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    auto tls = MakeServerTlsContext(pki_->node);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    server_tls_ = std::move(tls).value();
    io_thread_ = std::thread([this] { io_context_.run(); });
  }

  void TearDown() override {
    for (auto& node : nodes_) {
      if (node->server) node->server->Stop();
    }
    work_.reset();
    io_thread_.join();
  }

  // Starts a fake node; it appears in the membership of every node.
  FakeNode* AddNode(const std::string& name, const std::string& subgroup,
                    bool tiny_frames = false) {
    auto node = std::make_unique<FakeNode>();
    node->id = static_cast<uint32_t>(nodes_.size() + 1);
    node->name = name;
    node->subgroup = subgroup;
    node->tiny_frames = tiny_frames;
    ServerOptions options;
    options.listen_host = "127.0.0.1";
    options.port = 0;
    if (tiny_frames) options.max_frame_bytes = 64;
    FakeNode* raw = node.get();
    auto server =
        ClientServer::Start(io_context_, *server_tls_, options,
                            [this, raw](pb::Request request, ClientIdentity, ReplyFn reply) {
                              Handle(raw, std::move(request), std::move(reply));
                            });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (!server.ok()) return nullptr;
    node->server = std::move(server).value();
    node->address = "127.0.0.1:" + std::to_string(node->server->port());
    std::lock_guard<std::mutex> lock(mu_);
    nodes_.push_back(std::move(node));
    return raw;
  }

  // e1, e2 in subgroup "east", w1, w2 in "west".
  void StartCluster() {
    e1_ = AddNode("e1", "east");
    e2_ = AddNode("e2", "east");
    w1_ = AddNode("w1", "west");
    w2_ = AddNode("w2", "west");
    ASSERT_TRUE(e1_ && e2_ && w1_ && w2_);
  }

  // Stops a node and waits until it has closed every connection, so that
  // nothing sent afterwards reaches its handler.
  static void StopNode(FakeNode* node) {
    node->server->Stop();
    ASSERT_TRUE(WaitFor([&] {
      return node->server->connections_closed() == node->server->connections_accepted();
    }));
  }

  void Handle(FakeNode* node, pb::Request request, ReplyFn reply) {
    pb::Response response;
    if (request.has_cluster_status()) {
      response.set_code("OK");
      auto* status = response.mutable_cluster_status();
      status->mutable_self()->set_node_id(node->id);
      std::lock_guard<std::mutex> lock(mu_);
      if (!standalone_) {
        status->set_cluster_id("fake-cluster");
        for (const auto& n : nodes_) {
          pb::MemberView* m = status->add_members();
          m->set_node_id(n->id);
          m->set_name(n->name);
          m->set_role(n->role);
          m->set_subgroup(n->subgroup);
          m->set_client_address(n->address);
        }
      }
      reply(std::move(response));
      return;
    }
    Reply answer;
    {
      std::lock_guard<std::mutex> lock(node->mu);
      size_t index = node->received.size();
      node->received.push_back(request);
      if (node->script) answer = node->script(request, index);
    }
    if (answer.close) {
      response.set_code("OK");
      response.set_message(std::string(1000, 'x'));  // too large: see tiny_frames
    } else {
      response.set_code(std::string(CodeName(answer.code)));
      response.set_message(node->name);
      if (answer.record) *response.mutable_outcome_record() = *answer.record;
    }
    reply(std::move(response));
  }

  std::unique_ptr<FailoverClient> MakeClient(std::vector<std::string> addresses,
                                             const std::string& subgroup = "east",
                                             int max_attempts = 8) {
    FailoverOptions options;
    options.addresses = std::move(addresses);
    options.subgroup = subgroup;
    options.tls = pki_->admin;
    options.call_timeout = milliseconds(10000);
    options.max_attempts = max_attempts;
    auto client = FailoverClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::vector<std::string> AllGiven() {
    return {e1_->address, e2_->address, w1_->address, w2_->address};
  }

  // Asserts `result` is a node's response with `code`, from `from`.
  static void ExpectAnswer(const StatusOr<pb::Response>& result, Code code, const FakeNode* from,
                           const FailoverClient& client) {
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->code(), CodeName(code)) << result->message();
    EXPECT_EQ(result->message().substr(0, from->name.size()), from->name) << result->message();
    EXPECT_EQ(client.last_address(), from->address);
  }

  static Pki* pki_;
  // Declared before the io_context so that it outlives its handlers.
  std::unique_ptr<boost::asio::ssl::context> server_tls_;
  boost::asio::io_context io_context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_context_)};
  std::thread io_thread_;

  std::mutex mu_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;  // GUARDED_BY(mu_) while serving
  bool standalone_ = false;                       // GUARDED_BY(mu_)
  FakeNode* e1_ = nullptr;
  FakeNode* e2_ = nullptr;
  FakeNode* w1_ = nullptr;
  FakeNode* w2_ = nullptr;
};

Pki* FailoverClientTest::pki_ = nullptr;

TEST_F(FailoverClientTest, CreateChecksOptionsAndDialsNothing) {
  StartCluster();
  FailoverOptions options;
  options.tls = pki_->admin;
  EXPECT_EQ(FailoverClient::Create(options).status().code(), Code::kInvalidArgument);
  options.addresses = {"no-port"};
  EXPECT_EQ(FailoverClient::Create(options).status().code(), Code::kInvalidArgument);
  options.addresses = {e1_->address};
  options.max_attempts = 0;
  EXPECT_EQ(FailoverClient::Create(options).status().code(), Code::kInvalidArgument);
  options.max_attempts = 1;
  options.call_timeout = milliseconds(0);
  EXPECT_EQ(FailoverClient::Create(options).status().code(), Code::kInvalidArgument);
  options.call_timeout = milliseconds(1000);
  options.tls.cert_file = pki_->dir + "/missing.pem";
  EXPECT_FALSE(FailoverClient::Create(options).ok());

  auto client = MakeClient({e2_->address, e1_->address, e2_->address});
  ASSERT_TRUE(client);
  EXPECT_EQ(client->order(), (std::vector<std::string>{e2_->address, e1_->address}));
  EXPECT_EQ(client->last_address(), "");
  for (const auto* n : {e1_, e2_, w1_, w2_}) EXPECT_EQ(n->server->connections_accepted(), 0u);
}

TEST_F(FailoverClientTest, TriesTheCallersSubgroupFirst) {
  StartCluster();
  // w2 is not given: learned from the membership and appended to its group.
  std::vector<std::string> given = {w1_->address, e2_->address, e1_->address};

  auto east = MakeClient(given, "east");
  ASSERT_TRUE(east);
  auto result = east->Call(Write());
  ExpectAnswer(result, Code::kOk, e2_, *east);
  EXPECT_EQ(east->order(),
            (std::vector<std::string>{e2_->address, e1_->address, w1_->address, w2_->address}));
  ASSERT_EQ(e2_->Writes(), 1u);
  EXPECT_TRUE(Uuid::IsValid(e2_->Received()[0].request_id())) << e2_->Received()[0].request_id();
  // Time-ordered (NewRequestId): request rows of close writes sit together.
  EXPECT_EQ(e2_->Received()[0].request_id()[14], '7') << e2_->Received()[0].request_id();
  EXPECT_FALSE(e2_->Received()[0].has_retry_of());
  EXPECT_EQ(w1_->Writes() + e1_->Writes() + w2_->Writes(), 0u);

  auto west = MakeClient(given, "west");
  ASSERT_TRUE(west);
  ExpectAnswer(west->Call(Read()), Code::kOk, w1_, *west);
  EXPECT_EQ(west->order(),
            (std::vector<std::string>{w1_->address, w2_->address, e2_->address, e1_->address}));
  // A read gets no request id.
  EXPECT_EQ(w1_->Received().at(0).request_id(), "");

  auto none = MakeClient(given, "");
  ASSERT_TRUE(none);
  ExpectAnswer(none->Call(Read()), Code::kOk, w1_, *none);
  EXPECT_EQ(none->order(),
            (std::vector<std::string>{w1_->address, e2_->address, e1_->address, w2_->address}));

  // A request id given by the caller is kept.
  pb::Request write = Write();
  write.set_request_id("caller-id");
  ExpectAnswer(east->Call(write), Code::kOk, e2_, *east);
  EXPECT_EQ(e2_->Received().back().request_id(), "caller-id");
}

TEST_F(FailoverClientTest, FailsOverFromAStoppedNode) {
  StartCluster();
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);
  // Learn the membership and keep a connection to e1.
  ExpectAnswer(client->Call(Read()), Code::kOk, e1_, *client);
  StopNode(e1_);

  // The write neither reaches the stopped node nor ends OUTCOME_UNKNOWN on
  // the connection it had closed: it is taken by e2.
  auto result = client->Call(Write());
  ExpectAnswer(result, Code::kOk, e2_, *client);
  EXPECT_EQ(client->order(),
            (std::vector<std::string>{e2_->address, w1_->address, w2_->address, e1_->address}));
  EXPECT_EQ(e2_->Writes(), 1u);

  // A read does not go back to the stopped node first.
  ExpectAnswer(client->Call(Read()), Code::kOk, e2_, *client);

  // Reads on a connection the node closed: e2 stops too; the kept
  // connection is tried once more, fresh, then w1 answers.
  StopNode(e2_);
  ExpectAnswer(client->Call(Read()), Code::kOk, w1_, *client);
  EXPECT_EQ(client->order(),
            (std::vector<std::string>{w1_->address, w2_->address, e1_->address, e2_->address}));
}

TEST_F(FailoverClientTest, FailsOverOnReadOnlyRestricted) {
  StartCluster();
  e1_->SetScript([](const pb::Request&, size_t) { return Answer(Code::kReadOnlyRestricted); });
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);
  ExpectAnswer(client->Call(Write()), Code::kOk, e2_, *client);
  ASSERT_EQ(e1_->Writes(), 1u);
  ASSERT_EQ(e2_->Writes(), 1u);
  // The same request, with the same id, went to both.
  EXPECT_EQ(e1_->Received()[0].request_id(), e2_->Received()[0].request_id());
  EXPECT_EQ(client->order().back(), e1_->address);
}

TEST_F(FailoverClientTest, ReadOnlyNodeServesReadsAndPassesWritesOn) {
  StartCluster();
  {
    std::lock_guard<std::mutex> lock(mu_);
    e1_->role = "read-only";
  }
  e1_->SetScript([](const pb::Request& request, size_t) {
    if (request.has_write()) return Answer(Code::kReadOnlyNode);
    // Reads never get READ_ONLY_NODE from a real node; if one did, the
    // client would not fail over on it.
    if (request.has_locate()) return Answer(Code::kReadOnlyNode);
    return Answer(Code::kOk);
  });
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);

  ExpectAnswer(client->Call(Read()), Code::kOk, e1_, *client);
  pb::Request locate;
  locate.mutable_locate()->set_name("k");
  ExpectAnswer(client->Call(locate), Code::kReadOnlyNode, e1_, *client);
  EXPECT_EQ(e1_->Received().size(), 2u);
  EXPECT_EQ(e2_->Received().size(), 0u);

  ExpectAnswer(client->Call(Write()), Code::kOk, e2_, *client);
  EXPECT_EQ(e1_->Writes(), 1u);
  EXPECT_EQ(e2_->Writes(), 1u);
}

TEST_F(FailoverClientTest, OutcomeUnknownWithRecordIsRetriedElsewhereWithRetryOf) {
  StartCluster();
  e1_->SetScript([](const pb::Request&, size_t) {
    return Reply{Code::kOutcomeUnknown, Record(1, 7), false};
  });
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);
  pb::Request write = Write();
  write.set_request_id("req-1");
  ExpectAnswer(client->Call(write), Code::kOk, e2_, *client);

  ASSERT_EQ(e1_->Writes(), 1u);
  EXPECT_EQ(e1_->Received()[0].request_id(), "req-1");
  EXPECT_FALSE(e1_->Received()[0].has_retry_of());
  ASSERT_EQ(e2_->Writes(), 1u);
  const pb::Request retry = e2_->Received()[0];
  EXPECT_EQ(retry.request_id(), "req-1");
  ASSERT_TRUE(retry.has_retry_of());
  EXPECT_EQ(retry.retry_of().origin(), 1u);
  EXPECT_EQ(retry.retry_of().seq(), 7u);
  EXPECT_EQ(retry.write().activate().uuid(), "k");
}

TEST_F(FailoverClientTest, OutcomeUnknownWithRecordEverywhereIsReturnedNamingTheRetry) {
  StartCluster();
  for (auto* n : {e1_, e2_, w1_, w2_}) {
    n->SetScript([](const pb::Request&, size_t) {
      return Reply{Code::kOutcomeUnknown, Record(3, 9), false};
    });
  }
  auto client = MakeClient(AllGiven(), "east", 3);
  ASSERT_TRUE(client);
  pb::Request write = Write();
  write.set_request_id("req-2");
  auto result = client->Call(write);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->code(), CodeName(Code::kOutcomeUnknown));
  EXPECT_EQ(result->outcome_record().origin(), 3u);
  EXPECT_NE(result->message().find("req-2"), std::string::npos) << result->message();
  EXPECT_NE(result->message().find("3:9"), std::string::npos) << result->message();
  EXPECT_EQ(e1_->Writes() + e2_->Writes() + w1_->Writes() + w2_->Writes(), 3u);
}

TEST_F(FailoverClientTest, ClientSideOutcomeUnknownIsRetriedOnTheSameNodeOnly) {
  // e1 closes the connection instead of answering its first write.
  e1_ = AddNode("e1", "east", /*tiny_frames=*/true);
  e2_ = AddNode("e2", "east");
  w1_ = AddNode("w1", "west");
  ASSERT_TRUE(e1_ && e2_ && w1_);
  e1_->SetScript([](const pb::Request&, size_t index) {
    return index == 0 ? Reply{Code::kOk, std::nullopt, true} : Answer(Code::kOk);
  });
  // e1 cannot send the membership either (too large): e2 tells it.
  auto client = MakeClient({e1_->address, e2_->address, w1_->address});
  ASSERT_TRUE(client);
  uint64_t closed_before = e1_->server->connections_closed();
  ExpectAnswer(client->Call(Write()), Code::kOk, e1_, *client);

  auto received = e1_->Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_TRUE(Uuid::IsValid(received[0].request_id()));
  EXPECT_EQ(received[1].request_id(), received[0].request_id());
  EXPECT_FALSE(received[0].has_retry_of());
  EXPECT_FALSE(received[1].has_retry_of());
  EXPECT_EQ(e2_->Writes() + w1_->Writes(), 0u);
  EXPECT_GT(e1_->server->connections_closed(), closed_before);
}

TEST_F(FailoverClientTest, BrokenConnectionOfARetryWithRecordMovesOn) {
  // e1 names the record; e2 closes the connection on the retry, which
  // carries the record, so it stays safe anywhere: w1 gets it.
  e1_ = AddNode("e1", "east");
  e2_ = AddNode("e2", "east", /*tiny_frames=*/true);
  w1_ = AddNode("w1", "west");
  ASSERT_TRUE(e1_ && e2_ && w1_);
  e1_->SetScript([](const pb::Request&, size_t) {
    return Reply{Code::kOutcomeUnknown, Record(1, 7), false};
  });
  e2_->SetScript([](const pb::Request&, size_t) { return Reply{Code::kOk, std::nullopt, true}; });
  auto client = MakeClient({e1_->address, e2_->address, w1_->address});
  ASSERT_TRUE(client);
  pb::Request write = Write();
  write.set_request_id("req-3");
  ExpectAnswer(client->Call(write), Code::kOk, w1_, *client);
  EXPECT_EQ(e1_->Writes(), 1u);
  ASSERT_EQ(e2_->Writes(), 1u);
  EXPECT_EQ(e2_->Received()[0].retry_of().seq(), 7u);
  ASSERT_EQ(w1_->Writes(), 1u);
  const pb::Request retry = w1_->Received()[0];
  EXPECT_EQ(retry.request_id(), "req-3");
  EXPECT_EQ(retry.retry_of().origin(), 1u);
  EXPECT_EQ(retry.retry_of().seq(), 7u);
}

TEST_F(FailoverClientTest, ClientSideOutcomeUnknownIsReturnedNamingTheRequestId) {
  e1_ = AddNode("e1", "east", /*tiny_frames=*/true);
  e2_ = AddNode("e2", "east");
  ASSERT_TRUE(e1_ && e2_);
  e1_->SetScript([](const pb::Request&, size_t) { return Reply{Code::kOk, std::nullopt, true}; });
  auto client = MakeClient({e1_->address, e2_->address});
  ASSERT_TRUE(client);
  auto result = client->Call(Write());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kOutcomeUnknown);

  auto received = e1_->Received();
  ASSERT_EQ(received.size(), 3u);  // the request and two retries, all on e1
  for (const auto& r : received) EXPECT_EQ(r.request_id(), received[0].request_id());
  EXPECT_NE(result.status().message().find(received[0].request_id()), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find(e1_->address), std::string::npos);
  EXPECT_EQ(e2_->Writes(), 0u);
  EXPECT_EQ(client->last_address(), "");
}

TEST_F(FailoverClientTest, OtherErrorsAreReturnedWithoutFailover) {
  StartCluster();
  e1_->SetScript([](const pb::Request&, size_t) { return Answer(Code::kInvalidArgument); });
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);
  ExpectAnswer(client->Call(Write()), Code::kInvalidArgument, e1_, *client);
  ExpectAnswer(client->Call(Read()), Code::kInvalidArgument, e1_, *client);
  EXPECT_EQ(e1_->Received().size(), 2u);
  EXPECT_EQ(e2_->Received().size() + w1_->Received().size() + w2_->Received().size(), 0u);
  EXPECT_EQ(client->order().front(), e1_->address);
}

TEST_F(FailoverClientTest, AllNodesDownGivesUnavailableNamingTheAddresses) {
  e1_ = AddNode("e1", "east");
  e2_ = AddNode("e2", "east");
  w1_ = AddNode("w1", "west");
  ASSERT_TRUE(e1_ && e2_ && w1_);
  std::vector<std::string> given = {e1_->address, e2_->address, w1_->address};
  // Learns the membership while the nodes are up.
  auto learned = MakeClient(given, "east", /*max_attempts=*/2);
  ASSERT_TRUE(learned);
  ExpectAnswer(learned->Call(Read()), Code::kOk, e1_, *learned);
  for (auto* n : {e1_, e2_, w1_}) StopNode(n);

  // A new client finds no node to ask for the membership.
  auto fresh = MakeClient(given);
  ASSERT_TRUE(fresh);
  auto result = fresh->Call(Write());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnavailable);
  for (const auto& a : given) {
    EXPECT_NE(result.status().message().find(a), std::string::npos) << result.status().message();
  }
  EXPECT_EQ(fresh->last_address(), "");

  // Two attempts at most: e1 and e2, never w1.
  result = learned->Call(Write());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnavailable);
  EXPECT_NE(result.status().message().find(e1_->address), std::string::npos);
  EXPECT_NE(result.status().message().find(e2_->address), std::string::npos);
  EXPECT_EQ(result.status().message().find(w1_->address), std::string::npos)
      << result.status().message();
}

TEST_F(FailoverClientTest, AttemptsAreBoundedAcrossRounds) {
  StartCluster();
  for (auto* n : {e1_, e2_, w1_, w2_}) {
    n->SetScript([](const pb::Request&, size_t) { return Answer(Code::kUnavailable); });
  }
  auto client = MakeClient(AllGiven(), "east", /*max_attempts=*/6);
  ASSERT_TRUE(client);
  auto result = client->Call(Write());
  // The last refusal is returned, naming what was tried.
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->code(), CodeName(Code::kUnavailable));
  EXPECT_NE(result->message().find(w2_->address), std::string::npos) << result->message();
  // A round over all four nodes, the membership asked again, then two more.
  EXPECT_EQ(e1_->Writes(), 2u);
  EXPECT_EQ(e2_->Writes(), 2u);
  EXPECT_EQ(w1_->Writes(), 1u);
  EXPECT_EQ(w2_->Writes(), 1u);
}

TEST_F(FailoverClientTest, KeepsUsingTheNodeThatLastWorked) {
  StartCluster();
  std::mutex mu;
  // Which nodes refuse writes (READ_ONLY_RESTRICTED); changed by the test.
  std::set<std::string> restricted = {"e1"};
  for (auto* n : {e1_, e2_, w1_, w2_}) {
    n->SetScript([&mu, &restricted, n](const pb::Request&, size_t) {
      std::lock_guard<std::mutex> lock(mu);
      return Answer(restricted.count(n->name) ? Code::kReadOnlyRestricted : Code::kOk);
    });
  }
  auto set_restricted = [&](std::set<std::string> names) {
    std::lock_guard<std::mutex> lock(mu);
    restricted = std::move(names);
  };
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);

  ExpectAnswer(client->Call(Write()), Code::kOk, e2_, *client);
  EXPECT_EQ(e1_->Writes(), 1u);
  // The next call starts at e2: e1 is not asked again.
  ExpectAnswer(client->Call(Write()), Code::kOk, e2_, *client);
  ExpectAnswer(client->Call(Read()), Code::kOk, e2_, *client);
  EXPECT_EQ(e1_->Received().size(), 1u);
  EXPECT_EQ(e2_->Received().size(), 3u);

  // e1 has recovered but stays behind; e2 is restricted now: w1 takes over.
  set_restricted({"e2"});
  ExpectAnswer(client->Call(Write()), Code::kOk, w1_, *client);
  EXPECT_EQ(client->order(),
            (std::vector<std::string>{w1_->address, w2_->address, e1_->address, e2_->address}));
  EXPECT_EQ(e1_->Received().size(), 1u);

  // When the others fail, e1 is tried again.
  set_restricted({"e2", "w1", "w2"});
  ExpectAnswer(client->Call(Write()), Code::kOk, e1_, *client);
  EXPECT_EQ(e1_->Writes(), 2u);
}

TEST_F(FailoverClientTest, StandaloneNodeIsAOneNodeList) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    standalone_ = true;
  }
  e1_ = AddNode("s1", "");
  e2_ = AddNode("s2", "");
  ASSERT_TRUE(e1_ && e2_);
  auto client = MakeClient({e1_->address, e2_->address});
  ASSERT_TRUE(client);
  ExpectAnswer(client->Call(Write()), Code::kOk, e1_, *client);
  EXPECT_EQ(client->order(), std::vector<std::string>{e1_->address});
}

TEST_F(FailoverClientTest, ReadsReuseOneConnectionPerNode) {
  StartCluster();
  auto client = MakeClient(AllGiven());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) ExpectAnswer(client->Call(Read()), Code::kOk, e1_, *client);
  // The membership request and the three reads: one connection.
  EXPECT_EQ(e1_->server->connections_accepted(), 1u);
  // A write goes on a fresh connection (see FailoverClient::Call).
  ExpectAnswer(client->Call(Write()), Code::kOk, e1_, *client);
  EXPECT_EQ(e1_->server->connections_accepted(), 2u);
  ExpectAnswer(client->Call(Read()), Code::kOk, e1_, *client);
  EXPECT_EQ(e1_->server->connections_accepted(), 2u);
}

// A node that is frozen (SIGSTOPped): its kernel completes TCP handshakes
// into the listen backlog, and nothing ever answers. Closed on destruction.
class FrozenListener {
 public:
  FrozenListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot set up the frozen listener";
      return;
    }
    address_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  ~FrozenListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
};

TEST_F(FailoverClientTest, AFrozenFirstAddressCostsOneTimeoutThenComesLast) {
  StartCluster();
  FrozenListener frozen;
  FailoverOptions options;
  options.addresses = {frozen.address(), e1_->address};
  options.tls = pki_->admin;
  options.call_timeout = milliseconds(500);
  auto created = FailoverClient::Create(std::move(options));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  FailoverClient& client = **created;

  // The membership look-up waits one timeout at the frozen address (connect
  // and TLS handshake together), then the write goes to a node that
  // answered: the frozen address is not asked again in this Call.
  steady_clock::time_point start = steady_clock::now();
  StatusOr<pb::Response> written = client.Call(Write());
  milliseconds took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  ExpectAnswer(written, Code::kOk, e1_, client);
  EXPECT_GE(took, milliseconds(450));
  EXPECT_LT(took, milliseconds(900));
  EXPECT_EQ(client.order().back(), frozen.address());
  EXPECT_EQ(e1_->Writes(), 1u);

  // Later Calls use the nodes that answer, and do not wait at all.
  start = steady_clock::now();
  ExpectAnswer(client.Call(Read()), Code::kOk, e1_, client);
  EXPECT_LT(steady_clock::now() - start, milliseconds(450));
}

TEST_F(FailoverClientTest, ConnectAndExchangeShareOneDeadline) {
  FrozenListener frozen;
  auto tls = MakeClientTlsContext(pki_->admin);
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  size_t colon = frozen.address().rfind(':');
  uint16_t port = static_cast<uint16_t>(std::stoi(frozen.address().substr(colon + 1)));
  steady_clock::time_point start = steady_clock::now();
  auto connected = CofferClient::ConnectBy("127.0.0.1", port, **tls, start + milliseconds(300));
  milliseconds took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  EXPECT_EQ(connected.status().code(), Code::kUnavailable);
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(600));
  // A deadline already passed dials nothing.
  connected = CofferClient::ConnectBy("127.0.0.1", port, **tls, steady_clock::now());
  EXPECT_EQ(connected.status().code(), Code::kUnavailable);
}

TEST_F(FailoverClientTest, ARetrySessionWaitsForAFrozenNodeOnce) {
  StartCluster();
  FrozenListener frozen;
  RetryPolicyOptions options;
  options.addresses = {frozen.address(), e1_->address};
  options.tls = pki_->admin;
  options.timeout = milliseconds(500);
  RetrySession session;
  // The first request pays the frozen address its share of the timeout
  // (half: two addresses) and still ends within the timeout...
  pb::Request write = Write();
  steady_clock::time_point start = steady_clock::now();
  StatusOr<pb::Response> answered = session.Call(options, &write);
  ASSERT_TRUE(answered.ok()) << answered.status().ToString();
  EXPECT_GE(steady_clock::now() - start, milliseconds(200));
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  // ...the next ones of the same session none.
  for (int i = 0; i < 2; ++i) {
    pb::Request read = Read();
    start = steady_clock::now();
    answered = session.Call(options, &read);
    ASSERT_TRUE(answered.ok()) << answered.status().ToString();
    EXPECT_EQ(answered->code(), "OK");
    EXPECT_LT(steady_clock::now() - start, milliseconds(450)) << i;
  }
  EXPECT_EQ(e1_->Writes(), 1u);
}

// Issue 11: under call_deadline a frozen first address gets only its share
// of the time (the time left over the nodes not yet tried), so the write
// still completes on the second node within the deadline; before, the
// frozen node took a whole call_timeout and the write ended after it.
TEST_F(FailoverClientTest, AFrozenFirstAddressLeavesTheWriteTimeWithinTheCallDeadline) {
  StartCluster();
  FrozenListener frozen;
  FailoverOptions options;
  options.addresses = {frozen.address(), e1_->address};
  options.tls = pki_->admin;
  options.call_timeout = milliseconds(3000);
  options.call_deadline = milliseconds(3000);
  auto created = FailoverClient::Create(std::move(options));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  steady_clock::time_point start = steady_clock::now();
  StatusOr<pb::Response> written = (*created)->Call(Write());
  milliseconds took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  ExpectAnswer(written, Code::kOk, e1_, **created);
  EXPECT_GE(took, milliseconds(1400));  // the frozen node's share: half
  EXPECT_LT(took, milliseconds(3000));
  EXPECT_EQ(e1_->Writes(), 1u);
}

// Every node frozen: the Call gives up by its deadline, whatever
// max_attempts allows, and says why.
TEST_F(FailoverClientTest, ACallWhoseNodesAllFreezeEndsByItsDeadline) {
  FrozenListener first;
  FrozenListener second;
  FailoverOptions options;
  options.addresses = {first.address(), second.address()};
  options.tls = pki_->admin;
  options.call_timeout = milliseconds(5000);
  options.call_deadline = milliseconds(800);
  options.max_attempts = 8;
  auto created = FailoverClient::Create(std::move(options));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  steady_clock::time_point start = steady_clock::now();
  StatusOr<pb::Response> written = (*created)->Call(Write());
  milliseconds took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), Code::kUnavailable) << written.status().ToString();
  EXPECT_GE(took, milliseconds(700));
  EXPECT_LT(took, milliseconds(1100));
}

}  // namespace
}  // namespace coffer::node
