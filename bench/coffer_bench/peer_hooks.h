// Hook points for the other systems of a coffer-bench run, built in
// parallel (issue 12): `--vs-etcd` drives a 3-member etcd (bench/etcd/,
// RunEtcdLoad) and `--baseline raw` measures the raw RocksDB limit for the
// same work (bench/baseline/, RunRawBaseline). Both fill a LoadResult. Until
// those folders are merged, these report "not built in this version" and
// coffer-bench exits 2 before starting anything; wiring one is a change to
// peer_hooks.cc only.
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
