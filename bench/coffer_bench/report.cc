#include "bench/coffer_bench/report.h"

#include <cstdio>

#include "bench/coffer_bench/stats.h"
#include "bench/coffer_bench/svg_plot.h"

namespace coffer::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string Format(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

std::string Ms(uint32_t micros) { return Format("%.2f", micros / 1000.0); }

nlohmann::json PercentilesJson(const std::vector<uint32_t>& samples) {
  const Percentiles p = Summarize(samples);
  return {{"count", p.count}, {"p50", p.p50}, {"p90", p.p90},  {"p99", p.p99},
          {"p999", p.p999},   {"max", p.max}, {"mean", p.mean}};
}

std::string Pad(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string ErrorText(const LoadResult& r) {
  if (r.errors.empty()) return "0";
  std::string text;
  for (const auto& [code, n] : r.errors) {
    if (!text.empty()) text += ",";
    text += code + ":" + std::to_string(n);
  }
  return text;
}

const SystemRun* Find(const std::vector<SystemRun>& runs, const std::string& system) {
  for (const auto& run : runs) {
    if (run.result.system == system) return &run;
  }
  return nullptr;
}

}  // namespace

nlohmann::json OptionsJson(const BenchOptions& o) {
  nlohmann::json j = {{"workload", WorkloadName(o.workload)},
                      {"value_size", o.value_size},
                      {"clients", o.clients},
                      {"in_flight", o.in_flight},
                      {"duration_ms", o.duration.count()},
                      {"warmup_ms", o.warmup.count()},
                      {"count", o.count},
                      {"vs_etcd", o.vs_etcd},
                      {"baseline", o.baseline_raw ? "raw" : ""},
                      {"in_flight_mode", InFlightModeName(o.in_flight_mode)}};
  if (o.catch_up > 0) j["catch_up"] = o.catch_up;
  if (o.workload == Workload::kMix) j["read_percent"] = o.read_percent;
  if (o.workload != Workload::kWrite) j["prepare"] = o.prepare;
  if (o.existing_cluster()) {
    j["addresses"] = o.addresses;
  } else {
    j["pairs"] = o.pairs;
    j["read_only"] = o.read_only;
  }
  if (!o.scale.empty()) j["scale"] = o.scale;
  return j;
}

nlohmann::json ResultJson(const SystemRun& run) {
  const LoadResult& r = run.result;
  nlohmann::json processes = nlohmann::json::array();
  for (size_t i = 0; i < r.processes.size(); ++i) {
    const ProcessUsage& p = r.processes[i];
    nlohmann::json process = {
        {"name", p.name},
        {"cpu_seconds", p.cpu_seconds},
        {"cpu_percent", r.seconds > 0 ? 100.0 * p.cpu_seconds / r.seconds : 0},
        {"rss_start_bytes", p.rss_start_bytes},
        {"rss_end_bytes", p.rss_end_bytes},
        {"rss_max_bytes", p.rss_max_bytes}};
    if (i < run.rss.bytes.size()) process["rss_samples_bytes"] = run.rss.bytes[i];
    processes.push_back(std::move(process));
  }
  nlohmann::json shape = {{"clients", r.shape.clients},
                          {"in_flight", r.shape.in_flight},
                          {"value_size", r.shape.value_size},
                          {"warmup_ms", r.shape.warmup.count()},
                          {"duration_ms", r.shape.duration.count()},
                          {"max_ops", r.shape.max_ops}};
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, n] : r.errors) errors[code] = n;
  nlohmann::json lag = PercentilesJson(r.replication_lag_us);
  lag["timeouts"] = run.lag_timeouts;
  nlohmann::json j = {{"system", r.system},
                      {"workload", r.workload},
                      {"shape", shape},
                      {"seconds", r.seconds},
                      {"ok_ops", r.ok_ops},
                      {"ops_per_second", r.OpsPerSecond()},
                      {"errors", errors},
                      {"latency_us", PercentilesJson(r.latencies_us)},
                      {"replication_lag_us", lag},
                      {"records_applied_per_second", r.records_applied_per_second},
                      {"processes", processes}};
  if (!run.rss.bytes.empty()) j["rss_sample_interval_ms"] = run.rss.interval.count();
  if (r.system == "coffer") j["connections_opened"] = run.connections_opened;
  return j;
}

std::string ResultTable(const std::vector<SystemRun>& runs) {
  std::string out;
  const std::vector<std::pair<std::string, size_t>> columns = {
      {"system", 8}, {"workload", 9},    {"clients", 8},     {"ops/s", 10},
      {"p50 ms", 9}, {"p90 ms", 9},      {"p99 ms", 9},      {"p99.9 ms", 10},
      {"max ms", 9}, {"lag p50 ms", 11}, {"lag p99 ms", 11}, {"applied rec/s", 14},
      {"errors", 8}};
  for (const auto& [name, width] : columns) out += Pad(name, width);
  out += "\n";
  for (const auto& run : runs) {
    const LoadResult& r = run.result;
    const Percentiles lat = Summarize(r.latencies_us);
    const Percentiles lag = Summarize(r.replication_lag_us);
    const std::vector<std::string> cells = {
        r.system,
        r.workload,
        std::to_string(r.shape.clients) +
            (r.shape.in_flight > 1 ? "x" + std::to_string(r.shape.in_flight) : ""),
        Format("%.0f", r.OpsPerSecond()),
        Ms(lat.p50),
        Ms(lat.p90),
        Ms(lat.p99),
        Ms(lat.p999),
        Ms(lat.max),
        lag.count > 0 ? Ms(lag.p50) : "-",
        lag.count > 0 ? Ms(lag.p99) : "-",
        r.records_applied_per_second > 0 ? Format("%.0f", r.records_applied_per_second) : "-",
        ErrorText(r)};
    for (size_t i = 0; i < cells.size(); ++i) out += Pad(cells[i], columns[i].second);
    out += "\n";
  }
  for (const auto& run : runs) {
    const LoadResult& r = run.result;
    if (r.processes.empty()) continue;
    out += "\n" + r.system + " processes over the " + Format("%.1f", r.seconds) + " s window:\n";
    out += Pad("  process", 34) + Pad("cpu s", 9) + Pad("cpu %", 8) + Pad("rss start MiB", 15) +
           Pad("rss end MiB", 13) + Pad("rss max MiB", 12) + "\n";
    for (const auto& p : r.processes) {
      out += Pad("  " + p.name, 34) + Pad(Format("%.2f", p.cpu_seconds), 9) +
             Pad(Format("%.0f", r.seconds > 0 ? 100 * p.cpu_seconds / r.seconds : 0), 8) +
             Pad(Format("%.1f", p.rss_start_bytes / kMiB), 15) +
             Pad(Format("%.1f", p.rss_end_bytes / kMiB), 13) +
             Pad(Format("%.1f", p.rss_max_bytes / kMiB), 12) + "\n";
    }
    for (size_t i = 0; i < run.rss.bytes.size() && i < r.processes.size(); ++i) {
      std::string line = "  " + r.processes[i].name + " rss MiB over time (every " +
                         Format("%g", run.rss.interval.count() / 1000.0) + " s):";
      for (uint64_t bytes : run.rss.bytes[i]) line += " " + Format("%.0f", bytes / kMiB);
      out += line + "\n";
    }
    if (run.lag_timeouts > 0) {
      out += "  lag samples not applied everywhere within the probe timeout: " +
             std::to_string(run.lag_timeouts) + "\n";
    }
  }
  const SystemRun* coffer = Find(runs, "coffer");
  if (coffer != nullptr && runs.size() > 1) {
    out += "\n";
    const Percentiles mine = Summarize(coffer->result.latencies_us);
    for (const auto& run : runs) {
      if (&run == coffer) continue;
      const LoadResult& other = run.result;
      if (other.system == "raw") {
        if (other.records_applied_per_second > 0) {
          out += "efficiency (coffer records applied/s / raw records/s): " +
                 Format("%.2f", coffer->result.records_applied_per_second /
                                    other.records_applied_per_second) +
                 "\n";
        }
        continue;
      }
      const Percentiles theirs = Summarize(other.latencies_us);
      out += "coffer / " + other.system + ": throughput " +
             (other.OpsPerSecond() > 0
                  ? Format("%.2fx", coffer->result.OpsPerSecond() / other.OpsPerSecond())
                  : "-") +
             ", p99 latency " +
             (theirs.p99 > 0 ? Format("%.2fx", static_cast<double>(mine.p99) / theirs.p99) : "-") +
             "\n";
    }
  }
  return out;
}

std::string ScaleTable(const std::vector<ScalePoint>& points) {
  std::string out = Pad("nodes", 7) + Pad("pairs", 7) + Pad("read-only", 11) + Pad("ops/s", 10) +
                    Pad("p99 ms", 9) + Pad("lag p50 ms", 12) + Pad("lag p99 ms", 12) +
                    Pad("applied rec/s", 14) + "errors\n";
  for (const auto& p : points) {
    const LoadResult& r = p.run.result;
    const Percentiles lat = Summarize(r.latencies_us);
    const Percentiles lag = Summarize(r.replication_lag_us);
    out += Pad(std::to_string(p.nodes), 7) + Pad(std::to_string(p.pairs), 7) +
           Pad(std::to_string(p.read_only), 11) + Pad(Format("%.0f", r.OpsPerSecond()), 10) +
           Pad(Ms(lat.p99), 9) + Pad(lag.count > 0 ? Ms(lag.p50) : "-", 12) +
           Pad(lag.count > 0 ? Ms(lag.p99) : "-", 12) +
           Pad(Format("%.0f", r.records_applied_per_second), 14) + ErrorText(r) + "\n";
  }
  return out;
}

std::string ScaleSvg(const std::vector<ScalePoint>& points, const std::string& workload) {
  PlotPanel throughput{"throughput", "ops/s", {{"coffer " + workload + " ops/s", {}}}};
  PlotPanel lag{"replication lag", "ms", {{"lag p50", {}}, {"lag p99", {}}}};
  for (const auto& p : points) {
    const double x = p.nodes;
    throughput.series[0].points.emplace_back(x, p.run.result.OpsPerSecond());
    const Percentiles l = Summarize(p.run.result.replication_lag_us);
    if (l.count > 0) {
      lag.series[0].points.emplace_back(x, l.p50 / 1000.0);
      lag.series[1].points.emplace_back(x, l.p99 / 1000.0);
    }
  }
  return RenderSvgPlot("coffer-bench --scale (" + workload + ")", "nodes", {throughput, lag});
}

}  // namespace coffer::bench
