// Induction, sending side: a consistent snapshot of the store (over a KvStore
// snapshot, or over a checkpoint directory that outlives a restart), read as
// entity visits or as checksummed chunks with material opened for transfer.
#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <functional>
#include <string>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

// Bytes `entry` adds to an encoded SnapshotChunk (tag, length, payload).
size_t EncodedEntryBytes(const pb::SnapshotEntry& entry) {
  const size_t payload = entry.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(payload) + payload;
}

class KvStoreSnapshot final : public StoreSnapshot {
 public:
  KvStoreSnapshot(std::unique_ptr<KvReader> reader, const Sealer& sealer, HlcStamp hlc)
      : reader_(std::move(reader)), sealer_(sealer), hlc_(hlc) {}

  StatusOr<VersionVector> Applied() const override { return ReadAppliedVector(*reader_); }

  Status ForEachObject(const std::function<bool(const pb::StoredObject&, const SecretBytes&)>&
                           visit) const override {
    Status inner = Status::Ok();
    COFFER_RETURN_IF_ERROR(reader_->Scan(keys::kObjectPrefix, "", [&](auto, auto value) {
      pb::StoredObject o;
      if (!o.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        inner = DataLoss("cannot parse object row");
        return false;
      }
      SecretBytes material;
      if (!o.sealed_material().empty()) {
        auto opened = sealer_.Open(o.sealed_material(), ObjectAad(o.uuid()));
        if (!opened.ok()) {
          inner = opened.status();
          return false;
        }
        material = std::move(opened).value();
      }
      return visit(o, material);
    }));
    return inner;
  }

  StatusOr<pb::SnapshotChunk> ReadChunk(const std::string& after, size_t max_entries,
                                        size_t max_bytes) const override {
    // Entity prefixes in key order, so `after` orders the whole snapshot.
    static constexpr std::string_view kPrefixes[] = {keys::kClusterKey.substr(0, 2),
                                                     keys::kEndpointPrefix,
                                                     keys::kGrantPrefix,
                                                     keys::kNodePrefix,
                                                     keys::kObjectPrefix,
                                                     keys::kRequestPrefix,
                                                     keys::kWalletPrefix,
                                                     keys::kMemberPrefix};
    pb::SnapshotChunk chunk;
    chunk.set_after(after);
    std::string start = after.empty() ? "" : after + std::string(1, '\0');
    Status inner = Status::Ok();
    bool full = false;
    size_t bytes = 0;      // encoded entries so far
    std::string last_key;  // of the last entry in the chunk
    for (std::string_view prefix : kPrefixes) {
      if (full) break;
      std::string from = std::max(std::string(prefix), start);
      COFFER_RETURN_IF_ERROR(reader_->Scan(prefix, from, [&](auto key, auto value) {
        pb::SnapshotEntry entry;
        Status s = AddEntry(prefix, key, value, &entry);
        if (!s.ok()) {
          inner = s;
          return false;
        }
        // Cut by bytes too: an entry that would take the chunk over the
        // budget starts the next chunk (one larger than the budget goes alone).
        const size_t entry_bytes = EncodedEntryBytes(entry);
        if (chunk.entries_size() > 0 && bytes + entry_bytes > max_bytes) {
          chunk.set_resume_after(last_key);
          full = true;
          return false;
        }
        *chunk.add_entries() = std::move(entry);
        bytes += entry_bytes;
        last_key = std::string(key);
        if (static_cast<size_t>(chunk.entries_size()) >= max_entries) {
          chunk.set_resume_after(last_key);
          full = true;
          return false;
        }
        return true;
      }));
      COFFER_RETURN_IF_ERROR(inner);
    }
    if (!full) {
      chunk.set_last(true);
      chunk.set_resume_after(after);
      std::map<uint32_t, std::string> heads;
      COFFER_ASSIGN_OR_RETURN(VersionVector applied, ReadAppliedVector(*reader_, &heads));
      for (const auto& [origin, seq] : applied) {
        (*chunk.mutable_applied()->mutable_applied())[origin] = seq;
        (*chunk.mutable_chain_heads())[origin] = heads[origin];
      }
      std::string digest;
      Status s = reader_->Get(keys::kMetaDigest, &digest);
      if (!s.ok() && s.code() != Code::kNotFound) return s;
      chunk.set_digest(s.ok() ? digest : std::string(32, '\0'));
      chunk.mutable_hlc()->set_wall_micros(hlc_.wall_micros);
      chunk.mutable_hlc()->set_logical(hlc_.logical);
    }
    chunk.set_checksum(SnapshotChunkChecksum(chunk));
    return chunk;
  }

  Status ForEachWallet(const std::function<bool(const pb::StoredWallet&)>& visit) const override {
    return ForEachRow<pb::StoredWallet>(keys::kWalletPrefix, visit);
  }
  Status ForEachEndpoint(
      const std::function<bool(const pb::StoredEndpoint&)>& visit) const override {
    return ForEachRow<pb::StoredEndpoint>(keys::kEndpointPrefix, visit);
  }
  Status ForEachMember(const std::function<bool(const std::string&, const std::string&,
                                                const pb::StoredMember&)>& visit) const override {
    return ForEachPair<pb::StoredMember>(keys::kMemberPrefix, visit);
  }
  Status ForEachGrant(const std::function<bool(const std::string&, const std::string&,
                                               const pb::StoredGrant&)>& visit) const override {
    return ForEachPair<pb::StoredGrant>(keys::kGrantPrefix, visit);
  }

 private:
  template <typename Msg>
  Status ForEachRow(std::string_view prefix, const std::function<bool(const Msg&)>& visit) const {
    return ForEachRowWithKey<Msg>(prefix, [&](std::string_view, const Msg& m) { return visit(m); });
  }

  Status AddEntry(std::string_view prefix, std::string_view key, std::string_view value,
                  pb::SnapshotEntry* entry) const {
    auto parse = [&](google::protobuf::Message* m) -> Status {
      if (!m->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return DataLoss("cannot parse row " + std::string(key));
      }
      return Status::Ok();
    };
    auto element = [&](pb::SnapshotElement* e) {
      std::string_view rest = key.substr(prefix.size());
      size_t slash = rest.find('/');
      e->set_first(std::string(rest.substr(0, slash)));
      e->set_second(slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1)));
    };
    if (prefix == keys::kObjectPrefix) {
      pb::StoredObject* o = entry->mutable_object();
      COFFER_RETURN_IF_ERROR(parse(o));
      if (!o->sealed_material().empty()) {
        COFFER_ASSIGN_OR_RETURN(SecretBytes material,
                                sealer_.Open(o->sealed_material(), ObjectAad(o->uuid())));
        entry->set_material(material.reveal());
      }
      o->clear_sealed_material();
      o->clear_create_origin();
      o->clear_create_seq();
    } else if (prefix == keys::kWalletPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_wallet()));
      entry->mutable_wallet()->clear_confirmed();  // node-local
    } else if (prefix == keys::kEndpointPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_endpoint()));
    } else if (prefix == keys::kMemberPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_member()->mutable_member()));
      element(entry->mutable_member());
    } else if (prefix == keys::kGrantPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_grant()->mutable_grant()));
      element(entry->mutable_grant());
    } else if (prefix == keys::kNodePrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_node()));
    } else if (prefix == keys::kRequestPrefix) {
      entry->mutable_request()->set_request_id(std::string(key.substr(prefix.size())));
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_request()->mutable_row()));
    } else {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_cluster()));
    }
    return Status::Ok();
  }

  // Rows keyed "<prefix><first uuid>/<second uuid>".
  template <typename Msg>
  Status ForEachPair(
      std::string_view prefix,
      const std::function<bool(const std::string&, const std::string&, const Msg&)>& visit) const {
    return ForEachRowWithKey<Msg>(prefix, [&](std::string_view key, const Msg& m) {
      std::string_view rest = key.substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string_view::npos) return true;
      return visit(std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)), m);
    });
  }
  template <typename Msg>
  Status ForEachRowWithKey(std::string_view prefix,
                           const std::function<bool(std::string_view, const Msg&)>& visit) const {
    return storage::ForEachRow<Msg>(*reader_, prefix, visit);
  }

  std::unique_ptr<KvReader> reader_;
  const Sealer& sealer_;
  HlcStamp hlc_;
};
}  // namespace

std::unique_ptr<StoreSnapshot> ObjectStore::NewSnapshot() const {
  return std::make_unique<KvStoreSnapshot>(kv_->NewSnapshot(), *sealer_, hlc_.Last());
}

Status ObjectStore::CheckpointTo(const std::string& dir) const { return kv_->Checkpoint(dir); }

StatusOr<std::unique_ptr<StoreSnapshot>> ObjectStore::OpenSnapshotAt(const std::string& dir) const {
  RocksOptions options;
  options.path = dir;
  options.read_only = true;
  options.block_cache_bytes = 8 << 20;  // read once, front to back
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<KvStore> checkpoint, OpenRocksKvStore(options));
  return std::unique_ptr<StoreSnapshot>(
      std::make_unique<KvStoreSnapshot>(std::move(checkpoint), *sealer_, hlc_.Last()));
}

}  // namespace coffer::storage
