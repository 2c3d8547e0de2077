// The one translation unit that compiles Asio, Beast and Asio's OpenSSL glue, so every
// other file only includes their declarations (DESIGN.md: build speed on two cores).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
