// XConnector: an X (Twitter) account through API v2.
//
// Reading: GET /2/users/{id}/mentions, newest first, paged with pagination_token back to the
// stored cursor (since_id); delivered oldest first, each with its id as the cursor. The
// endpoint reaches only the 800 most recent mentions: when a poll fills that, the log says how
// many may have been missed. Polls as often as the configured budget allows and no more,
// adapting to x-rate-limit-* headers; a 429 waits for the reset.
// Posting: POST /2/tweets as a reply, OAuth 1.0a user context. X has no idempotency key; a
// retry of a post that did arrive is answered 403 "duplicate content", which is recorded as
// posted, never retried.
// Thread rules: everything on the loop's executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "connectors/connector.hpp"
#include "connectors/http_client.hpp"
#include "connectors/x/oauth1.hpp"
#include "daemon/config.hpp"

namespace sotong::x {

// The budget of one rate-limited endpoint, from x-rate-limit-* headers or our own count.
struct Budget {
  int limit = 0;
  int remaining = 0;
  int64_t reset_ms = 0;  // when `remaining` refills
  // Reads x-rate-limit-limit/remaining/reset (Unix seconds); false if absent.
  bool update(const HttpResponse& r, int64_t now_ms);
  // Milliseconds to wait before the next call may go out (0: now).
  int64_t wait_ms(int64_t now_ms) const;
};

class XConnector : public Connector {
 public:
  XConnector(boost::asio::any_io_executor ex, AccountConfig config,
             std::shared_ptr<boost::asio::ssl::context> tls);
  ~XConnector() override;

  const std::string& platform() const override { return platform_; }
  const std::string& account() const override { return config_.name; }
  boost::asio::awaitable<void> run(MentionSink& sink) override;
  void stop() override;
  boost::asio::awaitable<PostOutcome> post(const Reply& reply) override;
  std::string fit(std::string_view prefix, std::string_view body) const override;
  bool ready() const override { return ready_; }

 private:
  boost::asio::awaitable<bool> verify();
  boost::asio::awaitable<bool> poll(MentionSink& sink);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  // A signed GET of `path` with decoded query `params`.
  HttpRequest signed_get(const std::string& path, const Params& params, bool prefer_bearer) const;
  std::string base_url_for_signing(const std::string& path) const;

  boost::asio::any_io_executor ex_;
  AccountConfig config_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string platform_ = "x";
  Endpoint endpoint_;
  OAuth1Credentials creds_;
  std::unique_ptr<HttpClient> reader_;
  std::unique_ptr<HttpClient> poster_;
  boost::asio::steady_timer timer_;
  std::string self_id_;
  std::string self_username_;
  Budget read_budget_;
  Budget post_budget_;
  Budget post_day_budget_;
  bool ready_ = false;
  bool stopping_ = false;
};

// Parses a mentions page into Mentions (newest first, as the API sends them). `why` collects
// skipped items. next_token is set when there is another page.
struct MentionsPage {
  std::vector<Mention> mentions;
  std::string newest_id;
  std::string next_token;
  int result_count = 0;
};
Result<MentionsPage> parse_mentions_page(std::string_view json, const std::string& account,
                                         const std::string& self_id,
                                         const std::string& self_username);

}  // namespace sotong::x
