// Stopping and reloading as a sysadmin does it (systemctl stop / reload): SIGTERM in the
// middle of a burst lets the posts in flight finish and exits 0 in a bounded time, leaving
// the rest for the next start; SIGHUP with a broken sotong.yaml keeps the running one.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

using namespace std::chrono_literals;

std::string str(const boost::json::object& o, const char* k) {
  return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).as_string()) : std::string();
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

// The configuration without the roads department's two lines (its name and token hash).
std::string without_roads(std::string y) {
  const auto at = y.find("  roads:\n");
  const auto end = y.find('\n', y.find('\n', at) + 1);
  return y.erase(at, end + 1 - at);
}

class Operations : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  std::map<std::string, int> replies_per_mention() {
    std::map<std::string, int> n;
    for (const auto& p : f.posts())
      if (const auto& r = p.at("in_reply_to_id"); r.is_string()) ++n[std::string(r.as_string())];
    return n;
  }
  Fixture f;
};

TEST_F(Operations, SigtermDuringABurstFinishesThePostInFlightAndExitsZeroQuickly) {
  f.start_sandbox({"--rate-limit", "0"});
  f.write_config();
  f.start_daemon();
  // Every answer to a post leaves the sandbox 1.2 s late (under the 2 s request timeout):
  // whenever SIGTERM comes, a post is in flight.
  f.fault("delay", 1000, "/api/v1/statuses", 1200);
  std::vector<std::string> ids;
  ids.reserve(30);
  for (int i = 0; i < 30; ++i)
    ids.push_back(f.mention("burst" + std::to_string(i), "버스 정류장 의자가 부서졌어요"));
  ASSERT_TRUE(wait_until([&] { return !f.posts().empty(); }, 10s));
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(f.stop_daemon(SIGTERM), 0);
  const auto took = std::chrono::steady_clock::now() - asked;
  // The post in flight ends within its request timeout (2 s here); nothing else is waited on.
  EXPECT_LT(took, 5s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  // Each post the platform took is recorded as sent: none is left to be posted again.
  const auto posted_before_stop = f.posts().size();
  const std::string log = f.read_log("sotongd.log");
  EXPECT_EQ(count(log, "msg=\"reply posted\""), posted_before_stop) << log;
  EXPECT_LT(posted_before_stop, ids.size()) << "the burst was over before SIGTERM";
  EXPECT_LT(log.find("msg=\"reply posted\""), log.find("msg=\"sotongd stopped\""));

  // The rest wait in the store and go at the next start, each exactly once.
  f.control("DELETE", "/_sandbox/faults");
  f.start_daemon();
  ASSERT_TRUE(f.wait_for_posts(ids.size(), 30s));
  std::this_thread::sleep_for(500ms);
  const auto n = replies_per_mention();
  for (const auto& id : ids) EXPECT_EQ(n.count(id) ? n.at(id) : 0, 1) << id;
  EXPECT_EQ(f.posts().size(), ids.size());
  EXPECT_EQ(f.stop_daemon(SIGTERM), 0);
}

TEST_F(Operations, SighupWithABrokenConfigFileKeepsServingOnTheRunningOne) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  const auto config = f.dir() / "sotong.yaml";
  std::string good;
  {
    std::ifstream in(config);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto& tokens = Fixture::department_tokens();
  // Three kinds of broken: bad YAML, an unknown field, a department the rules route to gone.
  const std::vector<std::string> broken{
      good + "hook: [broken\n",
      good + "ticket_prefx: SQ\n",
      without_roads(good),
  };
  int refused = 0;
  for (const auto& b : broken) {
    std::ofstream(config, std::ios::trunc) << b;
    f.signal_daemon(SIGHUP);
    ++refused;
    ASSERT_TRUE(wait_until(
        [&] {
          return count(f.read_log("sotongd.log"), "msg=\"reload refused") >=
                 static_cast<std::size_t>(refused);
        },
        10s))
        << b;
    ASSERT_TRUE(f.daemon_running());
  }
  // Still the old configuration: the roads department exists, its token works, and a new
  // mention is routed to it and answered.
  const auto id = f.mention("after_broken", "잠실동 육교에 구멍이 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  const auto ticket = f.ticket_for_mention(id);
  const auto t = f.hook("GET", "/v1/tickets/" + ticket, tokens.at("roads"));
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(str(t.json().as_object(), "department"), "roads");
  EXPECT_EQ(f.hook_request("GET", "/readyz").status, 200);
  // Mended, the next reload is taken.
  std::ofstream(config, std::ios::trunc) << good;
  f.signal_daemon(SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] { return f.read_log("sotongd.log").find("msg=reloaded") != std::string::npos; }, 10s));
  EXPECT_EQ(f.stop_daemon(SIGTERM), 0);
}

}  // namespace
}  // namespace sotong::test_support
