// Internal to node/net/peer_links*.cc: the state the links of one PeerLinks
// share, and the pieces both link directions use. Not for other users.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/net/connection_slots.h"
#include "node/net/framing.h"
#include "node/net/peer_links.h"

namespace coffer::node {

namespace peer_links_internal {
class OutLink;
class InLink;  // defined in peer_in_link.cc
}  // namespace peer_links_internal

namespace peer_links_internal {

namespace ssl = boost::asio::ssl;
using boost::asio::ip::tcp;
using boost::system::error_code;

// Hello, welcome and refusal frames are small; before a peer is admitted it
// may not make the node buffer more than this.
constexpr size_t kMaxHandshakeFrameBytes = size_t{64} << 10;
// One write carries at most this many queued frames, or this many bytes
// (beyond the first frame).
constexpr size_t kMaxBatchFrames = 64;
constexpr size_t kMaxBatchBytes = size_t{1} << 20;

struct PeerCounters {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t dropped = 0;
  std::string last_error;
};

inline StatusOr<std::string> EncodePeerFrame(const pb::PeerFrame& frame, size_t max_frame_bytes) {
  std::string payload;
  if (!frame.SerializeToString(&payload)) return Internal("cannot serialize a peer frame");
  return EncodeFrame(payload, max_frame_bytes);
}

inline std::string RefusalText(const pb::PeerRefusal& refusal) {
  return (refusal.code().empty() ? std::string("INTERNAL") : refusal.code()) + ": " +
         refusal.message();
}

}  // namespace peer_links_internal

// What every link of one PeerLinks shares. The links hold it by shared_ptr,
// so it outlives PeerLinks::Stop while their handlers drain.
struct PeerLinks::State {
  using InLink = peer_links_internal::InLink;
  using OutLink = peer_links_internal::OutLink;
  using PeerCounters = peer_links_internal::PeerCounters;
  using tcp = boost::asio::ip::tcp;

  State(boost::asio::io_context& io, boost::asio::ssl::context& server,
        boost::asio::ssl::context& client, PeerLinksOptions opts, AdmitFn admit_fn,
        DeliverFn deliver_fn)
      : io_context(io),
        server_tls(server),
        client_tls(client),
        options(std::move(opts)),
        admit(std::move(admit_fn)),
        deliver(std::move(deliver_fn)),
        acceptor(boost::asio::make_strand(io)),
        accept_retry_timer(acceptor.get_executor()),
        refusal_log(options.refusal_log_interval),
        unauthenticated(options.unauthenticated) {}

  boost::asio::io_context& io_context;
  boost::asio::ssl::context& server_tls;
  boost::asio::ssl::context& client_tls;
  const PeerLinksOptions options;
  const AdmitFn admit;
  const DeliverFn deliver;

  // Used only on the acceptor's strand (after Start has set it up).
  tcp::acceptor acceptor;
  boost::asio::steady_timer accept_retry_timer;

  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> dropped_unknown{0};
  std::atomic<uint64_t> evicted{0};
  // Refusals, evictions and failed handshakes of incoming connections.
  RateLimitedLog refusal_log;

  mutable std::mutex mu;
  bool stopped = false;  // GUARDED_BY(mu)
  // The peers, as set by SetPeers (without self_id). GUARDED_BY(mu).
  std::map<uint32_t, std::string> addresses;
  // One outgoing link per peer with a valid address. GUARDED_BY(mu).
  std::map<uint32_t, std::shared_ptr<OutLink>> outgoing;
  // Open incoming connections, admitted or not; owning. GUARDED_BY(mu).
  std::unordered_map<InLink*, std::shared_ptr<InLink>> incoming;
  // Ids of incoming connections (growing) and the unfinished handshakes
  // among them; incoming connections with a verified certificate.
  // GUARDED_BY(mu).
  uint64_t next_incoming_id = 1;
  SlotTable unauthenticated;
  size_t authenticated_incoming = 0;
  // Per peer: every peer in `addresses` and every peer admitted since it was
  // last removed. GUARDED_BY(mu).
  std::map<uint32_t, PeerCounters> counters;
};

namespace peer_links_internal {

// Incoming links (peer_in_link.cc). AcceptLinks accepts connections until the
// state is stopped, each an InLink in state->incoming; the other two are for
// PeerLinks, under state->mu (AdmittedPeer) or without it (CloseInLink).
void AcceptLinks(const std::shared_ptr<PeerLinks::State>& state);
// The peer an incoming link was admitted as; 0 before admission. Call with
// state->mu held.
uint32_t AdmittedPeer(const InLink& link);
// Closes the link on its own strand, logging `reason`. Thread-safe.
void CloseInLink(const std::shared_ptr<InLink>& link, std::string reason);

}  // namespace peer_links_internal

}  // namespace coffer::node
