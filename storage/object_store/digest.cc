// The replicated state's digest: each entity's canonical form, its SHA-256
// (EntityHash), the lane-wise sum kept by every apply, and its recomputation
// from the rows. Also the deterministic encoding and snapshot chunk checksum
// that rest on the same hash.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {

std::string CanonicalOf(pb::StoredObject o) {
  o.clear_sealed_material();
  o.clear_create_origin();
  o.clear_create_seq();
  return DeterministicBytes(o);
}

std::string CanonicalOf(pb::StoredWallet w) {
  w.clear_confirmed();
  return DeterministicBytes(w);
}

std::array<uint64_t, 4> EntityHash(std::string_view key, std::string_view canonical) {
  // Fetched once: an explicit fetch avoids a provider lookup on every hash.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // These fail only when memory runs out; a wrong digest would silently hide
  // divergence, so the process stops instead.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), key.data(), key.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), "\0", 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1 || md_len < 32) {
    std::fputs("coffer: SHA-256 failed (out of memory?)\n", stderr);
    std::abort();
  }
  std::array<uint64_t, 4> lanes{};
  for (int i = 0; i < 4; ++i) {
    lanes[i] = keys::ReadBe64(std::string_view(reinterpret_cast<char*>(md) + 8 * i, 8));
  }
  return lanes;
}

std::string SnapshotChunkChecksum(pb::SnapshotChunk chunk) {
  chunk.clear_checksum();
  std::string out;
  for (uint64_t lane : EntityHash("snapshot-chunk", DeterministicBytes(chunk))) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(lane >> shift));
  }
  return out;
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::string Digest::Hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint64_t lane : lanes) {
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(lane >> shift) & 0xf]);
  }
  return out;
}

StatusOr<Digest> ObjectStore::RecomputeDigest() const {
  Digest digest;
  auto add = [&](std::string_view key, const std::string& canonical) {
    auto h = EntityHash(key, canonical);
    for (int i = 0; i < 4; ++i) digest.lanes[i] += h[i];
  };
  auto scan = [&](std::string_view prefix, auto message_tag) -> Status {
    using Msg = decltype(message_tag);
    return ForEachRow<Msg>(*kv_, prefix, [&](auto key, const Msg& m) {
      add(key, CanonicalOf(m));
      return true;
    });
  };
  COFFER_RETURN_IF_ERROR(scan(keys::kObjectPrefix, pb::StoredObject()));
  COFFER_RETURN_IF_ERROR(scan(keys::kWalletPrefix, pb::StoredWallet()));
  COFFER_RETURN_IF_ERROR(scan(keys::kEndpointPrefix, pb::StoredEndpoint()));
  COFFER_RETURN_IF_ERROR(scan(keys::kMemberPrefix, pb::StoredMember()));
  COFFER_RETURN_IF_ERROR(scan(keys::kGrantPrefix, pb::StoredGrant()));
  COFFER_RETURN_IF_ERROR(scan(keys::kNodePrefix, pb::StoredNode()));
  COFFER_RETURN_IF_ERROR(scan(keys::kClusterKey, pb::StoredCluster()));
  return digest;
}

}  // namespace coffer::storage
