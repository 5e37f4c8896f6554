// Development PKI for a Coffer cluster (`coffer cert ...`): a cluster CA and
// node and client certificates signed by it, made with OpenSSL's APIs.
// Keys are ECDSA P-256. PEM in, PEM out; files with private keys are 0600.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace coffer::node {

struct PemPair {
  std::string cert_pem;
  std::string key_pem;
};

struct CertificateRequest {
  std::string common_name;                // node or client name
  std::string organizational_unit;        // role: "node", "admin" or "endpoint"
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  int valid_days = 825;                   // Default: 825
};

// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign).
StatusOr<PemPair> CreateCertificateAuthority(const std::string& common_name, int valid_days = 3650);

// A leaf certificate signed by `ca`, usable for TLS client and server auth.
// INVALID_ARGUMENT for a bad CA PEM, empty name or unparsable IP address.
StatusOr<PemPair> IssueCertificate(const PemPair& ca, const CertificateRequest& request);

// Reads/writes a PEM pair (cert and key files). The key file is written 0600.
StatusOr<PemPair> ReadPemPair(const std::string& cert_path, const std::string& key_path);
Status WritePemPair(const PemPair& pair, const std::string& cert_path, const std::string& key_path);

// The notAfter of the PEM certificate in `cert_path`, in Unix seconds.
StatusOr<int64_t> CertificateNotAfter(const std::string& cert_path);

}  // namespace coffer::node
