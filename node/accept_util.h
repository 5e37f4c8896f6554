// Pieces shared by the node's listeners (client API and peer links).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string_view>

namespace coffer::node {

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

// Closes an accepted connection the listener will not serve (over its limit).
inline void RefuseConnection(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace coffer::node
