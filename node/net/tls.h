// TLS configuration for Coffer's sockets: mutual TLS 1.3 only, trusting the
// cluster CA and nothing else (no system trust store).
//
// The context factories are thread-safe. A built context may be shared by
// any number of streams and threads, but must outlive them.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "common/status.h"

namespace coffer::node {

// PEM text of a TLS endpoint's credentials.
struct TlsCredentials {
  std::string ca_pem;    // the cluster CA certificate(s); the only trust anchors
  std::string cert_pem;  // this endpoint's certificate, optionally followed by its chain
  std::string key_pem;   // this endpoint's unencrypted private key
};

// Paths of PEM files holding TlsCredentials.
struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Reads the three files. NOT_FOUND names a missing file, PERMISSION_DENIED an
// unreadable one, UNAVAILABLE any other I/O error.
StatusOr<TlsCredentials> LoadTlsCredentials(const TlsFiles& files);

// A server context: TLS 1.3 only; requires a client certificate issued by the
// CA (verify_peer + verify_fail_if_no_peer_cert). INVALID_ARGUMENT with a
// specific message if a PEM does not parse, the key does not match the
// certificate, or the certificate does not verify under the CA (wrong CA,
// expired).
StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsCredentials& credentials);
StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsFiles& files);

// A client context: TLS 1.3 only; presents the certificate and verifies the
// server's certificate against the CA. The server's name or IP address is
// checked per connection: call SetExpectedServerName on each stream. Errors
// as for MakeServerTlsContext.
StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const TlsCredentials& credentials);
StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const TlsFiles& files);

// Makes the client handshake on `ssl` fail unless the server certificate
// names `host`: an IP address literal must match an IP subjectAltName, any
// other host a DNS subjectAltName (also sent as SNI). Call before the
// handshake. INVALID_ARGUMENT for an empty host.
Status SetExpectedServerName(SSL* ssl, const std::string& host);

// Who is on the other end of an authenticated connection, from the subject of
// the peer certificate.
struct ClientIdentity {
  std::string common_name;          // the node, admin or endpoint name
  std::string organizational_unit;  // the role: "node", "admin" or "endpoint"
  // The certificate's public key, DER SubjectPublicKeyInfo: a node's
  // record-signing key, which induction records (storage/record_auth.h).
  std::string public_key;
};

// The identity in the peer certificate of a completed handshake.
// PERMISSION_DENIED if there is no verified peer certificate or its subject
// does not have exactly one CN (OU is optional, at most one).
StatusOr<ClientIdentity> PeerIdentity(const SSL* ssl);

// The identity a peer sees in the first certificate of `cert_pem` (the leaf
// of a chain), by the same rules as PeerIdentity; nothing is verified.
// INVALID_ARGUMENT if the PEM does not parse or the subject breaks a rule.
StatusOr<ClientIdentity> CertificateIdentity(const std::string& cert_pem);

}  // namespace coffer::node
