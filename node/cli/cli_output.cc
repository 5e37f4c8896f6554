#include "node/cli/cli_output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include "node/monitoring/health.h"
#include "storage/object_store.h"
#include "upgrade/orchestrator/plan_builder.h"
#include "upgrade/version.h"

namespace coffer::node {

using storage::AttributeText;

namespace {

// The code point of the valid UTF-8 sequence at text[i] and its length, or
// length 0 if text[i] does not start one (overlong forms and surrogates
// count as invalid).
std::pair<uint32_t, size_t> DecodeUtf8(std::string_view text, size_t i) {
  unsigned char lead = static_cast<unsigned char>(text[i]);
  size_t length = lead < 0x80           ? 1
                  : (lead >> 5) == 0x6  ? 2
                  : (lead >> 4) == 0xE  ? 3
                  : (lead >> 3) == 0x1E ? 4
                                        : 0;
  if (length == 0 || i + length > text.size()) return {0, 0};
  uint32_t cp = length == 1   ? lead
                : length == 2 ? lead & 0x1F
                : length == 3 ? lead & 0x0F
                              : lead & 0x07;
  for (size_t k = 1; k < length; ++k) {
    unsigned char c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (c & 0x3F);
  }
  static constexpr uint32_t kMinOf[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinOf[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, length};
}

// Code points above U+007F that move the cursor or reorder text.
bool IsInvisibleControl(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x200E && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061C;
}

std::vector<std::string> EscapeAll(const std::vector<std::string>& cells) {
  std::vector<std::string> out;
  out.reserve(cells.size());
  for (const auto& cell : cells) out.push_back(EscapeForTerminal(cell));
  return out;
}

}  // namespace

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buf[16];
  for (size_t i = 0; i < text.size();) {
    auto [cp, length] = DecodeUtf8(text, i);
    if (length == 0) {  // not UTF-8: show the byte
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(text[i]));
      out += buf;
      ++i;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", cp);
      out += buf;
    } else if (IsInvisibleControl(cp)) {
      std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
      out += buf;
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

std::string RenderTable(const std::vector<std::string>& raw_headers,
                        const std::vector<std::vector<std::string>>& raw_rows) {
  std::vector<std::string> headers = EscapeAll(raw_headers);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(raw_rows.size());
  for (const auto& row : raw_rows) rows.push_back(EscapeAll(row));
  std::vector<size_t> widths(headers.size(), 0);
  for (size_t i = 0; i < headers.size(); ++i) widths[i] = headers[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells, bool upper) {
    std::string out;
    for (size_t i = 0; i < headers.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      if (upper) std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
      out += cell;
      if (i + 1 < headers.size()) out += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers, true);
  for (const auto& row : rows) out += line(row, false);
  return out;
}

std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& raw_fields) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(raw_fields.size());
  for (const auto& [k, v] : raw_fields)
    fields.emplace_back(EscapeForTerminal(k), EscapeForTerminal(v));
  size_t width = 0;
  for (const auto& [k, v] : fields) width = std::max(width, k.size());
  std::string out;
  for (const auto& [k, v] : fields) out += k + std::string(width - k.size() + 2, ' ') + v + "\n";
  return out;
}

std::string RenderJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{\"error\": \"cannot render JSON\"}\n";
  return out;
}

std::string ObjectTypeName(pb::ObjectType type) {
  switch (type) {
    case pb::SYMMETRIC_KEY:
      return "symmetric-key";
    case pb::PRIVATE_KEY:
      return "private-key";
    case pb::PUBLIC_KEY:
      return "public-key";
    case pb::CERTIFICATE:
      return "certificate";
    case pb::SECRET_DATA:
      return "secret";
    case pb::OPAQUE_OBJECT:
      return "opaque";
    default:
      return "unspecified";
  }
}

std::string StateName(pb::State state) { return pb::State_Name(state); }

std::string AccessName(pb::Access access) {
  switch (access) {
    case pb::ACCESS_READ_ONLY:
      return "read-only";
    case pb::ACCESS_READ_MODIFY:
      return "read-modify";
    default:
      return "none";
  }
}

std::string FormatMicros(int64_t micros) {
  if (micros == 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {
std::string Base64(const std::string& in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kChars[(n >> s) & 63]);
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += {kChars[(n >> 18) & 63], kChars[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kChars[(n >> 18) & 63], kChars[(n >> 12) & 63], kChars[(n >> 6) & 63], '='};
  }
  return out;
}

bool IsDateAttribute(const std::string& name) {
  return name.size() > 5 && name.compare(name.size() - 5, 5, "_date") == 0;
}
}  // namespace

std::string RevocationReasonName(pb::RevocationReason reason) {
  switch (reason) {
    case pb::KEY_COMPROMISE:
      return "compromise";
    case pb::CESSATION_OF_OPERATION:
      return "cessation";
    case pb::SUPERSEDED:
      return "superseded";
    case pb::AFFILIATION_CHANGED:
      return "affiliation";
    default:
      return "-";
  }
}

std::string RenderObject(const pb::ObjectView& o, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(o);
  std::vector<std::pair<std::string, std::string>> fields = {
      {"uuid", o.uuid()},
      {"type", ObjectTypeName(o.type())},
      {"name", o.name().empty() ? "-" : o.name()},
      {"state", StateName(o.state())},
      {"created", FormatMicros(o.created_micros())},
      {"material", o.state() == pb::DESTROYED || o.state() == pb::DESTROYED_COMPROMISED
                       ? "erased (destroyed)"
                       : std::to_string(o.material_length()) + " bytes"},
  };
  if (o.revocation_reason() != pb::REVOCATION_REASON_UNSPECIFIED) {
    fields.push_back({"revoked for", RevocationReasonName(o.revocation_reason())});
  }
  if (!o.comment().empty()) fields.push_back({"comment", o.comment()});
  if (o.name_in_conflict()) {
    fields.push_back({"name conflict", "yes (supplied '" + o.supplied_name() + "')"});
  }
  std::map<std::string, pb::AttributeValue> sorted(o.attributes().begin(), o.attributes().end());
  for (const auto& [name, value] : sorted) {
    std::string text = AttributeText(value);
    if (IsDateAttribute(name) && value.value_case() == pb::AttributeValue::kInteger) {
      text = FormatMicros(value.integer());
    }
    fields.push_back({"attr " + name, text});
  }
  if (!o.material().empty()) fields.push_back({"material (base64)", Base64(o.material())});
  return RenderFields(fields);
}

std::string RenderObjects(const pb::LocateResult& result, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(result);
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : result.objects()) {
    rows.push_back({o.uuid(), ObjectTypeName(o.type()), o.name().empty() ? "-" : o.name(),
                    StateName(o.state()), FormatMicros(o.created_micros())});
  }
  return RenderTable({"uuid", "type", "name", "state", "created"}, rows);
}

std::string RenderWallets(const pb::WalletList& list, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(list);
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : list.wallets()) {
    rows.push_back(
        {w.name(), w.uuid(), w.state(), std::to_string(w.members_size()), w.description()});
  }
  return RenderTable({"name", "uuid", "state", "members", "description"}, rows);
}

std::string RenderWallet(const pb::WalletView& w, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(w);
  std::vector<std::pair<std::string, std::string>> fields = {
      {"name", w.name()},
      {"uuid", w.uuid()},
      {"state", w.state()},
      {"description", w.description().empty() ? "-" : w.description()}};
  for (const auto& m : w.members()) fields.push_back({"member", m});
  // Rekey chains (feature key-rekey): from each member no other member
  // replaced, along replaced_by, oldest first; "(not in the wallet)" marks a
  // replacement removed from it.
  std::set<std::string> replacements;
  for (const auto& [old_key, new_key] : w.replaced_by()) replacements.insert(new_key);
  for (const auto& m : w.members()) {
    if (replacements.count(m) || !w.replaced_by().count(m)) continue;
    std::string chain = m;
    std::set<std::string> seen = {m};
    for (auto next = w.replaced_by().find(m); next != w.replaced_by().end();
         next = w.replaced_by().find(next->second)) {
      if (!seen.insert(next->second).second) break;  // a cycle: not made by rekey
      chain += " -> " + next->second;
      if (std::find(w.members().begin(), w.members().end(), next->second) == w.members().end()) {
        chain += " (not in the wallet)";
        break;
      }
    }
    fields.push_back({"rekey chain", chain});
  }
  return RenderFields(fields);
}

std::string RenderEndpoints(const pb::EndpointList& list, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(list);
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : list.endpoints()) {
    std::string grants;
    for (const auto& g : e.grants()) {
      if (!grants.empty()) grants += ", ";
      grants += (g.wallet_name().empty() ? g.wallet() : g.wallet_name()) + ":" +
                AccessName(g.access()) + (g.manage_wallet() ? "+manage" : "");
    }
    // The bound key's hash, shortened as fingerprints are ("-": not bound).
    const std::string bound =
        e.public_key_sha256().empty() ? "-" : e.public_key_sha256().substr(0, 16);
    rows.push_back(
        {e.name(), e.uuid(), e.certificate_subject(), bound, grants.empty() ? "-" : grants});
  }
  return RenderTable({"name", "uuid", "subject", "key sha256", "grants"}, rows);
}

std::string RenderConflicts(const pb::ConflictList& list, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(list);
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : list.conflicts()) {
    std::string kind = c.kind() == pb::ENTITY_OBJECT     ? "object"
                       : c.kind() == pb::ENTITY_WALLET   ? "wallet"
                       : c.kind() == pb::ENTITY_ENDPOINT ? "endpoint"
                                                         : "node";
    rows.push_back({kind, c.uuid(), c.supplied_name(), c.generated_name()});
  }
  return RenderTable({"kind", "uuid", "supplied name", "generated name"}, rows);
}

namespace {

// "origin:seq ..." in origin order, "-" if empty.
std::string AppliedText(const pb::VersionVector& vector) {
  std::string applied;
  std::map<uint32_t, uint64_t> sorted(vector.applied().begin(), vector.applied().end());
  for (const auto& [origin, seq] : sorted) {
    if (!applied.empty()) applied += " ";
    applied += std::to_string(origin) + ":" + std::to_string(seq);
  }
  return applied.empty() ? "-" : applied;
}

// "2:up 3:DOWN" for the links a node reports.
std::string LinksText(const pb::NodeStatus& s) {
  std::string text;
  for (const auto& l : s.links()) {
    if (!text.empty()) text += " ";
    text += std::to_string(l.peer()) + (l.up() ? ":up" : ":DOWN");
  }
  return text.empty() ? "-" : text;
}

}  // namespace

std::string RenderNodeStatus(const pb::NodeStatus& s, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(s);
  std::string out = RenderTable(
      {"node", "id", "mode", "version", "listen", "objects", "applied", "digest", "uptime"},
      {{s.node_name(), std::to_string(s.node_id()), s.mode(), s.version(), s.listen(),
        std::to_string(s.object_count()), AppliedText(s.applied()), s.digest().substr(0, 16),
        std::to_string(s.uptime_seconds()) + "s"}});
  if (!s.mode_reason().empty()) out += "mode: " + EscapeForTerminal(s.mode_reason()) + "\n";
  if (s.links_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : s.links()) {
      rows.push_back(
          {std::to_string(l.peer()), l.up() ? "up" : "DOWN",
           l.last_heard_ms_ago() < 0 ? "never" : std::to_string(l.last_heard_ms_ago()) + " ms",
           l.outgoing_connected() ? "yes" : "no", l.incoming_connected() ? "yes" : "no",
           std::to_string(l.inflight_records()), l.last_error().empty() ? "-" : l.last_error()});
    }
    out += "\n" +
           RenderTable({"link to", "state", "last heard", "out", "in", "in flight", "last error"},
                       rows);
  }
  for (const auto& t : s.inductions()) {
    out += "inducting node " + std::to_string(t.node_id()) + ": " +
           std::to_string(t.entries_sent()) +
           (t.entries_estimate() > 0 ? " of ~" + std::to_string(t.entries_estimate()) : "") +
           " snapshot entries sent (" + std::to_string(t.bytes_sent() / 1024) + " KiB)" +
           (t.reopened() ? " since this node restarted (continued from its checkpoint)" : "") +
           (t.started_over() > 0
                ? "; the candidate started over " + std::to_string(t.started_over()) + " time(s)"
                : "") +
           (t.done() ? "; all sent, waiting to hear it on a link" : "") + "\n";
  }
  return out;
}

std::string ClusterVersion(const pb::ClusterStatus& c) {
  const pb::VersionView& v = c.versions();
  if (v.cluster_version().empty()) return "-";
  std::string out = EscapeForTerminal(v.cluster_version());
  if (v.held()) out += " (held)";
  if (!v.holders().empty()) out += " (held back by " + std::to_string(v.holders_size()) + ")";
  return out;
}

std::string RenderVersions(const pb::ClusterStatus& c, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    pb::ClusterStatus only;
    *only.mutable_members() = c.members();
    *only.mutable_versions() = c.versions();
    return RenderJson(only);
  }
  const pb::VersionView& v = c.versions();
  std::string out = "cluster version " + EscapeForTerminal(v.cluster_version()) +
                    (v.held() ? " (held: coffer cluster version release)" : "") + "\n";
  out += "this node's binary " + EscapeForTerminal(v.binary_release()) + " runs cluster versions " +
         EscapeForTerminal(v.min_cluster_version()) + " to " +
         EscapeForTerminal(v.max_cluster_version()) + "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : c.members()) {
    rows.push_back({m.name(), std::to_string(m.node_id()),
                    m.version().empty() ? "unknown" : m.version(),
                    m.fence_version().empty() ? "-" : m.fence_version(),
                    m.state().empty() ? "ACTIVE" : m.state()});
  }
  out += RenderTable({"node", "id", "release", "fence", "state"}, rows);
  if (!v.holders().empty()) {
    out += "\nheld back by:\n";
    for (const auto& h : v.holders()) out += "  " + EscapeForTerminal(h) + "\n";
  }
  out += "\nfeatures:\n";
  std::vector<std::vector<std::string>> features;
  for (const auto& f : v.features()) {
    features.push_back({f.name(), f.introduced(), f.active() ? "active" : "inactive", f.changes()});
  }
  out += RenderTable({"feature", "from", "state", "what it changes"}, features);
  return out;
}

std::string RenderClusterStatus(const pb::ClusterStatus& c, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(c);
  std::string out;
  if (c.cluster_id().empty()) {
    out += "standalone node (no cluster yet: coffer cluster init --name NAME)\n\n";
    return out + RenderNodeStatus(c.self(), format);
  }
  std::map<uint32_t, const pb::NodeStatus*> by_id;
  by_id[c.self().node_id()] = &c.self();
  for (const auto& n : c.nodes()) by_id[n.node_id()] = &n;
  auto status_of = [&](uint32_t id) -> const pb::NodeStatus* {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  };
  out += "cluster " + EscapeForTerminal(c.name()) + " (" + EscapeForTerminal(c.cluster_id()) +
         "), " + std::to_string(c.members_size()) + " node" + (c.members_size() == 1 ? "" : "s") +
         "\n";
  out += "cluster version " + ClusterVersion(c) + "\n";
  out += "settings: max-disable-duration " + std::to_string(c.max_disable_seconds()) +
         " s (coffer cluster set)\n";
  if (c.has_upgrade() && c.upgrade().state() != pb::UPGRADE_FINALIZED &&
      c.upgrade().state() != pb::UPGRADE_ROLLED_BACK &&
      c.upgrade().state() != pb::UPGRADE_ABORTED) {
    int done = 0;
    for (const auto& n : c.upgrade().nodes()) done += n.step() == pb::STEP_DONE ? 1 : 0;
    out += "upgrade: plan to " + EscapeForTerminal(c.upgrade().to_release()) + " " +
           upgrade::PlanStateName(c.upgrade().state()) + ", " + std::to_string(done) + " of " +
           std::to_string(c.upgrade().nodes_size()) + " nodes done (coffer upgrade status)\n";
  }
  if (c.name_conflicts() > 0) {
    out += "name conflicts: " + std::to_string(c.name_conflicts()) +
           (c.name_conflicts() == 1 ? " entity carries" : " entities carry") +
           " a generated name (coffer conflict list)\n";
  }
  // Critical writes go on while one read-write pair has both nodes
  // read-write; each node failure can break one pair.
  int whole_pairs = 0;
  for (const auto& m : c.members()) {
    const pb::NodeStatus* s = status_of(m.node_id());
    const pb::NodeStatus* peer = m.peer() > m.node_id() ? status_of(m.peer()) : nullptr;
    if (s && peer && s->mode() == "read-write" && peer->mode() == "read-write") ++whole_pairs;
  }
  out +=
      whole_pairs == 0
          ? std::string("failure tolerance: none (no read-write pair can take critical writes)\n")
          : "failure tolerance: " + std::to_string(whole_pairs - 1) + " node failure" +
                (whole_pairs - 1 == 1 ? "" : "s") + " (" + std::to_string(whole_pairs) +
                " whole read-write pair" + (whole_pairs == 1 ? "" : "s") + ")\n";
  out += "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : c.members()) {
    auto it = by_id.find(m.node_id());
    const pb::NodeStatus* s = it == by_id.end() ? nullptr : it->second;
    bool unreachable = c.unreachable().contains(m.node_id());
    std::string mode = s ? s->mode() : unreachable ? "unreachable" : "-";
    rows.push_back({MemberHealth(m, s, unreachable), m.name(), std::to_string(m.node_id()),
                    m.role(), m.peer() == 0 ? "-" : std::to_string(m.peer()),
                    m.state().empty() ? "ACTIVE" : m.state(), mode, s ? s->version() : m.version(),
                    s ? AppliedText(s->applied()) : "-", s ? s->digest().substr(0, 16) : "-",
                    s ? LinksText(*s) : "-",
                    m.client_address().empty() ? "-" : m.client_address()});
  }
  out += RenderTable({"health", "node", "id", "role", "peer", "state", "mode", "version", "applied",
                      "digest", "links", "client address"},
                     rows);
  for (const auto& [id, error] :
       std::map<uint32_t, std::string>(c.unreachable().begin(), c.unreachable().end())) {
    out += "node " + std::to_string(id) + " unreachable: " + EscapeForTerminal(error) + "\n";
  }
  for (const auto& m : c.members()) {
    if (m.disable_seconds_left() < 0) continue;
    out += "node " + EscapeForTerminal(m.name()) + " " + EscapeForTerminal(m.state()) + ": " +
           (m.disable_seconds_left() == 0
                ? std::string("past the maximum disable duration (enable is refused; force-delete "
                              "it and induct it anew)")
                : std::to_string(m.disable_seconds_left()) + " s left to enable it") +
           "; " + std::to_string(m.retained_records()) + " records (" +
           std::to_string(m.retained_bytes()) +
           " bytes) retained for it here, what enabling "
           "transfers\n";
  }
  for (const auto& [id, s] : by_id) {
    if (!s->mode_reason().empty() && s->mode() == "restricted") {
      out += "node " + std::to_string(id) + ": " + EscapeForTerminal(s->mode_reason()) + "\n";
    }
    if (StorageFaulted(*s)) {
      out += "node " + std::to_string(id) + ": " + s->storage_state() + ": " + s->storage_fault() +
             " (writes refused, reads served; it resumes by itself once the store can write)\n";
    }
  }
  for (const auto& [id, s] : by_id) {
    if (s->integrity_alerts() == 0) continue;
    out += "node " + std::to_string(id) +
           ": INTEGRITY ALERT: " + std::to_string(s->integrity_alerts()) +
           " replicated record(s) refused (not made by their origin, or differing from the "
           "record applied); last: " +
           s->last_integrity_alert() + "\n";
  }
  for (const auto& [id, s] : by_id) {
    if (s->clock_refusals() == 0) continue;
    out += "node " + std::to_string(id) + ": CLOCK: " + std::to_string(s->clock_refusals()) +
           " replicated record(s) refused as stamped too far ahead of its clock; last: " +
           s->last_clock_refusal() + "\n";
  }
  return out;
}

}  // namespace coffer::node
