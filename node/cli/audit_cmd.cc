// coffer audit tail|search: reads a node's audit files (node/audit/) on the
// node's own machine: --config NODE.toml, --data-dir DIR or --file FILE.
// Local on purpose (docs/audit.md): the audit log must stay readable when
// the node is down or refuses clients, and reading it is governed by the
// file permissions of the node's audit directory (files 0600).
#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <thread>

#include "common/limits.h"
#include "node/audit/audit_log.h"
#include "node/audit/audit_reader.h"
#include "node/cli/commands.h"
#include "node/config/config.h"

namespace coffer::node::cli {
namespace {

struct SourceFlags {
  std::string config;
  std::string data_dir;
  std::string file;
  std::string output = "table";
};

struct TailFlags {
  SourceFlags source;
  size_t lines = 20;
  bool follow = false;
  int64_t follow_for_seconds = 0;  // 0: until interrupted
};

struct SearchFlags {
  SourceFlags source;
  audit::AuditFilter filter;
  std::string since;
  std::string until;
  size_t limit = 1000;
};

void AddSourceFlags(CLI::App* app, SourceFlags* f) {
  auto* config = app->add_option("--config", f->config,
                                 "the node's config file: its [audit] file (or data directory)");
  auto* data_dir = app->add_option("--data-dir", f->data_dir,
                                   "the node's data directory (audit file DIR/audit/audit.log)");
  auto* file = app->add_option("--file", f->file, "the audit file itself");
  config->excludes(data_dir)->excludes(file);
  data_dir->excludes(file);
  app->add_option("-o,--output", f->output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

StatusOr<std::string> AuditFileOf(const SourceFlags& f) {
  if (!f.file.empty()) return f.file;
  NodeConfig config;
  if (!f.config.empty()) {
    COFFER_ASSIGN_OR_RETURN(config, LoadConfigFile(f.config));
  } else if (!f.data_dir.empty()) {
    config.node.data_dir = f.data_dir;
  } else {
    return InvalidArgument(
        "name the node's audit log: --config NODE.toml, --data-dir DIR or --file FILE");
  }
  return AuditFilePath(config);
}

void WarnBadLine(const std::string& file, uint64_t line, const std::string& why) {
  std::cerr << "warning: " << EscapeForTerminal(file) << ":" << line << ": skipped: " << why
            << "\n";
}

const std::vector<std::string> kHeaders = {"time", "node", "client",  "role",
                                           "op",   "code", "objects", "request id"};

std::vector<std::string> Row(const audit::AuditJson& line) {
  auto text = [&](const char* key) {
    auto it = line.find(key);
    if (it == line.end()) return std::string("-");
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  std::string objects;
  if (auto it = line.find("objects"); it != line.end() && it->is_array()) {
    for (const auto& o : *it) {
      objects += (objects.empty() ? "" : ", ") + (o.is_string() ? o.get<std::string>() : o.dump());
    }
  }
  std::string request_id = text("request_id");
  if (line.contains("truncated")) request_id += " [truncated: " + line["truncated"].dump() + "]";
  return {text("time"),
          text("node"),
          text("client"),
          text("role"),
          text("op"),
          text("code"),
          objects.empty() ? "-" : objects,
          request_id};
}

// JSON output keeps every string exact (JSON-escaped, not ASCII-folded).
std::string Json(const audit::AuditJson& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

void Print(const std::vector<audit::AuditJson>& lines, const std::string& output) {
  if (output == "json") {
    std::cout << Json(audit::AuditJson(lines), 2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& line : lines) rows.push_back(Row(line));
  std::cout << RenderTable(kHeaders, rows);
}

int Tail(const TailFlags& f) {
  auto file = AuditFileOf(f.source);
  if (!file.ok()) return Fail(file.status());
  audit::AuditFollower follower(*file);
  if (f.follow) {  // from here on: nothing appended after the tail is missed
    Status started = follower.Start();
    if (!started.ok()) return Fail(started);
  }
  auto lines = audit::TailAuditLog(*file, f.lines, WarnBadLine);
  if (!lines.ok()) return Fail(lines.status());
  const bool json = f.source.output == "json";
  if (!f.follow) {
    Print(*lines, f.source.output);
    return kExitOk;
  }
  // Following: JSON Lines (one compact object per line) or table rows.
  std::vector<audit::AuditJson> seen_in_tail = *lines;
  auto emit = [&](const audit::AuditJson& line) {
    if (json) {
      std::cout << Json(line, -1) << "\n";
    } else {
      std::string table = RenderTable(kHeaders, {Row(line)});
      std::cout << table.substr(table.find('\n') + 1);  // the row without the header
    }
  };
  if (!json) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& line : *lines) rows.push_back(Row(line));
    std::cout << RenderTable(kHeaders, rows);
  } else {
    for (const auto& line : *lines) emit(line);
  }
  std::cout << std::flush;
  // Lines appended between Start and the tail's read appear in both: skip
  // those the tail already printed (compared whole).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.follow_for_seconds);
  while (f.follow_for_seconds == 0 || std::chrono::steady_clock::now() < deadline) {
    Status polled = follower.Poll(
        [&](const audit::AuditJson& line) {
          if (!seen_in_tail.empty()) {
            auto it = std::find(seen_in_tail.begin(), seen_in_tail.end(), line);
            if (it != seen_in_tail.end()) {
              seen_in_tail.erase(seen_in_tail.begin(), it + 1);
              return;
            }
            seen_in_tail.clear();
          }
          emit(line);
        },
        WarnBadLine);
    if (!polled.ok()) return Fail(polled);
    std::cout << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval, like tail -f
  }
  return kExitOk;
}

int Search(SearchFlags f) {
  auto file = AuditFileOf(f.source);
  if (!file.ok()) return Fail(file.status());
  SystemClock clock;
  for (auto [text, out] :
       {std::pair{&f.since, &f.filter.since}, std::pair{&f.until, &f.filter.until}}) {
    if (text->empty()) continue;
    auto parsed = audit::ParseAuditSince(*text, clock.WallMicros());
    if (!parsed.ok()) return Fail(parsed.status());
    *out = *parsed;
  }
  std::deque<audit::AuditJson> found;  // the newest `limit` matches
  uint64_t matched = 0;
  Status scanned = audit::ScanAuditLog(
      *file,
      [&](const audit::AuditJson& line) {
        if (!audit::Matches(line, f.filter)) return;
        ++matched;
        found.push_back(line);
        if (found.size() > f.limit) found.pop_front();
      },
      WarnBadLine);
  if (!scanned.ok()) return Fail(scanned);
  Print(std::vector<audit::AuditJson>(found.begin(), found.end()), f.source.output);
  if (matched > found.size()) {
    std::cerr << "note: " << matched << " lines matched; the newest " << found.size()
              << " are shown (--limit)\n";
  }
  return kExitOk;
}

}  // namespace

void AddAuditCommands(CLI::App& app) {
  auto* a = app.add_subcommand(
      "audit", "read a node's audit log (local files: --config, --data-dir or --file)");
  a->require_subcommand(1);

  auto tail_flags = std::make_shared<TailFlags>();
  auto* tail = a->add_subcommand("tail", "the last audit lines, oldest first");
  AddSourceFlags(tail, &tail_flags->source);
  tail->add_option("-n,--lines", tail_flags->lines, "how many lines")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  tail->add_flag("-f,--follow", tail_flags->follow,
                 "then print lines as they are appended (-o json: one object per line)");
  tail->add_option("--follow-for", tail_flags->follow_for_seconds,
                   "stop following after this many seconds (0: until interrupted)")
      ->check(CLI::Range(int64_t{0}, int64_t{31'536'000}))
      ->capture_default_str();
  tail->final_callback([tail_flags] {
    int code = Tail(*tail_flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });

  auto search_flags = std::make_shared<SearchFlags>();
  auto* search = a->add_subcommand("search", "audit lines that match every given filter");
  AddSourceFlags(search, &search_flags->source);
  audit::AuditFilter& filter = search_flags->filter;
  search->add_option("--op", filter.op, "operation, e.g. destroy, get (matches get+material)");
  search->add_option("--client", filter.client, "client certificate CN");
  search->add_option("--code", filter.code, "response code, e.g. OK, PERMISSION_DENIED");
  search->add_option("--uuid", filter.uuid, "an object uuid or name the request named");
  search->add_option("--request-id", filter.request_id, "the request id");
  search->add_option("--since", search_flags->since,
                     "lines at or after a UTC time (2026-11-30T01:02, or a prefix) or a duration "
                     "ago (30s, 15m, 2h, 3d)");
  search->add_option("--until", search_flags->until, "lines before a time (as --since)");
  search->add_option("--limit", search_flags->limit, "print at most the newest N matches")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}))
      ->capture_default_str();
  search->final_callback([search_flags] {
    int code = Search(*search_flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
}

}  // namespace coffer::node::cli
