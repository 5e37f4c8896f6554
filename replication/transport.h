// Transport: how a node's replication messages reach another node. The
// consumer owns the interface (architecture.md): node/ implements it over
// mutual-TLS links, tests/sim over a simulated network with faults.
#pragma once

#include <cstdint>

#include "proto/replication.pb.h"

namespace coffer::replication {

class Transport {
 public:
  virtual ~Transport() = default;
  // Best effort and non-blocking: a message may be dropped, delayed,
  // duplicated or reordered; the protocol recovers (reports and retransmits).
  virtual void Send(uint32_t to, const pb::ReplicationMessage& message) = 0;
};

}  // namespace coffer::replication
