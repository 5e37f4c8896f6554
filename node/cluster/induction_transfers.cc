#include "node/cluster/induction_transfers.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>

namespace coffer::node {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kDirPrefix = "node-";

// The candidate id of a checkpoint directory name, or 0.
uint32_t IdOfDirectory(const std::string& name) {
  if (name.rfind(kDirPrefix, 0) != 0) return 0;
  uint32_t id = 0;
  const char* first = name.data() + kDirPrefix.size();
  const char* last = name.data() + name.size();
  auto [end, ec] = std::from_chars(first, last, id);
  return ec == std::errc() && end == last ? id : 0;
}

}  // namespace

InductionTransfers::InductionTransfers(const storage::ObjectStore& store, std::string dir,
                                       std::chrono::system_clock::duration max_age)
    : store_(store), dir_(std::move(dir)), max_age_(max_age) {}

std::string InductionTransfers::CheckpointDir(uint32_t id) const {
  return dir_ + "/" + std::string(kDirPrefix) + std::to_string(id);
}

void InductionTransfers::Close(uint32_t id) {
  open_.erase(id);  // closes the checkpoint before its files go
  views_.erase(id);
  std::error_code ec;
  fs::remove_all(CheckpointDir(id), ec);
  if (ec) spdlog::warn("cannot remove {}: {}", CheckpointDir(id), ec.message());
}

Status InductionTransfers::Begin(uint32_t id, uint64_t entries_estimate) {
  Close(id);
  const std::string path = CheckpointDir(id);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Unavailable("cannot create " + dir_ + ": " + ec.message());
  COFFER_RETURN_IF_ERROR(store_.CheckpointTo(path));
  auto snapshot = store_.OpenSnapshotAt(path);
  if (!snapshot.ok()) {
    fs::remove_all(path, ec);
    return snapshot.status();
  }
  open_.emplace(id, std::move(snapshot).value());
  pb::InductionView& view = views_[id];
  view.set_node_id(id);
  view.set_entries_estimate(entries_estimate);
  return Status::Ok();
}

bool InductionTransfers::IsOpen(uint32_t id) const {
  std::error_code ec;
  return open_.contains(id) || fs::is_directory(CheckpointDir(id), ec);
}

bool InductionTransfers::Expired(uint32_t id) const {
  std::error_code ec;
  auto written = fs::last_write_time(CheckpointDir(id), ec);
  return !ec && fs::file_time_type::clock::now() - written > max_age_;
}

StatusOr<pb::SnapshotChunk> InductionTransfers::Chunk(uint32_t id, const std::string& after,
                                                      size_t max_entries) {
  if (!IsOpen(id)) {
    return PermissionDenied(
        "no induction transfer is open for node " + std::to_string(id) +
        " on this controller (a transfer is opened only by a join with a valid token, and closed "
        "once the node was heard on a link or left PENDING, left the cluster, or outlived its "
        "maximum age): to induct it again, wipe its data directory and join with a new token");
  }
  if (Expired(id)) {
    spdlog::warn("induction of node {}: its transfer outlived its maximum age; closed", id);
    Close(id);
    return PermissionDenied("the induction transfer of node " + std::to_string(id) +
                            " outlived its maximum age and was closed: to induct it again, wipe "
                            "its data directory and join with a new token");
  }
  auto it = open_.find(id);
  if (it == open_.end()) {
    // This node restarted since the transfer began.
    COFFER_ASSIGN_OR_RETURN(auto snapshot, store_.OpenSnapshotAt(CheckpointDir(id)));
    it = open_.emplace(id, std::move(snapshot)).first;
    views_[id].set_reopened(true);
    spdlog::info("induction of node {}: reopened its snapshot checkpoint, continuing {}", id,
                 after.empty() ? "from the start" : "where the candidate stopped");
  }
  pb::InductionView& view = views_[id];
  view.set_node_id(id);
  if (after.empty() && view.entries_sent() > 0) view.set_started_over(view.started_over() + 1);
  COFFER_ASSIGN_OR_RETURN(pb::SnapshotChunk chunk, it->second->ReadChunk(after, max_entries));
  view.set_entries_sent(view.entries_sent() + static_cast<uint64_t>(chunk.entries_size()));
  view.set_bytes_sent(view.bytes_sent() + chunk.ByteSizeLong());
  view.set_done(chunk.last());
  return chunk;
}

size_t InductionTransfers::Prune(const PruneRules& rules) {
  size_t closed = 0;
  auto should_close = [&](uint32_t id) { return !rules.is_member(id) || rules.finished(id); };
  std::error_code ec;
  if (fs::is_directory(dir_, ec)) {
    std::vector<fs::path> entries;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) entries.push_back(entry.path());
    for (const auto& path : entries) {
      uint32_t id = IdOfDirectory(path.filename().string());
      if (id == 0) {  // not ours, or a checkpoint a crash interrupted
        fs::remove_all(path, ec);
        continue;
      }
      bool close = should_close(id);
      if (!close) {
        close = Expired(id);
        if (close) spdlog::warn("induction of node {}: checkpoint older than its maximum age", id);
      }
      if (close) {
        Close(id);
        ++closed;
      }
    }
  }
  // Transfers whose checkpoint directory went missing.
  std::vector<uint32_t> stale;
  for (const auto& [id, view] : views_) {
    if (should_close(id)) stale.push_back(id);
  }
  for (uint32_t id : stale) {
    Close(id);
    ++closed;
  }
  return closed;
}

std::vector<pb::InductionView> InductionTransfers::Views() const {
  std::vector<pb::InductionView> views;
  for (const auto& [id, view] : views_) views.push_back(view);
  return views;
}

void InductionTransfers::CloseAll() { open_.clear(); }

}  // namespace coffer::node
