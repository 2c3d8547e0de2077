#include "daemon/hook_auth.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace sotong::hook {
namespace {

const std::string kRoadsSecret(40, 'r');
const std::string kKimSecret(40, 'k');

Config config() {
  Config c;
  c.departments["roads"].id = "roads";
  c.departments["roads"].auth.token_sha256 = {sha256_hex("old-roads"), sha256_hex("new-roads")};
  c.departments["roads"].auth.hmac_secret = kRoadsSecret;
  c.departments["welfare"].id = "welfare";
  c.departments["welfare"].auth.token_sha256 = {sha256_hex("welfare")};
  c.admins["kim"].id = "kim";
  c.admins["kim"].auth.token_sha256 = {sha256_hex("admin-kim")};
  c.admins["kim"].auth.hmac_secret = kKimSecret;
  return c;
}

TEST(HookAuth, BothTokensOfARotationWorkAndAdminsAreAdmins) {
  const Config c = config();
  EXPECT_EQ(principal_for_token(c, "old-roads")->id, "roads");
  EXPECT_EQ(principal_for_token(c, "new-roads")->id, "roads");
  auto kim = principal_for_token(c, "admin-kim");
  ASSERT_TRUE(kim.has_value());
  EXPECT_TRUE(kim->admin());
  EXPECT_EQ(kim->actor(), "admin:kim");
  EXPECT_EQ(kim->scope(), "");
  EXPECT_EQ(principal_for_token(c, "welfare")->actor(), "department:welfare");
  EXPECT_EQ(principal_for_token(c, "welfare")->scope(), "welfare");
  EXPECT_FALSE(principal_for_token(c, "").has_value());
}

// The signing string: what docs/api.md tells departments to sign.
TEST(HookSignature, SignsTimestampMethodTargetAndBody) {
  EXPECT_EQ(signature_hex("key", 1, "POST", "/v1/x", "{}").size(), 64u);
  EXPECT_NE(signature_hex("key", 1, "POST", "/v1/x", "{}"),
            signature_hex("key", 2, "POST", "/v1/x", "{}"));
  EXPECT_NE(signature_hex("key", 1, "POST", "/v1/x", "{}"),
            signature_hex("key", 1, "GET", "/v1/x", "{}"));
  EXPECT_NE(signature_hex("key", 1, "POST", "/v1/x", "{}"),
            signature_hex("key", 1, "POST", "/v1/y", "{}"));
  EXPECT_NE(signature_hex("key", 1, "POST", "/v1/x", "{}"),
            signature_hex("key", 1, "POST", "/v1/x", "{ }"));
  // HMAC-SHA256("key", "1\nPOST\n/v1/x\n{}") as computed by `openssl dgst -sha256 -hmac key`.
  EXPECT_EQ(signature_hex("key", 1, "POST", "/v1/x", "{}"),
            "c7dbbe6590481ec4222ab2f85472a5d93612d1d4ad377670fdc13a528064a108");
}

struct Signed {
  std::string client = "roads", ts, sig, method = "POST",
              target = "/v1/tickets/SP-2026-000001/close", body = R"({"resolution":"done"})";
};

Signed make(const std::string& secret, int64_t ts) {
  Signed s;
  s.ts = std::to_string(ts);
  s.sig = "sha256=" + signature_hex(secret, ts, s.method, s.target, s.body);
  return s;
}

SignatureCheck check(const Signed& s, int64_t now) {
  return check_signature(config(), s.client, s.ts, s.sig, s.method, s.target, s.body, now);
}

TEST(HookSignature, AGoodSignatureNamesItsClient) {
  const int64_t now = 1'800'000'000;
  auto r = check(make(kRoadsSecret, now), now);
  ASSERT_EQ(r.kind, SignatureCheck::Kind::kValid) << r.message;
  EXPECT_EQ(r.principal->id, "roads");
  EXPECT_GT(r.expires_at_s, now + kSignatureWindowSeconds);
  auto admin = make(kKimSecret, now);
  admin.client = "kim";
  admin.sig = "sha256=" + signature_hex(kKimSecret, now, admin.method, admin.target, admin.body);
  auto a = check(admin, now + 10);
  ASSERT_EQ(a.kind, SignatureCheck::Kind::kValid);
  EXPECT_TRUE(a.principal->admin());
  // Upper-case hex is the same signature.
  auto upper = make(kRoadsSecret, now);
  for (std::size_t i = 7; i < upper.sig.size(); ++i)
    upper.sig[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper.sig[i])));
  EXPECT_EQ(check(upper, now).kind, SignatureCheck::Kind::kValid);
}

TEST(HookSignature, TheWindowIsFiveMinutesEitherSide) {
  const int64_t now = 1'800'000'000;
  EXPECT_EQ(check(make(kRoadsSecret, now - 300), now).kind, SignatureCheck::Kind::kValid);
  EXPECT_EQ(check(make(kRoadsSecret, now + 300), now).kind, SignatureCheck::Kind::kValid);
  EXPECT_EQ(check(make(kRoadsSecret, now - 301), now).kind, SignatureCheck::Kind::kExpired);
  EXPECT_EQ(check(make(kRoadsSecret, now + 301), now).kind, SignatureCheck::Kind::kExpired);
}

TEST(HookSignature, EveryAlteredPartIsRefused) {
  const int64_t now = 1'800'000'000;
  auto s = make(kRoadsSecret, now);
  auto body = s;
  body.body = R"({"resolution":"done!"})";
  EXPECT_EQ(check(body, now).kind, SignatureCheck::Kind::kWrongSignature);
  auto target = s;
  target.target = "/v1/tickets/SP-2026-000002/close";
  EXPECT_EQ(check(target, now).kind, SignatureCheck::Kind::kWrongSignature);
  auto method = s;
  method.method = "GET";
  EXPECT_EQ(check(method, now).kind, SignatureCheck::Kind::kWrongSignature);
  auto ts = s;
  ts.ts = std::to_string(now + 1);
  EXPECT_EQ(check(ts, now).kind, SignatureCheck::Kind::kWrongSignature);
  // Signed with another department's secret, or under another client's name.
  auto other = s;
  other.client = "kim";
  EXPECT_EQ(check(other, now).kind, SignatureCheck::Kind::kWrongSignature);
  auto welfare = s;
  welfare.client = "welfare";  // has no secret: may not sign
  EXPECT_EQ(check(welfare, now).kind, SignatureCheck::Kind::kUnknownClient);
  auto nobody = s;
  nobody.client = "nobody";
  EXPECT_EQ(check(nobody, now).kind, SignatureCheck::Kind::kUnknownClient);
}

TEST(HookSignature, MalformedHeadersAreRefusedPlainly) {
  const int64_t now = 1'800'000'000;
  auto s = make(kRoadsSecret, now);
  for (auto mutate : std::vector<std::function<void(Signed&)>>{
           [](Signed& x) { x.client.clear(); },
           [](Signed& x) { x.ts.clear(); },
           [](Signed& x) { x.ts = "12x"; },
           [](Signed& x) { x.ts = "-5"; },
           [](Signed& x) { x.ts = "99999999999999999999"; },
           [](Signed& x) { x.sig = x.sig.substr(7); },
           [](Signed& x) { x.sig = "sha1=" + x.sig.substr(7); },
           [](Signed& x) { x.sig.pop_back(); },
           [](Signed& x) { x.client = std::string(65, 'a'); },
       }) {
    auto bad = s;
    mutate(bad);
    auto r = check(bad, now);
    EXPECT_NE(r.kind, SignatureCheck::Kind::kValid);
    EXPECT_FALSE(r.message.empty());
  }
}

}  // namespace
}  // namespace sotong::hook
