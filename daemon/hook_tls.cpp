#include "daemon/hook_tls.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include "daemon/util/yaml_file.hpp"

namespace sotong {

namespace {
// A chain of a few certificates, or one key, is a few KiB; more is not what we were given.
constexpr std::size_t kMaxPemBytes = 1 << 20;
}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> make_hook_tls_context(
    const std::filesystem::path& cert_file, const std::filesystem::path& key_file) {
  namespace ssl = boost::asio::ssl;
  auto cert = yaml_file::read(cert_file, kMaxPemBytes);
  if (!cert) return Error{"hook tls_cert_file " + cert.error()};
  auto key = yaml_file::read(key_file, kMaxPemBytes);
  if (!key) return Error{"hook tls_key_file " + key.error()};
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(*cert), ec);
  if (ec)
    return Error{"hook tls_cert_file " + cert_file.string() + ": not a PEM certificate chain (" +
                 ec.message() + ")"};
  ctx->use_private_key(boost::asio::buffer(*key), ssl::context::pem, ec);
  if (ec)
    return Error{"hook tls_key_file " + key_file.string() + ": not a PEM private key (" +
                 ec.message() + ")"};
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return Error{"hook tls_key_file " + key_file.string() +
                 " does not belong to the certificate in " + cert_file.string()};
  return ctx;
}

}  // namespace sotong
