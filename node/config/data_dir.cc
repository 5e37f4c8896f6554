#include "node/config/data_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/kv_store.h"
#include "upgrade/store_check.h"

namespace coffer::node {

namespace {
std::string IdentityPath(const std::string& data_dir) { return data_dir + "/identity"; }
}  // namespace

StatusOr<std::optional<NodeIdentity>> ReadIdentity(const std::string& data_dir) {
  std::ifstream in(IdentityPath(data_dir));
  if (!in) return std::optional<NodeIdentity>();
  NodeIdentity identity;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, eq, value;
    if (!(fields >> key >> eq >> value) || eq != "=") continue;
    if (key == "node_id") {
      try {
        identity.node_id = static_cast<uint32_t>(std::stoul(value));
      } catch (const std::exception&) {
        identity.node_id = 0;
      }
    } else if (key == "cluster_id") {
      identity.cluster_id = value;
    } else if (key == "node_name") {
      identity.node_name = value;  // [A-Za-z0-9._-] (config_schema.cc): one word
    }
  }
  if (identity.node_id == 0 || identity.cluster_id.empty()) {
    return DataLoss(IdentityPath(data_dir) + " is malformed: it needs node_id and cluster_id");
  }
  return std::optional<NodeIdentity>(identity);
}

Status WriteIdentity(const std::string& data_dir, const NodeIdentity& identity) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Unavailable("cannot create " + data_dir + ": " + ec.message());
  std::string path = IdentityPath(data_dir);
  std::string temp = path + ".tmp";
  std::string text = "node_id = " + std::to_string(identity.node_id) +
                     "\ncluster_id = " + identity.cluster_id + "\n";
  if (!identity.node_name.empty()) text += "node_name = " + identity.node_name + "\n";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot write " + temp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    return Unavailable("cannot write " + path);
  }
  int dir = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

StatusOr<OpenedStore> OpenNodeStore(const NodeConfig& config, SecretBytes passphrase,
                                    NodeId node_id, bool confirm_names_on_apply, const Clock& clock,
                                    Rng& rng) {
  OpenedStore opened;
  storage::ScryptParams scrypt;
  scrypt.n = static_cast<uint64_t>(config.root_of_trust.scrypt_n);
  COFFER_ASSIGN_OR_RETURN(opened.root,
                          storage::NewPassphraseRootOfTrust(std::move(passphrase), scrypt));
  storage::RocksOptions rocks;
  rocks.path = config.node.data_dir + "/db";
  rocks.block_cache_bytes = static_cast<size_t>(config.storage.block_cache_mb) << 20;
  rocks.write_buffer_bytes = static_cast<size_t>(config.storage.write_buffer_mb) << 20;
  // A store this binary may not run (a cluster version it does not
  // support) is refused before it is opened for writing: not a byte of it
  // changes.
  const upgrade::BinaryProfile& binary = upgrade::ThisBinary();
  COFFER_ASSIGN_OR_RETURN(upgrade::StoreCheck check, upgrade::CheckStore(rocks.path, binary));
  COFFER_RETURN_IF_ERROR(check.verdict);
  COFFER_ASSIGN_OR_RETURN(auto kv, storage::OpenRocksKvStore(rocks));
  std::ifstream key_in(config.tls.key_file, std::ios::binary);
  if (!key_in) {
    return InvalidArgument("cannot read the node key " + config.tls.key_file +
                           " (it signs this node's records)");
  }
  std::ostringstream key_pem;
  key_pem << key_in.rdbuf();
  auto signer = storage::MakeEcdsaRecordSigner(key_pem.str());
  if (!signer.ok()) {
    return InvalidArgument(config.tls.key_file + ": " + signer.status().message());
  }
  opened.signer = std::move(signer).value();
  storage::ObjectStoreOptions options;
  options.node_id = node_id;
  options.confirm_names_on_apply = confirm_names_on_apply;
  options.signer = opened.signer.get();
  options.max_record_format = binary.max_record_format;
  COFFER_ASSIGN_OR_RETURN(
      opened.store, storage::ObjectStore::Open(std::move(kv), *opened.root, clock, rng, options));
  return opened;
}

}  // namespace coffer::node
