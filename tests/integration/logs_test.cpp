// sotongd's log as a sysadmin and a log shipper read it: one event per line, every line a JSON
// object (or logfmt pairs), the ticket number on every line about a ticket, syslog priority
// prefixes when stderr is the journal, and neither secrets nor private text at info level.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// logfmt: key=bare or key="escaped", separated by single spaces; nullopt if the line is not.
std::optional<std::map<std::string, std::string>> parse_logfmt(const std::string& line) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    const auto eq = line.find('=', i);
    if (eq == std::string::npos || eq == i) return std::nullopt;
    const std::string key = line.substr(i, eq - i);
    if (key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") != std::string::npos)
      return std::nullopt;
    std::string value;
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        value += line[i];
      }
      if (i >= line.size()) return std::nullopt;
      ++i;
    } else {
      const auto sp = line.find(' ', i);
      value = line.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
      i = sp == std::string::npos ? line.size() : sp;
    }
    out[key] = value;
    if (i < line.size()) {
      if (line[i] != ' ') return std::nullopt;
      ++i;
    }
  }
  return out;
}

// Every ticket number a line names is in its ticket= or tickets= field.
void expect_correlated(const std::string& line, const std::string& ticket,
                       const std::string& tickets) {
  static const std::regex number("SP-[0-9]{4}-[0-9]{6}");
  for (std::sregex_iterator it(line.begin(), line.end(), number), end; it != end; ++it) {
    const std::string n = it->str();
    EXPECT_TRUE(ticket == n || tickets.find(n) != std::string::npos)
        << "a line names " << n << " without ticket=" << n << ": " << line;
  }
}

class Logs : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  // Two citizens (one public with a phone number, one direct), a close, a wrong token with a
  // secret-looking value, and a refused reload. Returns the public ticket's number.
  std::string run_a_day(const DaemonSettings& s) {
    f.start_sandbox();
    f.write_config(s);
    f.start_daemon();
    const auto pub = f.mention("citizen1", "PUBLICMARK 잠실동 육교에 구멍이 났어요 010-1234-5678");
    f.mention("citizen2", "DIRECTMARK 우리 집 주소는 송파구 ... 도와주세요", "direct");
    EXPECT_TRUE(f.wait_for_posts(2));
    std::string n = f.ticket_for_mention(pub);
    EXPECT_FALSE(n.empty());
    std::string dept;
    for (const auto& [id, tok] : Fixture::department_tokens())
      if (f.hook("GET", "/v1/tickets/" + n, tok).status == 200) dept = id;
    EXPECT_EQ(f.hook("POST", "/v1/tickets/" + n + "/close", Fixture::department_tokens().at(dept),
                     R"({"resolution":"고쳤습니다"})")
                  .status,
              200);
    EXPECT_TRUE(f.wait_for_posts(3));
    EXPECT_EQ(f.hook("GET", "/v1/tickets/" + n, "WRONGTOKEN-s3cr3t").status, 401);
    // A reload refused for a broken rule: its errors are one event each.
    std::ofstream(f.dir() / "sotong.yaml", std::ios::app) << "log_level: [broken\n";
    f.signal_daemon(SIGHUP);
    EXPECT_TRUE(wait_until(
        [&] { return f.read_log("sotongd.log").find("reload refused") != std::string::npos; },
        10s));
    EXPECT_EQ(f.stop_daemon(), 0);
    return n;
  }

  Fixture f;
};

TEST_F(Logs, JsonLinesCarryTheTicketAndNeitherSecretsNorPrivateText) {
  DaemonSettings s;
  s.log_level = "info";
  s.log_format = "json";
  const std::string n = run_a_day(s);
  const auto lines = lines_of(f.read_log("sotongd.log"));
  ASSERT_GT(lines.size(), 5u);
  std::map<std::string, int> seen;  // msg → count, on lines about ticket n
  for (const auto& line : lines) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not one JSON object: " << line;
    ASSERT_TRUE(v.is_object()) << line;
    const auto& o = v.as_object();
    ASSERT_TRUE(o.contains("ts") && o.contains("level") && o.contains("msg")) << line;
    EXPECT_NE(o.at("level").as_string(), "debug") << line;
    auto field = [&](const char* k) {
      return o.contains(k) ? std::string(o.at(k).as_string()) : std::string();
    };
    expect_correlated(line, field("ticket"), field("tickets"));
    if (field("ticket") == n) ++seen[std::string(o.at("msg").as_string())];
    for (const char* never :
         {"PUBLICMARK", "DIRECTMARK", "010-1234-5678", "1234-5678", "s3cr3t", "integration-token",
          "tok-safety", "tok-transport", "tok-roads", "tok-env", "tok-housing", "tok-welfare",
          "tok-civil", "citizen1", "citizen2"})
      EXPECT_EQ(line.find(never), std::string::npos) << never << " in " << line;
  }
  EXPECT_EQ(seen["ticket opened"], 1);
  EXPECT_GE(seen["reply posted"], 2);  // the acknowledgement and the follow-up
  EXPECT_EQ(seen["ticket closed; follow-up queued"], 1);
  EXPECT_GE(seen["hook request refused: bearer token"], 1);
}

TEST_F(Logs, UnderTheJournalEveryLineStartsWithItsPriority) {
  // stderr is the log file; JOURNAL_STREAM names it as systemd names the journal's stream.
  { std::ofstream(f.dir() / "sotongd.log"); }
  struct stat st {};
  ASSERT_EQ(::stat((f.dir() / "sotongd.log").c_str(), &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
  DaemonSettings s;
  s.log_level = "info";
  run_a_day(s);
  ::unsetenv("JOURNAL_STREAM");
  const std::regex prefix("^<([0-7])>(.*)$");
  const std::map<std::string, std::string> priority_of{
      {"debug", "7"}, {"info", "6"}, {"warn", "4"}, {"error", "3"}, {"critical", "2"}};
  std::map<std::string, int> levels;
  for (const auto& line : lines_of(f.read_log("sotongd.log"))) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, prefix)) << "no priority prefix: " << line;
    const auto kv = parse_logfmt(m[2].str());
    ASSERT_TRUE(kv) << "not logfmt: " << line;
    EXPECT_FALSE(kv->contains("ts")) << "journald keeps the time: " << line;
    ASSERT_TRUE(kv->contains("level") && kv->contains("msg")) << line;
    EXPECT_EQ(priority_of.at(kv->at("level")), m[1].str()) << line;
    ++levels[kv->at("level")];
    const auto t = kv->find("ticket");
    const auto ts = kv->find("tickets");
    expect_correlated(line, t == kv->end() ? "" : t->second, ts == kv->end() ? "" : ts->second);
  }
  EXPECT_GT(levels["info"], 0);
  EXPECT_GT(levels["warn"], 0);   // the wrong token
  EXPECT_GT(levels["error"], 0);  // the refused reload
}

}  // namespace
}  // namespace sotong::test_support
