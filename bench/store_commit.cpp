// Group commit, measured: N mentions ingested at once through the store thread, each with its
// durable commit before its answer, grouped (up to 64 jobs per transaction) against the
// baseline of one transaction per mention, in the same run on the same disk. Prints the
// median of R runs for each and the ratio.
// Usage: sotong-bench-store [DIR|postgresql://URL] [N=1000] [R=5]
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/store/db.hpp"
#include "daemon/store_thread.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace {

namespace asio = boost::asio;
using namespace sotong;

Mention mention(int run, int i) {
  Mention m;
  m.platform = "mastodon";
  m.account = "songpa";
  m.id = std::to_string(run) + "-" + std::to_string(i);
  m.author = "citizen" + std::to_string(i % 97);
  m.author_acct = m.author + "@example.org";
  m.author_id = std::to_string(i % 97);
  m.text = "만리재로 193 앞 육교에 구멍이 났어요, 빨리 고쳐 주세요 " + std::to_string(i);
  m.language = "ko";
  return m;
}

// Seconds to ingest n mentions submitted at once; every one must succeed.
double run_once(const std::string& location, int group, int run, int n) {
  auto store = Store::open(location, "SP");
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().c_str());
    std::exit(1);
  }
  StoreThread st(std::move(*store), StoreThreadOptions{group, std::chrono::milliseconds(1000)});
  Decision d;
  d.department = "roads";
  d.category = "footbridge";
  d.rule = "footbridge";
  KeyedDraftFn draft = [](const TicketRow& t, const std::string&) -> Result<ReplyDraft> {
    return ReplyDraft{"@" + t.author_acct + " 접수번호 " + t.number, "ko"};
  };
  asio::io_context ioc;
  int failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          auto job = [m = mention(run, i), d, draft](Store& s) {
            return s.ingest(m, d, IngestOptions{}, draft, now_ms());
          };
          auto r = co_await st.run(std::move(job));
          if (!r) ++failed;
        },
        asio::detached);
  }
  ioc.run();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) {
    std::fprintf(stderr, "%d ingests failed\n", failed);
    std::exit(1);
  }
  return secs;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string where = argc > 1 ? argv[1] : std::filesystem::temp_directory_path().string();
  const int n = argc > 2 ? std::stoi(argv[2]) : 1000;
  const int runs = argc > 3 ? std::stoi(argv[3]) : 5;
  sotong::log::setup(sotong::log::Level::warn, sotong::log::Format::logfmt);
  const bool pg = db::is_postgres_url(where);
  std::vector<double> grouped, alone;
  for (int r = 0; r < runs; ++r) {
    // Alternate, so drift on the machine touches both alike. A fresh SQLite file per run.
    for (int group : {1, 64}) {
      std::string location = where;
      if (!pg) {
        location = (std::filesystem::path(where) /
                    ("sotong-bench-" + std::to_string(group) + "-" + std::to_string(r) + ".db"))
                       .string();
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
      }
      const double s = run_once(location, group, r * 2 + (group > 1), n);
      (group > 1 ? grouped : alone).push_back(n / s);
      if (!pg)
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
    }
  }
  const double g = median(grouped), a = median(alone);
  std::printf("%s, %d mentions at once, median of %d runs:\n", pg ? "PostgreSQL" : "SQLite", n,
              runs);
  std::printf("  one transaction per mention (baseline): %8.0f mentions/s\n", a);
  std::printf("  group commit (up to 64 per transaction): %8.0f mentions/s  (%.1fx)\n", g, g / a);
  return 0;
}
