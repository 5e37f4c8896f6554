// Pieces shared by the node's listeners (client API, peer links, HTTP).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace coffer::node {

// Resolves host:port (numeric port, passive), then opens, binds (with
// SO_REUSEADDR) and listens on `acceptor`. Returns the bound endpoint (port
// 0 picks one). INVALID_ARGUMENT if the host does not resolve, UNAVAILABLE
// if the address cannot be bound; messages start with `listener`.
inline StatusOr<boost::asio::ip::tcp::endpoint> ListenOn(boost::asio::ip::tcp::acceptor& acceptor,
                                                         const std::string& host, uint16_t port,
                                                         std::string_view listener) {
  using boost::asio::ip::tcp;
  const std::string address = host + ":" + std::to_string(port);
  const std::string who(listener);
  boost::system::error_code ec;
  tcp::resolver resolver(acceptor.get_executor());
  tcp::resolver::results_type endpoints = resolver.resolve(
      host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return InvalidArgument(who + ": cannot resolve listen address '" + address +
                           "': " + (ec ? ec.message() : "no addresses"));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(tcp::socket::max_listen_connections, ec);
  if (ec) return Unavailable(who + ": cannot listen on " + address + ": " + ec.message());
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return Unavailable(who + ": cannot read the bound address: " + ec.message());
  return bound;
}

// After a failed accept (e.g. out of file descriptors) waits 100 ms, then
// calls `accept_again`, instead of spinning on the error.
template <typename AcceptAgain>
void RetryAcceptLater(boost::asio::steady_timer& timer, std::string_view listener,
                      const boost::system::error_code& ec, AcceptAgain accept_again) {
  spdlog::warn("{}: accept failed: {}; retrying", listener, ec.message());
  timer.expires_after(std::chrono::milliseconds(100));
  timer.async_wait([accept_again](const boost::system::error_code& wait_ec) {
    if (!wait_ec) accept_again();
  });
}

// The accept loop of a listener whose State has `mu`, `stopped`, `acceptor`
// and `io_context`: accepts connections one after another, each on a strand
// of its own, until the acceptor is closed or the state is stopped. A failed
// accept (e.g. out of file descriptors) is retried after 100 ms on
// `retry_timer` (a member of the State, so it lives as long as the loop).
// `serve(socket)` runs on the new socket's strand for every accepted
// connection and either takes it or refuses it (RefuseConnection); the loop
// then accepts the next one. `listener` names the listener in log lines and
// must outlive the loop (a string literal).
template <typename State, typename Serve>
void AcceptConnections(const std::shared_ptr<State>& state, boost::asio::steady_timer& retry_timer,
                       std::string_view listener, Serve serve) {
  state->acceptor.async_accept(
      boost::asio::make_strand(state->io_context),
      [state, &retry_timer, listener, serve](const boost::system::error_code& ec,
                                             boost::asio::ip::tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted) return;
        {
          std::lock_guard<std::mutex> lock(state->mu);
          if (state->stopped) return;
        }
        auto accept_next = [state, &retry_timer, listener, serve] {
          AcceptConnections(state, retry_timer, listener, serve);
        };
        if (ec) return RetryAcceptLater(retry_timer, listener, ec, accept_next);
        serve(std::move(socket));
        accept_next();
      });
}

// Where an accepted connection comes from: `source`, its IP address (the key
// of per-source budgets, node/net/connection_slots.h), and `text`,
// "ip:port" for log lines ("unknown" / "unknown peer" if the socket cannot
// tell).
struct RemoteAddress {
  std::string source;
  std::string text;
};
inline RemoteAddress RemoteOf(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  boost::asio::ip::tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return {"unknown", "unknown peer"};
  std::string source = remote.address().to_string();
  return {source, source + ":" + std::to_string(remote.port())};
}

// Closes an accepted connection the listener will not serve (over its limit).
inline void RefuseConnection(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

// Stops a listener whose State has `mu`, `stopped`, `acceptor`,
// `retry_timer` and `connections` (a map to shared Connections with
// executor() and Close(reason)): marks it stopped (once; later calls do
// nothing), closes the acceptor on its executor, and closes every open
// connection on its own, giving `reason`. Thread-safe.
template <typename State>
void StopListening(const std::shared_ptr<State>& state, const char* reason) {
  std::vector<typename decltype(state->connections)::mapped_type> connections;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->stopped) return;
    state->stopped = true;
    connections.reserve(state->connections.size());
    for (auto& [ptr, connection] : state->connections) connections.push_back(connection);
    state->connections.clear();
  }
  boost::asio::post(state->acceptor.get_executor(), [state] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    state->retry_timer.cancel();
  });
  for (auto& connection : connections) {
    boost::asio::post(connection->executor(), [connection, reason] { connection->Close(reason); });
  }
}

}  // namespace coffer::node
