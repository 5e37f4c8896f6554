#include "upgrade/store_check.h"

#include <filesystem>

#include "storage/keys.h"
#include "storage/kv_store.h"
#include "storage/object_store.h"

namespace coffer::upgrade {
namespace {

Status Incompatible(const std::string& what, const BinaryProfile& binary) {
  return Status(Code::kIncompatibleVersion,
                what + "; this binary (release " + binary.versions.release.ToString() +
                    ") runs cluster versions " + binary.versions.min_cluster_version.MinorString() +
                    " to " + binary.versions.max_cluster_version().MinorString() +
                    ". Start the node with a binary that supports it; nothing was changed");
}

}  // namespace

StatusOr<StoreCheck> CheckStore(const std::string& db_path, const BinaryProfile& binary) {
  StoreCheck check;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(db_path) / "CURRENT", ec)) return check;
  check.exists = true;
  storage::RocksOptions options;
  options.path = db_path;
  options.read_only = true;
  options.block_cache_bytes = 1 << 20;
  COFFER_ASSIGN_OR_RETURN(auto kv, storage::OpenRocksKvStore(options));
  Status format = kv->Get(storage::keys::kMetaFormat, &check.store_format);
  if (!format.ok() && format.code() != Code::kNotFound) return format;
  std::string row;
  Status cluster = kv->Get(storage::keys::kClusterKey, &row);
  if (!cluster.ok() && cluster.code() != Code::kNotFound) return cluster;
  pb::StoredCluster stored;
  if (cluster.ok()) {
    if (!stored.ParseFromString(row)) return DataLoss("the store's cluster row does not parse");
    check.clustered = stored.has_created_stamp();
    check.cluster_name = stored.name();
    check.cluster_version = stored.cluster_version();
  }
  std::optional<Release> highest_fence;
  COFFER_RETURN_IF_ERROR(kv->Scan(storage::keys::kNodePrefix, "", [&](auto, auto value) {
    pb::StoredNode node;
    if (!node.ParseFromString(std::string(value)) || node.deleted()) return true;
    auto fence = Release::Parse(node.fence_version());
    if (fence && (!highest_fence || *highest_fence < *fence)) highest_fence = fence;
    return true;
  }));
  if (highest_fence) check.highest_fence = highest_fence->MinorString();

  if (!check.store_format.empty() && check.store_format != std::to_string(storage::kStoreFormat)) {
    check.verdict =
        Incompatible("the store has format " + check.store_format + ", this binary reads format " +
                         std::to_string(storage::kStoreFormat),
                     binary);
    return check;
  }
  if (!check.clustered) return check;  // standalone: no cluster version yet
  const auto version = Release::Parse(check.cluster_version);
  if (!version) {
    // Written by 0.1: only the 0.2 binary opens it (a full restart).
    if (binary.versions.release.Minor() != Release{0, 2, 0}) {
      check.verdict = Incompatible(
          "the store was written by release 0.1 (it has no cluster version): run release 0.2 on it "
          "first",
          binary);
    }
    return check;
  }
  if (!binary.versions.Supports(*version)) {
    check.verdict =
        Incompatible("the store's cluster version is " + version->MinorString(), binary);
  } else if (highest_fence && *highest_fence > binary.versions.max_cluster_version()) {
    check.verdict = Incompatible(
        "a member of this store's cluster fenced cluster version " + highest_fence->MinorString(),
        binary);
  }
  return check;
}

}  // namespace coffer::upgrade
