// Reads and views: objects (Get, Locate), wallets, endpoints with their
// grants, name conflicts, the cluster row and its members, as clients and
// the node see them (effective names, states, no sealed material).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "storage/crypto.h"
#include "storage/keys.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {

StatusOr<pb::ObjectView> ObjectStore::ViewObject(const pb::StoredObject& o,
                                                 bool include_material) const {
  pb::ObjectView v;
  v.set_uuid(o.uuid());
  v.set_type(o.type());
  v.set_supplied_name(o.name().name());
  if (!o.name().name().empty()) {
    bool holds = true;
    if (IsLive(o)) {
      COFFER_ASSIGN_OR_RETURN(holds, HoldsName(pb::ENTITY_OBJECT, o.name().name(), o.uuid()));
    }
    v.set_name(holds ? o.name().name() : merge::GeneratedName(o.name().name(), o.uuid()));
    v.set_name_in_conflict(!holds);
  }
  v.set_state(StateAt(o, clock_.WallMicros()));
  for (const auto& [name, attr] : o.attributes()) {
    if (!attr.value().deleted()) (*v.mutable_attributes())[name] = attr.value();
  }
  v.set_material_length(o.material_length());
  v.set_revocation_reason(o.revocation_reason());
  v.set_comment(o.comment());
  v.set_created_micros(o.created_stamp().hlc().wall_micros());
  if (include_material) {
    if (o.stage() == pb::STAGE_DESTROYED) {
      return InvalidState("object " + o.uuid() + " is " + std::string(merge::StateName(v.state())) +
                          "; its material is erased");
    }
    if (!IsExtractable(o)) {
      return PermissionDenied("object " + o.uuid() + " is not extractable");
    }
    COFFER_ASSIGN_OR_RETURN(SecretBytes material,
                            sealer_->Open(o.sealed_material(), ObjectAad(o.uuid())));
    v.set_material(material.reveal());
  }
  return v;
}

StatusOr<pb::ObjectView> ObjectStore::Get(const std::string& uuid, bool include_material) const {
  if (!Uuid::IsValid(uuid)) return InvalidArgument("'" + uuid + "' is not a uuid");
  COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, uuid));
  if (!o || !o->created()) return NotFound("no object " + uuid);
  return ViewObject(*o, include_material);
}

StatusOr<std::vector<pb::ObjectView>> ObjectStore::Locate(
    const pb::LocateRequest& q,
    const std::function<StatusOr<bool>(const std::string& uuid)>& visible) const {
  uint32_t limit = q.limit() == 0 ? options_.default_locate_limit : q.limit();
  std::vector<std::string> candidates;
  auto collect_suffix = [&](const std::string& prefix) -> Status {
    return kv_->Scan(prefix, "", [&](auto key, auto) {
      candidates.emplace_back(key.substr(prefix.size()));
      return true;
    });
  };
  if (!q.name().empty()) {
    COFFER_ASSIGN_OR_RETURN(auto uuid, ResolveName(pb::ENTITY_OBJECT, q.name()));
    if (uuid) candidates.push_back(*uuid);
  } else if (q.type() != pb::OBJECT_TYPE_UNSPECIFIED) {
    COFFER_RETURN_IF_ERROR(
        collect_suffix(std::string(keys::kIndexTypePrefix) + std::to_string(q.type()) + "/"));
  } else if (q.state() != pb::STATE_UNSPECIFIED) {
    auto state_prefix = [](pb::State state) {
      return std::string(keys::kIndexStatePrefix) + std::to_string(state) + "/";
    };
    COFFER_RETURN_IF_ERROR(collect_suffix(state_prefix(q.state())));
    if (q.state() == pb::DESTROYED) {
      // Both destroyed states, merged back into uuid order.
      COFFER_RETURN_IF_ERROR(collect_suffix(state_prefix(pb::DESTROYED_COMPROMISED)));
      std::sort(candidates.begin(), candidates.end());
    } else if (q.state() == pb::DEACTIVATED) {
      // Stored as PRE_ACTIVE or ACTIVE, deactivated by a date now passed
      // (StateAt): the filter below keeps those.
      COFFER_RETURN_IF_ERROR(collect_suffix(state_prefix(pb::PRE_ACTIVE)));
      COFFER_RETURN_IF_ERROR(collect_suffix(state_prefix(pb::ACTIVE)));
      std::sort(candidates.begin(), candidates.end());
    }
  } else if (!q.attributes().empty()) {
    // Deterministic choice of the index: the smallest attribute name.
    std::map<std::string, std::string> sorted(q.attributes().begin(), q.attributes().end());
    COFFER_RETURN_IF_ERROR(
        collect_suffix(AttrIndexPrefix(sorted.begin()->first, sorted.begin()->second)));
  } else {
    COFFER_RETURN_IF_ERROR(collect_suffix(std::string(keys::kObjectPrefix)));
  }
  std::vector<pb::ObjectView> out;
  for (const auto& uuid : candidates) {
    if (out.size() >= limit) break;
    if (!q.after().empty() && uuid <= q.after()) continue;  // an earlier page had it
    COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, uuid));
    if (!o || !o->created()) continue;
    if (q.type() != pb::OBJECT_TYPE_UNSPECIFIED && o->type() != q.type()) continue;
    if (q.state() != pb::STATE_UNSPECIFIED &&
        !StateMatches(q.state(), StateAt(*o, clock_.WallMicros()))) {
      continue;
    }
    bool match = true;
    for (const auto& [name, value] : q.attributes()) {
      auto it = o->attributes().find(name);
      if (it == o->attributes().end() || it->second.value().deleted() ||
          AttributeText(it->second.value()) != value) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    if (visible) {
      COFFER_ASSIGN_OR_RETURN(bool shown, visible(uuid));
      if (!shown) continue;
    }
    COFFER_ASSIGN_OR_RETURN(pb::ObjectView view, ViewObject(*o, false));
    out.push_back(std::move(view));
  }
  return out;
}

StatusOr<pb::WalletView> ObjectStore::ViewWallet(const pb::StoredWallet& w,
                                                 bool with_members) const {
  pb::WalletView v;
  v.set_uuid(w.uuid());
  v.set_supplied_name(w.name().name());
  COFFER_ASSIGN_OR_RETURN(bool holds, HoldsName(pb::ENTITY_WALLET, w.name().name(), w.uuid()));
  v.set_name(holds ? w.name().name() : merge::GeneratedName(w.name().name(), w.uuid()));
  v.set_state(w.confirmed() ? "ACTIVE" : "PENDING");
  v.set_description(w.description());
  if (!with_members) return v;
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> members, WalletMembers(w.uuid()));
  for (std::string& member : members) *v.add_members() = std::move(member);
  for (const std::string& member : v.members()) {
    COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, member));
    if (!o) continue;
    auto next = o->attributes().find("replaced_by");
    if (next != o->attributes().end() && !next->second.value().deleted()) {
      (*v.mutable_replaced_by())[member] = next->second.value().text();
    }
  }
  return v;
}

StatusOr<std::vector<pb::WalletView>> ObjectStore::ListWallets() const {
  std::vector<pb::StoredWallet> wallets;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredWallet>(*kv_, keys::kWalletPrefix, [&](auto, const pb::StoredWallet& w) {
        if (w.created()) wallets.push_back(w);
        return true;
      }));
  std::vector<pb::WalletView> out;
  for (const auto& w : wallets) {
    COFFER_ASSIGN_OR_RETURN(pb::WalletView v, ViewWallet(w));
    out.push_back(std::move(v));
  }
  return out;
}

StatusOr<std::vector<std::string>> ObjectStore::WalletMembers(
    const std::string& wallet_uuid) const {
  std::vector<std::string> members;
  const std::string prefix = keys::MemberPrefix(wallet_uuid);
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredMember>(*kv_, prefix, [&](auto key, const pb::StoredMember& m) {
        if (m.present()) members.emplace_back(key.substr(prefix.size()));
        return true;
      }));
  return members;
}

StatusOr<bool> ObjectStore::InWallet(const std::string& wallet_uuid,
                                     const std::string& object_uuid) const {
  COFFER_ASSIGN_OR_RETURN(
      auto member, LoadMessage<pb::StoredMember>(*kv_, keys::Member(wallet_uuid, object_uuid)));
  return member && member->present();
}

StatusOr<pb::WalletView> ObjectStore::GetWallet(const std::string& name_or_uuid,
                                                bool with_members) const {
  COFFER_ASSIGN_OR_RETURN(std::string uuid, ResolveWallet(name_or_uuid));
  COFFER_ASSIGN_OR_RETURN(auto w, LoadMessage<pb::StoredWallet>(*kv_, keys::Wallet(uuid)));
  if (!w) return NotFound("no wallet '" + name_or_uuid + "'");
  return ViewWallet(*w, with_members);
}

StatusOr<std::vector<pb::EndpointView>> ObjectStore::ListEndpoints() const {
  std::vector<pb::EndpointView> out;
  Status inner = Status::Ok();
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::kEndpointPrefix, "", [&](auto key, auto value) {
    pb::StoredEndpoint e;
    if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      inner = DataLoss("cannot parse endpoint row " + std::string(key));
      return false;
    }
    if (!e.created()) return true;
    pb::EndpointView v;
    v.set_uuid(e.uuid());
    v.set_certificate_subject(e.certificate_subject());
    v.set_description(e.description());
    if (!e.public_key_sha256().empty()) v.set_public_key_sha256(ToHex(e.public_key_sha256()));
    auto holds = HoldsName(pb::ENTITY_ENDPOINT, e.name().name(), e.uuid());
    if (!holds.ok()) {
      inner = holds.status();
      return false;
    }
    v.set_name(*holds ? e.name().name() : merge::GeneratedName(e.name().name(), e.uuid()));
    out.push_back(std::move(v));
    return true;
  }));
  COFFER_RETURN_IF_ERROR(inner);
  for (auto& v : out) {
    std::string prefix = keys::GrantPrefix(v.uuid());
    COFFER_RETURN_IF_ERROR(
        ForEachRow<pb::StoredGrant>(*kv_, prefix, [&](auto key, const pb::StoredGrant& g) {
          if (g.access() != pb::ACCESS_NONE) {
            auto* gv = v.add_grants();
            gv->set_wallet(std::string(key.substr(prefix.size())));
            gv->set_access(g.access());
            gv->set_manage_wallet(g.manage_wallet());
          }
          return true;
        }));
    for (auto& gv : *v.mutable_grants()) {
      // A grant may arrive before its wallet's creation (another origin):
      // then the grant is shown without a wallet name.
      auto w = GetWallet(gv.wallet());
      if (w.ok()) {
        gv.set_wallet_name(w->name());
      } else if (w.status().code() != Code::kNotFound) {
        return w.status();
      }
    }
  }
  return out;
}

StatusOr<std::vector<pb::ConflictView>> ObjectStore::ListConflicts() const {
  std::vector<pb::ConflictView> out;
  std::string current_group;
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::kNamePrefix, "", [&](auto key, auto value) {
    size_t end = key.find('\0');
    std::string_view group = key.substr(0, end + 1);
    if (group == current_group) {
      pb::ConflictView c;
      std::string_view after_prefix = group.substr(keys::kNamePrefix.size());
      c.set_kind(static_cast<pb::EntityKind>(after_prefix[0] - '0'));
      c.set_uuid(std::string(value));
      c.set_supplied_name(std::string(after_prefix.substr(2, after_prefix.size() - 3)));
      c.set_generated_name(merge::GeneratedName(c.supplied_name(), c.uuid()));
      out.push_back(std::move(c));
    } else {
      current_group = std::string(group);
    }
    return true;
  }));
  return out;
}

StatusOr<std::optional<pb::StoredCluster>> ObjectStore::Cluster() const {
  return LoadMessage<pb::StoredCluster>(*kv_, std::string(keys::kClusterKey));
}

StatusOr<std::vector<pb::StoredNode>> ObjectStore::Members() const {
  std::vector<pb::StoredNode> nodes;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredNode>(*kv_, keys::kNodePrefix, [&](auto, const pb::StoredNode& n) {
        if (n.created() && !n.deleted()) nodes.push_back(n);
        return true;
      }));
  const std::vector<pb::StoredNode> recorded = nodes;
  for (auto& n : nodes) {
    // A deleted peer leaves its partner unpaired (it may induct a new peer).
    bool peer_present = false;
    for (const auto& other : recorded) peer_present |= other.node_id() == n.peer();
    if (!peer_present) n.set_peer(0);
    // A pair is recorded on the node that joined; show it on both sides. A
    // read-only node that inducted a read-write peer is read-write from then on.
    if (n.peer() == 0) {
      for (const auto& other : recorded) {
        if (other.peer() == n.node_id()) {
          n.set_peer(other.node_id());
          n.set_role(pb::NODE_READ_WRITE);
        }
      }
    }
    COFFER_ASSIGN_OR_RETURN(bool holds, HoldsName(pb::ENTITY_NODE, n.name().name(), n.uuid()));
    if (!holds) n.mutable_name()->set_name(merge::GeneratedName(n.name().name(), n.uuid()));
  }
  return nodes;
}

StatusOr<std::map<uint32_t, std::string>> ObjectStore::OriginKeys() const {
  std::map<uint32_t, std::string> keys;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredNode>(*kv_, keys::kNodePrefix, [&](auto, const pb::StoredNode& n) {
        if (n.created() && !n.public_key().empty()) keys[n.node_id()] = n.public_key();
        return true;
      }));
  return keys;
}

}  // namespace coffer::storage
