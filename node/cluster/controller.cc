#include "node/cluster/controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "node/api/request_handler.h"
#include "storage/membership.h"
#include "upgrade/binary_profile.h"
#include "upgrade/version_driver.h"

namespace coffer::node {

InductionController::InductionController(storage::ObjectStore& store, std::string inductions_dir,
                                         const Clock& clock, uint32_t self_id)
    : store_(store),
      clock_(clock),
      self_id_(self_id),
      transfers_(std::make_unique<InductionTransfers>(store, std::move(inductions_dir))) {}

void InductionController::EnterCluster(Cluster cluster) { cluster_ = std::move(cluster); }

pb::Response InductionController::Serve(const pb::Request& request, const ClientIdentity& who) {
  auto answer = [](const auto& result, auto fill) {
    if (!result.ok()) return ResponseFor(result.status());
    pb::Response response = ResponseFor(Status::Ok());
    fill(response, *result);
    return response;
  };
  switch (request.kind_case()) {
    case pb::Request::kJoinToken:
      return answer(IssueJoinToken(request.join_token()),
                    [](pb::Response& r, const pb::JoinToken& v) { *r.mutable_join_token() = v; });
    case pb::Request::kJoin:
      return answer(Join(request.join(), who),
                    [](pb::Response& r, const pb::JoinAnswer& v) { *r.mutable_join_answer() = v; });
    case pb::Request::kSnapshotChunk: {
      auto chunk = ServeSnapshotChunk(request.snapshot_chunk(), who);
      if (!chunk.ok()) return ResponseFor(chunk.status());
      pb::Response response = ResponseFor(Status::Ok());
      *response.mutable_snapshot_chunk() = std::move(chunk).value();  // chunks are large
      return response;
    }
    default:
      return ResponseFor(InvalidArgument("not an induction request"));
  }
}

StatusOr<pb::JoinToken> InductionController::IssueJoinToken(const pb::JoinTokenRequest& request) {
  if (!cluster_) {
    return InvalidState("this node is standalone: run `coffer cluster init` before inducting");
  }
  if (request.role() == pb::NODE_READ_WRITE) {
    // Redeeming it would be refused (the candidate becomes this node's peer):
    // refuse it here, where the user can still pick another node.
    for (const pb::StoredNode& m : cluster_->members()) {
      if (m.node_id() == self_id_ && m.peer() != 0) {
        return InvalidState("this node already has a read-write peer (node " +
                            std::to_string(m.peer()) +
                            "): a read-write token makes its candidate this node's peer; issue it "
                            "on a read-write node without a peer, or issue --role read-only");
      }
    }
  }
  COFFER_ASSIGN_OR_RETURN(
      auto issued, join_tokens_.Issue(request.role(), request.ttl_seconds(), clock_.WallMicros()));
  pb::JoinToken token;
  token.set_token(issued.token);
  token.set_expires_micros(issued.expires_micros);
  token.set_role(request.role());
  return token;
}

StatusOr<pb::JoinAnswer> InductionController::Join(const pb::JoinRequest& join,
                                                   const ClientIdentity& who) {
  if (!cluster_) {
    return InvalidState("this node is standalone; a controller must be a cluster member");
  }
  if (who.common_name != join.name()) {
    return PermissionDenied("certificate CN '" + who.common_name +
                            "' does not match the joining node's name '" + join.name() + "'");
  }
  for (const pb::StoredNode& m : cluster_->members()) {
    if (m.name().name() == join.name() && InductionOver(m)) {
      // The name is in use; and its token may still be valid (tokens are
      // bound to a name, not spent by one join): it must not reopen a
      // transfer.
      return AlreadyExists("node name '" + join.name() + "' is in use by node " +
                           std::to_string(m.node_id()) +
                           ", which has joined (its induction is over and reopens for no "
                           "token): delete that node first to induct a new one under its name");
    }
  }
  const upgrade::BinaryProfile& binary = upgrade::ThisBinary();
  COFFER_ASSIGN_OR_RETURN(Release floor, upgrade::ReadVersionFloor(store_, binary.versions));
  COFFER_RETURN_IF_ERROR(CheckCompatibleRelease(join.release_version(), binary.versions, floor));
  COFFER_ASSIGN_OR_RETURN(auto redeemed,
                          join_tokens_.Redeem(join.token(), join.name(), clock_.WallMicros()));
  pb::Op op;
  auto* add = op.mutable_node_add();
  add->set_name(join.name());
  add->set_role(redeemed.role);
  add->set_subgroup(join.subgroup());
  add->set_peer_address(join.peer_address());
  add->set_client_address(join.client_address());
  add->set_release_version(join.release_version());
  // The key that verifies the candidate's records: its certificate's.
  add->set_public_key(who.public_key);
  COFFER_ASSIGN_OR_RETURN(pb::OpResult added, cluster_->write_unpaired(op, redeemed.id));
  uint32_t id = static_cast<uint32_t>(std::stoul(added.uuid()));
  cluster_->refresh_membership();
  COFFER_ASSIGN_OR_RETURN(auto cluster, store_.Cluster());
  if (!cluster) return Internal("no cluster record");
  pb::JoinAnswer answer;
  answer.set_cluster_id(cluster->cluster_id());
  answer.set_cluster_name(cluster->name());
  answer.set_node_id(id);
  answer.set_controller_id(self_id_);
  for (const auto& m : cluster_->members()) {
    if (m.node_id() != id) continue;
    answer.set_role(m.role());
    answer.set_peer(m.peer());
  }
  uint64_t estimate = store_.ObjectCount();
  for (const auto& [origin, seq] : store_.Applied()) estimate += seq;  // ~ one request id each
  answer.set_snapshot_entries_estimate(estimate);
  // The transfer this token opens; a repeated join starts a fresh one.
  COFFER_RETURN_IF_ERROR(transfers_->Begin(id, estimate));
  spdlog::info(
      "inducting node {} '{}' as {}", id, join.name(),
      redeemed.role == pb::NODE_READ_WRITE ? "this node's read-write peer" : "a read-only node");
  return answer;
}

StatusOr<pb::SnapshotChunk> InductionController::ServeSnapshotChunk(
    const pb::SnapshotChunkRequest& request, const ClientIdentity& who) {
  if (!cluster_) return InvalidState("this node is standalone");
  const uint32_t id = request.node_id();
  const pb::StoredNode* member = nullptr;
  for (const auto& m : cluster_->members()) {
    if (m.node_id() == id) member = &m;
  }
  if (member == nullptr) {
    transfers_->Close(id);
    return PermissionDenied("node " + std::to_string(id) +
                            " is not a member of this cluster: no induction transfer is open "
                            "for it");
  }
  if (member->name().name() != who.common_name) {
    return PermissionDenied("certificate CN '" + who.common_name + "' is not node " +
                            std::to_string(id));
  }
  if (InductionOver(*member)) {
    transfers_->Close(id);  // at once, not at the next prune
    return PermissionDenied("node " + std::to_string(id) + " '" + member->name().name() +
                            "' has joined (it is " +
                            std::string(pb::NodeState_Name(storage::StoredState(*member))) +
                            " or was heard on a peer link): its induction is over and no "
                            "snapshot is served to it");
  }
  uint32_t n = request.max_entries() == 0
                   ? kDefaultSnapshotChunkEntries
                   : std::min(request.max_entries(), kMaxSnapshotChunkEntries);
  return transfers_->Chunk(id, request.after(), n);  // PERMISSION_DENIED if none is open
}

bool InductionController::InductionOver(const pb::StoredNode& member) const {
  return storage::StoredState(member) != pb::NODE_PENDING ||
         (cluster_ && cluster_->heard_from(member.node_id()));
}

void InductionController::PruneInductions() {
  if (!cluster_) return;
  int64_t now = clock_.MonotonicMicros();
  if (now - last_prune_ < kPruneIntervalMicros) return;
  last_prune_ = now;
  std::map<uint32_t, const pb::StoredNode*> by_id;
  for (const auto& m : cluster_->members()) by_id[m.node_id()] = &m;
  InductionTransfers::PruneRules rules;
  rules.is_member = [&](uint32_t id) { return by_id.contains(id); };
  rules.finished = [&](uint32_t id) { return InductionOver(*by_id.at(id)); };
  if (size_t closed = transfers_->Prune(rules); closed > 0) {
    spdlog::info("closed {} finished induction transfer(s)", closed);
  }
}

}  // namespace coffer::node
