// MastodonConnector: a Mastodon (or compatible: Pleroma, Akkoma, GoToSocial, ...) account.
//
// Reading: the stored cursor only moves after a contiguous poll of the notifications (walking
// back from the newest page with max_id until the cursor), so a mention missed by the stream
// is found by the next poll. The streaming API (WebSocket) delivers mentions at once; a poll
// runs at start, after every (re)connect and every poll interval. Nothing relies on since_id,
// Link headers or rate-limit headers being present; duplicates are removed by the store.
// Posting: in_reply_to_id, visibility as given (never widened here), Idempotency-Key.
// Thread rules: everything on the loop's executor. Errors are logged and retried with backoff.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "connectors/connector.hpp"
#include "connectors/http_client.hpp"
#include "daemon/config.hpp"

namespace sotong::mastodon {

class MastodonConnector : public Connector {
 public:
  MastodonConnector(boost::asio::any_io_executor ex, AccountConfig config,
                    std::shared_ptr<boost::asio::ssl::context> tls);
  ~MastodonConnector() override;

  const std::string& platform() const override { return platform_; }
  const std::string& account() const override { return config_.name; }
  boost::asio::awaitable<void> run(MentionSink& sink) override;
  void stop() override;
  boost::asio::awaitable<PostOutcome> post(const Reply& reply) override;
  std::string fit(std::string_view prefix, std::string_view body) const override;
  bool ready() const override { return ready_; }

 private:
  struct Stream;
  boost::asio::awaitable<bool> verify();
  boost::asio::awaitable<bool> catch_up(MentionSink& sink);
  // Pages forward from `cursor` with min_id when walking back could not reach it, until a
  // page reaches `until` (the oldest the walk back read; empty: to the newest).
  boost::asio::awaitable<bool> catch_up_forward(MentionSink& sink, const std::string& cursor,
                                                const std::string& until);
  boost::asio::awaitable<void> stream_loop(MentionSink& sink);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  HttpRequest authed(std::string method, std::string target) const;
  // Our earlier reply for this ticket in the mention's thread, if it is there.
  boost::asio::awaitable<std::optional<std::string>> find_in_thread(const Reply& reply,
                                                                    bool* thread_gone);
  // Wait implied by a 429's X-RateLimit-Reset, bounded.
  std::chrono::milliseconds rate_limit_wait(const HttpResponse& r) const;
  // Logs, counts and sleeps through a read's 429.
  boost::asio::awaitable<void> wait_out_rate_limit(const HttpResponse& r);

  boost::asio::any_io_executor ex_;
  AccountConfig config_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string platform_ = "mastodon";
  Endpoint endpoint_;
  std::unique_ptr<HttpClient> reader_;
  std::unique_ptr<HttpClient> poster_;
  std::unique_ptr<Stream> stream_;
  boost::asio::steady_timer poll_timer_;
  std::string self_id_;
  std::string self_acct_;
  // Read by the store thread when it renders replies; written once the instance is known.
  std::atomic<std::size_t> max_chars_{500};
  bool ready_ = false;
  bool stopping_ = false;
  bool stream_running_ = false;
};

// Parses one notification JSON object into a Mention. Returns nullopt (and why, in *why) for
// anything that is not a usable mention. `self_id` marks our own posts.
std::optional<Mention> parse_notification(std::string_view json, const std::string& account,
                                          const std::string& self_id, std::string* why);

}  // namespace sotong::mastodon
