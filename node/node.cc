#include "node/node.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <future>
#include <optional>
#include <thread>

#include "node/client_server.h"
#include "node/request_handler.h"
#include "node/tls.h"
#include "storage/crypto.h"
#include "storage/kv_store.h"
#include "storage/object_store.h"
#include "upgrade/version.h"

namespace coffer::node {

struct Node::Impl {
  NodeConfig config;
  SystemClock clock;
  SystemRng rng;
  std::unique_ptr<storage::RootOfTrust> root;
  std::unique_ptr<storage::ObjectStore> store;
  NodeInfo info;

  boost::asio::io_context net_io;
  boost::asio::io_context store_io;
  std::unique_ptr<boost::asio::ssl::context> tls;
  std::unique_ptr<ClientServer> server;
  std::atomic<int64_t> queued{0};
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::optional<WorkGuard> net_work;
  std::optional<WorkGuard> store_work;
  std::thread net_thread;
  std::thread store_thread;
  std::promise<void> net_done;
  bool stopped = false;

  void Handle(pb::Request request, ClientIdentity who, ReplyFn reply) {
    if (queued.fetch_add(1) >= config.limits.max_queued_requests) {
      queued.fetch_sub(1);
      reply(ResponseFor(
          ResourceExhausted("node is busy: " + std::to_string(config.limits.max_queued_requests) +
                            " requests queued; retry later")));
      return;
    }
    boost::asio::post(store_io, [this, request = std::move(request), who = std::move(who),
                                 reply = std::move(reply)]() mutable {
      queued.fetch_sub(1);
      auto durability =
          config.storage.sync_writes ? storage::Durability::kSync : storage::Durability::kAsync;
      reply(HandleRequest(*store, request, who, info, durability, clock));
    });
  }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Stop(); }

StatusOr<std::unique_ptr<Node>> Node::Start(const NodeConfig& config, SecretBytes passphrase) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  COFFER_ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(config.node.listen));

  storage::ScryptParams scrypt;
  scrypt.n = static_cast<uint64_t>(config.root_of_trust.scrypt_n);
  COFFER_ASSIGN_OR_RETURN(impl->root,
                          storage::NewPassphraseRootOfTrust(std::move(passphrase), scrypt));
  storage::RocksOptions rocks;
  rocks.path = config.node.data_dir + "/db";
  rocks.block_cache_bytes = static_cast<size_t>(config.storage.block_cache_mb) << 20;
  COFFER_ASSIGN_OR_RETURN(auto kv, storage::OpenRocksKvStore(rocks));
  storage::ObjectStoreOptions store_options;
  store_options.node_id = NodeId{1};
  COFFER_ASSIGN_OR_RETURN(
      impl->store, storage::ObjectStore::Open(std::move(kv), *impl->root, impl->clock, impl->rng,
                                              store_options));

  COFFER_ASSIGN_OR_RETURN(
      impl->tls, MakeServerTlsContext(
                     TlsFiles{config.tls.ca_file, config.tls.cert_file, config.tls.key_file}));
  ServerOptions server_options;
  server_options.listen_host = listen.host;
  server_options.port = listen.port;
  server_options.max_frame_bytes = static_cast<size_t>(config.limits.max_frame_bytes);
  server_options.handshake_timeout = std::chrono::milliseconds(config.tls.handshake_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.tls.idle_timeout_ms);
  server_options.max_connections = static_cast<size_t>(config.limits.max_connections);
  Impl* raw = impl.get();
  COFFER_ASSIGN_OR_RETURN(
      impl->server,
      ClientServer::Start(impl->net_io, *impl->tls, server_options,
                          [raw](pb::Request request, ClientIdentity who, ReplyFn reply) {
                            raw->Handle(std::move(request), std::move(who), std::move(reply));
                          }));
  impl->info.node_name = config.node.name;
  impl->info.listen = listen.host + ":" + std::to_string(impl->server->port());
  impl->info.started_micros = impl->clock.WallMicros();

  // Logged before the threads start: afterwards only the store thread may
  // touch the store.
  spdlog::info("node {} (release {}) serving on {}, data in {}, {} objects, digest {}",
               config.node.name, kReleaseVersion, impl->info.listen, config.node.data_dir,
               impl->store->ObjectCount(), impl->store->StateDigest().Hex());
  impl->store_work.emplace(boost::asio::make_work_guard(impl->store_io));
  impl->net_work.emplace(boost::asio::make_work_guard(impl->net_io));
  impl->store_thread = std::thread([raw] { raw->store_io.run(); });
  impl->net_thread = std::thread([raw] {
    raw->net_io.run();
    raw->net_done.set_value();
  });
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

uint16_t Node::port() const { return impl_->server->port(); }

Status Node::RunUntilSignal() {
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) received = signal;
  });
  signal_io.run();
  spdlog::info("signal {} received; stopping", received);
  Stop();
  return Status::Ok();
}

void Node::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  // 1. No new connections or requests.
  impl_->server->Stop();
  // 2. Requests already queued for the store finish; their replies go to the
  //    network thread, so a committed write is still answered.
  impl_->store_work.reset();
  impl_->store_thread.join();
  // 3. The network thread writes those replies and closes the connections.
  //    A peer that does not read its reply gets 5 s, then is cut off.
  impl_->net_work.reset();
  if (impl_->net_done.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    spdlog::warn("connections still open 5 s after stop; closing them");
    impl_->net_io.stop();
  }
  impl_->net_thread.join();
  // 4. Release the port and close the store (the RocksDB lock goes with it).
  impl_->server.reset();
  impl_->store.reset();
  spdlog::info("node {} stopped", impl_->config.node.name);
}

}  // namespace coffer::node
