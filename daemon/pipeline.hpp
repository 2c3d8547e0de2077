// Pipeline: the MentionSink of every connector. For each Mention it applies the fixed safety
// filters (our own posts, bots), asks the RuleSet for a Decision, renders the
// acknowledgement, and commits ticket + outbox + event + cursor in one store transaction;
// then wakes the account's sender. Also renders follow-ups for the hook.
// Thread rules: on the network loop; store work goes through StoreThread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "connectors/connector.hpp"
#include "daemon/calendar.hpp"
#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/rules.hpp"
#include "daemon/store_thread.hpp"
#include "daemon/templates.hpp"

namespace sotong {

// The configuration in force; replaced whole on reload, never modified.
struct Runtime {
  Config config;
  Calendar calendar;
  RuleSet rules;
  TemplateSet templates;
  // Accounts with their own templates_dir (a district's handle with its own voice).
  std::map<std::string, TemplateSet, std::less<>> account_templates;
  std::map<std::string, std::filesystem::path, std::less<>> account_templates_dir;

  const TemplateSet& templates_for(std::string_view account) const {
    auto it = account_templates.find(account);
    return it == account_templates.end() ? templates : it->second;
  }
  const std::filesystem::path& templates_dir_for(std::string_view account) const {
    auto it = account_templates_dir.find(account);
    return it == account_templates_dir.end() ? config.templates_dir : it->second;
  }
};

// Loads config, calendar, rules and templates and checks them against each other. The error
// lists every problem found, one per line, each "file:line:column: message" where a place is
// known.
Result<std::shared_ptr<const Runtime>> load_runtime(const std::filesystem::path& config_path);

// The text of a reply: "@acct " + rendered template, fitted to the platform by `fit`.
// `now_ms` is when it is written (for {{next_business_time}}).
using FitFn = std::function<std::string(std::string_view prefix, std::string_view body)>;
// `extra` adds variables a reply kind has of its own ({{comment}} for an update).
Result<ReplyDraft> render_reply(const Runtime& rt, const std::string& key, const TicketRow& t,
                                const FitFn& fit, int64_t now_ms, const TemplateVars& extra = {});

// A reply's length as its platform counts it, against the platform's limit (X: 280 weighted
// characters; Mastodon: 500, its default, since an instance's own limit is known only once
// connected).
struct ReplyLength {
  std::size_t length = 0;
  std::size_t limit = 0;
  bool fits = false;
};
ReplyLength measure_reply(std::string_view platform, const std::string& text);

// The fixed safety filters (our own posts, bots, boosts), then the rules.
Decision decide(const Runtime& rt, const Mention& m, RuleTrace* trace = nullptr);

// The acknowledgement's template key for a decision at `now_ms`: none for a hidden ticket,
// the rule's own, ack_urgent, or ack_after_hours when the department is out. `why` gets the
// reason when given.
std::string ack_key(const Runtime& rt, const Decision& d, int64_t now_ms,
                    std::string* why = nullptr);

// The departments with a webhook: their tickets' events are queued as notifications.
NotifiedDepartments webhook_departments(const Config& config);

// The IngestOptions the configuration and rules give a mention.
IngestOptions ingest_options(const Runtime& rt, const Mention& m, const Decision& d,
                             int64_t now_ms);

class Pipeline : public MentionSink {
 public:
  // `metrics` (may be null) counts the mentions received; it outlives the pipeline.
  Pipeline(StoreThread& store, std::shared_ptr<const Runtime> runtime, Metrics* metrics = nullptr);

  void add_connector(Connector* c) { connectors_[c->account()] = c; }
  // Called after a reply is queued for an account (the sender's wake-up).
  void on_queued(std::function<void(const std::string& account)> f) { on_queued_ = std::move(f); }
  std::shared_ptr<const Runtime> runtime() const { return runtime_; }
  void set_runtime(std::shared_ptr<const Runtime> rt) { runtime_ = std::move(rt); }
  FitFn fit_for(const std::string& account) const;
  // Every account's FitFn, taken on the loop for a store job (the connectors change with
  // each term of leadership, on the loop).
  std::map<std::string, FitFn> fits() const;

  boost::asio::awaitable<bool> deliver(const std::vector<Mention>& mentions) override;
  boost::asio::awaitable<bool> save_cursor(const std::string& platform, const std::string& account,
                                           const std::string& cursor) override;
  bool accepting() const override { return store_.healthy(); }
  boost::asio::awaitable<CursorLoad> load_cursor(const std::string& platform,
                                                 const std::string& account) override;

  void notify_queued(const std::string& account) {
    if (on_queued_) on_queued_(account);
  }
  // Called after a notification to a department is queued (the Notifier's wake-up).
  void on_notification_queued(std::function<void()> f) { on_notification_ = std::move(f); }
  void notification_queued() {
    if (on_notification_) on_notification_();
  }

 private:
  // Mentions of one delivery sent to the store at once (one group transaction).
  static constexpr std::size_t kChunk = 64;
  // Logs and counts one stored mention; notes the accounts with replies queued.
  void handled(const Runtime& rt, const Mention& m, const Decision& d, const IngestOutcome& r,
               std::set<std::string>& queued_accounts, bool& notified);

  StoreThread& store_;
  std::shared_ptr<const Runtime> runtime_;
  std::map<std::string, Connector*> connectors_;
  std::function<void(const std::string&)> on_queued_;
  std::function<void()> on_notification_;
  Metrics* metrics_;
};

}  // namespace sotong
