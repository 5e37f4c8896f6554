// PeerLinks: node-to-node links over mutual TLS 1.3, the node's
// replication::Transport.
//
// Each direction of a link is its own connection. To send to node B, this
// node dials B (the outgoing link); to receive from B, it accepts B's dial
// (the incoming link). Every frame (node/framing.h) carries one pb::PeerFrame.
//
// Outgoing link, one per peer set by SetPeers, kept up on its own:
//  TCP connect, TLS handshake (client_tls; B's certificate must come from the
//  CA and name B's host or IP), then PeerHello{cluster_id, self_id,
//  expected_node_id = B, release_version, kPeerProtocolVersion}, then B
//  answers PeerWelcome{B} or PeerRefusal{code, message}. Connect, handshake
//  and answer together must take at most handshake_timeout. Once welcomed,
//  queued messages are written as PeerFrame{message}, in Send order. Any
//  failure (refusal, I/O error, timeout, B closing) closes the connection,
//  records last_error ("CODE: message") and redials after a backoff that
//  starts at reconnect_min and doubles up to reconnect_max (reset by a
//  welcome). Queued messages wait for the next connection; a message being
//  written when a connection fails is lost (the protocol retransmits).
//
// Incoming links (listener on listen_host:port with server_tls, which
//  requires a client certificate from the CA): the TLS handshake and a
//  PeerHello (at most 64 KiB) must arrive within handshake_timeout. The hello
//  is refused unless cluster_id is ours, expected_node_id is self_id, node_id
//  is neither 0 nor self_id, the certificate's OU is "node", and the AdmitFn
//  agrees. A refusal is sent as PeerRefusal and the connection closed
//  (counted by refused_handshakes). An admitted link gets PeerWelcome, then
//  every PeerFrame{message} is handed to the DeliverFn in arrival order. A
//  newer admitted link from the same node replaces the older one (the dialer
//  has one outgoing connection per peer, so the older one is dead).
//
// Limits: frames above max_frame_bytes, empty, truncated or unparsable
// frames, and frames of the wrong kind close that connection only. An
// incoming link that receives no frame for idle_timeout, and an outgoing
// write that does not finish within idle_timeout, are closed. At most
// max_queued_messages_per_peer messages wait per outgoing link (more are
// dropped and counted), at most max_incoming_connections authenticated
// incoming connections are open. Until its TLS handshake has given a verified
// certificate, an incoming connection is unauthenticated: it must send its
// hello within unauthenticated_timeout (and handshake_timeout), and it holds
// a place in a table of its own with a total and a per-source-address budget
// (node/net/connection_slots.h: a newcomer replaces the oldest handshake of
// its own source, or of the source holding the most), so connections that
// never authenticate cannot keep the peers out. Refusals, evictions and
// failed handshakes are logged at most once per refusal_log_interval.
//
// Message payloads are never logged.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/net/connection_slots.h"
#include "node/net/tls.h"
#include "proto/replication.pb.h"
#include "replication/transport.h"

namespace coffer::node {

// Version of the peer link protocol (PeerHello.protocol_version). A hello
// with a version outside [kMinPeerProtocolVersion, kPeerProtocolVersion] is
// refused with INCOMPATIBLE_VERSION.
inline constexpr uint32_t kPeerProtocolVersion = 1;
inline constexpr uint32_t kMinPeerProtocolVersion = 1;

struct PeerLinksOptions {
  // Address to listen on for incoming links: an IP literal or a resolvable
  // host name.
  std::string listen_host = "127.0.0.1";
  // Port to listen on, 1..65535.
  uint16_t port = 0;
  // Outgoing links are dialled from this local IP (port chosen by the
  // kernel), so peers and firewalls see replication come from the address
  // the node listens on. Empty, or a wildcard (0.0.0.0, ::): the kernel
  // picks. A host name is not resolved for this: empty. Default: empty.
  std::string source_ip;
  // Must match the peers' cluster id. Required.
  std::string cluster_id;
  // This node's id, nonzero. Required.
  uint32_t self_id = 0;
  // Sent in the hello (e.g. kReleaseVersion). Required.
  std::string release_version;
  // Largest frame payload, either direction. Default: 16 MiB.
  size_t max_frame_bytes = size_t{16} << 20;
  // Outgoing: connect + TLS handshake + welcome; incoming: TLS handshake +
  // hello. Default: 5s.
  std::chrono::milliseconds handshake_timeout{5000};
  // Incoming: longest wait for the next frame (peers send a heartbeat every
  // 100 ms); outgoing: longest write. Default: 30s.
  std::chrono::milliseconds idle_timeout{30000};
  // Backoff between outgoing connection attempts. Default: 50 ms to 2 s.
  std::chrono::milliseconds reconnect_min{50};
  std::chrono::milliseconds reconnect_max{2000};
  // Messages waiting on one outgoing link. Default: 1024.
  size_t max_queued_messages_per_peer = 1024;
  // Open incoming connections with a verified certificate. Default: 256.
  size_t max_incoming_connections = 256;
  // Incoming: from accept to a verified hello. Default: 2 s.
  std::chrono::milliseconds unauthenticated_timeout{2000};
  // Incoming connections whose TLS handshake has not finished. Default: 128
  // in all, 16 per source address.
  SlotLimits unauthenticated;
  // Refusal log lines (incoming) at most once per this. Default: 10 s.
  std::chrono::milliseconds refusal_log_interval{10000};
};

class PeerLinks : public replication::Transport {
 public:
  // Decides whether an incoming peer may link: OK, or a Status whose code and
  // message are sent back in a PeerRefusal (e.g. NOT_FOUND "unknown or
  // deleted node", PERMISSION_DENIED "certificate CN does not match node
  // name", INCOMPATIBLE_VERSION). Called only after the built-in checks
  // (cluster id, expected node id, OU) passed; release_version and
  // protocol_version are for it to judge. Called on the network thread,
  // concurrently for different connections: it must be thread-safe and fast.
  // An exception it throws refuses with INTERNAL.
  using AdmitFn =
      std::function<Status(const pb::PeerHello& hello, const ClientIdentity& certificate)>;
  // Delivers a message received from the admitted peer `from`. Called on the
  // network thread (on the connection's strand: in order per incoming link,
  // concurrently for different links); must be thread-safe and must not
  // block (post the message elsewhere). Exceptions are logged and ignored.
  using DeliverFn = std::function<void(uint32_t from, pb::ReplicationMessage message)>;

  struct LinkStatus {
    uint32_t peer = 0;
    bool outgoing_connected = false;  // welcomed by the peer, able to send
    bool incoming_connected = false;  // an admitted link from the peer is open
    uint64_t sent = 0;                // messages written to the peer
    uint64_t received = 0;            // messages delivered from the peer
    uint64_t dropped = 0;             // messages to the peer dropped by Send
    std::string last_error;           // last outgoing failure, "CODE: message"; "" if none
                                      // or once the outgoing link is up again
  };

  // Binds, listens and starts accepting on `io_context`, which the caller runs
  // (one or more threads). `server_tls` must be a server context and
  // `client_tls` a client context (node/tls.h) presenting this node's
  // certificate; they, `io_context` and the callbacks' targets must outlive
  // the PeerLinks and every handler it has started. INVALID_ARGUMENT for bad
  // options or missing callbacks or an unresolvable host, UNAVAILABLE if the
  // address cannot be bound. No peer is dialed until SetPeers.
  static StatusOr<std::unique_ptr<PeerLinks>> Start(boost::asio::io_context& io_context,
                                                    boost::asio::ssl::context& server_tls,
                                                    boost::asio::ssl::context& client_tls,
                                                    PeerLinksOptions options, AdmitFn admit,
                                                    DeliverFn deliver);

  // Stops (see Stop()).
  ~PeerLinks() override;
  PeerLinks(const PeerLinks&) = delete;
  PeerLinks& operator=(const PeerLinks&) = delete;

  // Sets the peers to dial: node id -> "host:port" ("[v6]:port" for IPv6
  // literals). Thread-safe. New peers are dialed at once; a peer whose
  // address changed is redialed at the new address; links to removed peers
  // are closed, in both directions, and their status is forgotten. An entry
  // for self_id is ignored; an unparsable address shows as last_error of that
  // peer and is never dialed.
  void SetPeers(std::map<uint32_t, std::string> addresses);

  // Queues `message` on the outgoing link to `to`. Thread-safe and
  // non-blocking. The message is dropped (and counted) if `to` is not a peer
  // (dropped_unknown_peer), its queue is full, or it does not fit in a frame
  // (LinkStatus::dropped); the protocol retransmits.
  void Send(uint32_t to, const pb::ReplicationMessage& message) override;

  // Closes the listener and every link. Thread-safe and idempotent. It
  // returns at once; the closing runs on the io_context, after which the
  // links hold no more work there. Later Sends are dropped. A DeliverFn or
  // AdmitFn call already running may still finish.
  void Stop();

  // One entry per peer set by SetPeers or admitted since, by peer id.
  // Thread-safe.
  std::vector<LinkStatus> LinkStatuses() const;

  // The port listened on.
  uint16_t port() const { return port_; }

  // Counters, thread-safe, for tests and metrics.
  // Incoming hellos refused with a PeerRefusal.
  uint64_t refused_handshakes() const;
  // Incoming connections that failed or timed out before a valid hello (TLS
  // failures included).
  uint64_t failed_handshakes() const;
  // Messages sent to node ids that are not peers.
  uint64_t dropped_unknown_peer() const;

  // Shared with the links and pending handlers, so that they can outlive the
  // PeerLinks object safely. Defined in peer_links.cc.
  struct State;

 private:
  PeerLinks(std::shared_ptr<State> state, uint16_t port);

  std::shared_ptr<State> state_;
  uint16_t port_;
};

}  // namespace coffer::node
