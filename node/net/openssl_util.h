// Small OpenSSL helpers shared by node/certs.cc and node/tls.cc: owning
// pointers, the error queue as text, PEM key parsing and file reading.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace coffer::node {

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;

// Drains OpenSSL's thread-local error queue into one line.
std::string OpenSslErrors();

// An unencrypted PEM private key. INVALID_ARGUMENT, naming `what` ("CA key",
// "private key"), if the PEM does not parse or is encrypted (never prompts).
StatusOr<KeyPtr> ParsePrivateKeyPem(const std::string& pem, const std::string& what);

// The whole file. NOT_FOUND if it does not exist, PERMISSION_DENIED if it
// cannot be read, UNAVAILABLE for other I/O errors; messages name `what` and
// the path. INVALID_ARGUMENT for an empty path.
StatusOr<std::string> ReadWholeFile(const std::string& what, const std::string& path);

}  // namespace coffer::node
