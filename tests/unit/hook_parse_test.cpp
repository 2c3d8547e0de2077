#include "daemon/hook_parse.hpp"

#include <gtest/gtest.h>

#include "daemon/hook_auth.hpp"

namespace sotong::hook {
namespace {

TEST(HookRoute, KnownRoutes) {
  EXPECT_EQ(match_route("GET", "/healthz").kind, Route::Kind::kHealth);
  auto r = match_route("POST", "/v1/tickets/SP-2026-000123/close");
  EXPECT_EQ(r.kind, Route::Kind::kCloseTicket);
  EXPECT_EQ(r.ticket, "SP-2026-000123");
  EXPECT_EQ(match_route("GET", "/v1/tickets/SP-2026-000123").kind, Route::Kind::kGetTicket);
  auto l = match_route("GET", "/v1/tickets?status=open&department=roads");
  EXPECT_EQ(l.kind, Route::Kind::kListTickets);
  EXPECT_EQ(l.query.at("status"), "open");
}

TEST(HookRoute, ReopenAndEventsRoutes) {
  auto r = match_route("POST", "/v1/tickets/SP-2026-000123/reopen");
  EXPECT_EQ(r.kind, Route::Kind::kReopenTicket);
  EXPECT_EQ(r.ticket, "SP-2026-000123");
  EXPECT_EQ(match_route("GET", "/v1/tickets/SP-2026-000123/events").kind,
            Route::Kind::kTicketEvents);
  EXPECT_EQ(match_route("GET", "/v1/tickets/SP-2026-000123/reopen").kind, Route::Kind::kBadMethod);
  EXPECT_EQ(match_route("POST", "/v1/tickets/SP-2026-000123/events").kind, Route::Kind::kBadMethod);
  EXPECT_EQ(match_route("GET", "/v1/tickets/not-a-number/events").kind, Route::Kind::kNotFound);
  EXPECT_EQ(match_route("POST", "/v1/tickets/SP-2026-000123/reassign").kind,
            Route::Kind::kReassignTicket);
}

TEST(HookRoute, WrongMethodAndUnknownPaths) {
  EXPECT_EQ(match_route("GET", "/v1/tickets/SP-2026-000123/close").kind, Route::Kind::kBadMethod);
  EXPECT_EQ(match_route("GET", "/v1/tickets/../../etc/passwd").kind, Route::Kind::kNotFound);
  EXPECT_EQ(match_route("GET", "/v1/tickets/sp-2026-1").kind, Route::Kind::kNotFound);
  EXPECT_EQ(match_route("GET", "not a target").kind, Route::Kind::kNotFound);
  EXPECT_EQ(match_route("GET", "").kind, Route::Kind::kNotFound);
}

TEST(HookRoute, EveryRouteOfTheTableMatchesItselfAndOnlyWithItsMethod) {
  for (const auto& spec : routes()) {
    std::string path(spec.path);
    for (const char* param : {"{ticket}", "{service_request_id}"})
      if (auto at = path.find(param); at != std::string::npos)
        path.replace(at, std::string_view(param).size(), "SP-2026-000123");
    auto r = match_route(spec.method, path);
    EXPECT_EQ(r.kind, spec.kind) << spec.path;
    if (path.find("SP-2026") != std::string::npos) {
      EXPECT_EQ(r.ticket, "SP-2026-000123");
    }
    auto wrong = match_route(spec.method == "GET" ? "DELETE" : "GET", path);
    EXPECT_EQ(wrong.kind, Route::Kind::kBadMethod) << spec.path;
    EXPECT_EQ(wrong.allow, spec.method);
  }
  EXPECT_EQ(match_route("GET", "/open311/v2/requests/SP-2026-000123.xml").kind,
            Route::Kind::kNotFound);
  EXPECT_EQ(match_route("GET", "/open311/v2/requests/.json").kind, Route::Kind::kNotFound);
  EXPECT_TRUE(is_write(Route::Kind::kCommentTicket));
  EXPECT_FALSE(is_write(Route::Kind::kTicketEvents));
}

TEST(HookBody, CommentBodies) {
  auto note = parse_comment_body(R"({"text":" crew booked "})");
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->text, "crew booked");
  EXPECT_FALSE(note->public_reply);
  auto pub = parse_comment_body(R"({"text":"parts ordered","public":true})");
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->public_reply);
  for (const char* bad : {R"({})", R"({"text":""})", R"({"text":"x","public":"yes"})",
                          R"({"text":"x","visibility":"direct"})", R"({"text":5})", "[]", "{"})
    EXPECT_FALSE(parse_comment_body(bad).ok()) << bad;
}

TEST(HookAuth, IdempotencyKeys) {
  EXPECT_TRUE(valid_idempotency_key("close-SP-2026-000123-1"));
  EXPECT_TRUE(valid_idempotency_key(std::string(255, 'k')));
  EXPECT_FALSE(valid_idempotency_key(""));
  EXPECT_FALSE(valid_idempotency_key(std::string(256, 'k')));
  EXPECT_FALSE(valid_idempotency_key("with space"));
  EXPECT_FALSE(valid_idempotency_key("\xed\x95\x9c"));
}

TEST(HookQuery, AnAdminMayListAnyDepartment) {
  auto admin = parse_list_query({{"department", "parks"}}, "");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->department, "parks");
  EXPECT_EQ(parse_list_query({}, "")->department, "");
  EXPECT_FALSE(parse_list_query({{"department", "parks"}}, "roads").ok());
  EXPECT_EQ(parse_list_query({{"department", "roads"}}, "roads")->department, "roads");
}

TEST(HookAuth, BearerTokenParsing) {
  EXPECT_EQ(*bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(*bearer_token("bearer  abc "), "abc");
  EXPECT_FALSE(bearer_token("Basic abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer ").has_value());
  EXPECT_FALSE(bearer_token("").has_value());
}

TEST(HookAuth, TokenMapsToItsDepartmentByHash) {
  Config c;
  c.departments["roads"].id = "roads";
  c.departments["roads"].auth.token_sha256 = {sha256_hex("secret-roads")};
  c.departments["welfare"].id = "welfare";
  c.departments["welfare"].auth.token_sha256 = {sha256_hex("secret-welfare")};
  EXPECT_EQ(principal_for_token(c, "secret-roads")->id, "roads");
  EXPECT_EQ(principal_for_token(c, "secret-welfare")->id, "welfare");
  EXPECT_FALSE(principal_for_token(c, "secret-road").has_value());
  EXPECT_FALSE(principal_for_token(c, sha256_hex("secret-roads")).has_value());
}

TEST(HookBody, CloseBodyNeedsANonEmptyResolution) {
  EXPECT_EQ(*parse_close_body(R"({"resolution":"  보수 완료  "})"), "보수 완료");
  EXPECT_FALSE(parse_close_body(R"({"resolution":"   "})").ok());
  EXPECT_FALSE(parse_close_body(R"({"resolution":1})").ok());
  EXPECT_FALSE(parse_close_body(R"({})").ok());
  EXPECT_FALSE(parse_close_body(R"([])").ok());
  EXPECT_FALSE(parse_close_body("{").ok());
  EXPECT_FALSE(parse_close_body(R"({"resolution":"x","extra":1})").ok());
  EXPECT_FALSE(parse_close_body(R"({"resolution":")" + std::string(5000, 'a') + "\"}").ok());
}

TEST(HookBody, ReopenBodyNeedsANonEmptyReasonAndNothingElse) {
  EXPECT_EQ(*parse_reopen_body(R"({"reason":"  아직 구멍이 있음  "})"), "아직 구멍이 있음");
  EXPECT_FALSE(parse_reopen_body(R"({"reason":""})").ok());
  EXPECT_FALSE(parse_reopen_body(R"({"resolution":"x"})").ok());
  EXPECT_EQ(parse_reopen_body(R"({"reason":"x","extra":1})").error(), "unknown field \"extra\"");
  EXPECT_FALSE(parse_reopen_body(std::string(5000, 'x')).ok());
}

TEST(HookBody, ReassignBodyNamesADepartmentAndMayTellTheCitizen) {
  auto r =
      parse_reassign_body(R"({"department":"parks","note":" 공원 안입니다 ","tell_citizen":true})");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->department, "parks");
  EXPECT_EQ(r->note, "공원 안입니다");
  EXPECT_TRUE(r->tell_citizen);
  EXPECT_FALSE(parse_reassign_body(R"({"department":"parks"})")->tell_citizen);
  EXPECT_FALSE(parse_reassign_body(R"({"note":"x"})").ok());
  EXPECT_FALSE(parse_reassign_body(R"({"department":""})").ok());
  EXPECT_FALSE(parse_reassign_body(R"({"department":"parks","tell_citizen":"yes"})").ok());
  EXPECT_FALSE(parse_reassign_body(R"({"department":"parks","note":""})").ok());
  EXPECT_EQ(parse_reassign_body(R"({"department":"parks","cc":1})").error(),
            "unknown field \"cc\"");
}

TEST(HookBody, DeepNestingIsRejectedNotRecursed) {
  std::string deep(10000, '[');
  EXPECT_FALSE(parse_close_body(deep).ok());
}

TEST(HookBody, InvalidUtf8InResolutionIsSanitised) {
  auto r = parse_close_body("{\"resolution\":\"ok\\u0000done\"}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "okdone");
}

TEST(HookQuery, ListQueryIsCheckedAndScopedToTheCaller) {
  auto f = parse_list_query({{"status", "open"}, {"limit", "10"}, {"after", "42"}}, "roads");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->status, "open");
  EXPECT_EQ(f->department, "roads");
  EXPECT_EQ(f->limit, 10);
  EXPECT_EQ(f->after_id, 42);
  EXPECT_FALSE(parse_list_query({{"department", "welfare"}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"limit", "0"}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"limit", "10x"}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"after", "-1"}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"sort", "x"}}, "roads").ok());
}

TEST(HookQuery, ListFiltersByPriorityCategorySinceAndText) {
  auto f = parse_list_query(
      {{"priority", "urgent"}, {"category", "footbridge"}, {"since", "2026-11-01"}, {"q", "육교"}},
      "roads");
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(f->priority, static_cast<int>(Priority::kUrgent));
  EXPECT_EQ(f->category, "footbridge");
  EXPECT_EQ(f->created_since_ms, 1'793'491'200'000);  // 2026-11-01T00:00:00Z
  EXPECT_EQ(f->text, "육교");
  EXPECT_EQ(parse_list_query({{"since", "2026-11-01T09:00:00Z"}}, "roads")->created_since_ms,
            1'793'523'600'000);
  EXPECT_FALSE(parse_list_query({{"priority", "soon"}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"since", "yesterday"}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"q", std::string(201, 'x')}}, "roads").ok());
  EXPECT_FALSE(parse_list_query({{"category", ""}}, "roads").ok());
}

TEST(HookTicketNumber, Shape) {
  EXPECT_TRUE(valid_ticket_number("SP-2026-000123"));
  EXPECT_TRUE(valid_ticket_number("SEOUL-2026-1234567"));
  EXPECT_FALSE(valid_ticket_number("SP-26-000123"));
  EXPECT_FALSE(valid_ticket_number("SP-2026-"));
  EXPECT_FALSE(valid_ticket_number("-2026-000123"));
}

}  // namespace
}  // namespace sotong::hook
