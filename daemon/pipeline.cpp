// The Pipeline (pipeline.hpp): a mention decided by the rules, its replies rendered from the
// templates and stored with its ticket. One file past 450 lines because deciding, rendering and
// storing share the one Runtime a delivery is read against; split, each would take it apart.
#include "daemon/pipeline.hpp"

#include <fmt/ranges.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <exception>
#include <memory>
#include <set>
#include <utility>

#include "connectors/mastodon/status_length.hpp"
#include "connectors/x/tweet_length.hpp"
#include "daemon/text/personal_data.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/doorbell.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;

namespace {

// The longest values a reply can carry, for checking every template variant at load.
constexpr std::size_t kWorstAuthorMastodon = 30;  // Mastodon's username limit
constexpr std::size_t kWorstAuthorX = 15;         // X's username limit
constexpr std::size_t kWorstCategory = 24;
// A date and time with the longest spelling (two-digit month and day, minutes shown).
constexpr int64_t kWorstBusinessTimeMs = 1798687800000;  // 2026-12-31 12:30 in Seoul

std::string longest(const std::vector<std::string>& texts) {
  std::string out;
  for (const auto& t : texts)
    if (text::grapheme_count(t) > text::grapheme_count(out)) out = t;
  return out;
}

std::string status_url(const Config& cfg, const std::string& ticket) {
  std::string url = cfg.status_url;
  if (auto at = url.find("{ticket}"); at != std::string::npos) url.replace(at, 8, ticket);
  return url;
}

void check_reply_lengths(const Runtime& rt, std::vector<std::string>& errors) {
  for (const auto& acc : rt.config.accounts) {
    const bool on_x = acc.platform == "x";
    const std::string author(on_x ? kWorstAuthorX : kWorstAuthorMastodon, 'W');
    const std::string prefix =
        acc.ticket_prefix.empty() ? rt.config.ticket_prefix : acc.ticket_prefix;
    const std::string ticket = prefix + "-2026-9999999";
    const TemplateSet& templates = rt.templates_for(acc.name);
    for (const auto& lang : templates.languages()) {
      std::vector<std::string> names, etas;
      for (const auto& [id, d] : rt.config.departments) {
        names.push_back(rt.config.department_name(id, lang));
        etas.push_back(rt.config.department_eta(id, lang));
      }
      TemplateVars vars{
          {"author", author},
          {"ticket", ticket},
          {"department", longest(names)},
          {"category", std::string(kWorstCategory, 'w')},
          {"eta", longest(etas)},
          {"status_url", status_url(rt.config, ticket)},
          {"next_business_time", format_local_time(rt.calendar, kWorstBusinessTimeMs, lang)},
          {"resolution", "."},
          {"comment", "."}};
      for (const auto& key : templates.keys(lang)) {
        for (std::size_t i = 0; i < templates.variant_count(key, lang); ++i) {
          auto body = templates.render_variant(key, lang, vars, i);
          if (!body) {
            errors.push_back(templates.where(key, lang, i) + ": " + body.error());
            continue;
          }
          const ReplyLength n = measure_reply(acc.platform, "@" + author + " " + *body);
          if (!n.fits)
            errors.push_back(templates.where(key, lang, i) + ": template \"" + key + "\" variant " +
                             std::to_string(i + 1) + " can be " + std::to_string(n.length) +
                             " characters long on " + acc.platform + " (account " + acc.name +
                             ", limit " + std::to_string(n.limit) +
                             ") with the longest names; shorten it");
        }
      }
    }
  }
}

// Keys the daemon itself picks, beyond what rules name: the fallback language must have them.
std::vector<std::string> daemon_keys(const Config& cfg) {
  std::vector<std::string> keys{"ack_after_hours", "reopened", "limit_reached"};
  if (cfg.ack_thread_additions) keys.emplace_back("added");
  return keys;
}

void check_templates(const Runtime& rt, const TemplateSet& templates,
                     const std::filesystem::path& dir, const std::string& who,
                     std::vector<std::string>& errors) {
  auto keys = rt.rules.template_keys();
  for (const auto& k : daemon_keys(rt.config)) keys.push_back(k);
  for (const auto& k : keys)
    if (!templates.has_key(k))
      errors.push_back(dir.string() + ": " + who + "no template \"" + k +
                       "\" in the fallback language \"" + rt.config.fallback_language +
                       "\" (rules or the daemon use it)");
  if (rt.config.status_url.empty())
    for (const auto& use : templates.uses("status_url"))
      errors.push_back(use + " uses {{status_url}}, but the configuration " +
                       rt.config.source.string() + " sets no status_url");
  const auto eta_uses = templates.uses("eta");
  if (!eta_uses.empty())
    for (const auto& [id, d] : rt.config.departments)
      if (d.eta.empty())
        errors.push_back(eta_uses.front() + " uses {{eta}}, but department " + id + " in " +
                         rt.config.source.string() + " has no eta");
}

}  // namespace

Result<std::shared_ptr<const Runtime>> load_runtime(const std::filesystem::path& config_path) {
  auto cfg = load_config(config_path);
  if (!cfg) return Error{cfg.error()};
  std::vector<std::string> errors;
  auto note = [&](const std::string& e) { errors.push_back(e); };
  auto rt = std::make_shared<Runtime>();
  auto calendar = Calendar::load(cfg->time_zone, cfg->holidays_dir);
  if (!calendar)
    note(calendar.error());
  else
    rt->calendar = std::move(*calendar);
  auto rules = RuleSet::load_dir(cfg->rules_dir);
  if (!rules)
    note(rules.error());
  else
    rt->rules = std::move(*rules);
  auto templates = TemplateSet::load_dir(cfg->templates_dir, cfg->fallback_language);
  if (!templates)
    note(templates.error());
  else
    rt->templates = std::move(*templates);
  rt->config = std::move(*cfg);
  const Config& c = rt->config;
  for (const auto& acc : c.accounts) {
    if (acc.templates_dir.empty()) continue;
    auto own = TemplateSet::load_dir(acc.templates_dir, c.fallback_language);
    if (!own) {
      note(own.error());
      continue;
    }
    rt->account_templates.emplace(acc.name, std::move(*own));
    rt->account_templates_dir.emplace(acc.name, acc.templates_dir);
  }
  if (!errors.empty()) return Error{fmt::format("{}", fmt::join(errors, "\n"))};

  for (const auto& d : rt->rules.departments())
    if (!c.departments.contains(d))
      note(c.rules_dir.string() + ": rules route to department \"" + d + "\", which " +
           config_path.string() + " does not define");
  for (const auto& a : rt->rules.accounts()) {
    bool known = false;
    for (const auto& acc : c.accounts) known = known || acc.name == a;
    if (!known)
      note(c.rules_dir.string() + ": rules name account \"" + a + "\", which " +
           config_path.string() + " does not define");
  }
  check_templates(*rt, rt->templates, c.templates_dir, "", errors);
  for (const auto& [name, own] : rt->account_templates)
    check_templates(*rt, own, rt->account_templates_dir[name], "account " + name + ": ", errors);
  check_reply_lengths(*rt, errors);
  if (!errors.empty()) return Error{fmt::format("{}", fmt::join(errors, "\n"))};
  return std::shared_ptr<const Runtime>(std::move(rt));
}

Result<ReplyDraft> render_reply(const Runtime& rt, const std::string& key, const TicketRow& t,
                                const FitFn& fit, int64_t now_ms, const TemplateVars& extra) {
  ReplyDraft d;
  const TemplateSet& templates = rt.templates_for(t.account);
  d.language = templates.resolve_language(t.language);
  const Config& c = rt.config;
  std::string next_time;
  if (auto dep = c.departments.find(t.department); dep != c.departments.end()) {
    auto open = next_opening(dep->second.hours, rt.calendar, now_ms);
    next_time = format_local_time(rt.calendar, open.value_or(now_ms), d.language);
  } else {
    next_time = format_local_time(rt.calendar, now_ms, d.language);
  }
  TemplateVars vars{
      {"author", text::neutralize(t.author)},
      {"ticket", t.number},
      {"department", c.department_name(t.department, d.language)},
      {"category", t.category},
      {"eta", text::neutralize(c.department_eta(t.department, d.language))},
      {"status_url", status_url(c, t.number)},
      {"next_business_time", next_time},
      {"resolution", text::neutralize(t.resolution)},
  };
  for (const auto& [name, value] : extra) vars[name] = text::neutralize(value);
  auto body = templates.render(key, d.language, vars, t.number);
  if (!body) return Error{body.error()};
  // The second reply of a kind on one ticket says so, and differs from the first: X refuses
  // a text it has seen, and a refusal would pass for our own earlier attempt.
  if (t.repeat > 0) *body = "(" + std::to_string(t.repeat + 1) + ") " + *body;
  // The citizen's address comes first so the platform notifies them; never their text.
  std::string prefix = "@" + t.author_acct + " ";
  d.text = prefix + (fit ? fit(prefix, *body) : *body);
  return d;
}

ReplyLength measure_reply(std::string_view platform, const std::string& text) {
  constexpr std::size_t kXLimit = 280;
  constexpr std::size_t kMastodonDefaultLimit = 500;
  if (platform == "x") {
    const auto parsed = x::parse_tweet(text);
    return {static_cast<std::size_t>(parsed.weighted_length), kXLimit, parsed.valid};
  }
  const std::size_t n = mastodon::status_length(text);
  return {n, kMastodonDefaultLimit, n <= kMastodonDefaultLimit};
}

Decision decide(const Runtime& rt, const Mention& m, RuleTrace* trace) {
  // Fixed filters before any rule: answering ourselves or a bot starts reply loops, and a
  // boost repeats a post that has its own ticket.
  auto ignore = [&](const char* reason) {
    Decision d;
    d.action = Decision::Action::kIgnore;
    d.ignore_reason = reason;
    d.rule = "builtin";
    if (trace) trace->steps.push_back({"builtin", "", true, reason});
    return d;
  };
  if (m.author_is_self) return ignore("our own post");
  if (m.author_is_bot) return ignore("author is a bot");
  if (m.is_boost) return ignore("a boost or retweet");
  return rt.rules.decide(m, rt.calendar, trace);
}

std::string ack_key(const Runtime& rt, const Decision& d, int64_t now_ms, std::string* why) {
  auto say = [&](std::string text) {
    if (why) *why = std::move(text);
  };
  // A life may be at stake: the call-112/119 text goes out even under abusive words.
  if (d.priority == Priority::kUrgent) {
    say("urgent: answered at any hour, even under abusive words");
    return d.template_key;
  }
  if (d.hide) {
    say("hidden: no public reply");
    return {};
  }
  if (d.template_explicit || d.template_key != "ack") {
    say(d.template_explicit ? "the rule names it" : "urgent: always the 112/119 text");
    return d.template_key;
  }
  auto dep = rt.config.departments.find(d.department);
  if (dep == rt.config.departments.end() || is_open(dep->second.hours, rt.calendar, now_ms)) {
    say("the department is in now");
    return d.template_key;
  }
  auto open = next_opening(dep->second.hours, rt.calendar, now_ms);
  say("the department is out until " +
      (open ? format_local_time(rt.calendar, *open, "en") : std::string("further notice")));
  return "ack_after_hours";
}

NotifiedDepartments webhook_departments(const Config& config) {
  NotifiedDepartments out;
  for (const auto& [id, d] : config.departments)
    if (!d.webhook.url.empty()) out.insert(id);
  return out;
}

IngestOptions ingest_options(const Runtime& rt, const Mention& m, const Decision& d,
                             int64_t now_ms) {
  IngestOptions o;
  o.notified = webhook_departments(rt.config);
  o.ack_key = ack_key(rt, d, now_ms);
  o.author_ack_limit = rt.config.acks_per_author_per_hour;
  o.ack_thread_additions = rt.config.ack_thread_additions;
  o.reopens = !m.in_reply_to_id.empty() && rt.rules.reopens(m);
  // A ticket opened at 08:00 on New Year's Day in Seoul belongs to the new year even where
  // the machine's clock says UTC.
  o.ticket_year = rt.calendar.local(now_ms).year;
  for (const auto& a : rt.config.accounts)
    if (a.name == m.account) o.ticket_prefix = a.ticket_prefix;
  return o;
}

Pipeline::Pipeline(StoreThread& store, std::shared_ptr<const Runtime> runtime, Metrics* metrics)
    : store_(store), runtime_(std::move(runtime)), metrics_(metrics) {}

FitFn Pipeline::fit_for(const std::string& account) const {
  auto it = connectors_.find(account);
  if (it == connectors_.end()) return {};
  Connector* c = it->second;
  return [c](std::string_view prefix, std::string_view body) { return c->fit(prefix, body); };
}

std::map<std::string, FitFn> Pipeline::fits() const {
  std::map<std::string, FitFn> out;
  for (const auto& [account, c] : connectors_) out[account] = fit_for(account);
  return out;
}

boost::asio::awaitable<bool> Pipeline::deliver(const std::vector<Mention>& mentions) {
  // One Runtime for the whole batch: a reload between two mentions never mixes old and new.
  auto rt = runtime_;
  // Not even trying while the store refuses writes: the connector reads again later.
  if (!store_.healthy()) co_return false;
  std::set<std::string> queued_accounts;
  bool notified = false;
  auto ex = co_await asio::this_coro::executor;
  for (std::size_t first = 0; first < mentions.size(); first += kChunk) {
    const std::size_t n = std::min(kChunk, mentions.size() - first);
    // The chunk goes to the store at once, so the store thread commits it in one transaction
    // (group commit): a backlog after an outage costs a sync per chunk, not per mention. Each
    // mention is still its own savepoint, and the answers are read in order below.
    struct Chunk {
      explicit Chunk(asio::any_io_executor e, std::size_t size) : done(e), results(size) {}
      Doorbell done;
      std::vector<Result<IngestOutcome>> results;
      std::vector<Decision> decisions;
      std::size_t pending = 0;
    };
    auto chunk = std::make_shared<Chunk>(ex, n);
    chunk->pending = n;
    // One mention alone moves the cursor in its own transaction. In a chunk the cursor moves
    // only once every mention of it is stored: one failing must not be skipped by the cursor
    // another one carried past it.
    std::string chunk_cursor;
    for (std::size_t i = 0; i < n; ++i) {
      Mention m = mentions[first + i];
      if (n > 1 && !m.cursor.empty()) chunk_cursor = std::exchange(m.cursor, std::string());
      const int64_t now = now_ms();
      Decision d = decide(*rt, m);
      chunk->decisions.push_back(d);
      IngestOptions o = ingest_options(*rt, m, d, now);
      FitFn fit = fit_for(m.account);
      KeyedDraftFn draft = [rt, fit, now](const TicketRow& t, const std::string& key) {
        return render_reply(*rt, key, t, fit, now);
      };
      auto job = [m = std::move(m), d, o, draft, now](Store& s) {
        return s.ingest(m, d, o, draft, now);
      };
      asio::co_spawn(
          ex,
          [this, chunk, i, job = std::move(job)]() mutable -> asio::awaitable<void> {
            // A job that throws is this mention's error, never a chunk waiting forever.
            try {
              chunk->results[i] = co_await store_.run(std::move(job));
            } catch (const std::exception& e) {
              chunk->results[i] = Error{std::string("store job failed: ") + e.what()};
            } catch (...) {
              chunk->results[i] = Error{"store job failed"};
            }
            if (--chunk->pending == 0) chunk->done.ring();
          },
          asio::detached);
    }
    while (chunk->pending > 0) co_await chunk->done.wait(std::chrono::seconds(1));
    for (std::size_t i = 0; i < n; ++i) {
      const Mention& m = mentions[first + i];
      const Decision& d = chunk->decisions[i];
      auto& r = chunk->results[i];
      if (!r) {
        log::error("mention not stored; read again later",
                   {{"account", m.account}, {"mention", m.id}, {"error", r.error()}});
        co_return false;
      }
      handled(*rt, m, d, *r, queued_accounts, notified);
    }
    if (!chunk_cursor.empty()) {
      const Mention& last = mentions[first + n - 1];
      auto saved = co_await save_cursor(last.platform, last.account, chunk_cursor);
      if (!saved) co_return false;
    }
  }
  for (const auto& a : queued_accounts) notify_queued(a);
  if (notified) notification_queued();
  co_return true;
}

void Pipeline::handled(const Runtime& rt, const Mention& m, const Decision& d,
                       const IngestOutcome& r, std::set<std::string>& queued_accounts,
                       bool& notified) {
  if (r.outbox_id != 0) queued_accounts.insert(m.account);
  if (r.notification_id != 0) notified = true;
  if (metrics_ != nullptr && r.kind != IngestOutcome::Kind::kDuplicate)
    metrics_->mention_received(m.platform, m.account);
  switch (r.kind) {
    case IngestOutcome::Kind::kCreated:
      log::info("ticket opened", {{"ticket", r.ticket_number},
                                  {"account", m.account},
                                  {"mention", m.id},
                                  {"rule", d.rule},
                                  {"department", d.department},
                                  {"priority", to_string(d.priority)},
                                  {"visibility", to_string(m.visibility)},
                                  {"reply", r.reply_key.empty() ? "none" : r.reply_key},
                                  {"hidden", d.hide},
                                  {"notify", d.notify}});
      // The author's handle stays out: the ticket number leads to it for those allowed.
      if (r.limited)
        log::warn(
            "author over the acknowledgement limit: ticket opened silently",
            {{"ticket", r.ticket_number}, {"limit_per_hour", rt.config.acks_per_author_per_hour}});
      if (m.visibility == Visibility::kPublic || m.visibility == Visibility::kUnlisted)
        log::debug("mention text",
                   {{"ticket", r.ticket_number}, {"text", text::mask_personal_data(m.text)}});
      break;
    case IngestOutcome::Kind::kAddedToTicket:
      log::info("citizen replied in the thread",
                {{"ticket", r.ticket_number},
                 {"account", m.account},
                 {"mention", m.id},
                 {"reply", r.reply_key.empty() ? "none" : r.reply_key}});
      break;
    case IngestOutcome::Kind::kReopened:
      // The department learns of it here and from the ticket's events (status open again).
      log::warn("ticket reopened by the citizen", {{"ticket", r.ticket_number},
                                                   {"account", m.account},
                                                   {"mention", m.id},
                                                   {"department", r.department}});
      break;
    case IngestOutcome::Kind::kDuplicate:
      log::debug("mention seen before",
                 {{"ticket", r.ticket_number.empty() ? "none" : r.ticket_number},
                  {"account", m.account},
                  {"mention", m.id}});
      break;
    case IngestOutcome::Kind::kIgnored:
      log::info("mention ignored by a rule", {{"account", m.account},
                                              {"mention", m.id},
                                              {"rule", d.rule},
                                              {"reason", d.ignore_reason}});
      break;
  }
}

boost::asio::awaitable<bool> Pipeline::save_cursor(const std::string& platform,
                                                   const std::string& account,
                                                   const std::string& cursor) {
  auto job = [platform, account, cursor](Store& st) {
    return st.set_cursor(platform, account, cursor, now_ms());
  };
  auto s = co_await store_.run(std::move(job));
  if (!s) log::error("saving the cursor failed", {{"account", account}, {"error", s.error()}});
  co_return s.ok();
}

boost::asio::awaitable<MentionSink::CursorLoad> Pipeline::load_cursor(const std::string& platform,
                                                                      const std::string& account) {
  auto job = [platform, account](Store& st) { return st.cursor(platform, account); };
  auto r = co_await store_.run(std::move(job));
  if (!r) {
    log::error("loading the cursor failed", {{"account", account}, {"error", r.error()}});
    co_return CursorLoad{};
  }
  co_return CursorLoad{true, *r};
}

}  // namespace sotong
