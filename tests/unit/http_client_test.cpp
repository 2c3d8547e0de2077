// HttpClient against real sockets on 127.0.0.1 (local_servers.hpp): a TLS server with
// certificates made at run time (throwaway_ca.hpp), a plain HTTP server and a CONNECT proxy. The
// proxy choice (proxy_for, no_proxy_matches) is tested as pure functions.
#include "connectors/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/local_servers.hpp"
#include "tests/unit/throwaway_ca.hpp"

namespace sotong {
namespace {

namespace ssl = boost::asio::ssl;
using tls_test::CertSpec;
using tls_test::Issued;
using tls_test::listen_on_loopback_port_then_close;
using tls_test::LocalServers;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Endpoint endpoint(bool tls, std::string host, std::string port) {
  return Endpoint{tls, std::move(host), std::move(port), ""};
}

// ---- Which proxy, if any: pure functions ----

TEST(ProxyConfigTest, NoVariablesMeansDirect) {
  auto p = proxy_for(endpoint(true, "mastodon.example", "443"), env_of({}));
  ASSERT_TRUE(p) << p.error();
  EXPECT_FALSE(p->has_value());
}

TEST(ProxyConfigTest, HttpsEndpointUsesHttpsProxyOnly) {
  auto env = env_of({{"HTTPS_PROXY", "http://proxy.city:3128"}, {"HTTP_PROXY", "http://other:1"}});
  auto p = proxy_for(endpoint(true, "mastodon.example", "443"), env);
  ASSERT_TRUE(p) << p.error();
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->host, "proxy.city");
  EXPECT_EQ((*p)->port, "3128");
  EXPECT_EQ((*p)->authorization, "");
}

TEST(ProxyConfigTest, HttpEndpointUsesHttpProxyOnly) {
  auto only_https = env_of({{"https_proxy", "http://proxy.city:3128"}});
  auto p = proxy_for(endpoint(false, "sandbox.example", "80"), only_https);
  ASSERT_TRUE(p) << p.error();
  EXPECT_FALSE(p->has_value());
  auto both = env_of({{"https_proxy", "http://a:1"}, {"http_proxy", "b:2"}});
  p = proxy_for(endpoint(false, "sandbox.example", "80"), both);
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->host, "b");
  EXPECT_EQ((*p)->port, "2");
}

TEST(ProxyConfigTest, LowerCaseNameWinsAndEmptyCountsAsUnset) {
  auto p =
      proxy_for(endpoint(true, "h", "443"),
                env_of({{"https_proxy", "http://lower:1"}, {"HTTPS_PROXY", "http://upper:2"}}));
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->host, "lower");
  p = proxy_for(endpoint(true, "h", "443"),
                env_of({{"https_proxy", ""}, {"HTTPS_PROXY", "http://upper:2"}}));
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->host, "upper");
}

TEST(ProxyConfigTest, DefaultPortIs80AndSchemeMayBeOmitted) {
  auto p = proxy_for(endpoint(true, "h", "443"), env_of({{"https_proxy", "proxy.city"}}));
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->host, "proxy.city");
  EXPECT_EQ((*p)->port, "80");
}

TEST(ProxyConfigTest, UserAndPasswordBecomeBasicAuthorization) {
  // Percent-encoded in the URL, decoded before encoding: "alice:p@ss".
  auto p = proxy_for(endpoint(true, "h", "443"),
                     env_of({{"https_proxy", "http://alice:p%40ss@proxy.city:8080"}}));
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->authorization, "Basic YWxpY2U6cEBzcw==");
}

TEST(ProxyConfigTest, UnusableProxyUrlIsAnErrorWithoutItsPassword) {
  auto p = proxy_for(endpoint(true, "h", "443"),
                     env_of({{"HTTPS_PROXY", "socks5://bob:hunter2@proxy.city:1080"}}));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("HTTPS_PROXY"), std::string::npos) << p.error();
  EXPECT_EQ(p.error().find("hunter2"), std::string::npos) << p.error();
}

TEST(ProxyConfigTest, NoProxySkipsTheProxyForMatchingHosts) {
  auto env = env_of({{"https_proxy", "http://proxy:3128"}, {"NO_PROXY", "intranet.city, .local"}});
  auto p = proxy_for(endpoint(true, "mastodon.intranet.city", "443"), env);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has_value());
  p = proxy_for(endpoint(true, "mastodon.social", "443"), env);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->has_value());
}

TEST(ProxyConfigTest, NoProxyDomainMatchesItselfAndSubdomainsOnly) {
  EXPECT_TRUE(no_proxy_matches("example.com", "example.com"));
  EXPECT_TRUE(no_proxy_matches("api.example.com", "example.com"));
  EXPECT_TRUE(no_proxy_matches("api.example.com", ".example.com"));
  EXPECT_TRUE(no_proxy_matches("example.com", ".example.com"));
  EXPECT_TRUE(no_proxy_matches("a.b.example.com", "*.example.com"));
  EXPECT_FALSE(no_proxy_matches("badexample.com", "example.com"));
  EXPECT_FALSE(no_proxy_matches("example.com.evil", "example.com"));
  EXPECT_FALSE(no_proxy_matches("example.com", "api.example.com"));
}

TEST(ProxyConfigTest, NoProxyIsCaseInsensitiveAndIgnoresPortsAndBlanks) {
  EXPECT_TRUE(no_proxy_matches("API.Example.COM", " other.org ,EXAMPLE.com "));
  EXPECT_TRUE(no_proxy_matches("example.com", "example.com:8443"));
  EXPECT_TRUE(no_proxy_matches("example.com.", "example.com"));
  EXPECT_FALSE(no_proxy_matches("example.com", ""));
  EXPECT_FALSE(no_proxy_matches("example.com", " , ,"));
}

TEST(ProxyConfigTest, NoProxyStarMatchesEverything) {
  EXPECT_TRUE(no_proxy_matches("anything.example", "*"));
  EXPECT_TRUE(no_proxy_matches("10.1.2.3", "foo, *"));
  EXPECT_FALSE(no_proxy_matches("anything.example", "*.other"));
}

TEST(ProxyConfigTest, NoProxyIpLiteralsMatchExactlyOrByRange) {
  EXPECT_TRUE(no_proxy_matches("127.0.0.1", "localhost,127.0.0.1"));
  EXPECT_TRUE(no_proxy_matches("10.0.0.7", "10.0.0.7:8080"));
  EXPECT_FALSE(no_proxy_matches("127.0.0.1", "0.0.1"));  // not a domain suffix
  EXPECT_FALSE(no_proxy_matches("127.0.0.2", "127.0.0.1"));
  EXPECT_TRUE(no_proxy_matches("10.20.30.40", "192.168.0.0/16,10.0.0.0/8"));
  EXPECT_FALSE(no_proxy_matches("11.0.0.1", "10.0.0.0/8"));
  EXPECT_TRUE(no_proxy_matches("::1", "::1"));
  EXPECT_TRUE(no_proxy_matches("[::1]", "[::1]:443"));
  EXPECT_TRUE(no_proxy_matches("fd00::5", "fd00::/8"));
  EXPECT_FALSE(no_proxy_matches("fe80::5", "fd00::/8"));
}

std::shared_ptr<ssl::context> trusting(const tls_test::ThrowawayCa& ca) {
  auto ctx = make_client_tls_context(ca.cert_pem());
  if (!ctx) throw std::runtime_error(ctx.error());
  return *ctx;
}

// ---- TLS verification against a server with run-time certificates ----

class TlsVerifyTest : public ::testing::Test {
 protected:
  tls_test::ThrowawayCa ca_;
  std::shared_ptr<ssl::context> client_tls_ = trusting(ca_);
  LocalServers servers_;
};

TEST_F(TlsVerifyTest, CertificateFromTrustedCaForTheHostSucceeds) {
  auto port = servers_.start_tls_server(ca_.issue(CertSpec{"localhost", "localhost"}));
  auto r = servers_.get(endpoint(true, "localhost", port), client_tls_, env_of({}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello over tls");
  EXPECT_EQ(servers_.log().targets, std::vector<std::string>{"/hello"});
}

TEST_F(TlsVerifyTest, CertificateForAnotherHostFails) {
  auto port = servers_.start_tls_server(ca_.issue(CertSpec{"other.example", "other.example"}));
  auto r = servers_.get(endpoint(true, "localhost", port), client_tls_, env_of({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("TLS handshake with localhost"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("hostname mismatch"), std::string::npos) << r.error();
  EXPECT_TRUE(servers_.log().targets.empty());
}

TEST_F(TlsVerifyTest, SelfSignedCertificateFails) {
  auto port = servers_.start_tls_server(tls_test::self_signed(CertSpec{"localhost", "localhost"}));
  auto r = servers_.get(endpoint(true, "localhost", port), client_tls_, env_of({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("self-signed certificate"), std::string::npos) << r.error();
  EXPECT_TRUE(servers_.log().targets.empty());
}

TEST_F(TlsVerifyTest, ExpiredCertificateFails) {
  CertSpec expired{"localhost", "localhost"};
  expired.valid_from_seconds = -2 * 24 * 3600;
  expired.valid_to_seconds = -24 * 3600;
  auto port = servers_.start_tls_server(ca_.issue(expired));
  auto r = servers_.get(endpoint(true, "localhost", port), client_tls_, env_of({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("certificate has expired"), std::string::npos) << r.error();
  EXPECT_TRUE(servers_.log().targets.empty());
}

TEST(TlsContextTest, UnreadableExtraCaIsAnError) {
  auto ctx = make_client_tls_context(std::string("not a certificate"));
  EXPECT_FALSE(ctx);
}

// ---- Through a CONNECT proxy ----

class HttpProxyTest : public TlsVerifyTest {};

TEST_F(HttpProxyTest, TlsRequestGoesThroughTheTunnelAndVerifiesTheTarget) {
  auto origin = servers_.start_tls_server(ca_.issue(CertSpec{"localhost", "localhost"}));
  auto proxy = servers_.start_proxy();
  auto env = env_of({{"https_proxy", "http://127.0.0.1:" + proxy}});
  auto r = servers_.get(endpoint(true, "localhost", origin), client_tls_, env);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, "hello over tls");
  EXPECT_EQ(servers_.log().connect_lines, std::vector<std::string>{"CONNECT localhost:" + origin});
  EXPECT_EQ(servers_.log().proxy_authorizations, std::vector<std::string>{""});
}

TEST_F(HttpProxyTest, TunnelStillRefusesACertificateForAnotherHost) {
  auto origin = servers_.start_tls_server(ca_.issue(CertSpec{"other.example", "other.example"}));
  auto proxy = servers_.start_proxy();
  auto env = env_of({{"HTTPS_PROXY", "http://127.0.0.1:" + proxy}});
  auto r = servers_.get(endpoint(true, "localhost", origin), client_tls_, env);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("hostname mismatch"), std::string::npos) << r.error();
  EXPECT_EQ(servers_.log().connect_lines.size(), 1u);
}

TEST_F(HttpProxyTest, PlainHttpRequestAlsoUsesConnect) {
  auto origin = servers_.start_plain_server();
  auto proxy = servers_.start_proxy();
  auto env = env_of({{"http_proxy", "127.0.0.1:" + proxy}});
  auto r = servers_.get(endpoint(false, "origin.test", origin), client_tls_, env);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, "hello in plain text");
  EXPECT_EQ(servers_.log().connect_lines,
            std::vector<std::string>{"CONNECT origin.test:" + origin});
  EXPECT_EQ(servers_.log().targets, std::vector<std::string>{"/hello"});
}

TEST_F(HttpProxyTest, CredentialsInTheProxyUrlAreSentAsBasicAuth) {
  auto origin = servers_.start_tls_server(ca_.issue(CertSpec{"localhost", "localhost"}));
  auto proxy = servers_.start_proxy("Basic YWxpY2U6czNjcmV0");  // alice:s3cret
  auto env = env_of({{"https_proxy", "http://alice:s3cret@127.0.0.1:" + proxy}});
  auto r = servers_.get(endpoint(true, "localhost", origin), client_tls_, env);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, "hello over tls");
}

TEST_F(HttpProxyTest, ProxyAnswering407IsAClearErrorWithoutTheCredentials) {
  auto origin = servers_.start_tls_server(ca_.issue(CertSpec{"localhost", "localhost"}));
  auto proxy = servers_.start_proxy("Basic YWxpY2U6czNjcmV0");
  auto env = env_of({{"https_proxy", "http://alice:wrong-pw@127.0.0.1:" + proxy}});
  auto r = servers_.get(endpoint(true, "localhost", origin), client_tls_, env);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("proxy 127.0.0.1:" + proxy + " refused CONNECT to localhost:" + origin +
                           ": 407"),
            std::string::npos)
      << r.error();
  EXPECT_EQ(r.error().find("wrong-pw"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find("YWxpY2U6"), std::string::npos) << r.error();
  EXPECT_TRUE(servers_.log().targets.empty());
}

TEST_F(HttpProxyTest, NoProxyHostGoesDirect) {
  auto origin = servers_.start_tls_server(ca_.issue(CertSpec{"localhost", "localhost"}));
  auto proxy = servers_.start_proxy();
  auto env = env_of({{"https_proxy", "http://127.0.0.1:" + proxy}, {"no_proxy", "localhost"}});
  auto r = servers_.get(endpoint(true, "localhost", origin), client_tls_, env);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(servers_.log().connect_lines.empty());
}

TEST_F(HttpProxyTest, UnreachableProxyIsNamedInTheError) {
  auto origin = servers_.start_plain_server();
  auto closed = listen_on_loopback_port_then_close();
  auto env = env_of({{"http_proxy", "http://127.0.0.1:" + closed}});
  auto r = servers_.get(endpoint(false, "localhost", origin), client_tls_, env);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("connect proxy 127.0.0.1:" + closed), std::string::npos) << r.error();
}

}  // namespace
}  // namespace sotong
