#include "bench/coffer_bench/peer_hooks.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>

#include "bench/baseline/raw_baseline.h"
#include "bench/etcd/etcd_cluster.h"
#include "bench/etcd/etcd_load.h"
#include "common/limits.h"
#include "replication/core/replication_core.h"

namespace coffer::bench {
namespace {

// A fresh temp directory for one peer run, removed when this goes away.
class WorkDir {
 public:
  explicit WorkDir(const char* stem) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(stem) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

bool EtcdBuilt() { return true; }

bool RawBaselineBuilt() { return true; }

StatusOr<LoadResult> RunVsEtcdMode(const BenchOptions& options) {
  if (!EtcdAvailable()) {
    return Status(Code::kUnavailable,
                  "--vs-etcd needs /usr/bin/etcd (Debian etcd-server; scripts/install-deps.sh)");
  }
  WorkDir dir("coffer-bench-etcd");
  if (dir.path().empty()) return Status(Code::kUnavailable, "cannot make a temp directory");
  EtcdClusterOptions cluster_options;
  cluster_options.work_dir = dir.path();
  COFFER_ASSIGN_OR_RETURN(auto cluster, EtcdCluster::Start(cluster_options));
  return RunEtcdLoad(EtcdLoadOptionsFor(*cluster, options.Shape()));
}

StatusOr<LoadResult> RunRawBaselineMode(const BenchOptions& options, int stores,
                                        const LoadResult& coffer) {
  WorkDir dir("coffer-bench-raw");
  if (dir.path().empty()) return Status(Code::kUnavailable, "cannot make a temp directory");
  RawBaselineOptions raw;
  raw.shape = options.Shape();
  raw.instances = stores;
  raw.work_dir = dir.path();
  return RunRawBaseline(raw);
}

size_t CatchUpBatchRecords(size_t value_size) {
  // A log record's key and framing are small next to its value; count the
  // value only, so the byte budget never cuts a batch the core would send.
  const size_t by_bytes = std::max<size_t>(1, limits::kReplicationBatchBytes / value_size);
  return std::min<size_t>(replication::CoreOptions{}.max_batch_records, by_bytes);
}

StatusOr<RawIngestResult> RunRawIngestMode(const BenchOptions& options) {
  WorkDir dir("coffer-bench-ingest");
  if (dir.path().empty()) return Status(Code::kUnavailable, "cannot make a temp directory");
  RawIngestOptions ingest;
  ingest.records = options.catch_up;
  ingest.value_size = options.value_size;
  ingest.batch_records = CatchUpBatchRecords(options.value_size);
  ingest.work_dir = dir.path();
  return RunRawIngest(ingest);
}

}  // namespace coffer::bench
