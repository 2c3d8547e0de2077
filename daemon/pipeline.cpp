#include "daemon/pipeline.hpp"

#include <set>

#include "connectors/mastodon/status_length.hpp"
#include "connectors/x/tweet_length.hpp"
#include "daemon/text/personal_data.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace {

// The longest values a reply can carry, for checking every template variant at load.
constexpr std::size_t kWorstAuthorMastodon = 30;  // Mastodon's username limit
constexpr std::size_t kWorstAuthorX = 15;         // X's username limit
constexpr std::size_t kWorstCategory = 24;
// Mastodon's default; an instance's own limit is only known once connected.
constexpr std::size_t kMastodonDefaultLimit = 500;

Status check_reply_lengths(const Runtime& rt) {
  for (const auto& acc : rt.config.accounts) {
    const bool on_x = acc.platform == "x";
    const std::string author(on_x ? kWorstAuthorX : kWorstAuthorMastodon, 'W');
    const std::string prefix =
        acc.ticket_prefix.empty() ? rt.config.ticket_prefix : acc.ticket_prefix;
    const TemplateSet& templates = rt.templates_for(acc.name);
    for (const auto& lang : templates.languages()) {
      std::string department;
      for (const auto& [id, d] : rt.config.departments) {
        std::string name = rt.config.department_name(id, lang);
        if (text::grapheme_count(name) > text::grapheme_count(department)) department = name;
      }
      TemplateVars vars{{"author", author},
                        {"ticket", prefix + "-2026-9999999"},
                        {"department", department},
                        {"category", std::string(kWorstCategory, 'w')},
                        {"resolution", "."}};
      for (const auto& key : templates.keys(lang)) {
        for (std::size_t i = 0; i < templates.variant_count(key, lang); ++i) {
          auto body = templates.render_variant(key, lang, vars, i);
          if (!body) return Error{body.error()};
          const std::string text = "@" + author + " " + *body;
          const std::size_t length =
              on_x ? static_cast<std::size_t>(x::parse_tweet(text).weighted_length)
                   : mastodon::status_length(text);
          const bool fits = on_x ? x::parse_tweet(text).valid : length <= kMastodonDefaultLimit;
          if (!fits)
            return Error{(rt.templates_dir_for(acc.name) / (lang + ".yaml")).string() +
                         ": template \"" + key + "\" variant " + std::to_string(i + 1) +
                         " can be " + std::to_string(length) + " characters long on " +
                         acc.platform + " (account " + acc.name + ", limit " +
                         (on_x ? std::string("280") : std::to_string(kMastodonDefaultLimit)) +
                         ") with the longest names; shorten it"};
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const Runtime>> load_runtime(const std::filesystem::path& config_path) {
  auto cfg = load_config(config_path);
  if (!cfg) return Error{cfg.error()};
  auto rules = RuleSet::load_dir(cfg->rules_dir);
  if (!rules) return Error{rules.error()};
  auto templates = TemplateSet::load_dir(cfg->templates_dir, cfg->fallback_language);
  if (!templates) return Error{templates.error()};
  for (const auto& d : rules->departments())
    if (!cfg->departments.contains(d))
      return Error{cfg->rules_dir.string() + ": rules route to department \"" + d + "\", which " +
                   config_path.string() + " does not define"};
  for (const auto& k : rules->template_keys())
    if (!templates->has_key(k))
      return Error{cfg->rules_dir.string() + ": rules name template \"" + k + "\", which " +
                   cfg->templates_dir.string() + " does not define"};
  auto rt = std::make_shared<Runtime>();
  rt->config = std::move(*cfg);
  rt->rules = std::move(*rules);
  rt->templates = std::move(*templates);
  for (const auto& acc : rt->config.accounts) {
    if (acc.templates_dir.empty()) continue;
    auto own = TemplateSet::load_dir(acc.templates_dir, rt->config.fallback_language);
    if (!own) return Error{"account " + acc.name + ": " + own.error()};
    for (const auto& k : rt->rules.template_keys())
      if (!own->has_key(k))
        return Error{"account " + acc.name + ": rules name template \"" + k + "\", which " +
                     acc.templates_dir.string() + " does not define"};
    rt->account_templates.emplace(acc.name, std::move(*own));
    rt->account_templates_dir.emplace(acc.name, acc.templates_dir);
  }
  if (auto s = check_reply_lengths(*rt); !s) return Error{s.error()};
  return std::shared_ptr<const Runtime>(std::move(rt));
}

Result<ReplyDraft> render_reply(const Runtime& rt, const std::string& key, const TicketRow& t,
                                const FitFn& fit) {
  ReplyDraft d;
  const TemplateSet& templates = rt.templates_for(t.account);
  d.language = templates.resolve_language(t.language);
  TemplateVars vars{
      {"author", text::neutralize(t.author)},
      {"ticket", t.number},
      {"department", rt.config.department_name(t.department, d.language)},
      {"category", t.category},
      {"resolution", text::neutralize(t.resolution)},
  };
  auto body = templates.render(key, d.language, vars, t.number);
  if (!body) return Error{body.error()};
  // The citizen's address comes first so the platform notifies them; never their text.
  std::string prefix = "@" + t.author_acct + " ";
  d.text = prefix + (fit ? fit(prefix, *body) : *body);
  return d;
}

Pipeline::Pipeline(StoreThread& store, std::shared_ptr<const Runtime> runtime)
    : store_(store), runtime_(std::move(runtime)) {}

FitFn Pipeline::fit_for(const std::string& account) const {
  auto it = connectors_.find(account);
  if (it == connectors_.end()) return {};
  Connector* c = it->second;
  return [c](std::string_view prefix, std::string_view body) { return c->fit(prefix, body); };
}

Decision Pipeline::decide(const Runtime& rt, const Mention& m) const {
  // Fixed filters before any rule: answering ourselves or a bot starts reply loops.
  auto ignore = [](const char* reason) {
    Decision d;
    d.action = Decision::Action::kIgnore;
    d.ignore_reason = reason;
    d.rule = "builtin";
    return d;
  };
  if (m.author_is_self) return ignore("our own post");
  if (m.author_is_bot) return ignore("author is a bot");
  return rt.rules.decide(m);
}

boost::asio::awaitable<bool> Pipeline::deliver(const std::vector<Mention>& mentions) {
  auto rt = runtime_;
  std::set<std::string> queued_accounts;
  for (const auto& m : mentions) {
    Decision d = decide(*rt, m);
    FitFn fit = fit_for(m.account);
    std::string key = d.template_key;
    DraftFn ack = [rt, key, fit](const TicketRow& t) { return render_reply(*rt, key, t, fit); };
    std::string prefix;
    for (const auto& a : rt->config.accounts)
      if (a.name == m.account) prefix = a.ticket_prefix;
    auto job = [m, d, ack, prefix](Store& s) { return s.ingest(m, d, ack, now_ms(), prefix); };
    auto r = co_await store_.run(std::move(job));
    if (!r) {
      spdlog::error("account={} mention {}: store failed: {}", m.account, m.id, r.error());
      co_return false;
    }
    switch (r->kind) {
      case IngestOutcome::Kind::kCreated:
        spdlog::info(
            "ticket={} opened account={} mention={} rule={} department={} priority={} "
            "visibility={}",
            r->ticket_number, m.account, m.id, d.rule, d.department, to_string(d.priority),
            to_string(m.visibility));
        if (m.visibility == Visibility::kPublic || m.visibility == Visibility::kUnlisted)
          spdlog::debug("ticket={} text: {}", r->ticket_number, text::mask_personal_data(m.text));
        if (r->outbox_id != 0) queued_accounts.insert(m.account);
        break;
      case IngestOutcome::Kind::kDuplicate:
        spdlog::debug("account={} mention {} seen before (ticket {})", m.account, m.id,
                      r->ticket_number.empty() ? "none" : r->ticket_number);
        break;
      case IngestOutcome::Kind::kIgnored:
        spdlog::info("account={} mention {} ignored: {}", m.account, m.id, d.ignore_reason);
        break;
    }
  }
  for (const auto& a : queued_accounts) notify_queued(a);
  co_return true;
}

boost::asio::awaitable<bool> Pipeline::save_cursor(const std::string& platform,
                                                   const std::string& account,
                                                   const std::string& cursor) {
  auto job = [platform, account, cursor](Store& st) {
    return st.set_cursor(platform, account, cursor, now_ms());
  };
  auto s = co_await store_.run(std::move(job));
  if (!s) spdlog::error("account={} saving cursor failed: {}", account, s.error());
  co_return s.ok();
}

boost::asio::awaitable<MentionSink::CursorLoad> Pipeline::load_cursor(const std::string& platform,
                                                                      const std::string& account) {
  auto job = [platform, account](Store& st) { return st.cursor(platform, account); };
  auto r = co_await store_.run(std::move(job));
  if (!r) {
    spdlog::error("account={} loading cursor failed: {}", account, r.error());
    co_return CursorLoad{};
  }
  co_return CursorLoad{true, *r};
}

}  // namespace sotong
