// Several requests in flight on one client connection: the server side
// (ClientServer reads ahead up to max_requests_in_flight, answers in
// completion order with the request's call_id) and the client side
// (CofferClient::Send / Receive).
#include <map>
#include <set>

#include "node/net/client_server_fixture.h"

namespace coffer::node {
namespace {

class ClientPipeliningTest : public ClientServerTest {
 protected:
  static steady_clock::time_point Deadline() { return steady_clock::now() + kCallTimeout; }

  // Sends `count` requests "<prefix>0".. back to back; returns their call
  // ids in sending order.
  static std::vector<uint64_t> SendMany(CofferClient& client, const std::string& prefix,
                                        int count) {
    std::vector<uint64_t> ids;
    for (int i = 0; i < count; ++i) {
      auto id = client.Send(MakeRequest(prefix + std::to_string(i)), Deadline());
      EXPECT_TRUE(id.ok()) << id.status().ToString();
      if (id.ok()) ids.push_back(*id);
    }
    return ids;
  }

  // Answers the held requests `ids` one at a time, oldest first, checking
  // that the server holds exactly `most` (or what is left) before each
  // answer, never more; then that every id was answered.
  void ExpectAtMostHeldWhileAnsweringOneByOne(CofferClient& client,
                                              const std::vector<uint64_t>& ids, size_t most) {
    const size_t total = ids.size();
    for (size_t answered = 0; answered < total; ++answered) {
      const size_t expect_held = std::min(most, total - answered);
      ASSERT_TRUE(WaitFor([&] {
        return static_cast<size_t>(handled_.load()) == std::min(total, answered + most) &&
               HeldCount() == expect_held;
      })) << "answered "
          << answered << ", handled " << handled_.load() << ", held " << HeldCount();
      ReplyHeld(0);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      EXPECT_EQ(most_held_, most) << "never more held than the bound allows";
    }
    std::set<uint64_t> answered;
    for (size_t i = 0; i < total; ++i) {
      auto answer = client.Receive(Deadline());
      ASSERT_TRUE(answer.ok()) << answer.status().ToString();
      answered.insert(answer->call_id);
    }
    EXPECT_EQ(answered, std::set<uint64_t>(ids.begin(), ids.end()));
  }
};

TEST_F(ClientPipeliningTest, RequestsSentBackToBackAreAllAnsweredInCompletionOrder) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  constexpr int kRequests = 8;
  std::vector<uint64_t> ids = SendMany(*client, "hold-", kRequests);
  ASSERT_EQ(ids.size(), size_t{kRequests});
  EXPECT_EQ(std::set<uint64_t>(ids.begin(), ids.end()).size(), ids.size()) << "distinct ids";
  EXPECT_EQ(client->calls_in_flight(), size_t{kRequests});
  // The server reads every request while none is answered yet.
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == kRequests; }));
  // Answer newest first: the responses come back in that order.
  for (int i = kRequests - 1; i >= 0; --i) ReplyHeld(static_cast<size_t>(i));
  for (int i = kRequests - 1; i >= 0; --i) {
    auto answer = client->Receive(Deadline());
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->call_id, ids[static_cast<size_t>(i)]);
    EXPECT_EQ(answer->response.call_id(), ids[static_cast<size_t>(i)]);
    EXPECT_EQ(answer->response.message(), "hold-" + std::to_string(i));
  }
  EXPECT_EQ(client->calls_in_flight(), 0u);
  EXPECT_EQ(client->Receive(Deadline()).status().code(), Code::kInvalidState);
  // The connection carries one-at-a-time calls again.
  ExpectEcho(*client, "after pipelining");
  EXPECT_EQ(server->requests(), size_t{kRequests + 1});
  EXPECT_EQ(server->protocol_errors(), 0u);
}

TEST_F(ClientPipeliningTest, ServerStopsReadingAtTheMaximumInFlight) {
  ServerOptions options;
  options.max_requests_in_flight = 3;
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  constexpr int kRequests = 7;
  std::vector<uint64_t> ids = SendMany(*client, "hold-", kRequests);
  ASSERT_EQ(ids.size(), size_t{kRequests});
  // Each answer written lets exactly one more request in.
  ExpectAtMostHeldWhileAnsweringOneByOne(*client, ids, 3);
}

// The byte budget: requests of ~1 KB under a 2,500-byte budget. The server
// reads a third (one frame past the budget at most) and then no further
// frame until a reply frees bytes, however many requests may be in flight.
TEST_F(ClientPipeliningTest, ServerStopsReadingAtTheByteBudgetInFlight) {
  ServerOptions options;
  options.max_request_bytes_in_flight = 2500;
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  constexpr int kRequests = 6;
  std::vector<uint64_t> ids;
  for (int i = 0; i < kRequests; ++i) {
    auto id = client->Send(MakeRequest("hold-" + std::to_string(i) + "-" + std::string(1000, 'x')),
                           Deadline());
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  ExpectAtMostHeldWhileAnsweringOneByOne(*client, ids, 3);
}

TEST_F(ClientPipeliningTest, ConnectionClosedWithRequestsInFlightDropsTheirReplies) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(SendMany(*client, "hold-", 4).size(), 4u);
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == 4; }));
  client.reset();  // closes with 4 requests in flight
  ASSERT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
  EXPECT_EQ(server->authenticated_connections(), 0u);
  // Replies after the close are dropped; the server stays healthy (ASan/LSan
  // builds check that nothing is used after free or leaked).
  ReplyHeld(2);
  ReplyHeld(0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.clear();  // the last two never answered: dropped ReplyFns
  }
  auto next = Connect(server);
  ASSERT_NE(next, nullptr);
  ExpectEcho(*next, "still serving");
}

TEST_F(ClientPipeliningTest, ProtocolErrorWithRequestsInFlightClosesOnlyThatConnection) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  RawConnection raw(client_tls_.get());
  ASSERT_TRUE(raw.Connect(server->port()));
  std::string frames;
  for (int i = 0; i < 2; ++i) {
    pb::Request request = MakeRequest("hold-" + std::to_string(i));
    request.set_call_id(100 + i);
    frames += *EncodeFrame(request.SerializeAsString(), kDefaultMaxFrameBytes);
  }
  frames += Header(0);  // empty frame: a protocol error
  ASSERT_TRUE(raw.Write(frames));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->protocol_errors() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == 2; }));
  ReplyHeld(1);
  ReplyHeld(0);
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
  auto next = Connect(server);
  ASSERT_NE(next, nullptr);
  ExpectEcho(*next, "others unaffected");
}

TEST_F(ClientPipeliningTest, ConnectionWithRequestsInFlightIsNotIdle) {
  ServerOptions options;
  options.idle_timeout = milliseconds(300);
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  auto id = client->Send(MakeRequest("hold-0"), Deadline());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == 1; }));
  // A quiet connection opened after it is closed by the idle timeout; the
  // one waiting for its answer is not.
  RawConnection quiet(client_tls_.get());
  ASSERT_TRUE(quiet.Connect(server->port()));
  EXPECT_TRUE(quiet.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
  ReplyHeld(0);
  auto answer = client->Receive(Deadline());
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->call_id, *id);
  // Nothing in flight any more: now it is idle, and closed in its turn.
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 2; }));
}

TEST_F(ClientPipeliningTest, ServerEchoesTheCallIdAndOneAtATimeClientsSetNone) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  auto plain = client->Call(MakeRequest("plain"), kCallTimeout);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->call_id(), 0u);
  EXPECT_EQ(plain->message(), "plain");
  // Send picks the id, replacing one the request carries.
  pb::Request request = MakeRequest("tagged");
  request.set_call_id(987654321);
  auto id = client->Send(request, Deadline());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_NE(*id, 987654321u);
  auto answer = client->Receive(Deadline());
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->call_id, *id);
  EXPECT_EQ(answer->response.message(), "tagged");
}

TEST_F(ClientPipeliningTest, CallIsRefusedWhilePipelinedCallsAreUnanswered) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(MakeRequest("hold-0"), Deadline()).ok());
  auto refused = client->Call(MakeRequest("plain"), kCallTimeout);
  EXPECT_EQ(refused.status().code(), Code::kInvalidState) << refused.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == 1; }));
  ReplyHeld(0);
  ASSERT_TRUE(client->Receive(Deadline()).ok());
  ExpectEcho(*client, "plain again");
  EXPECT_EQ(handled_.load(), 2);
}

TEST_F(ClientPipeliningTest, ReceiveTimeoutIsOutcomeUnknownForTheUnansweredCalls) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  std::vector<uint64_t> ids = SendMany(*client, "hold-", 3);
  ASSERT_EQ(ids.size(), 3u);
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == 3; }));
  ReplyHeld(1);
  // The answer to hold-1 arrives first; then nothing more.
  auto first = client->Receive(Deadline());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->call_id, ids[1]);
  auto late = client->Receive(steady_clock::now() + milliseconds(200));
  EXPECT_EQ(late.status().code(), Code::kOutcomeUnknown) << late.status().ToString();
  EXPECT_TRUE(client->timed_out());
  EXPECT_NE(late.status().message().find(client->address()), std::string::npos);
  std::vector<uint64_t> unanswered = client->unanswered_calls();
  EXPECT_EQ(std::set<uint64_t>(unanswered.begin(), unanswered.end()),
            (std::set<uint64_t>{ids[0], ids[2]}));
  // The connection is closed: later sends are refused as not sent.
  EXPECT_EQ(client->Send(MakeRequest("after"), Deadline()).status().code(), Code::kUnavailable);
  EXPECT_EQ(client->Receive(Deadline()).status().code(), Code::kOutcomeUnknown);
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
}

TEST_F(ClientPipeliningTest, LostConnectionIsOutcomeUnknownForTheUnansweredCalls) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  std::vector<uint64_t> ids = SendMany(*client, "hold-", 2);
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return HeldCount() == 2; }));
  ReplyHeld(0);
  auto answer = client->Receive(Deadline());
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->call_id, ids[0]);
  server->Stop();
  auto lost = client->Receive(Deadline());
  EXPECT_EQ(lost.status().code(), Code::kOutcomeUnknown) << lost.status().ToString();
  EXPECT_FALSE(client->timed_out());
  EXPECT_EQ(client->unanswered_calls(), std::vector<uint64_t>{ids[1]});
}

TEST_F(ClientPipeliningTest, SendRefusesEmptyAndOversizedRequestsAndKeepsTheConnection) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Send(pb::Request(), Deadline()).status().code(), Code::kInvalidArgument);
  pb::Request huge = MakeRequest(std::string(kDefaultMaxFrameBytes + 1, 'x'));
  EXPECT_EQ(client->Send(huge, Deadline()).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(client->Send(MakeRequest("late"), steady_clock::now()).status().code(),
            Code::kUnavailable);
  EXPECT_EQ(client->calls_in_flight(), 0u);
  auto id = client->Send(MakeRequest("fine"), Deadline());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto answer = client->Receive(Deadline());
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->response.message(), "fine");
}

TEST_F(ClientPipeliningTest, SendingMoreThanTheServerMaximumStillCompletes) {
  // Answers larger than the socket buffers: the server, at its maximum,
  // waits for them to be taken before it reads on, so Send must take them
  // while its own request waits to be written.
  ServerOptions options;
  options.max_requests_in_flight = 2;
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  constexpr int kRequests = 24;
  const std::string big(256 * 1024, 'b');
  std::map<uint64_t, std::string> sent;
  for (int i = 0; i < kRequests; ++i) {
    std::string id = big + std::to_string(i);
    auto call = client->Send(MakeRequest(id), Deadline());
    ASSERT_TRUE(call.ok()) << call.status().ToString();
    sent[*call] = id;
  }
  for (int i = 0; i < kRequests; ++i) {
    auto answer = client->Receive(Deadline());
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ASSERT_EQ(sent.count(answer->call_id), 1u);
    EXPECT_EQ(answer->response.message(), sent[answer->call_id]);
    sent.erase(answer->call_id);
  }
  EXPECT_TRUE(sent.empty());
}

TEST_F(ClientPipeliningTest, StartRejectsZeroRequestsInFlight) {
  ServerOptions options;
  options.max_requests_in_flight = 0;
  auto handler = [](pb::Request, ClientIdentity, ReplyFn) {};
  EXPECT_EQ(ClientServer::Start(io_context_, *server_tls_, options, handler).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ServerOptions().max_requests_in_flight, limits::kMaxRequestsInFlightPerConnection);
}

}  // namespace
}  // namespace coffer::node
