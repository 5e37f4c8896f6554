// The feature registry: every feature a cluster version gates, in one table
// (semantics.md section 6, upgrade/README.md). Code asks a GateSnapshot
// (upgrade/gate.h) whether a feature is active; it never compares version
// numbers itself.
//
// Adding a feature: an enum value, then one row, in release order, with the
// release that introduces it and one line on what it changes. A feature at
// or below the binary's lowest supported cluster version is always on; its
// row is deleted in the next release (its enum value stays, never reused).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/release.h"
#include "upgrade/version.h"

namespace coffer::upgrade {

enum class Feature : uint16_t {
  // Nodes record their release in membership and the cluster version gates
  // features (this registry). Always on from 0.2: the base of every gate.
  kClusterVersion = 1,
  // Objects carry a comment (KMIP Comment): CreateKeyOp/RegisterOp.comment,
  // written in record format 5. Not in this release: built into its source
  // so that the tests' next-release binary (upgrade/binary_profile.h) has one
  // real gated feature that writes a new record field.
  kObjectComment = 2,
  // `key rekey`: a new key replacing an old one, linked both ways, in every
  // wallet of the old one (RekeyOp; ObjectCreated.replaces, record format 4).
  kKeyRekey = 3,
  // Endpoint certificates reach the wallets they are granted: EndpointBindOp
  // (record EndpointBound) and CreateKeyOp/RegisterOp.wallet, in record
  // format 4, and every request an endpoint certificate sends
  // (docs/endpoints.md).
  kEndpointAccess = 4,
  // Keystore upload and download (`wallet upload|download`, PKCS#12):
  // RegisterOp.source = keystore upload, and WalletObjectsRequest for a
  // download (docs/keystores.md).
  kWalletKeystore = 5,
  // Wallet export and import under a secret, merge and move
  // (`wallet export|import|merge|move`): WalletTransferOp (record
  // MembersMoved, format 4), RegisterOp.source = export import, and
  // WalletObjectsRequest for an export (docs/wallet-export.md).
  kWalletExport = 6,
};

struct FeatureInfo {
  Feature feature;
  std::string_view name;  // stable, shown to operators: lower-case, dashes
  Release introduced;     // the cluster version that turns it on (x.y.0)
  std::string_view changes;
};

inline constexpr FeatureInfo kFeatures[] = {
    {Feature::kClusterVersion, "cluster-version", Release{0, 2, 0},
     "nodes record their release in membership; the cluster version (the lowest release) gates "
     "features"},
    {Feature::kKeyRekey, "key-rekey", Release{0, 3, 0},
     "key rekey: a new key replaces an old one (links both ways, same wallets), in record "
     "format 4"},
    {Feature::kEndpointAccess, "endpoint-access", Release{0, 3, 0},
     "endpoint certificates bound to endpoints reach the wallets they are granted (endpoint "
     "bind, key create --wallet), in record format 4"},
    {Feature::kWalletKeystore, "wallet-keystore", Release{0, 3, 0},
     "PKCS#12 keystores uploaded into a wallet and downloaded from it (wallet upload, wallet "
     "download)"},
    {Feature::kWalletExport, "wallet-export", Release{0, 3, 0},
     "wallets exported and imported under a secret, merged and moved (wallet export, import, "
     "merge, move), in record format 4"},
};

// The checks the registry must pass: rows in release order, each a minor
// release (patch 0) this binary supports as a cluster version or below (a
// feature above this binary's release cannot be in its registry), names
// unique and non-empty.
constexpr bool RegistryIsValid(std::span<const FeatureInfo> table, const BinaryVersions& binary) {
  for (size_t i = 0; i < table.size(); ++i) {
    const FeatureInfo& f = table[i];
    if (f.name.empty() || f.introduced.patch != 0) return false;
    if (f.introduced > binary.max_cluster_version()) return false;
    if (i > 0 && table[i - 1].introduced > f.introduced) return false;
    for (size_t j = 0; j < i; ++j) {
      if (table[j].name == f.name || table[j].feature == f.feature) return false;
    }
  }
  return true;
}
static_assert(RegistryIsValid(kFeatures, kThisBinary),
              "kFeatures: keep rows sorted by release, unique, and within this binary's release");

// This release's registry.
inline constexpr std::span<const FeatureInfo> kRegistry{kFeatures};

// The next minor release as the tests build it (coffer-next): this release's
// features and one of its own.
inline constexpr BinaryVersions kNextReleaseBinary{kBinaryRelease.NextMinor(),
                                                   kBinaryRelease.Minor()};
inline constexpr FeatureInfo kNextReleaseFeatures[] = {
    kFeatures[0],
    kFeatures[1],
    kFeatures[2],
    kFeatures[3],
    kFeatures[4],
    {Feature::kObjectComment, "object-comment", kBinaryRelease.NextMinor(),
     "objects carry a comment (key create/register --comment), in record format 5"},
};
static_assert(RegistryIsValid(kNextReleaseFeatures, kNextReleaseBinary));

// A feature's name from either table ("" if neither has it): an old binary
// still names the feature a newer client asked for.
constexpr std::string_view FeatureName(Feature feature) {
  for (const auto& table : {std::span<const FeatureInfo>(kFeatures),
                            std::span<const FeatureInfo>(kNextReleaseFeatures)}) {
    for (const auto& f : table) {
      if (f.feature == feature) return f.name;
    }
  }
  return {};
}

}  // namespace coffer::upgrade
