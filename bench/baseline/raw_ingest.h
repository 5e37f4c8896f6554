// The raw ingest rate coffer-bench's `--catch-up` compares a catch-up with
// (bench/README.md, P4 of issue 12): `records` records of `value_size`
// bytes, keyed like the replication log (storage/keys.h: L/ + be32 origin +
// be64 seq), written by one thread into one fresh RocksDB instance in
// batches of `batch_records`, each batch one synced WriteBatch, no network,
// no sealing, no indexes: what one node applying a peer's batches could do
// at best.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace coffer::bench {

struct RawIngestOptions {
  uint64_t records = 0;      // > 0
  size_t value_size = 256;   // > 0
  size_t batch_records = 0;  // > 0: records per synced batch
  // The instance lives in <work_dir>/ingest (made fresh, removed
  // afterwards). Required; put it on the disk the Coffer nodes use.
  std::string work_dir;
};

struct RawIngestResult {
  uint64_t records = 0;
  uint64_t batches = 0;
  double seconds = 0;  // open store excluded: first batch to last batch durable
  double RecordsPerSecond() const { return seconds > 0 ? records / seconds : 0; }
};

// INVALID_ARGUMENT for a zero count, value size or batch size or an empty
// work_dir; the store's error (UNAVAILABLE, RESOURCE_EXHAUSTED...) if a
// write fails.
StatusOr<RawIngestResult> RunRawIngest(const RawIngestOptions& options);

}  // namespace coffer::bench
