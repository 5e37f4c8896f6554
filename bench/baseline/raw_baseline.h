// coffer-bench's `--baseline raw` (bench/README.md): the raw limit the
// machine gives for the same work as a Coffer write run — the same records
// written to the same number of RocksDB instances in synced batches, with no
// network, no sealing, no indexes.
//
// clients x in_flight submitters each make records of value_size bytes under
// a key like the replication log's (storage/keys.h: L/ + be32 origin + be64
// seq). Every record goes to every instance. Each instance has one writer
// thread that writes whatever is queued as one synced WriteBatch (group
// commit), and an op completes when its record is durable on every instance:
// the durability a Coffer critical write waits for on its pair, minus the
// network.
#pragma once

#include <string>

#include "bench/load/load_result.h"
#include "common/status.h"

namespace coffer::bench {

struct RawBaselineOptions {
  LoadShape shape;
  // RocksDB instances; the number of nodes of the Coffer run compared.
  int instances = 2;
  // Instances live in <work_dir>/raw-<i> (made fresh, removed afterwards).
  // Required; put it on the disk the Coffer nodes use.
  std::string work_dir;
};

// Runs the warm-up, then the measured window (shape.duration, or until
// shape.max_ops ops completed in it). Returns system "raw", workload
// "write": ops completed in the window and their latencies (submit to
// durable on every instance), records_applied_per_second = records made
// durable per second summed over the instances, and the CPU and RSS of this
// process ("raw baseline": writers and submitters together). A failed
// write stops the run and returns its Status (UNAVAILABLE,
// RESOURCE_EXHAUSTED); INVALID_ARGUMENT for a bad shape or options.
StatusOr<LoadResult> RunRawBaseline(const RawBaselineOptions& options);

}  // namespace coffer::bench
