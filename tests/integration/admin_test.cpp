// What admins and citizens do beyond a single mention, against the real sotongd and sandbox:
// threads and reopening, the per-author limit, hidden abusive mentions, business hours, and
// reloads (SIGHUP and file changes) while mentions keep arriving.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string str(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

class Admin : public ::testing::Test {
 protected:
  void start(const DaemonSettings& s = {}) {
    f.start_sandbox();
    f.write_config(s);
    f.start_daemon();
  }
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  json::object ticket(const std::string& number, const std::string& department) {
    auto r = f.hook("GET", "/v1/tickets/" + number, Fixture::department_tokens().at(department));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json().as_object() : json::object{};
  }
  Fixture f;
};

TEST_F(Admin, ACitizensRepliesStayOnTheirTicketAndReopenOnlyWhenAsked) {
  start();
  auto id = f.mention("rea", "만리재로 193 앞 육교에 구멍이 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  const std::string number = f.ticket_for_mention(id);
  ASSERT_FALSE(number.empty());
  const std::string ack_post = str(f.posts()[0], "id");

  // More detail under our acknowledgement: same ticket, no new one, no reply.
  f.mention("rea", "사진도 올립니다, 두 군데예요", "public", "ko",
            R"({"in_reply_to_id":")" + ack_post + "\"}");
  ASSERT_TRUE(wait_until(
      [&] { return count(f.read_log("sotongd.log"), "citizen replied in the thread") == 1; },
      seconds(10)));
  EXPECT_EQ(f.posts().size(), 1u);

  auto closed = f.hook("POST", "/v1/tickets/" + number + "/close",
                       Fixture::department_tokens().at("roads"), R"({"resolution":"보수 완료"})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  ASSERT_TRUE(f.wait_for_posts(2));
  const std::string followup_post = str(f.posts()[1], "id");

  // Thanks under the follow-up: recorded, not reopened, not answered.
  f.mention("rea", "감사합니다!", "public", "ko", R"({"in_reply_to_id":")" + followup_post + "\"}");
  ASSERT_TRUE(wait_until(
      [&] { return count(f.read_log("sotongd.log"), "citizen replied in the thread") == 2; },
      seconds(10)));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(f.posts().size(), 2u);
  EXPECT_EQ(str(ticket(number, "roads"), "status"), "closed");

  // "Still broken" reopens it, tells the citizen, and the department sees it open again.
  auto still = f.mention("rea", "아직도 그대로예요", "public", "ko",
                         R"({"in_reply_to_id":")" + followup_post + "\"}");
  ASSERT_TRUE(f.wait_for_posts(3));
  auto reopened = f.replies_to(still);
  ASSERT_EQ(reopened.size(), 1u);
  EXPECT_NE(str(reopened[0], "text").find(number), std::string::npos);
  auto t = ticket(number, "roads");
  EXPECT_EQ(str(t, "status"), "open");
  EXPECT_EQ(t.at("reopened").as_int64(), 1);
  EXPECT_NE(
      f.read_log("sotongd.log").find("msg=\"ticket reopened by the citizen\" ticket=" + number),
      std::string::npos);

  // Someone else answering in the thread gets a ticket of their own.
  auto other = f.mention("neighbour", "저희 집 앞 육교도 그래요", "public", "ko",
                         R"({"in_reply_to_id":")" + ack_post + "\"}");
  ASSERT_TRUE(f.wait_for_posts(4));
  const std::string theirs = f.ticket_for_mention(other);
  EXPECT_FALSE(theirs.empty());
  EXPECT_NE(theirs, number);
}

TEST_F(Admin, AnAuthorOverTheLimitIsHeardButNotAnsweredEveryTime) {
  DaemonSettings s;
  s.acks_per_author_per_hour = 2;
  start(s);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(f.mention("busy", "버스가 안 와요 " + std::to_string(i)));
  f.mention("calm", "가로등이 꺼졌어요");
  ASSERT_TRUE(f.wait_for_posts(3));
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& id : ids)
          if (f.ticket_for_mention(id).empty()) return false;
        return true;
      },
      seconds(10)));
  std::this_thread::sleep_for(milliseconds(500));
  auto posts = f.posts();
  ASSERT_EQ(posts.size(), 3u);  // busy: ack + limit_reached; calm: ack
  EXPECT_EQ(f.replies_to(ids[2]).size(), 0u);
  EXPECT_EQ(f.replies_to(ids[3]).size(), 0u);
  EXPECT_NE(str(f.replies_to(ids[1])[0], "text").find("답글 없이 접수"), std::string::npos);
  EXPECT_NE(f.read_log("sotongd.log").find("limit_per_hour=2"), std::string::npos);
}

TEST_F(Admin, TheAccountsPostingBudgetHoldsRepliesBackAndSurvivesARestart) {
  DaemonSettings s;
  s.posts_per_hour = 3;
  start(s);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(f.mention("c" + std::to_string(i), "가로등이 꺼졌어요 " + std::to_string(i)));
  ASSERT_TRUE(f.wait_for_posts(3));
  ASSERT_TRUE(
      wait_until([&] { return f.read_log("sotongd.log").find("budget=3") != std::string::npos; },
                 seconds(10)));
  EXPECT_EQ(f.posts().size(), 3u);
  // Every ticket is open; the rest of the replies wait in the outbox, even across a restart.
  for (const auto& id : ids) EXPECT_FALSE(f.ticket_for_mention(id).empty());
  EXPECT_EQ(f.stop_daemon(), 0);
  f.start_daemon();
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(f.posts().size(), 3u);
}

TEST_F(Admin, AbusiveMentionsOpenAHiddenTicketWithoutAPublicReply) {
  start();
  auto id = f.mention("angry", "씨발 버스 언제 와");
  ASSERT_TRUE(wait_until([&] { return !f.ticket_for_mention(id).empty(); }, seconds(10)));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_TRUE(f.posts().empty());
  auto number = f.ticket_for_mention(id);
  bool hidden = false;
  for (const auto& [dep, tok] : Fixture::department_tokens()) {
    auto t = f.hook("GET", "/v1/tickets/" + number, tok);
    if (t.status == 200) hidden = t.json().as_object().at("hidden").as_bool();
  }
  EXPECT_TRUE(hidden);
  // Swearing in an emergency still gets the call-now reply.
  auto fire = f.mention("scared", "씨발 아파트에 불이 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  EXPECT_NE(str(f.replies_to(fire).at(0), "text").find("119"), std::string::npos);
}

TEST_F(Admin, OutsideBusinessHoursTheAckSaysWhenTheDepartmentIsBack) {
  // Hours that exclude now in Seoul: a one-hour window starting two hours from now.
  const std::time_t now = std::time(nullptr) + 9 * 3600;
  std::tm tm{};
  gmtime_r(&now, &tm);
  int from = (tm.tm_hour + 2) % 24;
  if (from == 23) from = 1;  // keep the window inside one day
  char hours[64];
  std::snprintf(hours, sizeof hours, "{daily: \"%02d:00-%02d:00\"}", from, from + 1);
  DaemonSettings s;
  s.business_hours = hours;
  start(s);
  auto id = f.mention("late", "가로등이 꺼졌어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  const std::string text = str(f.replies_to(id).at(0), "text");
  char expected[32];
  std::snprintf(expected, sizeof expected, "%d시", from > 12 ? from - 12 : (from == 0 ? 12 : from));
  EXPECT_NE(text.find(expected), std::string::npos) << text;
  EXPECT_NE(text.find("월 "), std::string::npos) << text;
  // Urgent mentions always get the call-now text.
  auto fire = f.mention("late2", "아파트에 불이 났어요");
  ASSERT_TRUE(f.wait_for_posts(2));
  EXPECT_NE(str(f.replies_to(fire).at(0), "text").find("119"), std::string::npos);
}

// Rules and templates in two versions whose every reply says which version made it.
void write_version(const fs::path& dir, char v) {
  const std::string tag(1, v);
  {
    std::ofstream r(dir / "rules" / "10-bus.yaml.tmp");
    r << "rules:\n  - name: bus\n    match: {any: [버스]}\n    department: transport\n"
         "    category: bus-"
      << tag << "\ndefault: {department: civil-affairs}\n";
  }
  fs::rename(dir / "rules" / "10-bus.yaml.tmp", dir / "rules" / "10-bus.yaml");
  {
    std::ofstream t(dir / "templates" / "ko.yaml.tmp");
    t << "language: ko\ntemplates:\n"
      << "  ack: \"[" << tag << "] {{category}} {{ticket}}\"\n"
      << "  ack_urgent: \"112 119 {{ticket}}\"\n"
      << "  ack_after_hours: \"[" << tag << "] {{category}} {{ticket}} {{next_business_time}}\"\n"
      << "  followup: \"{{ticket}} {{resolution}}\"\n"
      << "  limit_reached: \"{{ticket}}\"\n  reopened: \"{{ticket}}\"\n";
  }
  fs::rename(dir / "templates" / "ko.yaml.tmp", dir / "templates" / "ko.yaml");
}

// Starts sotongd on version A of its own rules and templates folders.
void start_versioned(Fixture& f, bool watch_files) {
  fs::create_directories(f.dir() / "rules");
  fs::create_directories(f.dir() / "templates");
  write_version(f.dir(), 'A');
  DaemonSettings s;
  s.rules_dir = (f.dir() / "rules").string();
  s.templates_dir = (f.dir() / "templates").string();
  if (!watch_files) s.extra_yaml = "watch_files: false\n";
  f.start_sandbox();
  f.write_config(s);
  f.start_daemon();
}

TEST_F(Admin, ReloadsUnderLoadNeverMixOldAndNewOrDropAMention) {
  start_versioned(f, false);
  // One answered under A before the reloads start, so both versions are sure to appear.
  std::vector<std::string> ids{f.mention("c_first", "버스가 안 와요")};
  ASSERT_TRUE(f.wait_for_posts(1));

  constexpr int kMentions = 151;
  std::atomic<bool> done{false};
  std::thread citizens([&] {
    for (int i = 1; i < kMentions; ++i) {
      ids.push_back(f.mention("c" + std::to_string(i), "버스가 안 와요 " + std::to_string(i)));
      std::this_thread::sleep_for(milliseconds(5));
    }
    done = true;
  });
  int reloads = 0;
  for (char v = 'B'; !done; v = v == 'A' ? 'B' : 'A') {
    write_version(f.dir(), v);
    f.signal_daemon(SIGHUP);
    ++reloads;
    ASSERT_TRUE(wait_until(
        [&] {
          return count(f.read_log("sotongd.log"), "msg=reloaded cause=SIGHUP") >=
                 std::size_t(reloads);
        },
        seconds(10)));
    if (reloads == 3) {
      // A broken change in the middle is refused; the running version goes on.
      std::ofstream(f.dir() / "rules" / "10-bus.yaml") << "rules: [broken\n";
      f.signal_daemon(SIGHUP);
      ASSERT_TRUE(wait_until(
          [&] {
            return f.read_log("sotongd.log")
                       .find(
                           "msg=\"reload refused: keeping the running configuration\" "
                           "cause=SIGHUP") != std::string::npos;
          },
          seconds(10)));
    }
  }
  citizens.join();
  ASSERT_GE(reloads, 3);
  ASSERT_TRUE(f.wait_for_posts(kMentions, seconds(60)));
  std::this_thread::sleep_for(milliseconds(500));
  auto posts = f.posts();
  ASSERT_EQ(posts.size(), std::size_t(kMentions));
  std::set<std::string> answered;
  int version_a = 0;
  for (const auto& p : posts) {
    answered.insert(str(p, "in_reply_to_id"));
    const std::string text = str(p, "text");
    // The template's version and the rule's category come from one configuration.
    const bool a = text.find("[A] bus-A ") != std::string::npos;
    const bool b = text.find("[B] bus-B ") != std::string::npos;
    EXPECT_TRUE(a != b) << text;
    version_a += a ? 1 : 0;
  }
  EXPECT_EQ(answered, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_GT(version_a, 0);
  EXPECT_LT(version_a, kMentions);
  EXPECT_TRUE(f.daemon_running());
}

TEST_F(Admin, SavingARulesFileReloadsWithoutASignal) {
  start_versioned(f, true);
  auto first = f.mention("c1", "버스가 안 와요");
  ASSERT_TRUE(f.wait_for_posts(1));
  EXPECT_NE(str(f.replies_to(first).at(0), "text").find("[A] bus-A"), std::string::npos);
  write_version(f.dir(), 'B');
  ASSERT_TRUE(wait_until(
      [&] {
        return f.read_log("sotongd.log").find("msg=reloaded cause=\"files changed\"") !=
               std::string::npos;
      },
      seconds(10)));
  auto second = f.mention("c2", "버스가 또 안 와요");
  ASSERT_TRUE(f.wait_for_posts(2));
  EXPECT_NE(str(f.replies_to(second).at(0), "text").find("[B] bus-B"), std::string::npos);
}

}  // namespace
}  // namespace sotong::test_support
