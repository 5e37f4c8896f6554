// The other systems of a coffer-bench run: `--vs-etcd` drives a 3-member
// etcd (bench/etcd/: EtcdCluster, RunEtcdLoad) and `--baseline raw`
// measures the raw RocksDB limit for the same work (bench/baseline/:
// RunRawBaseline). Both fill a LoadResult. EtcdBuilt()/RawBaselineBuilt()
// say whether this build has them (a build without them makes coffer-bench
// say "not built in this version" and exit 2).
#pragma once

#include "bench/baseline/raw_ingest.h"
#include "bench/coffer_bench/options.h"
#include "bench/load/load_result.h"
#include "common/status.h"

namespace coffer::bench {

bool EtcdBuilt();
bool RawBaselineBuilt();

// --vs-etcd: the same clients, in-flight, value size, warm-up and duration
// (options.Shape()) against etcd. system = "etcd".
StatusOr<LoadResult> RunVsEtcdMode(const BenchOptions& options);

// --baseline raw: the records of the coffer run (`coffer` holds its
// records_applied_per_second) written to `stores` RocksDB instances (one per
// node of the coffer cluster) in synced batches, no network. system = "raw".
StatusOr<LoadResult> RunRawBaselineMode(const BenchOptions& options, int stores,
                                        const LoadResult& coffer);

// --catch-up N: the raw ingest rate of N records of options.value_size
// bytes into one fresh RocksDB instance in synced batches of
// CatchUpBatchRecords (bench/baseline/raw_ingest.h).
StatusOr<RawIngestResult> RunRawIngestMode(const BenchOptions& options);
// Records per replication batch for records of `value_size` bytes: the
// replication core's max_batch_records (CoreOptions), fewer if the byte
// budget limits::kReplicationBatchBytes is reached first.
size_t CatchUpBatchRecords(size_t value_size);

}  // namespace coffer::bench
