#include "bench/coffer_bench/peer_hooks.h"

namespace coffer::bench {

// TODO(merge): bench/etcd/ (RunEtcdLoad) is built by another change; the
// lead wires it here: return true, and call RunEtcdLoad below.
bool EtcdBuilt() { return false; }

// TODO(merge): bench/baseline/ (RunRawBaseline) likewise.
bool RawBaselineBuilt() { return false; }

StatusOr<LoadResult> RunVsEtcdMode(const BenchOptions& options) {
  return Status(Code::kFeatureNotActive, "--vs-etcd is not built in this version");
}

StatusOr<LoadResult> RunRawBaselineMode(const BenchOptions& options, int stores,
                                        const LoadResult& coffer) {
  return Status(Code::kFeatureNotActive, "--baseline raw is not built in this version");
}

}  // namespace coffer::bench
