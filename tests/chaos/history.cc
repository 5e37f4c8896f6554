#include "tests/chaos/history.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

namespace coffer::chaos {
namespace {

using json = nlohmann::json;

// JSON has no NaN or infinity (nlohmann would write null): 0 instead.
double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

// One line of a file, compact; invalid UTF-8 replaced rather than thrown on.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json ToJson(const OpEvent& e) {
  return json{{"t", Finite(e.t)},
              {"client", e.client},
              {"op", e.op},
              {"type", EventTypeName(e.type)},
              {"node", e.node},
              {"code", e.code},
              {"request_id", e.request_id},
              {"key", e.key},
              {"latency_ms", Finite(e.latency_ms)}};
}

json ToJson(const FaultBand& f) {
  return json{{"start", Finite(f.start)},
              {"end", std::isfinite(f.end) ? f.end : -1.0},
              {"scenario", f.scenario},
              {"fault", f.fault},
              {"nodes", f.nodes}};
}

json ToJson(const NodeSample& s) {
  return json{{"t", Finite(s.t)}, {"node", s.node}, {"state", s.state}, {"mode", s.mode}};
}

// Writes `lines` to dir/name through dir/name.tmp and a rename.
template <typename T>
Status WriteLines(const std::string& dir, const char* name, const std::vector<T>& records) {
  const std::filesystem::path path = std::filesystem::path(dir) / name;
  const std::filesystem::path tmp = path.string() + ".tmp";
  std::string text;
  for (size_t i = 0; i < records.size(); ++i) {
    std::string line = Dump(ToJson(records[i]));
    if (line.size() > kMaxHistoryLineBytes) {
      return InvalidArgument(path.string() + ": record " + std::to_string(i + 1) + " is " +
                             std::to_string(line.size()) + " bytes, over the line limit of " +
                             std::to_string(kMaxHistoryLineBytes));
    }
    text += line;
    text += '\n';
  }
  if (text.size() > kMaxHistoryFileBytes) {
    return ResourceExhausted(path.string() + ": " + std::to_string(text.size()) +
                             " bytes, over the file limit of " +
                             std::to_string(kMaxHistoryFileBytes));
  }
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable(tmp.string() + ": cannot open for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) return Unavailable(tmp.string() + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Unavailable(path.string() + ": rename failed: " + ec.message());
  return Status::Ok();
}

// Field readers: each names the key and what was wrong with it; the caller
// prefixes the file and line.
Status Missing(const char* key) {
  return InvalidArgument(std::string("key \"") + key + "\" is missing");
}

Status GetNumber(const json& obj, const char* key, double* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Missing(key);
  if (!it->is_number()) {
    return InvalidArgument(std::string("key \"") + key + "\" is not a number");
  }
  const double v = it->get<double>();
  if (!std::isfinite(v)) {
    return InvalidArgument(std::string("key \"") + key + "\" is not a finite number");
  }
  *out = v;
  return Status::Ok();
}

Status GetInt(const json& obj, const char* key, int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Missing(key);
  if (!it->is_number_integer()) {
    return InvalidArgument(std::string("key \"") + key + "\" is not an integer");
  }
  if (it->is_number_unsigned()) {
    const auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
      return InvalidArgument(std::string("key \"") + key + "\" is out of range");
    }
    *out = static_cast<int>(v);
    return Status::Ok();
  }
  const auto v = it->get<int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    return InvalidArgument(std::string("key \"") + key + "\" is out of range");
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status GetString(const json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Missing(key);
  if (!it->is_string()) {
    return InvalidArgument(std::string("key \"") + key + "\" is not a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetStringArray(const json& obj, const char* key, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Missing(key);
  if (!it->is_array()) {
    return InvalidArgument(std::string("key \"") + key + "\" is not an array");
  }
  out->clear();
  for (const json& v : *it) {
    if (!v.is_string()) {
      return InvalidArgument(std::string("key \"") + key +
                             "\" has an element that is not a string");
    }
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

Status FromJson(const json& j, OpEvent* e) {
  COFFER_RETURN_IF_ERROR(GetNumber(j, "t", &e->t));
  COFFER_RETURN_IF_ERROR(GetInt(j, "client", &e->client));
  COFFER_RETURN_IF_ERROR(GetString(j, "op", &e->op));
  std::string type;
  COFFER_RETURN_IF_ERROR(GetString(j, "type", &type));
  COFFER_ASSIGN_OR_RETURN(e->type, ParseEventType(type));
  COFFER_RETURN_IF_ERROR(GetString(j, "node", &e->node));
  COFFER_RETURN_IF_ERROR(GetString(j, "code", &e->code));
  COFFER_RETURN_IF_ERROR(GetString(j, "request_id", &e->request_id));
  COFFER_RETURN_IF_ERROR(GetString(j, "key", &e->key));
  return GetNumber(j, "latency_ms", &e->latency_ms);
}

Status FromJson(const json& j, FaultBand* f) {
  COFFER_RETURN_IF_ERROR(GetNumber(j, "start", &f->start));
  COFFER_RETURN_IF_ERROR(GetNumber(j, "end", &f->end));
  COFFER_RETURN_IF_ERROR(GetString(j, "scenario", &f->scenario));
  COFFER_RETURN_IF_ERROR(GetString(j, "fault", &f->fault));
  return GetStringArray(j, "nodes", &f->nodes);
}

Status FromJson(const json& j, NodeSample* s) {
  COFFER_RETURN_IF_ERROR(GetNumber(j, "t", &s->t));
  COFFER_RETURN_IF_ERROR(GetString(j, "node", &s->node));
  COFFER_RETURN_IF_ERROR(GetString(j, "state", &s->state));
  return GetString(j, "mode", &s->mode);
}

// Reads dir/name, one T per non-blank line, within the limits of history.h.
template <typename T>
StatusOr<std::vector<T>> ReadLines(const std::string& dir, const char* name) {
  const std::string path = (std::filesystem::path(dir) / name).string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound(path + ": no such file");
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Unavailable(path + ": " + ec.message());
  if (size > kMaxHistoryFileBytes) {
    return ResourceExhausted(path + ": " + std::to_string(size) +
                             " bytes, over the file limit of " +
                             std::to_string(kMaxHistoryFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable(path + ": cannot open for reading");

  std::vector<T> records;
  std::string line;
  uint64_t total = 0;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    total += line.size() + 1;
    if (total > kMaxHistoryFileBytes + 1) {  // the file grew while read
      return ResourceExhausted(where + "over the file limit of " +
                               std::to_string(kMaxHistoryFileBytes));
    }
    if (line.size() > kMaxHistoryLineBytes) {
      return ResourceExhausted(where + "line of " + std::to_string(line.size()) +
                               " bytes, over the limit of " + std::to_string(kMaxHistoryLineBytes));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      return InvalidArgument(where + "malformed JSON: " + e.what());
    }
    if (!j.is_object()) return InvalidArgument(where + "not a JSON object");
    T record;
    if (Status s = FromJson(j, &record); !s.ok()) return Status(s.code(), where + s.message());
    records.push_back(std::move(record));
  }
  if (in.bad()) return Unavailable(path + ": read failed");
  return records;
}

}  // namespace

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kInvoke:
      return "invoke";
    case EventType::kOk:
      return "ok";
    case EventType::kFail:
      return "fail";
    case EventType::kUnknown:
      return "unknown";
  }
  return "unknown";
}

StatusOr<EventType> ParseEventType(const std::string& name) {
  for (EventType t : {EventType::kInvoke, EventType::kOk, EventType::kFail, EventType::kUnknown}) {
    if (name == EventTypeName(t)) return t;
  }
  return InvalidArgument("unknown event type \"" + name + "\" (want invoke, ok, fail or unknown)");
}

History::History(const History& other) {
  std::lock_guard<std::mutex> lock(other.mu_);
  start_ = other.start_;
  ops_ = other.ops_;
  faults_ = other.faults_;
  samples_ = other.samples_;
}

History& History::operator=(const History& other) {
  if (this == &other) return *this;
  History copy(other);  // other's lock, then ours: never both at once
  std::lock_guard<std::mutex> lock(mu_);
  start_ = copy.start_;
  ops_ = std::move(copy.ops_);
  faults_ = std::move(copy.faults_);
  samples_ = std::move(copy.samples_);
  return *this;
}

double History::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void History::Add(OpEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  ops_.push_back(std::move(event));
}

size_t History::BeginFault(FaultBand band) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(band));
  return faults_.size() - 1;
}

void History::EndFault(size_t index) {
  const double now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (index < faults_.size()) faults_[index].end = now;
}

void History::AddSample(NodeSample sample) {
  std::lock_guard<std::mutex> lock(mu_);
  samples_.push_back(std::move(sample));
}

std::vector<OpEvent> History::ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_;
}

std::vector<FaultBand> History::faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

std::vector<NodeSample> History::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

Status History::WriteTo(const std::string& dir) const {
  const History snapshot(*this);  // one consistent view, written without our lock
  COFFER_RETURN_IF_ERROR(WriteLines(dir, kHistoryFile, snapshot.ops_));
  COFFER_RETURN_IF_ERROR(WriteLines(dir, kFaultsFile, snapshot.faults_));
  return WriteLines(dir, kNodesFile, snapshot.samples_);
}

StatusOr<History> History::ReadFrom(const std::string& dir) {
  History history;
  COFFER_ASSIGN_OR_RETURN(history.ops_, ReadLines<OpEvent>(dir, kHistoryFile));
  COFFER_ASSIGN_OR_RETURN(history.faults_, ReadLines<FaultBand>(dir, kFaultsFile));
  COFFER_ASSIGN_OR_RETURN(history.samples_, ReadLines<NodeSample>(dir, kNodesFile));
  return history;
}

}  // namespace coffer::chaos
