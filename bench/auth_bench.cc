// Origin authentication cost per record, with the real scheme (ECDSA P-256):
//   BM_OriginWrite/G: an origin executes group commits of G writes (256-byte
//     secrets; the last of each synced) on an in-memory store: what making,
//     chaining and signing its records costs per record.
//   BM_Admit/G: a receiver's replicator takes those records in batches of G
//     (one group commit each): admission (chain and signature checks) plus
//     apply on an in-memory store, per record.
// Only public APIs that issue 11's per-record signatures also had, so the
// same file measures both schemes. CPU time per record is the figure (the
// machine is shared).
// Run: build/release/bin/auth_bench
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
#include "storage/test_util.h"

namespace coffer {
namespace {

using storage::Durability;

constexpr size_t kSecretBytes = 256;

class NullTransport final : public replication::Transport {
 public:
  void Send(uint32_t, const pb::ReplicationMessage&) override {}
};

std::string NewP256KeyPem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

pb::Op RegisterSecret(int i) {
  pb::Op op;
  op.mutable_register_object()->set_type(pb::SECRET_DATA);
  op.mutable_register_object()->set_material(
      std::string(kSecretBytes, static_cast<char>('a' + i % 26)));
  return op;
}

struct EcdsaNode {
  ManualClock clock;
  SeededRng rng{1};
  std::unique_ptr<RootOfTrust> root = storage::testing::FastRootOfTrust();
  std::unique_ptr<storage::RecordSigner> signer;
  std::unique_ptr<storage::ObjectStore> store;
};

std::unique_ptr<EcdsaNode> MakeEcdsaNode(uint32_t id, const std::string& path) {
  auto node = std::make_unique<EcdsaNode>();
  node->signer = storage::MakeEcdsaRecordSigner(NewP256KeyPem()).value();
  storage::ObjectStoreOptions options;
  options.node_id = NodeId{id};
  options.signer = node->signer.get();
  node->store = storage::ObjectStore::Open(
                    storage::testing::OpenKvStore(storage::testing::Backend::kMemEnv, path).value(),
                    *node->root, node->clock, node->rng, options)
                    .value();
  return node;
}

// An origin (node 1) in a cluster with node 2, and `groups` group commits
// of `group` writes made by it.
struct Source {
  std::unique_ptr<EcdsaNode> node;
  std::vector<pb::LogRecord> setup;                // cluster init, node add
  std::vector<std::vector<pb::LogRecord>> groups;  // one batch per group commit
};

Source MakeSource(int group, int groups) {
  Source s;
  static int instance = 0;
  s.node = MakeEcdsaNode(1, "/source" + std::to_string(instance++));
  pb::Op init;
  init.mutable_cluster_init()->set_name("c");
  init.mutable_cluster_init()->set_node_name("n1");
  (void)s.node->store->Execute(init, "init");
  pb::Op add;
  add.mutable_node_add()->set_name("n2");
  add.mutable_node_add()->set_role(pb::NODE_READ_ONLY);
  add.mutable_node_add()->set_public_key("unused");
  (void)s.node->store->Execute(add, "add");
  s.setup = *s.node->store->ReadLog(1, 1, 10);
  int w = 0;
  for (int g = 0; g < groups; ++g) {
    uint64_t first = s.node->store->Applied().at(1) + 1;
    for (int i = 0; i < group; ++i, ++w) {
      (void)s.node->store->Execute(RegisterSecret(w), "w" + std::to_string(w),
                                   i + 1 == group ? Durability::kSync : Durability::kAsync);
    }
    s.groups.push_back(*s.node->store->ReadLog(1, first, static_cast<size_t>(group)));
  }
  return s;
}

void BM_OriginWrite(benchmark::State& state) {
  const int group = static_cast<int>(state.range(0));
  auto node = MakeEcdsaNode(1, "/origin");
  int w = 0;
  for (auto _ : state) {
    for (int i = 0; i < group; ++i, ++w) {
      auto r = node->store->Execute(RegisterSecret(w), "w" + std::to_string(w),
                                    i + 1 == group ? Durability::kSync : Durability::kAsync);
      if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * group);
  state.SetLabel("records made per second, group commits of " + std::to_string(group));
}
BENCHMARK(BM_OriginWrite)->Arg(1)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_Admit(benchmark::State& state) {
  const int group = static_cast<int>(state.range(0));
  const int groups = std::max(1, 8192 / group);
  Source source = MakeSource(group, groups);
  auto verifier = storage::MakeEcdsaSignatureVerifier();
  NullTransport transport;
  int round = 0;
  std::unique_ptr<EcdsaNode> target;
  std::unique_ptr<replication::Replicator> replicator;
  size_t next = source.groups.size();
  for (auto _ : state) {
    if (next == source.groups.size()) {
      state.PauseTiming();
      replicator.reset();
      target = MakeEcdsaNode(2, "/target" + std::to_string(group) + "-" + std::to_string(round++));
      for (const auto& r : source.setup) (void)target->store->ApplyRemote(r);
      replicator = std::make_unique<replication::Replicator>(
          *target->store, replication::CoreMembers(*target->store->Members()),
          replication::CoreOptions{}, transport, target->clock);
      // Node 1's key as membership has it.
      replicator->SetSignatureVerifier(verifier.get());
      next = 0;
      state.ResumeTiming();
    }
    pb::ReplicationMessage m;
    for (const auto& r : source.groups[next]) *m.mutable_records()->add_records() = r;
    ++next;
    replicator->Receive(1, m);
  }
  if (replicator && replicator->integrity_alerts() > 0) state.SkipWithError("integrity alerts");
  if (target && target->store->Applied().at(1) < source.setup.size() + 1) {
    state.SkipWithError("nothing applied");
  }
  state.SetItemsProcessed(state.iterations() * group);
  state.SetLabel("records admitted and applied per second, batches of " + std::to_string(group));
}
BENCHMARK(BM_Admit)->Arg(1)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace coffer

BENCHMARK_MAIN();
