#include "node/cli/pkcs12_keystore.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>

#include "node/net/openssl_util.h"

namespace coffer::node::cli {
namespace {

// PBKDF2 iterations for the bags and the MAC (OpenSSL's own default).
constexpr int kIterations = PKCS12_DEFAULT_ITER;

using P12Ptr = std::unique_ptr<PKCS12, OpenSslDeleter<PKCS12_free>>;
using P8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, OpenSslDeleter<PKCS8_PRIV_KEY_INFO_free>>;

struct SafesFree {
  void operator()(STACK_OF(PKCS7) * s) const { sk_PKCS7_pop_free(s, PKCS7_free); }
};
struct BagsFree {
  void operator()(STACK_OF(PKCS12_SAFEBAG) * s) const {
    sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free);
  }
};
using SafesPtr = std::unique_ptr<STACK_OF(PKCS7), SafesFree>;
using BagsPtr = std::unique_ptr<STACK_OF(PKCS12_SAFEBAG), BagsFree>;

// i2d of `object` into a string ("" if it fails).
template <typename T, int (*kEncode)(const T*, unsigned char**)>
std::string Der(const T* object) {
  unsigned char* out = nullptr;
  int len = kEncode(object, &out);
  if (len <= 0) return "";
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  OPENSSL_clear_free(out, static_cast<size_t>(len));
  return der;
}

std::string FriendlyName(const PKCS12_SAFEBAG* bag) {
  char* name = PKCS12_get_friendlyname(const_cast<PKCS12_SAFEBAG*>(bag));
  if (name == nullptr) return "";
  std::string out(name);
  OPENSSL_free(name);
  return out;
}

std::string DottedOid(const ASN1_OBJECT* oid) {
  char text[128];
  int n = OBJ_obj2txt(text, sizeof(text), oid, /*no_name=*/1);
  return n > 0 && n < static_cast<int>(sizeof(text)) ? std::string(text) : "";
}

class Reader {
 public:
  explicit Reader(const SecretBytes& password) : password_(password) {}

  Status Bags(const STACK_OF(PKCS12_SAFEBAG) * bags) {
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); ++i) {
      COFFER_RETURN_IF_ERROR(Bag(sk_PKCS12_SAFEBAG_value(bags, i)));
    }
    return Status::Ok();
  }

  std::vector<KeystoreEntry> entries;

 private:
  Status Bag(const PKCS12_SAFEBAG* bag) {
    KeystoreEntry entry;
    entry.name = FriendlyName(bag);
    switch (PKCS12_SAFEBAG_get_nid(bag)) {
      case NID_keyBag:
        entry.type = pb::PRIVATE_KEY;
        entry.material = SecretBytes(
            Der<PKCS8_PRIV_KEY_INFO, i2d_PKCS8_PRIV_KEY_INFO>(PKCS12_SAFEBAG_get0_p8inf(bag)));
        break;
      case NID_pkcs8ShroudedKeyBag: {
        P8Ptr p8(PKCS12_decrypt_skey(bag, Password(), PasswordLength()));
        if (!p8) return InvalidArgument("a private key (" + Named(entry) + ") does not decrypt");
        entry.type = pb::PRIVATE_KEY;
        entry.material = SecretBytes(Der<PKCS8_PRIV_KEY_INFO, i2d_PKCS8_PRIV_KEY_INFO>(p8.get()));
        break;
      }
      case NID_certBag: {
        X509Ptr cert(PKCS12_SAFEBAG_get1_cert(bag));
        if (!cert) return InvalidArgument("a certificate bag (" + Named(entry) + ") is not X.509");
        entry.type = pb::CERTIFICATE;
        entry.material = SecretBytes(Der<X509, i2d_X509>(cert.get()));
        break;
      }
      case NID_secretBag: {
        const ASN1_TYPE* value = PKCS12_SAFEBAG_get0_bag_obj(bag);
        if (value == nullptr || value->type != V_ASN1_OCTET_STRING) {
          return InvalidArgument("a secret bag (" + Named(entry) + ") holds no octet string");
        }
        const ASN1_OCTET_STRING* bytes = value->value.octet_string;
        entry.type = pb::SECRET_DATA;
        entry.secret_type = DottedOid(PKCS12_SAFEBAG_get0_bag_type(bag));
        entry.material =
            SecretBytes(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(bytes)),
                                    static_cast<size_t>(ASN1_STRING_length(bytes))));
        break;
      }
      case NID_safeContentsBag:
        return Bags(PKCS12_SAFEBAG_get0_safes(bag));
      default:
        return InvalidArgument("a bag of type " + DottedOid(PKCS12_SAFEBAG_get0_type(bag)) +
                               " is not read");
    }
    if (entry.material.size() == 0) return DataLoss("an entry (" + Named(entry) + ") is empty");
    entries.push_back(std::move(entry));
    return Status::Ok();
  }

  static std::string Named(const KeystoreEntry& e) {
    return e.name.empty() ? "no friendlyName" : "'" + e.name + "'";
  }
  const char* Password() const { return password_.reveal().c_str(); }
  int PasswordLength() const { return static_cast<int>(password_.size()); }

  const SecretBytes& password_;
};

}  // namespace

bool HasPkcs12Bag(pb::ObjectType type) {
  return type == pb::PRIVATE_KEY || type == pb::CERTIFICATE || type == pb::SECRET_DATA ||
         type == pb::SYMMETRIC_KEY || type == pb::OPAQUE_OBJECT;
}

StatusOr<std::vector<KeystoreEntry>> ReadPkcs12(const std::string& der,
                                                const SecretBytes& password) {
  if (der.size() > INT_MAX) return InvalidArgument("keystore too large");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  P12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())));
  if (!p12) {
    ERR_clear_error();
    return DataLoss("not a PKCS#12 keystore, or damaged (it does not parse)");
  }
  const char* pass = password.reveal().c_str();
  const int pass_len = static_cast<int>(password.size());
  if (PKCS12_mac_present(p12.get()) && PKCS12_verify_mac(p12.get(), pass, pass_len) != 1) {
    ERR_clear_error();
    return InvalidArgument(
        "the password does not open this keystore (its MAC does not verify: a wrong password, "
        "or the file was altered)");
  }
  SafesPtr safes(PKCS12_unpack_authsafes(p12.get()));
  if (!safes) {
    ERR_clear_error();
    return DataLoss("the keystore's contents do not parse");
  }
  Reader reader(password);
  for (int i = 0; i < sk_PKCS7_num(safes.get()); ++i) {
    PKCS7* safe = sk_PKCS7_value(safes.get(), i);
    BagsPtr bags;
    switch (OBJ_obj2nid(safe->type)) {
      case NID_pkcs7_data:
        bags.reset(PKCS12_unpack_p7data(safe));
        break;
      case NID_pkcs7_encrypted:
        bags.reset(PKCS12_unpack_p7encdata(safe, pass, pass_len));
        break;
      default:
        return InvalidArgument("a public-key-encrypted part of the keystore is not read");
    }
    if (!bags) {
      ERR_clear_error();
      return InvalidArgument("a part of the keystore does not decrypt or parse");
    }
    COFFER_RETURN_IF_ERROR(reader.Bags(bags.get()));
  }
  return std::move(reader.entries);
}

StatusOr<std::string> WritePkcs12(const std::vector<KeystoreEntry>& entries,
                                  const SecretBytes& password) {
  if (entries.empty()) return InvalidArgument("nothing to write into a PKCS#12");
  const char* pass = password.reveal().c_str();
  STACK_OF(PKCS12_SAFEBAG)* keys = nullptr;
  STACK_OF(PKCS12_SAFEBAG)* others = nullptr;
  auto free_bags = [&] {
    BagsFree{}(keys);
    BagsFree{}(others);
  };
  for (const KeystoreEntry& e : entries) {
    const auto* p = reinterpret_cast<const unsigned char*>(e.material.reveal().data());
    const long len = static_cast<long>(e.material.size());
    PKCS12_SAFEBAG* bag = nullptr;
    if (e.type == pb::PRIVATE_KEY) {
      KeyPtr key(d2i_AutoPrivateKey(nullptr, &p, len));
      if (key) bag = PKCS12_add_key(&keys, key.get(), 0, kIterations, NID_aes_256_cbc, pass);
    } else if (e.type == pb::CERTIFICATE) {
      X509Ptr cert(d2i_X509(nullptr, &p, len));
      if (cert) bag = PKCS12_add_cert(&others, cert.get());
    } else if (HasPkcs12Bag(e.type)) {
      int nid = e.secret_type.empty() ? NID_undef : OBJ_txt2nid(e.secret_type.c_str());
      if (nid == NID_undef) nid = NID_pkcs7_data;  // "just data": unknown types
      bag = PKCS12_add_secret(&others, nid, p, static_cast<int>(len));
    }
    if (bag == nullptr ||
        (!e.name.empty() && PKCS12_add_friendlyname(bag, e.name.c_str(), -1) != 1)) {
      ERR_clear_error();
      free_bags();
      return InvalidArgument("'" + e.name + "' cannot be written into a PKCS#12 (its type or " +
                             "material is not one a keystore holds)");
    }
  }
  STACK_OF(PKCS7)* safes = nullptr;
  bool ok = (keys == nullptr || PKCS12_add_safe(&safes, keys, -1, 0, nullptr) == 1) &&
            (others == nullptr ||
             PKCS12_add_safe(&safes, others, NID_aes_256_cbc, kIterations, pass) == 1);
  free_bags();
  P12Ptr p12(ok ? PKCS12_add_safes(safes, 0) : nullptr);
  SafesFree{}(safes);
  if (!p12 || PKCS12_set_mac(p12.get(), pass, -1, nullptr, 0, kIterations, EVP_sha256()) != 1) {
    ERR_clear_error();
    return Internal("OpenSSL could not assemble the PKCS#12");
  }
  std::string der = Der<PKCS12, i2d_PKCS12>(p12.get());
  if (der.empty()) return Internal("OpenSSL could not encode the PKCS#12");
  return der;
}

}  // namespace coffer::node::cli
