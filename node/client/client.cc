#include "node/client/client.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/error.hpp>
#include <exception>
#include <optional>

#include "node/net/tls.h"

namespace coffer::node {
namespace {

using boost::asio::ip::tcp;
using boost::system::error_code;

void Wipe(std::string& buffer) {
  OPENSSL_cleanse(buffer.data(), buffer.size());
  buffer.clear();
}

// True if the server answered the handshake with an alert refusing this
// client's certificate. In TLS 1.3 that alert arrives after the client's
// handshake completed, so it shows up on the first read.
bool IsCertificateRefusal(const error_code& ec) {
  if (ec.category() != boost::asio::error::get_ssl_category()) return false;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      return true;
    default:
      return false;
  }
}

std::string Millis(CofferClient::Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

std::string FormatAddress(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

Status StatusFromResponse(const pb::Response& response) {
  if (response.code() == CodeName(Code::kOk)) return Status::Ok();
  Code code = CodeFromName(response.code());
  if (code == Code::kInternal && response.code() != CodeName(Code::kInternal)) {
    return Internal("response with unknown code '" + response.code() + "': " + response.message());
  }
  return Status(code, response.message());
}

CofferClient::CofferClient(boost::asio::ssl::context& tls, std::string address,
                           size_t max_frame_bytes)
    : stream_(io_context_, tls), address_(std::move(address)), max_frame_bytes_(max_frame_bytes) {}

CofferClient::~CofferClient() {
  Close();
  // Delivers the aborted completion of a pipelined read still pending, so no
  // handler outlives the client.
  io_context_.restart();
  io_context_.run();
}

StatusOr<std::unique_ptr<CofferClient>> CofferClient::Connect(const std::string& host,
                                                              uint16_t port,
                                                              boost::asio::ssl::context& tls,
                                                              std::chrono::milliseconds timeout,
                                                              size_t max_frame_bytes) {
  return ConnectBy(host, port, tls, Clock::now() + timeout, max_frame_bytes);
}

StatusOr<std::unique_ptr<CofferClient>> CofferClient::ConnectBy(const std::string& host,
                                                                uint16_t port,
                                                                boost::asio::ssl::context& tls,
                                                                Clock::time_point deadline,
                                                                size_t max_frame_bytes) {
  if (host.empty()) return InvalidArgument("server host is empty");
  if (max_frame_bytes == 0) return InvalidArgument("max_frame_bytes must be positive");
  std::unique_ptr<CofferClient> client;
  try {
    client.reset(new CofferClient(tls, FormatAddress(host, port), max_frame_bytes));
  } catch (const std::exception& e) {
    return Internal(std::string("creating TLS stream: ") + e.what());
  }
  COFFER_RETURN_IF_ERROR(client->DoConnect(host, port, deadline));
  return client;
}

Status CofferClient::DoConnect(const std::string& host, uint16_t port, Clock::time_point deadline) {
  timed_out_ = false;
  const Clock::time_point start = Clock::now();
  if (start >= deadline) {
    timed_out_ = true;
    return Unavailable("cannot connect to " + address_ + ": no time left before the deadline");
  }
  COFFER_RETURN_IF_ERROR(SetExpectedServerName(stream_.native_handle(), host));
  tcp::resolver resolver(io_context_);
  std::optional<error_code> outcome;
  const char* stage = "resolving";
  resolver.async_resolve(host, std::to_string(port), tcp::resolver::numeric_service,
                         [&](error_code ec, const tcp::resolver::results_type& endpoints) {
                           if (ec) {
                             outcome = ec;
                             return;
                           }
                           stage = "connecting";
                           boost::asio::async_connect(stream_.lowest_layer(), endpoints,
                                                      [&](error_code ec, const tcp::endpoint&) {
                                                        if (ec) {
                                                          outcome = ec;
                                                          return;
                                                        }
                                                        stage = "TLS handshake";
                                                        stream_.async_handshake(
                                                            boost::asio::ssl::stream_base::client,
                                                            [&](error_code ec) { outcome = ec; });
                                                      });
                         });
  // A resolver cannot interrupt getaddrinfo; a hung name lookup is bounded
  // by the system resolver's own timeout. IP literals resolve at once.
  if (!RunUntil(deadline, [&] { resolver.cancel(); })) {
    return Unavailable("cannot connect to " + address_ + ": " + stage + " timed out after " +
                       Millis(Clock::now() - start));
  }
  if (*outcome) {
    std::string detail = outcome->message();
    long verify = SSL_get_verify_result(stream_.native_handle());
    if (verify != X509_V_OK) {
      detail += std::string(" (server certificate: ") + X509_verify_cert_error_string(verify) + ")";
    }
    Close();
    if (IsCertificateRefusal(*outcome)) {
      return PermissionDenied("the node at " + address_ +
                              " refused the client certificate: " + detail);
    }
    return Unavailable("cannot connect to " + address_ + ": " + stage + " failed: " + detail);
  }
  connected_ = true;
  return Status::Ok();
}

StatusOr<pb::Response> CofferClient::Call(const pb::Request& request,
                                          std::chrono::milliseconds timeout) {
  return CallBy(request, Clock::now() + timeout);
}

StatusOr<pb::Response> CofferClient::CallBy(const pb::Request& request,
                                            Clock::time_point deadline) {
  timed_out_ = false;
  if (!connected_) return Unavailable("not connected to " + address_ + "; connect again");
  if (!outstanding_.empty()) {
    return InvalidState("request not sent: " + std::to_string(outstanding_.size()) +
                        " pipelined calls to " + address_ + " are unanswered; Receive them first");
  }
  const Clock::time_point start = Clock::now();
  if (start >= deadline) {
    timed_out_ = true;
    return Unavailable("request not sent to " + address_ + ": no time left before the deadline");
  }
  std::string payload;
  if (!request.SerializeToString(&payload)) return InvalidArgument("cannot serialize the request");
  StatusOr<std::string> frame = EncodeFrame(payload, max_frame_bytes_);
  Wipe(payload);
  if (!frame.ok()) return frame.status().Annotate("request not sent");
  out_ = std::move(frame).value();

  bool sent = false;
  std::optional<error_code> outcome;
  AsyncWriteFrame(stream_, out_, [&](error_code ec, std::size_t) {
    if (ec) {
      outcome = ec;
      return;
    }
    sent = true;
    AsyncReadFrame(stream_, in_, max_frame_bytes_,
                   [&](error_code ec, std::size_t) { outcome = ec; });
  });
  bool finished = RunUntil(deadline, [] {});
  Wipe(out_);
  if (!finished) {
    // Not sent: the request was not written whole, and the connection is
    // now closed, so the node can never read a complete frame of it.
    if (!sent) {
      return Unavailable("timed out after " + Millis(Clock::now() - start) +
                         " sending the request to " + address_);
    }
    return Status(Code::kOutcomeUnknown, "no response from " + address_ + " within " +
                                             Millis(Clock::now() - start) +
                                             "; retry with the same request id");
  }
  if (*outcome) {
    Close();
    if (IsCertificateRefusal(*outcome)) {
      return PermissionDenied("the node at " + address_ +
                              " refused the client certificate: " + outcome->message());
    }
    if (!sent) {
      return Unavailable("cannot send the request to " + address_ + ": " + outcome->message());
    }
    return Status(Code::kOutcomeUnknown, "no response from " + address_ + ": " +
                                             FrameErrorToStatus(*outcome).message() +
                                             "; retry with the same request id");
  }
  pb::Response response;
  bool parsed = response.ParseFromString(in_);
  Wipe(in_);
  if (!parsed) {
    Close();
    return Status(Code::kOutcomeUnknown,
                  "malformed response from " + address_ + "; retry with the same request id");
  }
  return response;
}

StatusOr<uint64_t> CofferClient::Send(const pb::Request& request, Clock::time_point deadline) {
  timed_out_ = false;
  if (!connected_) return Unavailable("not connected to " + address_ + "; connect again");
  const Clock::time_point start = Clock::now();
  if (start >= deadline) {
    timed_out_ = true;
    return Unavailable("request not sent to " + address_ + ": no time left before the deadline");
  }
  std::string payload;
  if (!request.SerializeToString(&payload)) return InvalidArgument("cannot serialize the request");
  if (payload.empty()) return InvalidArgument("request not sent: the request is empty");
  const uint64_t call_id = next_call_id_;
  // Protobuf parsers keep the last value of a field that appears twice, so
  // appending the id overrides any call_id in `request` without copying it.
  pb::Request tag;
  tag.set_call_id(call_id);
  tag.AppendToString(&payload);
  StatusOr<std::string> frame = EncodeFrame(payload, max_frame_bytes_);
  Wipe(payload);
  if (!frame.ok()) return frame.status().Annotate("request not sent");
  out_ = std::move(frame).value();
  ++next_call_id_;

  // Listed before the write starts: its answer may be read in the same run.
  outstanding_.insert(call_id);
  std::optional<error_code> written;
  AsyncWriteFrame(stream_, out_, [&](error_code ec, std::size_t) { written = ec; });
  // Keep taking answers while the request waits: a node at its in-flight
  // limit reads again only once its answers are taken.
  ReadAnswers();
  bool finished = RunWhile(deadline, [&] { return written.has_value(); });
  if (!finished) {
    outstanding_.erase(call_id);
    FailPipeline(Status(Code::kOutcomeUnknown, "timed out after " + Millis(Clock::now() - start) +
                                                   " sending a request to " + address_));
    Wipe(out_);
    return Unavailable("timed out after " + Millis(Clock::now() - start) +
                       " sending the request to " + address_);
  }
  Wipe(out_);
  if (*written) {
    // Not written whole, and the connection is closed: the node never acts
    // on it.
    outstanding_.erase(call_id);
    FailPipeline(Status(Code::kOutcomeUnknown,
                        "connection to " + address_ + " failed: " + written->message()));
    if (IsCertificateRefusal(*written)) {
      return PermissionDenied("the node at " + address_ +
                              " refused the client certificate: " + written->message());
    }
    return Unavailable("cannot send the request to " + address_ + ": " + written->message());
  }
  return call_id;
}

StatusOr<CofferClient::Answer> CofferClient::Receive(Clock::time_point deadline) {
  timed_out_ = false;
  auto take = [this] {
    Answer answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  };
  if (!answers_.empty()) return take();
  if (pipeline_failure_.ok()) {
    if (outstanding_.empty()) {
      return InvalidState("no pipelined call to " + address_ + " is waiting for an answer");
    }
    const Clock::time_point start = Clock::now();
    if (!connected_) {
      FailPipeline(Status(Code::kOutcomeUnknown, "the connection to " + address_ + " was closed"));
    } else {
      ReadAnswers();
      bool done = RunWhile(deadline, [&] { return !answers_.empty() || !pipeline_failure_.ok(); });
      if (!done) {
        timed_out_ = true;
        FailPipeline(Status(Code::kOutcomeUnknown, "no response from " + address_ + " within " +
                                                       Millis(Clock::now() - start)));
      } else if (!pipeline_failure_.ok()) {
        FailPipeline(pipeline_failure_);
      }
    }
    if (!answers_.empty()) return take();
  }
  if (pipeline_failure_.code() != Code::kOutcomeUnknown) return pipeline_failure_;
  return Status(Code::kOutcomeUnknown,
                pipeline_failure_.message() + "; " + std::to_string(outstanding_.size()) +
                    " calls unanswered: retry each with its request id on a new connection");
}

std::vector<uint64_t> CofferClient::unanswered_calls() const {
  return std::vector<uint64_t>(outstanding_.begin(), outstanding_.end());
}

void CofferClient::ReadAnswers() {
  if (reading_answers_ || outstanding_.empty() || !connected_) return;
  reading_answers_ = true;
  AsyncReadFrame(stream_, in_, max_frame_bytes_,
                 [this](error_code ec, std::size_t) { OnAnswerFrame(ec); });
}

void CofferClient::OnAnswerFrame(error_code ec) {
  reading_answers_ = false;
  if (!pipeline_failure_.ok()) return;
  Status failure = Status::Ok();
  if (ec) {
    if (IsCertificateRefusal(ec)) {
      failure = PermissionDenied("the node at " + address_ +
                                 " refused the client certificate: " + ec.message());
    } else {
      failure = Status(Code::kOutcomeUnknown,
                       "no response from " + address_ + ": " + FrameErrorToStatus(ec).message());
    }
  } else {
    Answer answer;
    bool parsed = answer.response.ParseFromString(in_);
    Wipe(in_);
    answer.call_id = answer.response.call_id();
    if (!parsed) {
      failure = Status(Code::kOutcomeUnknown, "malformed response from " + address_);
    } else if (outstanding_.erase(answer.call_id) == 0) {
      failure = Status(Code::kOutcomeUnknown, "response from " + address_ + " for call " +
                                                  std::to_string(answer.call_id) +
                                                  ", which is not outstanding");
    } else {
      answers_.push_back(std::move(answer));
      return ReadAnswers();
    }
  }
  // Inside a handler: record and close; the caller's run loop delivers the
  // aborted completions.
  pipeline_failure_ = std::move(failure);
  Close();
}

void CofferClient::FailPipeline(Status why) {
  if (pipeline_failure_.ok()) pipeline_failure_ = std::move(why);
  Close();
  io_context_.restart();
  io_context_.run();
}

bool CofferClient::RunWhile(Clock::time_point deadline, const std::function<bool()>& done) {
  io_context_.restart();
  while (!done()) {
    // 0: the deadline passed, or no work is left (cannot happen while the
    // operation `done` waits for is pending).
    if (io_context_.run_one_until(deadline) == 0) return done();
  }
  return true;
}

void CofferClient::Close() {
  connected_ = false;
  error_code ignored;
  stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.lowest_layer().close(ignored);
}

bool CofferClient::RunUntil(Clock::time_point deadline, const std::function<void()>& cancel) {
  io_context_.restart();
  io_context_.run_until(deadline);
  if (io_context_.stopped()) return true;
  timed_out_ = true;
  // Closing the socket aborts the pending operations; running again delivers
  // their (aborted) completions so no handler outlives this call.
  cancel();
  Close();
  io_context_.run();
  return false;
}

}  // namespace coffer::node
