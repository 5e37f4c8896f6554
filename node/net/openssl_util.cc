#include "node/net/openssl_util.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/bounded_read.h"
#include "common/limits.h"

namespace coffer::node {

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

StatusOr<KeyPtr> ParsePrivateKeyPem(const std::string& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("allocating BIO: " + OpenSslErrors());
  // A callback returning no passphrase makes encrypted keys fail instead of prompting.
  KeyPtr key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) {
    ERR_clear_error();
    return InvalidArgument(what + " is not an unencrypted PEM private key");
  }
  return key;
}

StatusOr<std::string> ReadWholeFile(const std::string& what, const std::string& path) {
  if (path.empty()) return InvalidArgument(what + " file is not set");
  // PEM files are small: bounded whatever the path is (bounded_read.h).
  return ReadBoundedFile(path, limits::kMaxCliInputBytes, what + " file");
}

}  // namespace coffer::node
