#include "daemon/util/log.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <string>
#include <vector>

namespace sotong::log {
namespace {

std::string line(Format f, bool journal, Level level, std::string_view msg, Fields fields) {
  return render(Style{f, journal}, "2026-11-22T10:00:01.250+09:00", level, msg,
                {fields.begin(), fields.size()});
}

TEST(Log, LogfmtQuotesWhatNeedsItAndLeavesNumbersBare) {
  EXPECT_EQ(line(Format::logfmt, false, Level::info, "reply posted",
                 {{"ticket", "SP-2026-000001"}, {"latency_ms", 42}, {"hidden", false}}),
            "ts=2026-11-22T10:00:01.250+09:00 level=info msg=\"reply posted\" "
            "ticket=SP-2026-000001 latency_ms=42 hidden=false\n");
  EXPECT_EQ(line(Format::logfmt, false, Level::warn, "x", {{"error", "a=b \"c\"\\"}}),
            "ts=2026-11-22T10:00:01.250+09:00 level=warn msg=x error=\"a=b \\\"c\\\"\\\\\"\n");
}

TEST(Log, EveryEventIsOneLineWhateverTheValues) {
  const std::string hostile = "line one\nline two\r\t\x01\x7f end \xE2\x80\xA8 \xff\xfe";
  for (Format f : {Format::logfmt, Format::json}) {
    const auto l = line(f, false, Level::error, "configuration error", {{"error", hostile}});
    ASSERT_EQ(l.back(), '\n');
    EXPECT_EQ(l.find('\n'), l.size() - 1) << l;
    EXPECT_EQ(l.find('\r'), std::string::npos) << l;
    EXPECT_EQ(l.find('\x01'), std::string::npos) << l;
    EXPECT_EQ(l.find("\xE2\x80\xA8"), std::string::npos) << l;  // a JSON line separator
    EXPECT_EQ(l.find('\xff'), std::string::npos) << l;          // invalid UTF-8 replaced
  }
}

TEST(Log, JsonLinesParseAndKeepTypes) {
  const std::string hostile = "\"quoted\" \\ \n\xff 송파구 \xF0\x9F\x9A\xA7";
  const auto l = line(Format::json, false, Level::info, "ticket opened",
                      {{"ticket", "SP-2026-000001"},
                       {"mention", hostile},
                       {"count", std::size_t{3}},
                       {"ms", 1.5},
                       {"notify", true}});
  boost::system::error_code ec;
  auto v = boost::json::parse(l, ec);
  ASSERT_FALSE(ec) << l;
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("ts").as_string(), "2026-11-22T10:00:01.250+09:00");
  EXPECT_EQ(o.at("level").as_string(), "info");
  EXPECT_EQ(o.at("msg").as_string(), "ticket opened");
  EXPECT_EQ(o.at("ticket").as_string(), "SP-2026-000001");
  EXPECT_EQ(o.at("mention").as_string(), "\"quoted\" \\ \n\xEF\xBF\xBD 송파구 \xF0\x9F\x9A\xA7");
  EXPECT_EQ(o.at("count").as_int64(), 3);
  EXPECT_DOUBLE_EQ(o.at("ms").as_double(), 1.5);
  EXPECT_TRUE(o.at("notify").as_bool());
}

TEST(Log, TheJournalGetsAPriorityPrefixAndNoTimestamp) {
  EXPECT_EQ(line(Format::logfmt, true, Level::info, "sotongd ready", {{"accounts", 2}}),
            "<6>level=info msg=\"sotongd ready\" accounts=2\n");
  EXPECT_EQ(line(Format::logfmt, true, Level::warn, "w", {}), "<4>level=warn msg=w\n");
  EXPECT_EQ(line(Format::logfmt, true, Level::error, "e", {}), "<3>level=error msg=e\n");
  EXPECT_EQ(line(Format::logfmt, true, Level::critical, "c", {}), "<2>level=critical msg=c\n");
  EXPECT_EQ(line(Format::logfmt, true, Level::debug, "d", {}), "<7>level=debug msg=d\n");
  EXPECT_EQ(line(Format::json, true, Level::error, "e", {{"ticket", "SP-2026-000002"}}),
            "<3>{\"level\":\"error\",\"msg\":\"e\",\"ticket\":\"SP-2026-000002\"}\n");
}

TEST(Log, EmptyTextFieldsAreLeftOut) {
  EXPECT_EQ(line(Format::logfmt, true, Level::warn, "refused", {{"ticket", ""}, {"n", 0}}),
            "<4>level=warn msg=refused n=0\n");
}

TEST(Log, LongValuesAreCutAtACharacterBoundary) {
  std::string long_text;
  for (int i = 0; i < 2000; ++i) long_text += "가";  // 3 bytes each
  const auto l = line(Format::json, false, Level::info, "m", {{"error", long_text}});
  EXPECT_LT(l.size(), 1200u);
  boost::system::error_code ec;
  auto v = boost::json::parse(l, ec);
  ASSERT_FALSE(ec) << l;
  const auto s = v.as_object().at("error").as_string();
  EXPECT_TRUE(s.ends_with("가...")) << s;
}

TEST(Log, LevelsAndFormatsAreReadByName) {
  EXPECT_EQ(level_from("warn"), Level::warn);
  EXPECT_EQ(level_from("warning"), Level::warn);
  EXPECT_EQ(level_from("loud"), std::nullopt);
  EXPECT_EQ(format_from("json"), Format::json);
  EXPECT_EQ(format_from("JSON"), std::nullopt);
  configure(Level::warn, Format::logfmt);
  EXPECT_FALSE(enabled(Level::info));
  EXPECT_TRUE(enabled(Level::error));
  configure(Level::info, Format::logfmt);
}

TEST(Log, StderrIsTheJournalOnlyWhenJournalStreamNamesIt) {
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderr_is_journal());
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  EXPECT_TRUE(stderr_is_journal());
  // Inherited by a child whose stderr was redirected elsewhere: not the journal any more.
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":1").c_str(), 1);
  EXPECT_FALSE(stderr_is_journal());
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
}

}  // namespace
}  // namespace sotong::log
