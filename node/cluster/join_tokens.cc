#include "node/cluster/join_tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

namespace coffer::node {

namespace {

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return Hex(digest.data(), size);
}

}  // namespace

StatusOr<JoinTokens::Issued> JoinTokens::Issue(pb::NodeRole role, int64_t ttl_seconds,
                                               int64_t now_micros) {
  if (role != pb::NODE_READ_WRITE && role != pb::NODE_READ_ONLY) {
    return InvalidArgument("a join token's role must be read-write or read-only");
  }
  if (ttl_seconds < 0 || ttl_seconds > kMaxTtlSeconds) {
    return InvalidArgument("join token TTL must be in [1, " + std::to_string(kMaxTtlSeconds) +
                           "] seconds");
  }
  if (ttl_seconds == 0) ttl_seconds = kDefaultTtlSeconds;
  DropExpired(now_micros);
  std::array<unsigned char, 32> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return Internal("the system random generator failed");
  }
  Issued issued;
  issued.token = "cjt1." + Hex(random.data(), random.size());
  issued.expires_micros = now_micros + ttl_seconds * 1'000'000;
  tokens_[Sha256Hex(issued.token)] = Entry{role, issued.expires_micros, ""};
  return issued;
}

StatusOr<JoinTokens::Redeemed> JoinTokens::Redeem(const std::string& token,
                                                  const std::string& candidate_name,
                                                  int64_t now_micros) {
  DropExpired(now_micros);
  std::string hash = Sha256Hex(token);
  auto it = tokens_.find(hash);
  if (it == tokens_.end() ||
      (!it->second.redeemed_by.empty() && it->second.redeemed_by != candidate_name)) {
    return PermissionDenied(
        "join token is unknown, expired or already used (tokens are one-time and do not survive "
        "a controller restart): issue a new one with `coffer cluster join-token` on the "
        "controller");
  }
  it->second.redeemed_by = candidate_name;
  return Redeemed{it->second.role, "join-" + hash.substr(0, 32)};
}

void JoinTokens::DropExpired(int64_t now_micros) {
  std::erase_if(tokens_,
                [&](const auto& entry) { return entry.second.expires_micros <= now_micros; });
}

}  // namespace coffer::node
