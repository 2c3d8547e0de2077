// The hook's TLS server side: a context from the configured certificate chain and private
// key (PEM), TLS 1.2 or newer. Loaded once at start (a reload does not swap it) and by
// `sotongd --check-config`, so a bad file is found before the daemon is restarted.
// Errors: a message naming the file and what is wrong with it.
#pragma once

#include <filesystem>
#include <memory>

#include "daemon/util/result.hpp"

namespace boost::asio::ssl {
class context;
}

namespace sotong {

Result<std::shared_ptr<boost::asio::ssl::context>> make_hook_tls_context(
    const std::filesystem::path& cert_file, const std::filesystem::path& key_file);

}  // namespace sotong
