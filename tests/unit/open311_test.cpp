// The Open311 GeoReport v2 mapping: what a public view shows of the desk, and what it never
// shows.
#include "daemon/open311.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "daemon/util/clock.hpp"

namespace sotong::open311 {
namespace {

namespace json = boost::json;

std::set<std::string> keys(const json::object& o) {
  std::set<std::string> out;
  for (const auto& kv : o) out.insert(std::string(kv.key()));
  return out;
}

Config desk() {
  Config c;
  c.fallback_language = "ko";
  DepartmentConfig roads;
  roads.id = "roads";
  roads.names = {{"ko", "도로과"}, {"en", "Roads"}};
  roads.eta = {{"ko", "3일 안에"}};
  c.departments["roads"] = roads;
  c.open311.enabled = true;
  c.open311.services["streetlight"] = {"가로등 고장", "꺼지거나 깜빡이는 가로등", "도로"};
  return c;
}

TicketRow ticket(const std::string& number = "SP-2026-000123") {
  TicketRow t;
  t.id = 1;
  t.number = number;
  t.platform = "mastodon";
  t.account = "songpa";
  t.mention_id = "109";
  t.author = "citizen1";
  t.author_acct = "citizen1@example.org";
  t.author_id = "4242";
  t.text = "잠실동 가로등이 꺼졌어요";
  t.language = "ko";
  t.visibility = Visibility::kPublic;
  t.department = "roads";
  t.category = "streetlight";
  t.status = "open";
  t.neighbourhood = "잠실동";
  t.created_at_ms = parse_iso8601("2026-03-02T00:15:07Z");
  t.updated_at_ms = parse_iso8601("2026-03-02T01:00:00Z");
  return t;
}

const Calendar& seoul() {
  return Calendar::seoul_without_holidays();
}

json::object one(const TicketRow& t, const Config& c = desk()) {
  auto svc = services(c.open311, {"streetlight"});
  return request_json(t, c, seoul(), svc);
}

TEST(Open311Services, AreTheRulesCategoriesAndTheConfiguredOnesWithGeoReportFields) {
  Config c = desk();
  c.open311.services["graffiti"] = {"", "", ""};
  auto list = services(c.open311, {"footbridge", "streetlight", "general"});
  auto arr = services_json(list);
  ASSERT_EQ(arr.size(), 4u);
  std::vector<std::string> codes;
  for (const auto& v : arr) codes.emplace_back(v.as_object().at("service_code").as_string());
  EXPECT_EQ(codes, (std::vector<std::string>{"footbridge", "general", "graffiti", "streetlight"}));
  const auto& light = arr[3].as_object();
  EXPECT_EQ(keys(light), (std::set<std::string>{"service_code", "service_name", "description",
                                                "metadata", "type", "keywords", "group"}));
  EXPECT_EQ(light.at("service_name").as_string(), "가로등 고장");
  EXPECT_EQ(light.at("group").as_string(), "도로");
  EXPECT_FALSE(light.at("metadata").as_bool());
  EXPECT_EQ(light.at("type").as_string(), "realtime");
  EXPECT_EQ(arr[0].as_object().at("service_name").as_string(), "footbridge")
      << "a category without an entry is served under its own name";
  EXPECT_EQ(arr[2].as_object().at("service_name").as_string(), "graffiti");
}

TEST(Open311Request, HasExactlyTheGeoReportV2Fields) {
  auto o = one(ticket());
  EXPECT_EQ(keys(o), (std::set<std::string>{
                         "service_request_id", "status", "status_notes", "service_name",
                         "service_code", "description", "agency_responsible", "service_notice",
                         "requested_datetime", "updated_datetime", "expected_datetime", "address",
                         "address_id", "zipcode", "lat", "long", "media_url"}));
  EXPECT_EQ(o.at("service_request_id").as_string(), "SP-2026-000123");
  EXPECT_EQ(o.at("status").as_string(), "open");
  EXPECT_EQ(o.at("status_notes").as_string(), "");
  EXPECT_EQ(o.at("service_code").as_string(), "streetlight");
  EXPECT_EQ(o.at("service_name").as_string(), "가로등 고장");
  EXPECT_EQ(o.at("agency_responsible").as_string(), "도로과");
  EXPECT_EQ(o.at("service_notice").as_string(), "3일 안에");
  EXPECT_EQ(o.at("address").as_string(), "잠실동");
  EXPECT_EQ(o.at("requested_datetime").as_string(), "2026-03-02T09:15:07+09:00");
  EXPECT_EQ(o.at("updated_datetime").as_string(), "2026-03-02T10:00:00+09:00");
  EXPECT_EQ(o.at("expected_datetime").as_string(), "");
  EXPECT_TRUE(o.at("lat").is_null());
  EXPECT_TRUE(o.at("long").is_null());
}

TEST(Open311Request, AClosedTicketIsClosedWithItsResolutionAsStatusNotes) {
  TicketRow t = ticket();
  t.status = "closed";
  t.resolution = "가로등을 교체했습니다. 문의는 02-2147-2000";
  t.closed_by = "roads";
  auto o = one(t);
  EXPECT_EQ(o.at("status").as_string(), "closed");
  EXPECT_EQ(o.at("status_notes").as_string(), "가로등을 교체했습니다. 문의는 [phone]");
}

TEST(Open311Request, NeverShowsTheAuthorOrPersonalDataFromTheText) {
  TicketRow t = ticket();
  t.text =
      "@friend 가로등 고장, 연락은 010-1234-5678 이나 me@example.com 으로. "
      "cc @neighbour@social.example 차량 12가3456";
  const std::string body = json::serialize(one(t));
  for (const char* secret : {"citizen1", "4242", "1234-5678", "me@example.com", "friend",
                             "neighbour", "social.example", "12가3456"})
    EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
  EXPECT_EQ(json::value_to<std::string>(one(t).at("description")),
            "[handle] 가로등 고장, 연락은 [phone] 이나 [email] 으로. cc [handle] 차량 [car-plate]");
}

TEST(Open311Request, PrivateDirectUnlistedAndHiddenTicketsAreNeverListed) {
  std::vector<TicketRow> rows;
  for (auto v :
       {Visibility::kPublic, Visibility::kUnlisted, Visibility::kPrivate, Visibility::kDirect}) {
    TicketRow t = ticket("SP-2026-00000" + std::to_string(static_cast<int>(v) + 1));
    t.visibility = v;
    rows.push_back(t);
  }
  TicketRow abusive = ticket("SP-2026-000009");
  abusive.hidden = true;
  rows.push_back(abusive);
  Config c = desk();
  auto arr = requests_json(rows, c, seoul(), services(c.open311, {}));
  ASSERT_EQ(arr.size(), 1u);
  EXPECT_EQ(arr[0].as_object().at("service_request_id").as_string(), "SP-2026-000001");
  EXPECT_FALSE(publishable(abusive));
}

TEST(Open311Datetime, CarriesTheDesksOffset) {
  EXPECT_EQ(w3c_datetime(seoul(), 0), "1970-01-01T09:00:00+09:00");
  auto ny = Calendar::load("America/New_York", "");
  ASSERT_TRUE(ny.ok()) << ny.error();
  EXPECT_EQ(w3c_datetime(*ny, parse_iso8601("2026-01-15T12:30:45Z")), "2026-01-15T07:30:45-05:00");
  EXPECT_EQ(w3c_datetime(*ny, parse_iso8601("2026-07-15T12:30:45.900Z")),
            "2026-07-15T08:30:45-04:00");
}

constexpr int64_t kNow = 1'772'409'600'000;  // 2026-03-02T00:00:00Z

TEST(Open311Query, DefaultsToTheLast90DaysOfPublicTicketsNewestFirst) {
  auto q = parse_requests_query({}, seoul(), kNow);
  ASSERT_TRUE(q.ok()) << q.error();
  EXPECT_TRUE(q->ids.empty());
  EXPECT_EQ(q->filter.created_since_ms, kNow - 90LL * 24 * 3600 * 1000);
  EXPECT_EQ(q->filter.created_until_ms, 0);
  EXPECT_EQ(q->filter.limit, 1000);
  EXPECT_TRUE(q->filter.public_only);
  EXPECT_TRUE(q->filter.newest_first);
  EXPECT_EQ(q->filter.status, "");
  EXPECT_EQ(q->filter.department, "");
}

TEST(Open311Query, FiltersByStatusAndServiceCode) {
  auto q =
      parse_requests_query({{"status", "closed"}, {"service_code", "streetlight"}}, seoul(), kNow);
  ASSERT_TRUE(q.ok()) << q.error();
  EXPECT_EQ(q->filter.status, "closed");
  EXPECT_EQ(q->filter.category, "streetlight");
  EXPECT_EQ(parse_requests_query({{"status", "open,closed"}}, seoul(), kNow)->filter.status, "");
  EXPECT_FALSE(parse_requests_query({{"status", "pending"}}, seoul(), kNow).ok());
  EXPECT_FALSE(parse_requests_query({{"service_code", ""}}, seoul(), kNow).ok());
}

TEST(Open311Query, TakesW3CDatesWithinNinetyDays) {
  auto q = parse_requests_query(
      {{"start_date", "2026-02-01T00:00:00+09:00"}, {"end_date", "2026-02-10T00:00:00Z"}}, seoul(),
      kNow);
  ASSERT_TRUE(q.ok()) << q.error();
  EXPECT_EQ(q->filter.created_since_ms, parse_iso8601("2026-01-31T15:00:00Z"));
  EXPECT_EQ(q->filter.created_until_ms, parse_iso8601("2026-02-10T00:00:00Z") + 1)
      << "end_date is included";
  // A day is midnight in the desk's zone; a "+" sent unencoded arrives as a space.
  auto day = parse_requests_query({{"start_date", "2026-03-01"}}, seoul(), kNow);
  ASSERT_TRUE(day.ok()) << day.error();
  EXPECT_EQ(day->filter.created_since_ms, parse_iso8601("2026-02-28T15:00:00Z"));
  EXPECT_EQ(day->filter.created_until_ms,
            parse_iso8601("2026-02-28T15:00:00Z") + 90LL * 24 * 3600 * 1000 + 1);
  // A day as end_date is the whole of that day in the desk's zone.
  auto through = parse_requests_query({{"end_date", "2026-03-05"}}, seoul(), kNow);
  ASSERT_TRUE(through.ok()) << through.error();
  EXPECT_EQ(through->filter.created_until_ms, parse_iso8601("2026-03-05T15:00:00Z"));
  auto spaced = parse_requests_query({{"end_date", "2026-03-01T09:00:00 09:00"}}, seoul(), kNow);
  ASSERT_TRUE(spaced.ok()) << spaced.error();
  EXPECT_EQ(spaced->filter.created_until_ms, parse_iso8601("2026-03-01T00:00:00Z") + 1);
}

TEST(Open311Query, RefusesBadDatesAndWindows) {
  for (const char* bad : {"yesterday", "2026-13-01", "2026-03-01T09:00:00", "2026-03-01T09:00",
                          "2026-03-01T09:00:00+0900", "2026-03-01T09:00:00Zjunk"})
    EXPECT_FALSE(parse_requests_query({{"start_date", bad}}, seoul(), kNow).ok()) << bad;
  auto wide = parse_requests_query(
      {{"start_date", "2025-01-01T00:00:00Z"}, {"end_date", "2026-01-01T00:00:00Z"}}, seoul(),
      kNow);
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.error().find("90 days"), std::string::npos);
  EXPECT_FALSE(parse_requests_query(
                   {{"start_date", "2026-02-01T00:00:00Z"}, {"end_date", "2026-01-01T00:00:00Z"}},
                   seoul(), kNow)
                   .ok());
}

TEST(Open311Query, ListsRequestIdsAndIgnoresToolsOwnParameters) {
  auto q = parse_requests_query(
      {{"service_request_id", "SP-2026-000001,SPX-2026-000002,"}, {"api_key", "x"}}, seoul(), kNow);
  ASSERT_TRUE(q.ok()) << q.error();
  EXPECT_EQ(q->ids, (std::vector<std::string>{"SP-2026-000001", "SPX-2026-000002"}));
  EXPECT_FALSE(parse_requests_query({{"service_request_id", "1; DROP TABLE"}}, seoul(), kNow).ok());
  std::string many;
  for (int i = 0; i <= 100; ++i) many += "SP-2026-" + std::to_string(100000 + i) + ",";
  EXPECT_FALSE(parse_requests_query({{"service_request_id", many}}, seoul(), kNow).ok());
}

TEST(Open311Jurisdiction, AnotherJurisdictionIsNotFound) {
  Open311Config cfg;
  EXPECT_FALSE(check_jurisdiction({{"jurisdiction_id", "anything"}}, cfg));
  cfg.jurisdiction_id = "songpa.go.kr";
  EXPECT_FALSE(check_jurisdiction({}, cfg));
  EXPECT_FALSE(check_jurisdiction({{"jurisdiction_id", "songpa.go.kr"}}, cfg));
  auto other = check_jurisdiction({{"jurisdiction_id", "gangnam.go.kr"}}, cfg);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->code, 404);
}

TEST(Open311Errors, AreAGeoReportArray) {
  auto v = json::parse(error_json({400, "status must be open, closed or both"}));
  ASSERT_TRUE(v.is_array());
  ASSERT_EQ(v.as_array().size(), 1u);
  EXPECT_EQ(v.as_array()[0].as_object().at("code").as_int64(), 400);
  EXPECT_EQ(v.as_array()[0].as_object().at("description").as_string(),
            "status must be open, closed or both");
}

}  // namespace
}  // namespace sotong::open311
