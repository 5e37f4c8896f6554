// The monitoring endpoint of real node processes: /livez, /readyz, /health,
// /status and /metrics (checked by `promtool check metrics`), following the
// node's mode as its pair link is cut and healed and as a node is disabled.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/harness/cluster_fixture.h"
#include "tests/harness/fault_proxy.h"
#include "tests/harness/http_get.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

// `promtool check metrics` on `text`: its exit code and what it printed.
std::pair<int, std::string> Promtool(const std::string& text) {
  storage::testing::TempDir dir;
  std::string file = dir.path() + "/metrics.txt";
  WriteWholeFile(file, text);
  std::string command = "promtool check metrics < " + file + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "cannot run promtool"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(MonitoringTest, EndpointFollowsTheNodeAndItsMetricsPassPromtool) {
  auto ca = *node::CreateCertificateAuthority("monitoring test CA");
  uint16_t a_peer = FreePort(), b_peer = FreePort();
  auto into_a = FaultProxy::Start("127.0.0.1", "127.0.0.1", a_peer);
  auto into_b = FaultProxy::Start("127.0.0.1", "127.0.0.1", b_peer);
  ASSERT_TRUE(into_a && into_b);
  NodeProcess a({.name = "alpha",
                 .ca = &ca,
                 .node_config = PeerAdvertise(into_a->port()),
                 .peer_port = a_peer});
  NodeProcess b({.name = "beta",
                 .ca = &ca,
                 .node_config = PeerAdvertise(into_b->port()),
                 .peer_port = b_peer});
  NodeProcessOptions gamma_options;
  gamma_options.name = "gamma";
  gamma_options.ca = &ca;
  NodeProcess c(gamma_options);
  ASSERT_TRUE(a.Start());
  pb::Request init;
  init.set_request_id("init");
  init.mutable_write()->mutable_cluster_init()->set_name("prod");
  ASSERT_TRUE(Ask(a, init).ok());
  for (auto [candidate, role] : {std::pair{&b, pb::NODE_READ_WRITE}, {&c, pb::NODE_READ_ONLY}}) {
    pb::Request token;
    token.mutable_join_token()->set_role(role);
    auto issued = Ask(a, token);
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    ASSERT_TRUE(candidate->Start({"--join", a.address(), "--token", issued->join_token().token()}));
  }
  std::vector<NodeProcess*> all = {&a, &b, &c};
  auto health = [](NodeProcess& n) { return HttpGet(n.http_port(), "/health").code; };
  ASSERT_TRUE(
      WaitFor([&] { return health(a) == 200 && health(b) == 200 && health(c) == 429; }, 30s))
      << "read-write pair: 200; read-only node: 429";

  for (NodeProcess* n : all) {
    EXPECT_EQ(HttpGet(n->http_port(), "/livez").code, 200) << n->name();
    EXPECT_EQ(HttpGet(n->http_port(), "/nope").code, 404) << n->name();
    HttpAnswer metrics = HttpGet(n->http_port(), "/metrics");
    ASSERT_EQ(metrics.code, 200) << n->name();
    EXPECT_THAT(metrics.body, ::testing::HasSubstr("coffer_requests_total"));
    EXPECT_THAT(metrics.body, ::testing::HasSubstr("coffer_link_up{peer="));
    auto [exit_code, complaints] = Promtool(metrics.body);
    EXPECT_EQ(exit_code, 0) << n->name() << ": " << complaints;
    EXPECT_EQ(complaints, "") << n->name();
    HttpAnswer status = HttpGet(n->http_port(), "/status");
    ASSERT_EQ(status.code, 200) << n->name();
    auto json = nlohmann::json::parse(status.body, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(json.is_discarded()) << status.body;
    EXPECT_EQ(json["members"].size(), 3u) << n->name();
    EXPECT_EQ(json["self"]["node_name"], n->name());
    // As `cluster status -o json`: the other members' own status too.
    EXPECT_EQ(json["nodes"].size(), 2u) << status.body;
    EXPECT_TRUE(!json.contains("unreachable") || json["unreachable"].empty()) << status.body;
  }
  EXPECT_THAT(HttpGet(a.http_port(), "/metrics").body,
              ::testing::HasSubstr("coffer_node_mode{mode=\"read-write\"} 1"));
  EXPECT_EQ(HttpGet(a.http_port(), "/readyz").code, 200);
  EXPECT_EQ(HttpGet(c.http_port(), "/readyz").code, 503) << "a read-only node takes no writes";

  // Cut the pair: both become restricted; /readyz and /health follow.
  into_a->SetMode(FaultProxy::Mode::kBlackhole);
  into_b->SetMode(FaultProxy::Mode::kBlackhole);
  EXPECT_TRUE(WaitFor([&] { return health(a) == 472 && health(b) == 472; }, 30s));
  EXPECT_EQ(HttpGet(a.http_port(), "/readyz").code, 503);
  EXPECT_THAT(HttpGet(a.http_port(), "/metrics").body,
              ::testing::HasSubstr("coffer_node_mode{mode=\"restricted\"} 1"));
  into_a->SetMode(FaultProxy::Mode::kPass);
  into_b->SetMode(FaultProxy::Mode::kPass);
  EXPECT_TRUE(WaitFor([&] { return HttpGet(a.http_port(), "/readyz").code == 200; }, 30s));

  // A disabled node is unavailable (503), and back once enabled.
  pb::Request status;
  status.mutable_node_status();
  auto c_status = Ask(c, status);
  ASSERT_TRUE(c_status.ok());
  pb::Request disable;
  disable.set_request_id("disable-gamma");
  disable.mutable_write()->mutable_node_state()->set_node_id(c_status->node_status().node_id());
  disable.mutable_write()->mutable_node_state()->set_state(pb::NODE_DISABLING);
  ASSERT_TRUE(Ask(a, disable).ok());
  EXPECT_TRUE(WaitFor([&] { return health(c) == 503; }, 30s));  // DISABLING already
  EXPECT_TRUE(WaitFor(
      [&] {
        return HttpGet(c.http_port(), "/metrics")
                   .body.find("coffer_node_state{state=\"DISABLED\"} 1") != std::string::npos;
      },
      30s));
  EXPECT_EQ(health(c), 503);
  pb::Request enable = disable;
  enable.set_request_id("enable-gamma");
  enable.mutable_write()->mutable_node_state()->set_state(pb::NODE_ENABLING);
  ASSERT_TRUE(Ask(c, enable).ok());
  EXPECT_TRUE(WaitFor([&] { return health(c) == 429; }, 30s)) << "ACTIVE read-only node again";

  // A member that does not answer is listed as unreachable in /status.
  c.Kill(SIGKILL);
  auto gamma_id = std::to_string(c_status->node_status().node_id());
  HttpAnswer page = HttpGet(a.http_port(), "/status");
  ASSERT_EQ(page.code, 200);
  auto json = nlohmann::json::parse(page.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << page.body;
  EXPECT_TRUE(json["unreachable"].contains(gamma_id)) << page.body;
  EXPECT_EQ(json["nodes"].size(), 1u) << page.body;
}

}  // namespace
}  // namespace coffer::integration
