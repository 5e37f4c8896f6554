// JoinTokens: the one-time join tokens a controller issues for induction
// (`coffer cluster join-token`). Held in the controller's memory only, as
// SHA-256 hashes: a token is never stored or logged in the clear, and a
// controller restart voids the tokens it issued (issue a new one).
//
// A token names the role the candidate gets. It is redeemed by one candidate
// name: the same name may present it again (a join whose answer was lost is
// retried safely), any other name is refused. It expires after its TTL.
//
// Threading: not thread-safe; the node's store thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::node {

class JoinTokens {
 public:
  // Default TTL 1 h; at most 7 days.
  static constexpr int64_t kDefaultTtlSeconds = 3600;
  static constexpr int64_t kMaxTtlSeconds = 7 * 24 * 3600;

  struct Issued {
    std::string token;  // "cjt1." + 64 hex digits (256 random bits)
    int64_t expires_micros = 0;
  };
  // INVALID_ARGUMENT for a role other than read-write/read-only or a TTL
  // outside [0, kMaxTtlSeconds] (0: the default).
  StatusOr<Issued> Issue(pb::NodeRole role, int64_t ttl_seconds, int64_t now_micros);

  struct Redeemed {
    pb::NodeRole role;
    std::string id;  // stable per token, not secret: the join's request id
  };
  // PERMISSION_DENIED (never saying which) for an unknown or expired token or
  // one already redeemed by another name.
  StatusOr<Redeemed> Redeem(const std::string& token, const std::string& candidate_name,
                            int64_t now_micros);

  size_t size() const { return tokens_.size(); }

 private:
  struct Entry {
    pb::NodeRole role;
    int64_t expires_micros;
    std::string redeemed_by;  // "" until redeemed
  };
  void DropExpired(int64_t now_micros);
  std::map<std::string, Entry> tokens_;  // by SHA-256 hex of the token
};

}  // namespace coffer::node
