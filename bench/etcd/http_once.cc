#include "bench/etcd/http_once.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace coffer::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

StatusOr<HttpAnswer> HttpOnce(const std::string& host, uint16_t port, const std::string& method,
                              const std::string& target, const std::string& body,
                              std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, host + ":" + std::to_string(port));
  if (!body.empty() || request.method() == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code failure;
  boost::system::error_code parse_error;
  auto address = asio::ip::make_address(host, parse_error);
  if (parse_error) return Unavailable("bad address " + host);
  // Every step shares one deadline: expires_after covers the whole chain.
  stream.expires_after(timeout);
  stream.async_connect(asio::ip::tcp::endpoint(address, port), [&](beast::error_code ec) {
    if (ec) {
      failure = ec;
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec, size_t) {
      if (ec) {
        failure = ec;
        return;
      }
      http::async_read(stream, buffer, response,
                       [&](beast::error_code ec, size_t) { failure = ec; });
    });
  });
  io.run();
  if (failure) {
    return Unavailable(method + " http://" + host + ":" + std::to_string(port) + target + ": " +
                       failure.message());
  }
  return HttpAnswer{static_cast<int>(response.result_int()), std::move(response.body())};
}

}  // namespace coffer::bench
