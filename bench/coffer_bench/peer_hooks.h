// The other systems of a coffer-bench run: `--vs-etcd` drives a 3-member
// etcd (bench/etcd/: EtcdCluster, RunEtcdLoad) and `--baseline raw`
// measures the raw RocksDB limit for the same work (bench/baseline/:
// RunRawBaseline). Both fill a LoadResult. EtcdBuilt()/RawBaselineBuilt()
// say whether this build has them (a build without them makes coffer-bench
// say "not built in this version" and exit 2).
#pragma once

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

}  // namespace coffer::bench
