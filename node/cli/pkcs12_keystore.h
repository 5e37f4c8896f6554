// PKCS#12 keystores (`coffer wallet upload|download`, docs/keystores.md):
// reading one into entries the CLI registers, and writing a wallet's
// objects into a new one. OpenSSL's PKCS#12 support; no I/O here.
//
// What travels, by object type:
//   PRIVATE_KEY     key bag (PKCS#8, encrypted under the password when
//                   written; material is the unencrypted PKCS#8 DER)
//   CERTIFICATE     certificate bag (X.509 DER)
//   SECRET_DATA, SYMMETRIC_KEY, OPAQUE_OBJECT
//                   secret bag (PKCS#12 v1.1 secretBag: a type OID and the
//                   value); read back as SECRET_DATA with the type OID kept
//                   in the attribute x-pkcs12-secret-type
// Names travel as the bags' friendlyName. Other object types (public keys)
// have no bag and are left out, and said so.
#pragma once

#include <string>
#include <vector>

#include "common/secret.h"
#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::node::cli {

// The attribute that keeps a secret bag's type OID (dotted text).
inline constexpr char kSecretTypeAttribute[] = "x-pkcs12-secret-type";

struct KeystoreEntry {
  pb::ObjectType type = pb::OBJECT_TYPE_UNSPECIFIED;
  std::string name;         // friendlyName ("" if the bag has none)
  SecretBytes material;     // DER (keys, certificates) or the secret's bytes
  std::string secret_type;  // secret bags: the type OID, dotted
};

// Every key, certificate and secret bag of the PKCS#12 `der`, in file
// order. DATA_LOSS if it is not a PKCS#12 file (or is damaged where the MAC
// does not cover it); INVALID_ARGUMENT if the MAC does not verify under
// `password` (a wrong password, or contents altered), a bag does not
// decrypt, or a bag is of a type it does not read (named).
StatusOr<std::vector<KeystoreEntry>> ReadPkcs12(const std::string& der,
                                                const SecretBytes& password);

// A new PKCS#12 holding `entries` (keys shrouded and every bag encrypted
// under `password`, AES-256-CBC with PBKDF2, MAC SHA-256). INVALID_ARGUMENT
// for an entry whose type has no bag or whose material does not parse (a
// private key or certificate), naming it.
StatusOr<std::string> WritePkcs12(const std::vector<KeystoreEntry>& entries,
                                  const SecretBytes& password);

// Whether an object of `type` can be written into a PKCS#12.
bool HasPkcs12Bag(pb::ObjectType type);

}  // namespace coffer::node::cli
