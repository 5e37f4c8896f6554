// Node: the composition root of one Coffer node. Opens the store, starts the
// client API, and owns the threads:
//  - a network thread running the Asio io_context (TLS, framing, timers);
//  - a store thread, the ObjectStore's single owner: every request is posted
//    there, so RocksDB work never blocks the network thread.
// At most limits.max_queued_requests requests wait for the store thread;
// beyond that clients get RESOURCE_EXHAUSTED at once.
#pragma once

#include <memory>

#include "common/clock.h"
#include "common/rng.h"
#include "common/status.h"
#include "node/config/config.h"

namespace coffer::node {

// What is nondeterministic in a node, injected so tests can fix it. Each
// must outlive the node; the clock is read and the rng drawn from on the
// node's threads (not concurrently: the store thread, and Start).
struct NodeEnv {
  const Clock* clock = nullptr;  // Default (null): the system clock
  Rng* rng = nullptr;            // Default (null): SystemRng
};

class Node {
 public:
  // Opens the data directory (creating the data key on first start), binds the
  // listen address and starts serving. The passphrase unwraps the data key.
  // UNAVAILABLE if the address is taken or the store is locked by another
  // process; PERMISSION_DENIED for a wrong passphrase.
  static StatusOr<std::unique_ptr<Node>> Start(const NodeConfig& config, SecretBytes passphrase,
                                               NodeEnv env = {});

  // Blocks until SIGINT or SIGTERM, then stops serving. Returns the first
  // fatal error, or OK after a signal. A node that reads a membership
  // without itself (it was deleted) logs that once, serves no data from then
  // on and returns INVALID_STATE.
  Status RunUntilSignal();
  // Stops serving and joins the threads. Idempotent.
  void Stop();
  // The bound client API port.
  uint16_t port() const;

  ~Node();

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coffer::node
