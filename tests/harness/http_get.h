// GET on a node's HTTP monitoring endpoint (node/net/http_endpoint.h), for
// integration tests: plain HTTP/1.1 on 127.0.0.1, one request per connection,
// every socket read and write bounded by 5 s, so a frozen node costs a test
// at most that much per call.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <exception>
#include <string>

namespace coffer::integration {

struct HttpAnswer {
  int code = 0;  // 0: no answer
  std::string body;
};

// GET http://127.0.0.1:PORT/PATH: the status code and the body.
inline HttpAnswer HttpGet(uint16_t port, const std::string& path) {
  HttpAnswer answer;
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    timeval bound{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(request));
    std::string raw;
    boost::system::error_code ec;
    boost::asio::read(socket, boost::asio::dynamic_buffer(raw), ec);  // until the server closes
    // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
    if (raw.size() < 12) return answer;
    answer.code = std::stoi(raw.substr(9, 3));
    size_t body = raw.find("\r\n\r\n");
    if (body != std::string::npos) answer.body = raw.substr(body + 4);
  } catch (const std::exception&) {
    answer.code = 0;
  }
  return answer;
}

}  // namespace coffer::integration
