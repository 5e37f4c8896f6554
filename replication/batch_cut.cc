#include "replication/batch_cut.h"

#include <google/protobuf/io/coded_stream.h>

namespace coffer::replication {

size_t EncodedBatchEntryBytes(const pb::LogRecord& record) {
  const size_t payload = record.ByteSizeLong();
  // Field 1 of RecordBatch (one tag byte), the length varint, the payload.
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(payload) + payload;
}

std::vector<pb::ReplicationMessage> CutIntoBatches(std::vector<pb::LogRecord> records,
                                                   size_t budget_bytes) {
  std::vector<pb::ReplicationMessage> batches;
  size_t used = 0;
  for (auto& record : records) {
    const size_t bytes = EncodedBatchEntryBytes(record);
    if (batches.empty() ||
        (batches.back().records().records_size() > 0 && used + bytes > budget_bytes)) {
      batches.emplace_back();
      batches.back().mutable_records();
      used = 0;
    }
    *batches.back().mutable_records()->add_records() = std::move(record);
    used += bytes;
  }
  return batches;
}

}  // namespace coffer::replication
