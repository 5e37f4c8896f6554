#include "node/cluster/startup_identity.h"

#include "node/net/openssl_util.h"

namespace coffer::node {

namespace {
constexpr std::string_view kNodeCertificateRole = "node";  // request_kinds.h kNodeRole
}  // namespace

Status CheckStartupIdentity(const StartupIdentity& facts) {
  const ClientIdentity& cert = facts.certificate;
  if (cert.organizational_unit != kNodeCertificateRole) {
    return InvalidArgument("node certificate has role '" + cert.organizational_unit +
                           "' (OU), not 'node': a node must present a node certificate "
                           "(`coffer cert issue --role node --name " +
                           facts.configured_name + "`), never an admin or endpoint one");
  }
  if (cert.common_name != facts.configured_name) {
    return InvalidArgument("node certificate CN '" + cert.common_name +
                           "' is not this node's name '" + facts.configured_name +
                           "' ([node] name): the other members admit its links, and a "
                           "controller its join, by that name; issue a certificate for '" +
                           facts.configured_name + "' or fix [node] name");
  }
  if (facts.recorded && !facts.recorded->node_name.empty() &&
      facts.recorded->node_name != facts.configured_name) {
    return InvalidState("data directory belongs to node '" + facts.recorded->node_name +
                        "' (node " + std::to_string(facts.recorded->node_id) + " of cluster " +
                        facts.recorded->cluster_id + "), not to '" + facts.configured_name +
                        "': a node's data directory cannot be started under another name; "
                        "start it as '" +
                        facts.recorded->node_name +
                        "', or induct this node with an empty data directory");
  }
  return Status::Ok();
}

Status CheckStoredIdentity(const std::string& configured_name, uint32_t node_id,
                           const std::vector<pb::StoredNode>& members) {
  for (const pb::StoredNode& m : members) {
    if (m.node_id() != node_id || m.name().name() == configured_name) continue;
    return InvalidState("data directory belongs to node '" + m.name().name() + "' (node " +
                        std::to_string(node_id) + " in its store's membership), not to '" +
                        configured_name +
                        "': a node's data directory cannot be started under another name; "
                        "start it as '" +
                        m.name().name() + "', or induct this node with an empty data directory");
  }
  return Status::Ok();
}

Status CheckIdentityBeforeStart(const NodeConfig& config) {
  StartupIdentity facts;
  facts.configured_name = config.node.name;
  COFFER_ASSIGN_OR_RETURN(std::string pem, ReadWholeFile("node certificate", config.tls.cert_file));
  auto certificate = CertificateIdentity(pem);
  if (!certificate.ok()) {
    return certificate.status().Annotate("node certificate " + config.tls.cert_file);
  }
  facts.certificate = *certificate;
  COFFER_ASSIGN_OR_RETURN(facts.recorded, ReadIdentity(config.node.data_dir));
  return CheckStartupIdentity(facts);
}

}  // namespace coffer::node
