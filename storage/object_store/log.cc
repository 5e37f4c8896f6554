// The replicated log as this node keeps it: reading records (material opened
// for sending inside TLS), what is retained for a member (LogAfter) and log
// GC (CollectLog).
#include <algorithm>
#include <string>
#include <vector>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"
#include "storage/object_store/log_tail.h"

namespace coffer::storage {

StatusOr<ObjectStore::LogSpan> ObjectStore::LogAfter(uint32_t origin, uint64_t after_seq) const {
  LogSpan span;
  uint64_t first = 0;
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, after_seq + 1), [&](auto key, auto) {
        first = keys::ReadBe64(key.substr(key.size() - 8));
        return false;
      }));
  auto applied = applied_.find(origin);
  if (first == 0 || applied == applied_.end() || applied->second < first) return span;
  span.records = applied->second - first + 1;
  // Exact for up to kLogSpanSampleRecords; beyond, their mean size times the
  // count.
  uint64_t sampled = 0, sampled_bytes = 0;
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, first), [&](auto key, auto value) {
        sampled_bytes += key.size() + value.size();
        return ++sampled < kLogSpanSampleRecords;
      }));
  span.bytes = sampled == 0 ? 0 : sampled_bytes * span.records / sampled;
  return span;
}

StatusOr<uint64_t> ObjectStore::CollectLog(uint32_t origin, uint64_t through_seq,
                                           size_t max_records) {
  uint64_t& collected = log_collected_[origin];
  if (through_seq <= collected || max_records == 0) return 0;
  // An origin's log is contiguous from its first retained record to the
  // applied seq (records are appended in seq order and collected from the
  // front), so one seek finds the range and one range delete removes it: no
  // scan of the records, and one range tombstone instead of one per record.
  uint64_t first = 0;
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, collected + 1), [&](auto key, auto) {
        first = keys::ReadBe64(key.substr(key.size() - 8));
        return false;
      }));
  auto applied = applied_.find(origin);
  uint64_t last_held = applied == applied_.end() ? 0 : applied->second;
  if (first == 0 || first > through_seq || first > last_held) {
    collected = through_seq;  // nothing retained through through_seq
    return 0;
  }
  uint64_t last = std::min({through_seq, last_held, first + (max_records - 1)});
  WriteBatch batch;
  batch.DeleteRange(keys::Log(origin, first), keys::Log(origin, last + 1));
  COFFER_RETURN_IF_ERROR(kv_->Write(batch, /*sync=*/false));
  log_tail_->Collect(origin, last);
  uint64_t deleted = last - first + 1;
  // Done through `through_seq` unless the step stopped early.
  collected = deleted < max_records ? through_seq : last;
  return deleted;
}

size_t ObjectStore::log_tail_bytes() const { return log_tail_->bytes(); }

StatusOr<std::vector<pb::LogRecord>> ObjectStore::ReadLog(uint32_t origin, uint64_t from_seq,
                                                          size_t limit) const {
  std::vector<pb::LogRecord> out;
  Status inner = Status::Ok();
  // One stored row -> the record as sent: material opened.
  auto decode = [&](std::string_view value) {
    if (out.size() >= limit) return false;
    pb::LogRecord r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      inner = DataLoss("cannot parse log row");
      return false;
    }
    if (r.has_object_created() && !r.object_created().sealed_material().empty()) {
      auto* c = r.mutable_object_created();
      auto opened = sealer_->Open(c->sealed_material(), LogAad(r.origin(), r.seq(), c->uuid()));
      if (!opened.ok()) {
        inner = opened.status();
        return false;
      }
      c->set_material(opened->reveal());
      c->clear_sealed_material();
    }
    out.push_back(std::move(r));
    return true;
  };
  bool from_memory = log_tail_->Read(
      origin, from_seq, limit, [&](uint64_t, std::string_view value) { return decode(value); });
  if (!from_memory) {
    COFFER_RETURN_IF_ERROR(kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, from_seq),
                                     [&](auto, auto value) { return decode(value); }));
  }
  COFFER_RETURN_IF_ERROR(inner);
  return out;
}

}  // namespace coffer::storage
