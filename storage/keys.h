// Key layout of the object store in its KvStore (one keyspace, by prefix).
// Integers are big-endian so keys sort numerically. See storage/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/records.pb.h"

namespace coffer::storage::keys {

inline constexpr std::string_view kMetaDataKey = "M/data_key";       // WrappedDataKey
inline constexpr std::string_view kMetaFormat = "M/format";          // store format, decimal
inline constexpr std::string_view kMetaDigest = "M/digest";          // 32 bytes, 4 lanes
inline constexpr std::string_view kMetaObjectCount = "M/objects";    // be64
inline constexpr std::string_view kMetaInstalling = "M/installing";  // resume key of an install
inline constexpr std::string_view kLogPrefix = "L/";                 // + be32 origin + be64 seq
inline constexpr std::string_view kAppliedPrefix = "V/";             // + be32 origin -> be64 seq
inline constexpr std::string_view kRequestPrefix = "R/";             // + request id -> be32+be64
inline constexpr std::string_view kObjectPrefix = "O/";              // + uuid -> StoredObject
inline constexpr std::string_view kWalletPrefix = "W/";              // + uuid -> StoredWallet
inline constexpr std::string_view kEndpointPrefix = "E/";            // + uuid -> StoredEndpoint
inline constexpr std::string_view kMemberPrefix = "WM/";       // + wallet/object -> StoredMember
inline constexpr std::string_view kGrantPrefix = "EG/";        // + endpoint/wallet -> StoredGrant
inline constexpr std::string_view kClusterKey = "C/cluster";   // StoredCluster
inline constexpr std::string_view kNodePrefix = "ND/";         // + be32 node id -> StoredNode
inline constexpr std::string_view kNamePrefix = "N/";          // + kind/name\0claim -> uuid
inline constexpr std::string_view kIndexTypePrefix = "I/t/";   // + type/uuid
inline constexpr std::string_view kIndexStatePrefix = "I/s/";  // + state/uuid
inline constexpr std::string_view kIndexAttrPrefix = "I/a/";   // + attr\0value\0uuid

void AppendBe32(std::string* out, uint32_t v);
void AppendBe64(std::string* out, uint64_t v);
uint32_t ReadBe32(std::string_view in);  // in.size() >= 4
uint64_t ReadBe64(std::string_view in);  // in.size() >= 8

std::string Log(uint32_t origin, uint64_t seq);
std::string LogOrigin(uint32_t origin);  // prefix of one origin's records
std::string Applied(uint32_t origin);
std::string Request(std::string_view request_id);
std::string Object(std::string_view uuid);
std::string Wallet(std::string_view uuid);
std::string Endpoint(std::string_view uuid);
std::string Member(std::string_view wallet, std::string_view object);
std::string Node(uint32_t node_id);
std::string MemberPrefix(std::string_view wallet);
std::string Grant(std::string_view endpoint, std::string_view wallet);
std::string GrantPrefix(std::string_view endpoint);
// The group of claims to one supplied name; the first key in a group wins.
std::string NameGroup(pb::EntityKind kind, std::string_view name);
std::string NameClaim(pb::EntityKind kind, std::string_view name, const pb::Stamp& created,
                      std::string_view uuid);

}  // namespace coffer::storage::keys
