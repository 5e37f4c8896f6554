// Critical writes on a read-write pair: two real nodes (Node::Start, real TLS
// sockets on loopback, RocksDB on disk) in this process. Each benchmark thread
// is one client connection to node alpha writing 256-byte secrets; every
// write is acknowledged only after beta has it durably. With one client the
// rate is capped by one fsync on each node plus the round trips; with more
// clients group commit shares the fsyncs (compare the /threads:N rows).
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "common/ids.h"
#include "node/client/client.h"
#include "node/cluster/join.h"
#include "node/config/config.h"
#include "node/net/certs.h"
#include "node/net/tls.h"
#include "node/node.h"
#include "storage/test_util.h"

namespace coffer {
namespace {

using namespace std::chrono_literals;

uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

struct Pair {
  storage::testing::TempDir dir;
  node::NodeConfig alpha_config, beta_config;
  std::unique_ptr<node::Node> alpha, beta;
  std::unique_ptr<boost::asio::ssl::context> admin_tls;
  SecretBytes passphrase{std::string("bench-passphrase")};

  node::NodeConfig Config(const std::string& name, const node::PemPair& ca) {
    std::string base = dir.path() + "/" + name;
    auto cert = node::IssueCertificate(ca, {name, "node", {"127.0.0.1"}, {}, 1});
    if (!cert.ok() || !node::WritePemPair(*cert, base + ".pem", base + ".key").ok()) std::abort();
    node::NodeConfig c;
    c.node.name = name;
    c.node.data_dir = base + "-data";
    c.node.listen = "127.0.0.1:" + std::to_string(FreePort());
    c.node.peer_listen = "127.0.0.1:" + std::to_string(FreePort());
    c.node.http_listen = "";
    c.tls = {dir.path() + "/ca.pem", base + ".pem", base + ".key"};
    c.root_of_trust.scrypt_n = 1024;
    return c;
  }

  StatusOr<pb::Response> Call(const node::NodeConfig& c, const pb::Request& request) {
    auto address = *node::ParseHostPort(c.node.listen);
    COFFER_ASSIGN_OR_RETURN(
        auto client, node::CofferClient::Connect(address.host, address.port, *admin_tls, 10s));
    COFFER_ASSIGN_OR_RETURN(pb::Response response, client->Call(request, 10s));
    COFFER_RETURN_IF_ERROR(node::StatusFromResponse(response));
    return response;
  }

  Status Start() {
    auto ca = *node::CreateCertificateAuthority("bench CA");
    COFFER_RETURN_IF_ERROR(node::WritePemPair(ca, dir.path() + "/ca.pem", dir.path() + "/ca.key"));
    auto admin = *node::IssueCertificate(ca, {"admin", "admin", {}, {}, 1});
    COFFER_ASSIGN_OR_RETURN(admin_tls, node::MakeClientTlsContext(node::TlsCredentials{
                                           ca.cert_pem, admin.cert_pem, admin.key_pem}));
    alpha_config = Config("alpha", ca);
    beta_config = Config("beta", ca);
    COFFER_ASSIGN_OR_RETURN(alpha, node::Node::Start(alpha_config, passphrase));
    pb::Request init;
    init.set_request_id("init");
    init.mutable_write()->mutable_cluster_init()->set_name("bench");
    COFFER_RETURN_IF_ERROR(Call(alpha_config, init).status());
    pb::Request token;
    token.mutable_join_token()->set_role(pb::NODE_READ_WRITE);
    COFFER_ASSIGN_OR_RETURN(pb::Response issued, Call(alpha_config, token));
    COFFER_RETURN_IF_ERROR(node::JoinCluster(
        beta_config, passphrase, {alpha_config.node.listen, issued.join_token().token()}, {}));
    COFFER_ASSIGN_OR_RETURN(beta, node::Node::Start(beta_config, passphrase));
    // The pair is read-write once both have heard each other (bounded wait).
    pb::Request status;
    status.mutable_node_status();
    for (int i = 0; i < 500; ++i) {
      auto a = Call(alpha_config, status);
      if (a.ok() && a->node_status().mode() == "read-write") return Status::Ok();
      std::this_thread::sleep_for(20ms);
    }
    return Unavailable("the pair did not become read-write within 10 s");
  }
};

Pair& SharedPair() {
  static Pair* pair = [] {
    spdlog::set_level(spdlog::level::warn);
    auto* p = new Pair();
    Status started = p->Start();
    if (!started.ok()) {
      fprintf(stderr, "cannot start the pair: %s\n", started.ToString().c_str());
      std::abort();
    }
    return p;
  }();
  return *pair;
}

void BM_PairCriticalWrite(benchmark::State& state) {
  Pair& pair = SharedPair();
  auto address = *node::ParseHostPort(pair.alpha_config.node.listen);
  auto client = node::CofferClient::Connect(address.host, address.port, *pair.admin_tls, 10s);
  if (!client.ok()) {
    state.SkipWithError(client.status().ToString().c_str());
    return;
  }
  static std::atomic<uint64_t> next{0};
  std::string material(256, 'x');
  for (auto _ : state) {
    uint64_t n = next++;
    pb::Request request;
    request.set_request_id("bench-" + std::to_string(n));
    auto* r = request.mutable_write()->mutable_register_object();
    r->set_type(pb::SECRET_DATA);
    r->set_material(material);
    auto response = (*client)->Call(request, 10s);
    if (!response.ok() || response->code() != "OK") {
      state.SkipWithError(response.ok() ? response->message().c_str()
                                        : response.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PairCriticalWrite)->Threads(1)->Threads(4)->Threads(16)->UseRealTime();

pb::Request BenchWrite(const std::string& material) {
  static std::atomic<uint64_t> next{0};
  pb::Request request;
  request.set_request_id("bench-pipelined-" + std::to_string(next++));
  auto* r = request.mutable_write()->mutable_register_object();
  r->set_type(pb::SECRET_DATA);
  r->set_material(material);
  return request;
}

// The same writes with K = state.range(0) in flight on each client's one
// connection (CofferClient::Send / Receive): each iteration takes one answer
// and sends the next write, so K stay outstanding. An iteration is one
// acknowledged write.
void BM_PairCriticalWritePipelined(benchmark::State& state) {
  Pair& pair = SharedPair();
  const int in_flight = static_cast<int>(state.range(0));
  auto address = *node::ParseHostPort(pair.alpha_config.node.listen);
  auto client = node::CofferClient::Connect(address.host, address.port, *pair.admin_tls, 10s);
  if (!client.ok()) {
    state.SkipWithError(client.status().ToString().c_str());
    return;
  }
  node::CofferClient& c = **client;
  const std::string material(256, 'x');
  auto deadline = [] { return node::CofferClient::Clock::now() + 10s; };
  auto send = [&]() -> bool {
    auto id = c.Send(BenchWrite(material), deadline());
    if (!id.ok()) state.SkipWithError(id.status().ToString().c_str());
    return id.ok();
  };
  for (int i = 0; i < in_flight; ++i) {
    if (!send()) return;
  }
  for (auto _ : state) {
    auto answer = c.Receive(deadline());
    if (!answer.ok() || answer->response.code() != "OK") {
      state.SkipWithError(answer.ok() ? answer->response.message().c_str()
                                      : answer.status().ToString().c_str());
      break;
    }
    if (!send()) break;
  }
  // Drain the writes still in flight (not counted) before the next run.
  while (c.calls_in_flight() > 0 && c.Receive(deadline()).ok()) {
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PairCriticalWritePipelined)
    ->Arg(1)
    ->Arg(8)
    ->ArgName("in_flight")
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();

}  // namespace
}  // namespace coffer

BENCHMARK_MAIN();
