// Drives the acknowledgement latency benchmark: injects mentions into sotong-sandbox at a
// steady rate or in one burst, waits for every reply, and prints the round trips: from just
// before the mention is created to the sandbox receiving the reply, both on this machine's
// clock (µs). The responder under test (sotongd, or the trivial sotong-bench-echo) reads the
// sandbox's stream beside it.
// Usage: sotong-bench-ack PORT steady RATE SECONDS [LABEL]
//        sotong-bench-ack PORT burst N [LABEL]
// Prints the distribution and one line "result: LABEL n p50 p99 max" (ms) for bench scripts.
// For the backlog benchmark (bench/backlog):
//        sotong-bench-ack PORT inject N URGENT_EVERY FILE
//          creates N mentions, every URGENT_EVERY-th one urgent (a gas leak), and writes
//          "id urgent" per line to FILE, in the order made;
//        sotong-bench-ack PORT order FILE
//          reads the replies posted so far and prints in which order they answered FILE's
//          mentions: "order: posted U_POSTED/U urgent, last urgent at position P,
//          N_POSTED normal with INVERSIONS out of order".
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One keep-alive connection to the sandbox's own API.
class Sandbox {
 public:
  explicit Sandbox(const std::string& port) : socket_(ioc_) {
    tcp::resolver resolver(ioc_);
    asio::connect(socket_, resolver.resolve("127.0.0.1", port));
    socket_.set_option(tcp::no_delay(true));
  }
  json::value call(http::verb verb, const std::string& target, const std::string& body = "") {
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024 * 1024);
    http::read(socket_, buffer_, parser);
    const auto& res = parser.get();
    if (res.result() != http::status::ok) {
      std::fprintf(stderr, "%s %s: %u %s\n", std::string(http::to_string(verb)).c_str(),
                   target.c_str(), res.result_int(), res.body().c_str());
      std::exit(1);
    }
    return json::parse(res.body());
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

double at(const std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * sorted.size()))];
}

// Mentions made while no one reads them: the backlog after an outage.
int inject(Sandbox& sandbox, int n, int urgent_every, const std::string& file) {
  std::ofstream out(file);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const bool urgent = urgent_every > 0 && i % urgent_every == urgent_every - 1;
    json::object m{{"author", "backlog" + std::to_string(i)},
                   {"visibility", "public"},
                   {"language", "ko"},
                   {"text", urgent ? "아파트 복도에서 가스 냄새가 심하게 나요 " + std::to_string(i)
                                   : "버스 정류장 안내판이 고장났어요 " + std::to_string(i)}};
    auto created = sandbox.call(http::verb::post, "/_sandbox/mentions", json::serialize(m));
    out << created.at("id").as_string().c_str() << ' ' << (urgent ? 1 : 0) << '\n';
  }
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", file.c_str());
    return 1;
  }
  std::printf("injected %d mentions in %.1f s\n", n,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

// In which order the replies posted so far answered the backlog's mentions.
int order(Sandbox& sandbox, const std::string& file) {
  std::ifstream in(file);
  std::unordered_map<std::string, std::pair<int, bool>> made;  // id → (position, urgent)
  std::string id;
  int urgent = 0;
  for (int flag = 0, i = 0; in >> id >> flag; ++i) {
    made[id] = {i, flag == 1};
    urgent += flag;
  }
  auto all = sandbox.call(http::verb::get, "/_sandbox/posts");
  int position = 0, urgent_posted = 0, last_urgent = -1, normal = 0, inversions = 0;
  int newest_normal = -1;
  for (const auto& p : all.as_array()) {
    const auto& o = p.as_object();
    if (!o.at("in_reply_to_id").is_string()) continue;
    auto it = made.find(std::string(o.at("in_reply_to_id").as_string()));
    if (it == made.end()) continue;
    ++position;
    if (it->second.second) {
      ++urgent_posted;
      last_urgent = position;
    } else {
      ++normal;
      // Out of order: an older mention answered after a newer one.
      if (it->second.first < newest_normal) ++inversions;
      newest_normal = std::max(newest_normal, it->second.first);
    }
  }
  std::printf(
      "order: posted %d/%d urgent, last urgent at position %d, %d normal with %d out of "
      "order\n",
      urgent_posted, urgent, last_urgent, normal, inversions);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[2]) == "order") {
    Sandbox sandbox(argv[1]);
    return order(sandbox, argv[3]);
  }
  if (argc >= 6 && std::string(argv[2]) == "inject") {
    Sandbox sandbox(argv[1]);
    return inject(sandbox, std::stoi(argv[3]), std::stoi(argv[4]), argv[5]);
  }
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: sotong-bench-ack PORT steady RATE SECONDS [LABEL]\n"
                 "       sotong-bench-ack PORT burst N [LABEL]\n");
    return 2;
  }
  const std::string port = argv[1];
  const std::string mode = argv[2];
  const bool steady = mode == "steady";
  if (!steady && mode != "burst") {
    std::fprintf(stderr, "mode: steady or burst\n");
    return 2;
  }
  const double rate = steady ? std::stod(argv[3]) : 0;
  const int n = steady ? static_cast<int>(rate * std::stod(argv[4])) : std::stoi(argv[3]);
  const std::string label = argc > (steady ? 5 : 4) ? argv[steady ? 5 : 4] : mode;
  if (n <= 0) {
    std::fprintf(stderr, "nothing to send\n");
    return 2;
  }
  Sandbox sandbox(port);
  const int64_t posts_before =
      sandbox.call(http::verb::get, "/_sandbox/stats").at("posts").as_int64();

  // Distinct authors (the per-author acknowledgement limit stays out of the way), a text the
  // default rules route to a department.
  struct Sent {
    int64_t at_us = 0;  // just before creating it
    int place = 0;      // in the run
    bool answered = false;
  };
  std::unordered_map<std::string, Sent> sent;  // by mention id
  const auto start = std::chrono::steady_clock::now();
  int64_t behind_us = 0;  // how late the injector ran against its schedule, at worst
  for (int i = 0; i < n; ++i) {
    if (steady) {
      const auto due = start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate));
      std::this_thread::sleep_until(due);
      behind_us =
          std::max<int64_t>(behind_us, std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::steady_clock::now() - due)
                                           .count());
    }
    json::object m{{"author", "bench" + std::to_string(i)},
                   {"visibility", "public"},
                   {"language", "ko"},
                   {"text", "버스 정류장 안내판이 고장났어요 " + std::to_string(i)}};
    const int64_t t = now_us();
    auto created = sandbox.call(http::verb::post, "/_sandbox/mentions", json::serialize(m));
    sent.emplace(std::string(created.at("id").as_string()), Sent{t, i});
  }
  const double inject_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Every mention gets its reply; 120 s is far beyond any healthy run.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int64_t posts = 0;
  while ((posts = sandbox.call(http::verb::get, "/_sandbox/stats").at("posts").as_int64() -
                  posts_before) < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "only %lld of %d replies after 120 s\n", static_cast<long long>(posts),
                   n);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<double> ms;
  std::vector<std::pair<double, int>> worst;  // (ms, place in the run)
  auto all = sandbox.call(http::verb::get, "/_sandbox/posts");
  int answered_twice = 0;
  for (const auto& p : all.as_array()) {
    const auto& o = p.as_object();
    if (!o.at("in_reply_to_id").is_string()) continue;
    auto it = sent.find(std::string(o.at("in_reply_to_id").as_string()));
    if (it == sent.end()) continue;
    if (it->second.answered) {
      ++answered_twice;
      continue;
    }
    ms.push_back(static_cast<double>(o.at("received_at_us").as_int64() - it->second.at_us) /
                 1000.0);
    worst.emplace_back(ms.back(), it->second.place);
    it->second.answered = true;
  }
  if (static_cast<int>(ms.size()) != n || answered_twice > 0) {
    std::fprintf(stderr, "%zu of %d mentions answered, %d answered twice\n", ms.size(), n,
                 answered_twice);
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s: %d mentions in %.1f s (%.0f/s), injector at worst %.1f ms behind schedule\n",
              label.c_str(), n, inject_s, n / inject_s, behind_us / 1000.0);
  std::printf("  round trip (ms): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", at(ms, 0.5),
              at(ms, 0.9), at(ms, 0.99), ms.back());
  // Where the slowest fell in the run: at its start, spread, or in one stall.
  std::sort(worst.begin(), worst.end(), std::greater<>());
  std::printf("  slowest (ms @ mention):");
  for (std::size_t i = 0; i < std::min<std::size_t>(8, worst.size()); ++i)
    std::printf(" %.1f@%d", worst[i].first, worst[i].second);
  std::printf("\n");
  std::printf("result: %s %d %.1f %.1f %.1f\n", label.c_str(), n, at(ms, 0.5), at(ms, 0.99),
              ms.back());
  return 0;
}
