// Cutting a run of log records into RecordBatch messages by bytes (issue 11,
// "byte budgets everywhere a stream is cut"). The core decides which records
// a peer lacks by count (ReplicationCore::SendRecords); the driver reads them
// and sends them as one or more batches, each at most a byte budget
// (common/limits.h kReplicationBatchBytes), so no message it builds exceeds
// the frame limit of the peer link. A record larger than the budget travels
// alone. The core's view is unchanged: every record it asked for is sent, in
// order, only in several messages.
#pragma once

#include <cstddef>
#include <vector>

#include "proto/replication.pb.h"

namespace coffer::replication {

// Bytes `record` adds to an encoded RecordBatch (tag, length, payload).
size_t EncodedBatchEntryBytes(const pb::LogRecord& record);

// `records`, in order, as RecordBatch messages: each holds consecutive
// records whose entries add up to at most `budget_bytes`, or a single record
// larger than that. Empty input gives no message.
std::vector<pb::ReplicationMessage> CutIntoBatches(std::vector<pb::LogRecord> records,
                                                   size_t budget_bytes);

}  // namespace coffer::replication
