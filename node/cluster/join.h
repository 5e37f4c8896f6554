// The candidate side of induction (`coffer node start --join HOST:PORT
// --token T`): joins a cluster through a controller and installs its
// snapshot, before the node starts serving.
//
//  1. A fresh data directory (no records, no cluster) is required; anything
//     else is INVALID_STATE and nothing is sent.
//  2. JoinRequest to the controller's client API, with this node's
//     certificate (OU "node", CN = node.name): the controller checks the
//     token, the release and the pairing rule and adds the node (NodeAdded).
//  3. The identity (node id, cluster id) is written to the data directory.
//  4. Snapshot chunks are fetched in key order and installed, each chunk in
//     one batch with its resume point; the last one checks the controller's
//     digest.
// A join interrupted in step 4 resumes from the last installed chunk when run
// again, through the same controller, which keeps the transfer's snapshot as
// a checkpoint on disk until the node links to it (node/induction_transfers.h)
// and so also resumes after its own restart. While the controller is
// unreachable (UNAVAILABLE, or a chunk request's outcome unknown: fetching a
// chunk changes nothing, so asking again is safe), the candidate retries with
// backoff for `controller_retry_for`, then gives up (run it again to resume).
// A node that already finished its join starts normally (--join is ignored).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/secret.h"
#include "common/status.h"
#include "node/config/config.h"

namespace coffer::node {

struct JoinOptions {
  std::string controller;  // the controller's client API, "host:port"
  std::string token;       // from `coffer cluster join-token` on the controller
  std::chrono::milliseconds call_timeout{30000};
  // How long to keep retrying while the controller cannot be reached.
  std::chrono::milliseconds controller_retry_for{std::chrono::minutes(5)};
  // Snapshot entries per chunk (0: the controller's default, 512; it caps
  // this at 4096). Smaller chunks lose less to an interruption.
  uint32_t chunk_entries = 0;
};

struct JoinProgress {
  uint32_t node_id = 0;
  uint64_t chunks = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  // The controller's estimate of all entries (0: unknown, e.g. on a resumed
  // join); entries may pass it.
  uint64_t entries_estimate = 0;
  double seconds = 0;  // since this run of the transfer started
  bool done = false;
};

// One progress report: on a terminal a bar redrawn in place ("\r...", no
// newline until done); otherwise a plain line. Shows entries (of the
// estimate), bytes, rate and, with an estimate, the ETA.
std::string RenderJoinProgress(const JoinProgress& progress, bool terminal);

// Runs steps 1 to 4; `progress` (optional) is called after each chunk.
Status JoinCluster(const NodeConfig& config, const SecretBytes& passphrase,
                   const JoinOptions& options,
                   const std::function<void(const JoinProgress&)>& progress);

}  // namespace coffer::node
