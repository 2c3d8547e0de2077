// The department API through the real sotongd: admins, signed requests (expired, altered,
// replayed), Idempotency-Keys on writes across a restart, comments and public updates.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <thread>

#include "daemon/config.hpp"
#include "daemon/hook_auth.hpp"
#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;

const std::string kRoadsSecret = "roads-signing-secret-0123456789abcdef";
const std::string kKimToken = "tok-admin-kim";

std::string str(const json::value& v, const char* k) {
  const auto* p = v.as_object().if_contains(k);
  return p != nullptr && p->is_string() ? std::string(p->as_string()) : std::string();
}

class DepartmentApi : public ::testing::Test {
 protected:
  void SetUp() override {
    f.start_sandbox();
    std::ofstream(f.dir() / "roads.hmac") << kRoadsSecret << "\n";
    DaemonSettings s;
    s.department_yaml["roads"] = "    hmac_secret_file: roads.hmac\n";
    s.extra_yaml = "admins:\n  kim: {token_sha256: " + sha256_hex(kKimToken) + "}\n";
    f.write_config(s);
    f.start_daemon();
  }
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  std::string open_ticket(const std::string& author = "rea_citizen") {
    const auto before = f.posts().size();
    mention_id = f.mention(author, "만리재로 육교에 구멍이 났어요");
    EXPECT_TRUE(f.wait_for_posts(before + 1));
    return f.ticket_for_mention(mention_id);
  }
  HttpResult with(const std::string& method, const std::string& target, const std::string& body,
                  const std::map<std::string, std::string>& headers) {
    return http(method, f.hook_port(), target, body, headers);
  }
  std::map<std::string, std::string> signed_headers(const std::string& method,
                                                    const std::string& target,
                                                    const std::string& body, int64_t ts,
                                                    const std::string& secret = kRoadsSecret) {
    return {
        {"X-Sotong-Client", "roads"},
        {"X-Sotong-Timestamp", std::to_string(ts)},
        {"X-Sotong-Signature", "sha256=" + hook::signature_hex(secret, ts, method, target, body)},
        {"Content-Type", "application/json"}};
  }
  static int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }
  std::vector<json::object> replies() { return f.replies_to(mention_id); }
  Fixture f;
  std::string mention_id;
};

TEST_F(DepartmentApi, EveryAuthFailureIsA401AndChangesNothing) {
  auto ticket = open_ticket();
  const std::string target = "/v1/tickets/" + ticket + "/close";
  const std::string body = R"({"resolution":"fixed"})";
  // Missing, wrong, and another department's token.
  auto missing = with("POST", target, body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers["www-authenticate"], "Bearer realm=\"sotong\"");
  EXPECT_EQ(f.hook("POST", target, "tok-nobody", body).status, 401);
  EXPECT_EQ(f.hook("POST", target, Fixture::department_tokens().at("welfare"), body).status, 403);
  // Signatures: expired, from the future, over another body, with another secret, by a
  // department without a secret, malformed.
  EXPECT_EQ(with("POST", target, body, signed_headers("POST", target, body, now_s() - 400)).status,
            401);
  EXPECT_EQ(with("POST", target, body, signed_headers("POST", target, body, now_s() + 400)).status,
            401);
  EXPECT_EQ(
      with("POST", target, body, signed_headers("POST", target, R"({"resolution":"x"})", now_s()))
          .status,
      401);
  EXPECT_EQ(with("POST", target, body,
                 signed_headers("POST", target, body, now_s(), std::string(40, 'z')))
                .status,
            401);
  auto welfare = signed_headers("POST", target, body, now_s());
  welfare["X-Sotong-Client"] = "welfare";
  EXPECT_EQ(with("POST", target, body, welfare).status, 401);
  auto malformed = signed_headers("POST", target, body, now_s());
  malformed["X-Sotong-Signature"] = "sha256=zz";
  auto m = with("POST", target, body, malformed);
  EXPECT_EQ(m.status, 401);
  EXPECT_FALSE(str(m.json(), "error").empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(replies().size(), 1u);  // the acknowledgement only
  EXPECT_EQ(str(f.hook("GET", "/v1/tickets/" + ticket, kKimToken).json(), "status"), "open");
}

TEST_F(DepartmentApi, ASignedRequestWorksOnceAndAReplayIsRefused) {
  auto ticket = open_ticket();
  const std::string target = "/v1/tickets/" + ticket + "/comments";
  const std::string body = R"({"text":"crew booked for Tuesday"})";
  auto h = signed_headers("POST", target, body, now_s());
  auto first = with("POST", target, body, h);
  ASSERT_EQ(first.status, 200) << first.body;
  auto replay = with("POST", target, body, h);
  EXPECT_EQ(replay.status, 401);
  EXPECT_NE(str(replay.json(), "error").find("used already"), std::string::npos);
  // Reads are signed the same way (an empty body).
  const std::string get = "/v1/tickets/" + ticket + "/events";
  auto events = with("GET", get, "", signed_headers("GET", get, "", now_s()));
  ASSERT_EQ(events.status, 200) << events.body;
  int notes = 0;
  const auto trail = events.json();
  for (const auto& e : trail.at("events").as_array())
    if (str(e, "kind") == "comment") {
      ++notes;
      EXPECT_EQ(str(e, "actor"), "department:roads");
    }
  EXPECT_EQ(notes, 1);
  // A restarted daemon still refuses the replay: the signature is in the store.
  f.stop_daemon();
  f.start_daemon();
  EXPECT_EQ(with("POST", target, body, h).status, 401);
}

TEST_F(DepartmentApi, ARetriedCloseWithItsKeyGetsTheFirstAnswerAndOneFollowUp) {
  auto ticket = open_ticket();
  const std::string target = "/v1/tickets/" + ticket + "/close";
  const std::string body = R"({"resolution":"The hole is filled."})";
  std::map<std::string, std::string> h{
      {"Authorization", "Bearer " + Fixture::department_tokens().at("roads")},
      {"Content-Type", "application/json"},
      {"Idempotency-Key", "close-" + ticket}};
  auto first = with("POST", target, body, h);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.headers.count("idempotent-replayed"), 0u);
  auto again = with("POST", target, body, h);
  EXPECT_EQ(again.status, 200);  // not 409: the first answer
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  // Across a restart too, and the same key for another body is refused.
  f.stop_daemon();
  f.start_daemon();
  auto after = with("POST", target, body, h);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, first.body);
  auto other = with("POST", target, R"({"resolution":"Something else."})", h);
  EXPECT_EQ(other.status, 422);
  // Without a key a second close is the plain 409.
  h.erase("Idempotency-Key");
  EXPECT_EQ(with("POST", target, body, h).status, 409);
  ASSERT_TRUE(wait_until([&] { return replies().size() >= 2; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(replies().size(), 2u);  // the acknowledgement and ONE follow-up
  auto bad_key = h;
  bad_key["Idempotency-Key"] = "has space";
  EXPECT_EQ(with("POST", target, body, bad_key).status, 400);
}

TEST_F(DepartmentApi, AnAdminReadsListsAndWritesEveryDepartmentsTickets) {
  auto ticket = open_ticket();
  auto get = f.hook("GET", "/v1/tickets/" + ticket, kKimToken);
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(str(get.json(), "department"), "roads");
  auto all = f.hook("GET", "/v1/tickets?status=any", kKimToken);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.json().at("tickets").as_array().size(), 1u);
  EXPECT_EQ(f.hook("GET", "/v1/tickets?department=welfare", kKimToken)
                .json()
                .at("tickets")
                .as_array()
                .size(),
            0u);
  // A department may not list another's.
  EXPECT_EQ(
      f.hook("GET", "/v1/tickets?department=welfare", Fixture::department_tokens().at("roads"))
          .status,
      400);
  auto moved = f.hook("POST", "/v1/tickets/" + ticket + "/reassign", kKimToken,
                      R"({"department":"welfare","note":"wrong desk"})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  auto closed = f.hook("POST", "/v1/tickets/" + ticket + "/close", kKimToken,
                       R"({"resolution":"Handled by the welfare office."})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(str(closed.json(), "closed_by"), "admin:kim");
  auto events = f.hook("GET", "/v1/tickets/" + ticket + "/events", kKimToken).json();
  std::vector<std::string> actors;
  for (const auto& e : events.at("events").as_array())
    if (str(e, "actor").rfind("admin:", 0) == 0) actors.push_back(str(e, "kind"));
  EXPECT_EQ(actors, (std::vector<std::string>{"reassigned", "closed"}));
}

TEST_F(DepartmentApi, APublicCommentIsPostedInTheThreadAndANoteIsNot) {
  auto ticket = open_ticket();
  const auto& roads = Fixture::department_tokens().at("roads");
  auto note = f.hook("POST", "/v1/tickets/" + ticket + "/comments", roads,
                     R"({"text":"internal: crew booked"})");
  ASSERT_EQ(note.status, 200) << note.body;
  auto pub = f.hook("POST", "/v1/tickets/" + ticket + "/comments", roads,
                    R"({"text":"Parts are ordered; the repair is on Tuesday.","public":true})");
  ASSERT_EQ(pub.status, 200) << pub.body;
  ASSERT_TRUE(wait_until([&] { return replies().size() >= 2; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto r = replies();
  ASSERT_EQ(r.size(), 2u);
  const std::string update(r[1].at("text").as_string());
  EXPECT_NE(update.find("Parts are ordered; the repair is on Tuesday."), std::string::npos);
  EXPECT_NE(update.find(ticket), std::string::npos);
  EXPECT_EQ(update.rfind("@rea_citizen ", 0), 0u);
  EXPECT_EQ(update.find("internal"), std::string::npos);
  // Too long to post whole: refused, nothing queued.
  const std::string long_text(3000, 'a');
  auto too_long = f.hook("POST", "/v1/tickets/" + ticket + "/comments", roads,
                         R"({"text":")" + long_text + R"(","public":true})");
  EXPECT_EQ(too_long.status, 422) << too_long.body;
  // A closed ticket takes notes but no public update.
  ASSERT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/close", roads, R"({"resolution":"Done."})").status,
      200);
  EXPECT_EQ(f.hook("POST", "/v1/tickets/" + ticket + "/comments", roads,
                   R"({"text":"late","public":true})")
                .status,
            409);
  EXPECT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/comments", roads, R"({"text":"late"})").status,
      200);
  ASSERT_TRUE(wait_until([&] { return replies().size() >= 3; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(replies().size(), 3u);  // ack, update, follow-up
}

TEST_F(DepartmentApi, TokensRotateOnReloadWithoutARestart) {
  auto ticket = open_ticket();
  const std::string target = "/v1/tickets/" + ticket;
  ASSERT_EQ(f.hook("GET", target, kKimToken).status, 200);
  // Both hashes during the move, then only the new one.
  DaemonSettings s;
  s.department_yaml["roads"] = "    hmac_secret_file: roads.hmac\n";
  s.extra_yaml = "admins:\n  kim: {token_sha256: [" + sha256_hex(kKimToken) + ", " +
                 sha256_hex("tok-kim-2") + "]}\n";
  f.write_config(s);
  f.signal_daemon(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return f.hook("GET", target, "tok-kim-2").status == 200; },
                         std::chrono::seconds(10)));
  EXPECT_EQ(f.hook("GET", target, kKimToken).status, 200);
  s.extra_yaml = "admins:\n  kim: {token_sha256: " + sha256_hex("tok-kim-2") + "}\n";
  f.write_config(s);
  f.signal_daemon(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return f.hook("GET", target, kKimToken).status == 401; },
                         std::chrono::seconds(10)));
  EXPECT_EQ(f.hook("GET", target, "tok-kim-2").status, 200);
}

TEST_F(DepartmentApi, AWrongMethodNamesTheAllowedOne) {
  auto r = http("DELETE", f.hook_port(), "/v1/tickets/SP-2026-000001/close");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
}

}  // namespace
}  // namespace sotong::test_support
