// The acknowledgement latency's baseline: a trivial responder. It reads mentions from the
// sandbox through the same Mastodon connector sotongd uses (the streaming API, the same HTTP
// client) and posts a reply to each at once, one post at a time as sotongd's sender does: no
// store, no rules, no templates, no outbox. What sotongd adds on top is its own cost.
// Usage: sotong-bench-echo BASE_URL TOKEN_FILE   (runs until SIGTERM or SIGINT)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <string>

#include "connectors/mastodon/mastodon_connector.hpp"
#include "daemon/util/doorbell.hpp"
#include "daemon/util/log.hpp"

namespace {

namespace asio = boost::asio;
using namespace sotong;

class EchoSink : public MentionSink {
 public:
  explicit EchoSink(asio::any_io_executor ex) : ex_(ex), bell_(ex) {}

  asio::awaitable<bool> deliver(const std::vector<Mention>& mentions) override {
    for (const auto& m : mentions) {
      Reply r;
      r.account = m.account;
      r.in_reply_to_id = m.id;
      r.mention_author_acct = m.author_acct;
      r.text = "@" + m.author_acct + " 접수했습니다";
      r.visibility = m.visibility;
      r.language = m.language;
      r.idempotency_key = "echo-" + m.id;
      queue_.push_back(std::move(r));
    }
    bell_.ring();
    co_return true;
  }
  asio::awaitable<bool> save_cursor(const std::string&, const std::string&,
                                    const std::string&) override {
    co_return true;
  }
  asio::awaitable<CursorLoad> load_cursor(const std::string&, const std::string&) override {
    co_return CursorLoad{true, std::nullopt};
  }

  // Posts queued replies in order, one at a time, until stopped.
  asio::awaitable<void> post_loop(Connector& connector) {
    while (!stopping_) {
      if (queue_.empty()) {
        co_await bell_.wait(std::chrono::seconds(1));
        continue;
      }
      Reply reply = std::move(queue_.front());
      queue_.pop_front();
      PostOutcome out = co_await connector.post(reply);
      if (out.kind == PostOutcome::Kind::kRetry) {
        queue_.push_front(std::move(reply));
        asio::steady_timer pause(ex_, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::use_awaitable);
      } else if (out.kind == PostOutcome::Kind::kRejected) {
        std::fprintf(stderr, "reply to %s rejected: %s\n", reply.in_reply_to_id.c_str(),
                     out.error.c_str());
      }
    }
  }
  void stop() {
    stopping_ = true;
    bell_.close();
  }

 private:
  asio::any_io_executor ex_;
  Doorbell bell_;
  std::deque<Reply> queue_;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: sotong-bench-echo BASE_URL TOKEN_FILE\n");
    return 2;
  }
  log::setup(log::Level::warn, log::Format::logfmt);
  AccountConfig account;
  account.name = "songpa";
  account.platform = "mastodon";
  account.base_url = argv[1];
  std::ifstream token(argv[2]);
  std::getline(token, account.token);
  if (account.token.empty()) {
    std::fprintf(stderr, "no token in %s\n", argv[2]);
    return 2;
  }
  account.posts_per_3_hours = 1'000'000;
  asio::io_context ioc(1);
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  mastodon::MastodonConnector connector(ioc.get_executor(), account, tls);
  EchoSink sink(ioc.get_executor());
  asio::co_spawn(ioc, connector.run(sink), asio::detached);
  asio::co_spawn(ioc, sink.post_loop(connector), asio::detached);
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    connector.stop();
    sink.stop();
    ioc.stop();
  });
  ioc.run();
  return 0;
}
