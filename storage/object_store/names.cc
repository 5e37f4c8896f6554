// Name resolution over the name index: who holds a supplied name (the first
// claim of its group), generated names "<supplied>~<uuid>" of the losing
// claimants, and wallets and endpoints addressed by name or uuid.
#include <string>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {

StatusOr<std::optional<pb::StoredObject>> ObjectStore::ReadObject(const KvReader& r,
                                                                  const std::string& uuid) const {
  return LoadMessage<pb::StoredObject>(r, keys::Object(uuid));
}

StatusOr<bool> ObjectStore::HoldsName(pb::EntityKind kind, const std::string& supplied,
                                      const std::string& uuid) const {
  if (supplied.empty()) return false;
  std::optional<std::string> first;
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::NameGroup(kind, supplied), "", [&](auto, auto value) {
    first = std::string(value);
    return false;
  }));
  return first && *first == uuid;
}

StatusOr<std::optional<std::string>> ObjectStore::ResolveName(pb::EntityKind kind,
                                                              const std::string& name) const {
  std::optional<std::string> holder;
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::NameGroup(kind, name), "", [&](auto, auto value) {
    holder = std::string(value);
    return false;
  }));
  if (holder) return holder;
  // A generated name "<supplied>~<uuid>" names the losing claimant directly.
  constexpr size_t kUuidLen = 36;
  if (name.size() > kUuidLen + 1 && name[name.size() - kUuidLen - 1] == '~') {
    std::string uuid = name.substr(name.size() - kUuidLen);
    std::string supplied = name.substr(0, name.size() - kUuidLen - 1);
    if (!Uuid::IsValid(uuid)) return std::optional<std::string>();
    std::string group = keys::NameGroup(kind, supplied);
    bool claims = false;
    COFFER_RETURN_IF_ERROR(kv_->Scan(group, "", [&](auto, auto value) {
      if (value == uuid) claims = true;
      return !claims;
    }));
    if (claims) return std::optional<std::string>(uuid);
  }
  return std::optional<std::string>();
}

StatusOr<std::string> ObjectStore::ResolveWallet(const std::string& name_or_uuid) const {
  if (Uuid::IsValid(name_or_uuid)) {
    COFFER_ASSIGN_OR_RETURN(auto w,
                            LoadMessage<pb::StoredWallet>(*kv_, keys::Wallet(name_or_uuid)));
    if (w && w->created()) return name_or_uuid;
  }
  COFFER_ASSIGN_OR_RETURN(auto uuid, ResolveName(pb::ENTITY_WALLET, name_or_uuid));
  if (!uuid) return NotFound("no wallet '" + name_or_uuid + "'");
  return *uuid;
}

StatusOr<std::string> ObjectStore::ResolveEndpoint(const std::string& name_or_uuid) const {
  if (Uuid::IsValid(name_or_uuid)) {
    COFFER_ASSIGN_OR_RETURN(auto e,
                            LoadMessage<pb::StoredEndpoint>(*kv_, keys::Endpoint(name_or_uuid)));
    if (e && e->created()) return name_or_uuid;
  }
  COFFER_ASSIGN_OR_RETURN(auto uuid, ResolveName(pb::ENTITY_ENDPOINT, name_or_uuid));
  if (!uuid) return NotFound("no endpoint '" + name_or_uuid + "'");
  return *uuid;
}

}  // namespace coffer::storage
