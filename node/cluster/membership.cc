#include "node/cluster/membership.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <map>

namespace coffer::node {

std::string MembershipFingerprint(const std::vector<pb::StoredNode>& nodes) {
  std::string fingerprint;
  {
    google::protobuf::io::StringOutputStream out(&fingerprint);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    for (const auto& n : nodes) {
      n.SerializeToCodedStream(&coded);
      coded.WriteRaw("|", 1);
    }
  }
  return fingerprint;
}

bool RemovalWatch::Removed(const std::vector<pb::StoredNode>& members, uint32_t self_id,
                           const std::vector<PeerLinks::LinkStatus>& links) {
  if (reported_) return false;
  bool member = false;
  for (const auto& m : members) member = member || m.node_id() == self_id;
  if (member) {
    was_member_ = true;
  } else {
    reported_ = was_member_;
    return reported_;
  }
  std::map<uint32_t, std::string> errors;
  for (const auto& l : links) errors[l.peer] = l.last_error;
  int others = 0;
  for (const auto& m : members) {
    if (m.node_id() == self_id) continue;
    ++others;
    const std::string& error = errors[m.node_id()];
    if (!error.starts_with("NOT_FOUND") || error.find("not a member") == std::string::npos) {
      return false;
    }
  }
  reported_ = others > 0;
  return reported_;
}

}  // namespace coffer::node
