#include "bench/coffer_bench/catch_up.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <thread>

#include "bench/coffer_bench/interrupt.h"

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Vector = std::map<uint32_t, uint64_t>;

constexpr std::chrono::seconds kStatusTimeout{10};

Vector AppliedOf(const pb::NodeStatus& status) {
  return Vector(status.applied().applied().begin(), status.applied().applied().end());
}

// Records `target` holds beyond `have`, summed over origins.
uint64_t Missing(const Vector& target, const Vector& have) {
  uint64_t missing = 0;
  for (const auto& [origin, seq] : target) {
    auto it = have.find(origin);
    const uint64_t got = it == have.end() ? 0 : it->second;
    if (seq > got) missing += seq - got;
  }
  return missing;
}

Status SetNodeState(BenchCluster& cluster, const BenchNode& on, uint32_t node_id,
                    pb::NodeState state, const std::string& request_id) {
  pb::Request request;
  request.set_request_id(request_id);
  request.mutable_write()->mutable_node_state()->set_node_id(node_id);
  request.mutable_write()->mutable_node_state()->set_state(state);
  return cluster.Ask(on, request).status();
}

std::string Format(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

}  // namespace

StatusOr<CatchUpResult> RunCatchUp(BenchCluster& cluster, const BenchOptions& options,
                                   const std::function<void(const std::string&)>& progress,
                                   const LiveLine& live) {
  const auto& nodes = cluster.nodes();
  const BenchNode* target = nullptr;
  for (const auto& n : nodes) {
    if (!n.read_write) target = &n;
  }
  auto rw = cluster.ReadWriteNodes();
  if (target == nullptr || rw.empty()) {
    return Status(Code::kInvalidState, "--catch-up needs a read-only node and a read-write pair");
  }
  CatchUpResult result;
  result.node = target->name;
  const std::string run_id = NewRunId();
  COFFER_ASSIGN_OR_RETURN(pb::NodeStatus before, cluster.StatusOf(*target));
  const uint32_t node_id = before.node_id();

  progress("disabling " + target->name + " (on " + rw.front()->name + ")");
  COFFER_RETURN_IF_ERROR(
      SetNodeState(cluster, *rw.front(), node_id, pb::NODE_DISABLING, run_id + "-disable")
          .Annotate("disable " + target->name));
  std::string last = "no answer yet";
  const auto disable_deadline = Clock::now() + kDisableTimeout;
  while (true) {
    if (Interrupted()) return Status(Code::kUnavailable, "interrupted");
    auto status = cluster.StatusOf(*target);
    if (status.ok() && status->state() == "DISABLED") break;
    last = status.ok() ? "state " + status->state() : status.status().ToString();
    if (Clock::now() >= disable_deadline) {
      return Status(Code::kUnavailable, target->name + " was not DISABLED within " +
                                            std::to_string(kDisableTimeout.count()) + " s (" +
                                            last + "); see its log " + target->log_file);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll, bounded by the deadline
  }

  // The records it misses: the write workload until N successes.
  BenchOptions writes = options;
  writes.count = options.catch_up;
  writes.warmup = std::chrono::milliseconds(0);
  // Long enough for any sane rate (>= 100 writes/s); the count ends it.
  writes.duration = std::chrono::seconds(60) +
                    std::chrono::milliseconds(10) * static_cast<int64_t>(options.catch_up);
  progress("writing " + std::to_string(options.catch_up) + " records while " + target->name +
           " is DISABLED");
  RunExtras extras;
  COFFER_ASSIGN_OR_RETURN(LoadResult written,
                          RunCofferLoad(cluster, writes, PreparedObjects{}, run_id, live, &extras,
                                        /*measure_lag=*/false));
  result.writes = SystemRun{std::move(written), extras.lag_timeouts, std::move(extras.rss),
                            extras.connections_opened};

  // A marker object written last on each read-write node: the newest
  // record of its origin, so a node that serves it has applied every
  // earlier one of that origin (each origin's records apply in order).
  std::vector<std::string> markers;
  for (const BenchNode* n : rw) {
    const std::string name = run_id + "-marker-" + n->name;
    pb::Request request;
    request.set_request_id(name);
    auto* r = request.mutable_write()->mutable_register_object();
    r->set_type(pb::SECRET_DATA);
    r->set_name(name);
    r->set_material(std::string(options.value_size, 'm'));
    auto response = cluster.Ask(*n, request);
    if (!response.ok()) return response.status().Annotate("marker write on " + n->name);
    markers.push_back(response->op_result().uuid());
  }

  // What the others hold now, and what the disabled node holds.
  Vector goal;
  for (const auto& n : nodes) {
    if (&n == target) continue;
    auto status = cluster.StatusOf(n);
    if (!status.ok()) return status.status().Annotate("status of " + n.name);
    for (const auto& [origin, seq] : status->applied().applied()) {
      goal[origin] = std::max(goal[origin], seq);
    }
  }
  COFFER_ASSIGN_OR_RETURN(pb::NodeStatus disabled, cluster.StatusOf(*target));
  result.records_missed = Missing(goal, AppliedOf(disabled));

  COFFER_ASSIGN_OR_RETURN(auto client, cluster.Connect(*target, kStatusTimeout));
  progress("enabling " + target->name + ": " + std::to_string(result.records_missed) +
           " records to catch up");
  const auto deadline = Clock::now() + kCatchUpBaseTimeout +
                        kCatchUpDeadlinePerRecord * static_cast<int64_t>(result.records_missed);
  const auto start = Clock::now();
  COFFER_RETURN_IF_ERROR(
      SetNodeState(cluster, *target, node_id, pb::NODE_ENABLING, run_id + "-enable")
          .Annotate("enable " + target->name));
  // Polls with gets of the markers (a point read, cheap on a node that is
  // applying; a status request sizes the log and took seconds there): a
  // node that is not ACTIVE answers UNAVAILABLE, one that lacks a marker
  // NOT_FOUND. Once it serves every marker, a status request checks the
  // whole target and the state; if that falls short, status requests go on.
  size_t markers_seen = 0;
  Clock::time_point markers_served;           // when the last marker was served
  Clock::time_point last_not_served = start;  // sent: the last marker get that failed
  bool confirm_fell_short = false;            // a status after the markers showed it not done
  last = "no answer yet";
  while (true) {
    if (Interrupted()) return Status(Code::kUnavailable, "interrupted");
    if (client == nullptr) {
      auto connected = cluster.Connect(*target, kStatusTimeout);
      if (connected.ok()) client = std::move(connected).value();
      if (!connected.ok()) last = connected.status().ToString();
    }
    while (client != nullptr) {
      pb::Request ask;
      const bool by_marker = markers_seen < markers.size();
      if (by_marker) {
        ask.mutable_get()->set_uuid(markers[markers_seen]);
      } else {
        ask.mutable_node_status();
      }
      const auto asked = Clock::now();
      auto response = client->Call(ask, kStatusTimeout);
      const auto answered = Clock::now();
      const double round_trip_ms =
          std::chrono::duration<double, std::milli>(answered - asked).count();
      if (by_marker) {
        ++result.polls;
        result.max_poll_round_trip_ms = std::max(result.max_poll_round_trip_ms, round_trip_ms);
      } else {
        result.status_round_trip_ms = round_trip_ms;
      }
      if (!response.ok()) {
        client.reset();
        last = response.status().ToString();
        break;
      }
      if (by_marker) {
        if (response->code() != "OK") {
          last_not_served = asked;
          last = "marker " + std::to_string(markers_seen + 1) + ": " + response->code();
          break;  // not yet: poll again after the interval
        }
        if (++markers_seen == markers.size()) markers_served = answered;
        continue;  // the next marker, or the status check, at once
      }
      const pb::NodeStatus& status = response->node_status();
      const uint64_t behind = Missing(goal, AppliedOf(status));
      if (status.state() == "ACTIVE" && behind == 0) {
        // Serving the last marker proved it ACTIVE with every read-write
        // origin's records; the status confirms the rest. If an earlier
        // status fell short, it is done when this one answered.
        const auto done = confirm_fell_short ? answered : markers_served;
        result.seconds = std::chrono::duration<double>(done - start).count();
        result.lower_bound_seconds = std::chrono::duration<double>(last_not_served - start).count();
        result.state_after = status.state();
        break;
      }
      last = "state " + status.state() + ", " + std::to_string(behind) + " records behind";
      confirm_fell_short = true;
      break;
    }
    if (!result.state_after.empty()) break;
    if (Clock::now() >= deadline) {
      return Status(
          Code::kUnavailable,
          target->name + " did not catch up within " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::seconds>(deadline - start).count()) +
              " s (" + last + "); see its log " + target->log_file);
    }
    std::this_thread::sleep_for(kCatchUpPollInterval);  // poll, bounded by the deadline
  }
  progress(target->name + " caught up in " + Format("%.3f", result.seconds) + " s");
  return result;
}

nlohmann::json CatchUpJson(const CatchUpResult& r) {
  return {{"node", r.node},
          {"records_written", r.writes.result.ok_ops},
          {"records_missed", r.records_missed},
          {"catch_up_seconds", r.seconds},
          {"catch_up_lower_bound_seconds", r.lower_bound_seconds},
          {"catch_up_records_per_second", r.RecordsPerSecond()},
          {"poll_interval_ms", kCatchUpPollInterval.count()},
          {"max_poll_round_trip_ms", r.max_poll_round_trip_ms},
          {"status_round_trip_ms", r.status_round_trip_ms},
          {"polls", r.polls},
          {"state_after", r.state_after},
          {"raw_ingest",
           {{"records", r.raw_records},
            {"batch_records", r.raw_batch_records},
            {"seconds", r.raw_seconds},
            {"records_per_second", r.RawRecordsPerSecond()}}},
          {"catch_up_vs_raw", r.Ratio()}};
}

std::string CatchUpTable(const CatchUpResult& r) {
  std::string out = "\ncatch-up of " + r.node + " (read-only, disabled while " +
                    std::to_string(r.writes.result.ok_ops) + " records were written):\n";
  out += "  records missed        " + std::to_string(r.records_missed) + "\n";
  out += "  catch-up seconds      " + Format("%.3f", r.seconds) +
         "  (enable sent to ACTIVE with every record; at least " +
         Format("%.3f", r.lower_bound_seconds) + ": the last poll that found it behind)\n";
  out += "  catch-up records/s    " + Format("%.0f", r.RecordsPerSecond()) + "\n";
  out += "  raw ingest records/s  " + Format("%.0f", r.RawRecordsPerSecond()) + "  (" +
         std::to_string(r.raw_records) + " records in " + Format("%.3f", r.raw_seconds) +
         " s, one RocksDB, synced batches of " + std::to_string(r.raw_batch_records) + ")\n";
  out += "  catch-up / raw        " + Format("%.2f", r.Ratio()) + "\n";
  return out;
}

}  // namespace coffer::bench
