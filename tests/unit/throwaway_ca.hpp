// ThrowawayCa: a certificate authority made in memory for one test (OpenSSL 3 API), so TLS
// tests ship no key files and need no openssl command. Keys are EC P-256: fast to generate.
// Errors: a failing OpenSSL call is a broken test environment and throws std::runtime_error.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace sotong::tls_test {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// A certificate and its private key, both PEM.
struct Issued {
  std::string cert_pem;
  std::string key_pem;
};

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what);
}

inline Pkey new_key() {
  Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(k != nullptr, "EC key generation");
  return k;
}

template <class Write>
std::string to_pem(Write write) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  check(bio && write(bio.get()) == 1, "PEM write");
  char* data = nullptr;
  const long n = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, static_cast<void*>(&data));
  return std::string(data, static_cast<std::size_t>(n));
}

inline std::string key_pem(EVP_PKEY* key) {
  return to_pem([key](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

inline std::string cert_pem(X509* cert) {
  return to_pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

struct CertSpec {
  std::string common_name;
  std::string dns_name;  // subjectAltName; "" for none
  bool is_ca = false;
  long valid_from_seconds = -3600;  // relative to now
  long valid_to_seconds = 24 * 3600;
};

// A certificate for `key` by `spec`, signed by `issuer_key` under `issuer` (nullptr: itself).
inline Cert make_cert(EVP_PKEY* key, const CertSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  Cert x(X509_new());
  check(x != nullptr, "X509_new");
  check(X509_set_version(x.get(), 2) == 1, "X509_set_version");
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), spec.valid_from_seconds);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), spec.valid_to_seconds);
  check(X509_set_pubkey(x.get(), key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                   -1, -1, 0) == 1,
        "subject name");
  check(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name) == 1,
        "issuer name");
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    check(ext != nullptr, "extension");
    check(X509_add_ext(x.get(), ext, -1) == 1, "X509_add_ext");
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (spec.is_ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!spec.dns_name.empty()) add(NID_subject_alt_name, "DNS:" + spec.dns_name);
  check(X509_sign(x.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
  return x;
}

class ThrowawayCa {
 public:
  ThrowawayCa() : key_(new_key()) {
    cert_ = make_cert(key_.get(), CertSpec{"sotong test CA", "", true}, nullptr, key_.get());
  }

  std::string cert_pem() const { return tls_test::cert_pem(cert_.get()); }

  // A server certificate this CA signs.
  Issued issue(CertSpec spec) const {
    Pkey key = new_key();
    Cert cert = make_cert(key.get(), spec, cert_.get(), key_.get());
    return {tls_test::cert_pem(cert.get()), key_pem(key.get())};
  }

 private:
  Pkey key_;
  Cert cert_;
};

// A certificate signed by its own key: no CA vouches for it.
inline Issued self_signed(CertSpec spec) {
  Pkey key = new_key();
  Cert cert = make_cert(key.get(), spec, nullptr, key.get());
  return {cert_pem(cert.get()), key_pem(key.get())};
}

}  // namespace sotong::tls_test
