// Connector: one platform account behind one small interface. A connector turns the
// platform's API into Mentions (handed to a MentionSink, which makes them durable) and posts
// Replies. It owns the platform's quirks: auth, cursors, streaming vs polling, rate limits,
// length rules, idempotency. The pipeline never asks which platform it talks to.
// Thread rules: all calls on the network loop's executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/platform_observer.hpp"
#include "daemon/mention.hpp"

namespace sotong {

// What became of one attempt to post a Reply.
struct PostOutcome {
  enum class Kind {
    kPosted,    // the platform has it; post_id set
    kRetry,     // transient (network, 5xx, 429, an answer we could not read): try again later
    kRejected,  // the platform will never take it (thread deleted, invalid): do not retry
  };
  Kind kind = Kind::kRetry;
  std::string post_id;
  std::string error;
  std::chrono::milliseconds retry_after{0};  // > 0 when the platform said how long to wait
};

class MentionSink {
 public:
  virtual ~MentionSink() = default;
  // Makes the mentions durable, in order, each with its cursor. Returns false if the store
  // failed: the connector then backs off and reads again from its stored cursor.
  // Arguments are references: callers co_await at once on named values (GCC 12 mishandles
  // temporaries inside co_await expressions).
  virtual boost::asio::awaitable<bool> deliver(const std::vector<Mention>& mentions) = 0;
  virtual boost::asio::awaitable<bool> save_cursor(const std::string& platform,
                                                   const std::string& account,
                                                   const std::string& cursor) = 0;
  // ok=false if the store failed; cursor empty if the account has none yet.
  struct CursorLoad {
    bool ok = false;
    std::optional<std::string> cursor;
  };
  virtual boost::asio::awaitable<CursorLoad> load_cursor(const std::string& platform,
                                                         const std::string& account) = 0;
  // False while the store refuses writes: connectors then skip reading (the platform keeps
  // the mentions; the stored cursor says where to resume).
  virtual bool accepting() const { return true; }
};

class Connector {
 public:
  virtual ~Connector() = default;
  virtual const std::string& platform() const = 0;
  virtual const std::string& account() const = 0;
  // Reads mentions into `sink` until stop().
  virtual boost::asio::awaitable<void> run(MentionSink& sink) = 0;
  virtual void stop() = 0;
  virtual boost::asio::awaitable<PostOutcome> post(const Reply& reply) = 0;
  // `body` shortened so that prefix + body fits the platform's length limit.
  virtual std::string fit(std::string_view prefix, std::string_view body) const = 0;
  // True once the account is verified and mentions are being read.
  virtual bool ready() const = 0;

  // Where failed requests and rate-limit waits are counted; null: nowhere. Set before run().
  void set_observer(PlatformObserver* o) { observer_ = o; }

 protected:
  void observe(const Result<HttpResponse>& r) const {
    PlatformErrorKind kind = PlatformErrorKind::kNetwork;
    if (observer_ != nullptr && classify(r, &kind)) observer_->platform_error(account(), kind);
  }
  void observe_rate_limit_wait() const {
    if (observer_ != nullptr) observer_->rate_limit_wait(account());
  }

 private:
  PlatformObserver* observer_ = nullptr;
};

}  // namespace sotong
