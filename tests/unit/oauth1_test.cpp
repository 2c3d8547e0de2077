#include "connectors/x/oauth1.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sotong::x {
namespace {

// The worked example of X's "Creating a signature" page (developer.x.com, OAuth 1.0a).
const OAuth1Credentials kDocCredentials{"xvz1evFS4wEEPTGEFPHBog",
                                        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
                                        "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
                                        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"};
constexpr const char* kDocUrl = "https://api.twitter.com/1.1/statuses/update.json";
constexpr const char* kDocNonce = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
constexpr int64_t kDocTimestamp = 1318622958;
const Params kDocRequestParams{{"include_entities", "true"},
                               {"status", "Hello Ladies + Gentlemen, a signed OAuth request!"}};

Params doc_all_params() {
  Params all = kDocRequestParams;
  Params oauth = oauth_params(kDocCredentials, kDocNonce, kDocTimestamp);
  all.insert(all.end(), oauth.begin(), oauth.end());
  return all;
}

TEST(OAuth1, DocumentationExampleBaseString) {
  EXPECT_EQ(signature_base_string("POST", kDocUrl, doc_all_params()),
            "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%"
            "3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%"
            "3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%"
            "26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-"
            "GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%"
            "2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521");
}

TEST(OAuth1, DocumentationExampleSignature) {
  EXPECT_EQ(sign(kDocCredentials, "POST", kDocUrl, kDocRequestParams, kDocNonce, kDocTimestamp),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
}

TEST(OAuth1, SignBaseStringMatchesSign) {
  std::string base = signature_base_string("POST", kDocUrl, doc_all_params());
  EXPECT_EQ(sign_base_string(base, kDocCredentials.consumer_secret, kDocCredentials.token_secret),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
}

TEST(OAuth1, OAuthParamsOmitAnEmptyToken) {
  OAuth1Credentials app{"ck", "cs", "", ""};
  for (const auto& [name, value] : oauth_params(app, "n", 1)) EXPECT_NE(name, "oauth_token");
}

TEST(OAuth1, PercentEncodeLeavesOnlyUnreservedCharacters) {
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
  EXPECT_EQ(percent_encode("!*'();:@&=$,/?#[]%"),
            "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%2F%3F%23%5B%5D%25");
  EXPECT_EQ(percent_encode("민원"), "%EB%AF%BC%EC%9B%90");
  EXPECT_EQ(percent_encode("☃"), "%E2%98%83");
  EXPECT_EQ(percent_encode(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(percent_encode(""), "");
}

TEST(OAuth1, ParametersSortByEncodedNameThenValue) {
  // RFC 5849 §3.4.1.3.2's parameters: equal names sort by value, and "c%40" sorts before "c2"
  // because the comparison is of the encoded bytes.
  Params p{{"b5", "=%3D"}, {"a3", "a"}, {"c@", ""}, {"a2", "r b"}, {"c2", ""}, {"a3", "2 q"}};
  std::string base = signature_base_string("get", "http://example.com/request", p);
  EXPECT_EQ(base,
            "GET&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%"
            "253D%25253D%26c%2540%3D%26c2%3D");
}

TEST(OAuth1, BaseUrlIsNormalised) {
  auto base_url_of = [](std::string_view url) {
    std::string s = signature_base_string("GET", url, {});
    return s.substr(4, s.size() - 5);  // between "GET&" and the trailing "&"
  };
  EXPECT_EQ(base_url_of("HTTP://EXAMPLE.com:80/r%20v/X?id=123#f"),
            percent_encode("http://example.com/r%20v/X"));
  EXPECT_EQ(base_url_of("https://www.example.net:8080/?q=1"),
            percent_encode("https://www.example.net:8080/"));
  EXPECT_EQ(base_url_of("https://api.x.com:443/2/tweets"),
            percent_encode("https://api.x.com/2/tweets"));
  EXPECT_EQ(base_url_of("http://127.0.0.1:8099"), percent_encode("http://127.0.0.1:8099/"));
  EXPECT_EQ(base_url_of("http://[::1]:80/2/users/me"), percent_encode("http://[::1]/2/users/me"));
}

TEST(OAuth1, SignatureParameterIsNeverSigned) {
  Params with_signature = doc_all_params();
  with_signature.emplace_back("oauth_signature", "anything");
  EXPECT_EQ(signature_base_string("POST", kDocUrl, with_signature),
            signature_base_string("POST", kDocUrl, doc_all_params()));
}

TEST(OAuth1, HeaderRoundTripsThroughTheParser) {
  std::string header = authorization_header(kDocCredentials, "POST", kDocUrl, kDocRequestParams,
                                            kDocNonce, kDocTimestamp);
  EXPECT_EQ(header.rfind("OAuth ", 0), 0u);
  EXPECT_NE(header.find("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""), std::string::npos)
      << header;
  auto parsed = parse_authorization_header(header);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->size(), 7u);
  EXPECT_EQ(parsed->at("oauth_signature"), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
  for (const auto& [name, value] : oauth_params(kDocCredentials, kDocNonce, kDocTimestamp)) {
    EXPECT_EQ(parsed->at(name), value) << name;
  }
  // The request parameters travel in the query or body, never in the header.
  EXPECT_EQ(parsed->count("status"), 0u);
}

TEST(OAuth1, ParserAcceptsRealmAndLooseWhitespace) {
  auto parsed = parse_authorization_header(
      "  oauth realm=\"Example\",oauth_consumer_key = \"a%20b\" ,\toauth_token=\"\"  ");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->at("realm"), "Example");
  EXPECT_EQ(parsed->at("oauth_consumer_key"), "a b");
  EXPECT_EQ(parsed->at("oauth_token"), "");
}

TEST(OAuth1, HostileHeadersAreRejectedWithoutCrashing) {
  const std::string huge_value = "OAuth a=\"" + std::string(10'000, 'x') + "\"";
  std::string many = "OAuth ";
  for (int i = 0; i < 40; ++i) many += "p" + std::to_string(i) + "=\"v\",";
  for (const std::string& h : {std::string(""),
                               std::string("Bearer abc"),
                               std::string("OAuth"),
                               std::string("OAuth "),
                               std::string("OAuthx a=\"b\""),
                               std::string("OAuth a"),
                               std::string("OAuth a="),
                               std::string("OAuth a=b"),
                               std::string("OAuth a=\"b"),
                               std::string("OAuth =\"b\""),
                               std::string("OAuth a=\"b\" c=\"d\""),
                               std::string("OAuth a=\"%\""),
                               std::string("OAuth a=\"%4\""),
                               std::string("OAuth a=\"%zz\""),
                               std::string("OAuth a=\"1\", a=\"2\""),
                               std::string("OAuth a=\"b\",,"),
                               std::string("OAuth \"\"=\"\""),
                               std::string("OAuth a=\"b\"\0", 12),
                               huge_value,
                               many}) {
    auto parsed = parse_authorization_header(h);
    EXPECT_FALSE(parsed.ok()) << h.substr(0, 60);
  }
}

TEST(OAuth1, ParserErrorsNeverQuoteValues) {
  auto parsed = parse_authorization_header("OAuth oauth_consumer_secret=\"s3cr3t%zz\"");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().find("s3cr3t"), std::string::npos);
}

TEST(OAuth1, NoncesAreAlphanumericAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string n = make_nonce();
    ASSERT_EQ(n.size(), 32u);
    for (char c : n) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) != 0) << n;
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace sotong::x
