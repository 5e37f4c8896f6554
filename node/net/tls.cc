#include "node/net/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <vector>

#include "node/net/openssl_util.h"

namespace coffer::node {
namespace {

using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;

// All certificates in `pem`, in order; INVALID_ARGUMENT if there are none.
StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("allocating BIO: " + OpenSslErrors());
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop always ends on a "no start line" error; anything else is damage.
  unsigned long last = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!certs.empty() && !clean_end && last != 0) {
    return InvalidArgument(what + " PEM is damaged: " + OpenSslErrors());
  }
  ERR_clear_error();
  if (certs.empty()) return InvalidArgument(what + " is not a PEM X.509 certificate");
  return certs;
}

std::string SubjectLine(X509* cert) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

Status LoadTrustAnchors(SSL_CTX* ctx, const std::string& ca_pem, bool server) {
  COFFER_ASSIGN_OR_RETURN(std::vector<X509Ptr> cas, ParseCertificates(ca_pem, "CA certificate"));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  if (names == nullptr) return Internal("allocating CA name list: " + OpenSslErrors());
  for (const X509Ptr& ca : cas) {
    if (X509_check_ca(ca.get()) == 0) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      return InvalidArgument("CA file holds '" + SubjectLine(ca.get()) +
                             "', which is not a certificate authority");
    }
    X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca.get()));
    if (X509_STORE_add_cert(store, ca.get()) != 1 || name == nullptr ||
        sk_X509_NAME_push(names, name) == 0) {
      X509_NAME_free(name);
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      return Internal("adding CA certificate: " + OpenSslErrors());
    }
  }
  if (server) {
    // Tells clients which CA their certificate must come from.
    SSL_CTX_set_client_CA_list(ctx, names);
  } else {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
  }
  return Status::Ok();
}

Status LoadOwnCertificate(SSL_CTX* ctx, const TlsCredentials& credentials) {
  COFFER_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                          ParseCertificates(credentials.cert_pem, "certificate"));
  COFFER_ASSIGN_OR_RETURN(KeyPtr key, ParsePrivateKeyPem(credentials.key_pem, "private key"));
  X509* leaf = chain.front().get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("private key does not match the certificate '" + SubjectLine(leaf) +
                           "'");
  }
  if (SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return Internal("installing certificate: " + OpenSslErrors());
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      return Internal("installing certificate chain: " + OpenSslErrors());
    }
  }

  // Refuse to start with a certificate peers would refuse: checked here, the
  // error names the cause instead of a failed handshake on the other side.
  StoreCtxPtr verify(X509_STORE_CTX_new());
  STACK_OF(X509)* untrusted = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &untrusted);
  if (!verify ||
      X509_STORE_CTX_init(verify.get(), SSL_CTX_get_cert_store(ctx), leaf, untrusted) != 1) {
    return Internal("preparing certificate check: " + OpenSslErrors());
  }
  if (X509_verify_cert(verify.get()) != 1) {
    int err = X509_STORE_CTX_get_error(verify.get());
    ERR_clear_error();
    return InvalidArgument(
        "certificate '" + SubjectLine(leaf) +
        "' does not verify under the cluster CA: " + X509_verify_cert_error_string(err));
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeContext(const TlsCredentials& credentials,
                                                                 bool server) {
  std::unique_ptr<boost::asio::ssl::context> context;
  try {
    context = std::make_unique<boost::asio::ssl::context>(
        server ? boost::asio::ssl::context::tls_server : boost::asio::ssl::context::tls_client);
  } catch (const std::exception& e) {
    return Internal(std::string("creating TLS context: ") + e.what());
  }
  SSL_CTX* ctx = context->native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Internal("restricting TLS to version 1.3: " + OpenSslErrors());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  COFFER_RETURN_IF_ERROR(LoadTrustAnchors(ctx, credentials.ca_pem, server));
  COFFER_RETURN_IF_ERROR(LoadOwnCertificate(ctx, credentials));
  int mode = SSL_VERIFY_PEER;
  if (server) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  // Cluster CA -> leaf, plus room for one intermediate.
  SSL_CTX_set_verify_depth(ctx, 3);
  return context;
}

}  // namespace

StatusOr<TlsCredentials> LoadTlsCredentials(const TlsFiles& files) {
  TlsCredentials out;
  COFFER_ASSIGN_OR_RETURN(out.ca_pem, ReadWholeFile("CA", files.ca_file));
  COFFER_ASSIGN_OR_RETURN(out.cert_pem, ReadWholeFile("certificate", files.cert_file));
  COFFER_ASSIGN_OR_RETURN(out.key_pem, ReadWholeFile("key", files.key_file));
  return out;
}

StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsCredentials& credentials) {
  return MakeContext(credentials, /*server=*/true);
}

StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsFiles& files) {
  COFFER_ASSIGN_OR_RETURN(TlsCredentials credentials, LoadTlsCredentials(files));
  return MakeContext(credentials, /*server=*/true);
}

StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const TlsCredentials& credentials) {
  return MakeContext(credentials, /*server=*/false);
}

StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const TlsFiles& files) {
  COFFER_ASSIGN_OR_RETURN(TlsCredentials credentials, LoadTlsCredentials(files));
  return MakeContext(credentials, /*server=*/false);
}

Status SetExpectedServerName(SSL* ssl, const std::string& host) {
  if (host.empty()) return InvalidArgument("server host is empty");
  unsigned char probe[16];
  bool is_ip =
      inet_pton(AF_INET, host.c_str(), probe) == 1 || inet_pton(AF_INET6, host.c_str(), probe) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return Internal("setting expected server IP: " + OpenSslErrors());
    }
    return Status::Ok();
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return InvalidArgument("invalid server host name '" + host + "': " + OpenSslErrors());
  }
  return Status::Ok();
}

namespace {

// The identity in the subject of `cert`: exactly one CN (non-empty), at most
// one OU. `whose` starts the messages ("peer certificate", ...).
StatusOr<ClientIdentity> SubjectIdentity(X509* cert, const std::string& whose) {
  X509_NAME* subject = X509_get_subject_name(cert);
  auto field = [&](int nid, const char* label, bool required) -> StatusOr<std::string> {
    int index = X509_NAME_get_index_by_NID(subject, nid, -1);
    if (index < 0) {
      if (required) return PermissionDenied(whose + " has no " + label);
      return std::string();
    }
    if (X509_NAME_get_index_by_NID(subject, nid, index) >= 0) {
      return PermissionDenied(whose + " has more than one " + label);
    }
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
      ERR_clear_error();
      return PermissionDenied(whose + " " + label + " is not valid text");
    }
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    if (value.find('\0') != std::string::npos) {
      return PermissionDenied(whose + " " + label + " contains NUL");
    }
    return value;
  };
  ClientIdentity identity;
  COFFER_ASSIGN_OR_RETURN(identity.common_name, field(NID_commonName, "CN", true));
  COFFER_ASSIGN_OR_RETURN(identity.organizational_unit,
                          field(NID_organizationalUnitName, "OU", false));
  if (identity.common_name.empty()) return PermissionDenied(whose + " CN is empty");
  EVP_PKEY* key = X509_get0_pubkey(cert);
  int key_len = key == nullptr ? -1 : i2d_PUBKEY(key, nullptr);
  if (key_len <= 0) {
    ERR_clear_error();
    return PermissionDenied(whose + " has no usable public key");
  }
  identity.public_key.resize(static_cast<size_t>(key_len));
  auto* out = reinterpret_cast<unsigned char*>(identity.public_key.data());
  i2d_PUBKEY(key, &out);
  return identity;
}

}  // namespace

StatusOr<ClientIdentity> PeerIdentity(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return PermissionDenied("peer presented no certificate");
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return PermissionDenied("peer certificate is not verified");
  }
  return SubjectIdentity(cert, "peer certificate");
}

StatusOr<ClientIdentity> CertificateIdentity(const std::string& cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  if (!bio) return Internal("out of memory reading a certificate");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return InvalidArgument("the certificate PEM does not parse: " + OpenSslErrors());
  }
  auto identity = SubjectIdentity(cert.get(), "the certificate");
  if (!identity.ok()) return InvalidArgument(identity.status().message());
  return identity;
}

}  // namespace coffer::node
