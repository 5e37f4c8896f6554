// The index entries a row implies: name claims (one helper for every named
// kind) and an object's locate entries. Txn::PutEntity moves them with the
// row, so no apply path writes an index entry by hand.
#include <optional>
#include <string>

#include "storage/keys.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

template <typename Entity>
std::optional<std::string> NameClaim(pb::EntityKind kind, const Entity& e, bool live) {
  if (!e.created() || !live || e.name().name().empty()) return std::nullopt;
  return keys::NameClaim(kind, e.name().name(), e.created_stamp(), e.uuid());
}

template <typename Entity>
IndexEntries NameEntries(const Entity& e) {
  IndexEntries out;
  if (auto claim = NameClaimOf(e)) out.emplace(std::move(*claim), e.uuid());
  return out;
}

}  // namespace

std::optional<std::string> NameClaimOf(const pb::StoredObject& o) {
  return NameClaim(pb::ENTITY_OBJECT, o, IsLive(o));
}
std::optional<std::string> NameClaimOf(const pb::StoredWallet& w) {
  return NameClaim(pb::ENTITY_WALLET, w, true);
}
std::optional<std::string> NameClaimOf(const pb::StoredEndpoint& e) {
  return NameClaim(pb::ENTITY_ENDPOINT, e, true);
}
std::optional<std::string> NameClaimOf(const pb::StoredNode& n) {
  return NameClaim(pb::ENTITY_NODE, n, !n.deleted());
}

IndexEntries IndexEntriesOf(const pb::StoredObject& o) {
  IndexEntries out = NameEntries(o);
  if (!o.created()) return out;
  out.emplace(std::string(keys::kIndexTypePrefix) + std::to_string(o.type()) + "/" + o.uuid(), "");
  out.emplace(std::string(keys::kIndexStatePrefix) +
                  std::to_string(merge::ToState(LifecycleOf(o))) + "/" + o.uuid(),
              "");
  for (const auto& [name, attr] : o.attributes()) {
    if (attr.value().deleted()) continue;
    out.emplace(AttrIndexPrefix(name, AttributeText(attr.value())) + o.uuid(), "");
  }
  return out;
}
IndexEntries IndexEntriesOf(const pb::StoredWallet& w) { return NameEntries(w); }
IndexEntries IndexEntriesOf(const pb::StoredEndpoint& e) { return NameEntries(e); }
IndexEntries IndexEntriesOf(const pb::StoredNode& n) { return NameEntries(n); }

}  // namespace coffer::storage
