// Rendering of CLI results: `-o table` (aligned columns for people) and
// `-o json` (the protobuf JSON mapping, one document per command).
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "proto/api.pb.h"

namespace coffer::node {

enum class OutputFormat { kTable, kJson };

// Text safe to print to a terminal, for table and plain output ("output that
// cannot lie"): C0 controls, DEL, C1 controls (U+0080..U+009F), the Unicode
// line/paragraph separators and bidirectional-text controls become visible
// escapes (\n, \r, \t, \x1b, \x7f, \u009b, \u202e), a byte that is not part
// of valid UTF-8 becomes \xNN, and a backslash becomes \\ (so an escape
// cannot be faked either). Everything else is kept. `-o json` output is not
// passed through this: JSON escaping keeps it exact.
std::string EscapeForTerminal(std::string_view text);

// Columns padded to the widest cell; the header row is upper-case. Every
// cell is passed through EscapeForTerminal, so one row is one line.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);
// Two columns: field, value; both through EscapeForTerminal.
std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields);
// Pretty JSON with the .proto field names.
std::string RenderJson(const google::protobuf::Message& message);

std::string ObjectTypeName(pb::ObjectType type);
std::string StateName(pb::State state);
std::string AccessName(pb::Access access);
// As `object revoke --reason` takes it: compromise, cessation, ...; "-" if unspecified.
std::string RevocationReasonName(pb::RevocationReason reason);
std::string FormatMicros(int64_t micros);  // ISO 8601 UTC, "-" for 0

// The views as text.
std::string RenderObject(const pb::ObjectView& object, OutputFormat format);
std::string RenderObjects(const pb::LocateResult& objects, OutputFormat format);
std::string RenderWallets(const pb::WalletList& wallets, OutputFormat format);
std::string RenderWallet(const pb::WalletView& wallet, OutputFormat format);
std::string RenderEndpoints(const pb::EndpointList& endpoints, OutputFormat format);
std::string RenderConflicts(const pb::ConflictList& conflicts, OutputFormat format);
std::string RenderNodeStatus(const pb::NodeStatus& status, OutputFormat format);
// The cluster version as the answering node has it, and whether something
// holds it ("-" if unknown).
std::string ClusterVersion(const pb::ClusterStatus& c);
// `coffer cluster version`: the cluster version, each member's release and
// fence, what holds the version back, and every feature with its state. JSON:
// the members and the version view.
std::string RenderVersions(const pb::ClusterStatus& c, OutputFormat format);
// The cluster status table; its health column is monitoring/health.h's
// MemberHealth.
std::string RenderClusterStatus(const pb::ClusterStatus& status, OutputFormat format);

}  // namespace coffer::node
