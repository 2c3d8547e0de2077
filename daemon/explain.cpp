#include "daemon/explain.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "daemon/text/unicode.hpp"

namespace sotong {
namespace {

Result<int64_t> parse_local(const Calendar& cal, const std::string& at) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  char tail = 0;
  if (std::sscanf(at.c_str(), "%4d-%2d-%2d %2d:%2d%c", &y, &mo, &d, &h, &mi, &tail) != 5 ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59)
    return Error{"--at \"" + at + "\" is not a local time like \"2026-11-23 21:30\""};
  return cal.to_utc_ms(y, mo, d, h * 60 + mi);
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

}  // namespace

Result<std::string> explain(const Runtime& rt, const ExplainInput& in, int64_t now_ms) {
  const Config& cfg = rt.config;
  const AccountConfig* account = nullptr;
  for (const auto& a : cfg.accounts) {
    if (!in.account.empty() && a.name != in.account) continue;
    if (!in.platform.empty() && a.platform != in.platform) continue;
    account = &a;
    break;
  }
  if (account == nullptr)
    return Error{"no account" + (in.account.empty() ? "" : " named " + in.account) +
                 (in.platform.empty() ? "" : " on platform " + in.platform) +
                 " in the configuration"};
  auto vis = parse_visibility(in.visibility);
  if (!vis) return Error{"--visibility must be public, unlisted, private or direct"};
  int64_t at = now_ms;
  if (!in.at.empty()) {
    auto t = parse_local(rt.calendar, in.at);
    if (!t) return Error{t.error()};
    at = *t;
  }

  Mention m;
  m.platform = account->platform;
  m.account = account->name;
  m.id = "explain";
  m.author = in.author;
  m.author_acct = in.author;
  m.author_id = "explain-author";
  m.text = text::sanitize_utf8(in.text);
  m.language = in.language;
  m.visibility = *vis;
  m.created_at_ms = at;

  std::string out;
  const LocalTime lt = rt.calendar.local(at);
  out += fmt::format("mention   {} characters, language {}, {} on {} (account {}), by {}\n",
                     text::grapheme_count(m.text), m.language.empty() ? "-" : m.language,
                     to_string(m.visibility), m.platform, m.account, m.author);
  const Holiday* holiday = rt.calendar.holiday(lt.year, lt.month, lt.day);
  out += fmt::format("time      {:04}-{:02}-{:02} {:02}:{:02} {}{}\n", lt.year, lt.month, lt.day,
                     lt.minute_of_day / 60, lt.minute_of_day % 60, rt.calendar.zone_name(),
                     holiday ? " (public holiday)" : "");

  RuleTrace trace;
  Decision d = decide(rt, m, &trace);
  out += "\nrules\n";
  for (const auto& step : trace.steps) {
    out += fmt::format("  {} {}{}\n      {}\n", step.matched ? "MATCH" : "no   ", step.rule,
                       step.where.empty() ? "" : "  (" + step.where + ")", step.why);
  }
  if (d.rule == "default") out += "  (no rule decided: the default block applies)\n";

  out += "\ndecision\n";
  if (d.action == Decision::Action::kIgnore) {
    out += fmt::format("  ignored by {}: {}\n  no ticket, no reply\n", d.rule, d.ignore_reason);
    return out;
  }
  std::string tags;
  for (const auto& t : d.tags) tags += (tags.empty() ? "" : ", ") + t;
  out += fmt::format("  open a ticket (rule {})\n", d.rule);
  out += fmt::format("  department  {} ({})\n", d.department,
                     cfg.department_name(d.department, cfg.fallback_language));
  out += fmt::format("  category    {}\n  priority    {}\n", d.category, to_string(d.priority));
  out += fmt::format("  tags        {}\n", tags.empty() ? "-" : tags);
  if (!d.neighbourhood.empty()) out += fmt::format("  place       {}\n", d.neighbourhood);
  out += fmt::format("  hidden      {}\n  notify now  {}\n", yes_no(d.hide), yes_no(d.notify));

  std::string why;
  const std::string key = ack_key(rt, d, at, &why);
  out += "\nreply\n";
  if (key.empty()) {
    out += fmt::format("  none ({})\n", why);
    return out;
  }
  TicketRow t;
  t.number = (account->ticket_prefix.empty() ? cfg.ticket_prefix : account->ticket_prefix) +
             fmt::format("-{:04}-000123", lt.year);
  t.platform = m.platform;
  t.account = m.account;
  t.author = m.author;
  t.author_acct = m.author_acct;
  t.language = m.language;
  t.visibility = m.visibility;
  t.department = d.department;
  t.category = d.category;
  t.priority = d.priority;
  auto draft = render_reply(rt, key, t, nullptr, at);
  if (!draft) return Error{draft.error()};
  const ReplyLength n = measure_reply(m.platform, draft->text);
  const std::string length =
      fmt::format("{} of {} {}characters{}", n.length, n.limit,
                  m.platform == "x" ? "weighted " : "", n.fits ? "" : ", TOO LONG");
  out += fmt::format("  template {} in {} ({})\n", key, draft->language, why);
  out += fmt::format("  visibility {}; {}; ticket number is an example\n",
                     to_string(reply_visibility(m.visibility)), length);
  out += "\n  " + draft->text + "\n";
  return out;
}

}  // namespace sotong
