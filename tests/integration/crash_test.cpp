// The crash harness (README, "Crash harness"): sotongd with a Mastodon and an X account,
// killed with SIGKILL again and again at random moments — a few milliseconds into a restart,
// in the middle of a burst of mentions, while a post is in flight (the sandbox holds the
// answer back), while a close is being committed, right after a department's close was
// answered 200 — and restarted each time, while the departments close tickets through the
// hook from a thread of their own. At the end the store and the sandbox's record of posts must
// agree: every mention has its one ticket, every reply queued was posted exactly once, every
// answered close has its one follow-up, no outbox row is left, the audit trail is whole
// (crash_check.hpp).
//
// The seed is printed; SOTONG_CRASH_SEED=S replays the driver's choices (the timing of two
// processes never replays exactly). SOTONG_CRASH_KILLS=N runs LongRun, skipped without it.
#include <gtest/gtest.h>

#include <array>
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "crash_check.hpp"
#include "crash_departments.hpp"
#include "harness.hpp"
#include "store_snapshot.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kShortRunKills = 20;
// A close in flight is killed this soon after it was sent: around its commit.
constexpr int kMaxMidCloseMs = 30;
// A held answer: long enough for the kill to land while it waits, short of sotongd's 2 s
// request timeout, so a post that is not killed sees its answer rather than a timeout.
constexpr int kMinHoldMs = 300;
constexpr int kMaxHoldMs = 1200;
// "Soon after a restart": anywhere from before the store is open to the first posts.
constexpr int kMaxSoonAfterStartMs = 300;
// A burst of mentions, a few dozen milliseconds apart, is cut by the kill this late at most.
constexpr int kMaxBurstMs = 500;
constexpr auto kReadyTimeout = 30s;
// Time to drain after the last restart: the outbox's backoff is at most 2 s a row.
constexpr auto kDrainTimeout = 120s;

const std::vector<std::pair<std::string, std::string>>& complaints() {
  static const std::vector<std::pair<std::string, std::string>> kTexts{
      {"ko", "버스 배차 간격이 너무 길어요"},
      {"ko", "가로등이 꺼져서 골목이 깜깜해요"},
      {"ko", "만리재로 193 앞 도로에 포트홀이 생겼어요"},
      {"ko", "지하철 역 엘리베이터가 고장났어요"},
      {"ko", "공원 화장실이 너무 더러워요 🚻"},
      {"ko", "택시 승차 거부를 당했어요"},
      {"ko", "육교 난간이 흔들려요. 위험해 보입니다"},
      {"ko", "불법 주차 차량 때문에 소방차가 못 지나갈 것 같아요"},
      {"ko", "동아대 부민캠퍼스에서 아이를 잃어버렸어요 도와주세요"},
      {"ko", "음식물 쓰레기 수거 차량이\n이번 주에 한 번도 안 왔어요"},
      {"en", "The streetlight on my street has been broken for a week."},
      {"en", "Bus 301 skipped our stop twice today."},
  };
  return kTexts;
}

// Added under one's own ticket: no reopening words (rules/95-threads.yaml).
const std::vector<std::string>& additions() {
  static const std::vector<std::string> kTexts{
      "사진 한 장 더 올립니다. 정문 앞쪽이에요.",
      "위치를 덧붙입니다: 3번 출구 옆입니다.",
      "Adding the exact spot: next to exit 3.",
  };
  return kTexts;
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

class CrashHarness : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      f.dump_logs();
      std::cerr << "crash harness: replay with SOTONG_CRASH_SEED=" << seed_ << "\n";
    }
  }

  void run(int kills);

  Fixture f;

 private:
  enum class Moment { kSoonAfterStart, kMidBurst, kPostInFlight, kMidClose, kAfterClose };

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool ready();
  int64_t answers_held();
  void kill_and_restart();
  bool kill_at(Moment m);
  std::optional<OpenTicket> claim_open_ticket();

  void mention();
  std::string citizen(bool on_x);
  void complaint(bool on_x);
  bool answer_someone_else(bool on_x);
  bool add_to_own_ticket(bool on_x);
  void record(bool on_x, std::string id, std::string author, std::string under_post = "");

  void drain(StoreSnapshot* snap);
  void verify(const StoreSnapshot& snap);

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  CloseLedger ledger_;
  std::vector<SentMention> mentions_;
  std::map<std::string, std::size_t> by_id_;  // mention id -> index in mentions_
  Clock::time_point started_at_;
  int kills_ = 0;
  int in_flight_kills_ = 0;
};

bool CrashHarness::ready() {
  if (f.wait_daemon_ready(kReadyTimeout)) return true;
  ADD_FAILURE() << "sotongd did not get ready after kill " << kills_;
  return false;
}

int64_t CrashHarness::answers_held() {
  auto v = f.control("GET", "/_sandbox/stats").json();
  const auto* held = v.is_object() ? v.as_object().if_contains("answers_held") : nullptr;
  return held != nullptr && held->is_int64() ? held->as_int64() : 0;
}

void CrashHarness::kill_and_restart() {
  f.kill_daemon();
  ++kills_;
  // Held now means asked before the kill and not yet answered: the post was in flight.
  if (answers_held() > 0) ++in_flight_kills_;
  // The dead process's held answers go out (into closed sockets) before the next one starts,
  // so an answer held at the next kill belongs to that process.
  wait_until([&] { return answers_held() == 0; }, std::chrono::milliseconds(kMaxHoldMs + 2000));
  f.spawn_daemon();
  started_at_ = Clock::now();
}

bool CrashHarness::kill_at(Moment m) {
  switch (m) {
    case Moment::kSoonAfterStart: {
      for (int n = pick(4); n > 0; --n) mention();
      std::this_thread::sleep_until(started_at_ +
                                    std::chrono::milliseconds(pick(kMaxSoonAfterStartMs + 1)));
      break;
    }
    case Moment::kMidBurst: {
      if (!ready()) return false;
      const auto burst_end = Clock::now() + std::chrono::milliseconds(pick(kMaxBurstMs + 1));
      do {
        mention();
        std::this_thread::sleep_for(std::chrono::milliseconds(pick(60)));
      } while (Clock::now() < burst_end);
      break;
    }
    case Moment::kPostInFlight: {
      if (!ready()) return false;
      const bool on_x = pick(3) == 0;
      const int hold = kMinHoldMs + pick(kMaxHoldMs - kMinHoldMs + 1);
      f.fault("delay", 1, on_x ? "/2/tweets" : "/api/v1/statuses", hold);
      complaint(on_x);
      // Usually within a poll; an account in backoff may not post at all: kill anyway.
      if (wait_until([&] { return answers_held() > 0; }, 6s, 5ms))
        std::this_thread::sleep_for(std::chrono::milliseconds(pick(hold / 2)));
      break;
    }
    case Moment::kMidClose: {
      if (!ready()) return false;
      auto target = claim_open_ticket();
      if (!target) break;
      // The close retries on its own thread until the restarted sotongd answers it.
      std::thread close([this, t = *target, resolution = random_resolution(rng_)] {
        close_until_answered(f, t, resolution, ledger_);
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(pick(kMaxMidCloseMs + 1)));
      kill_and_restart();
      close.join();
      return true;
    }
    case Moment::kAfterClose: {
      if (!ready()) return false;
      mention();
      auto target = claim_open_ticket();
      if (target && close_until_answered(f, *target, random_resolution(rng_), ledger_) != 200)
        ADD_FAILURE() << "close of " << target->number << " with sotongd up was not answered 200";
      break;
    }
  }
  kill_and_restart();
  return true;
}

// An open ticket no department has taken, making complaints until there is one.
std::optional<OpenTicket> CrashHarness::claim_open_ticket() {
  std::optional<OpenTicket> target;
  wait_until(
      [&] {
        auto open = list_open_tickets(f.hook_port());
        for (const auto& t : open.value_or(std::vector<OpenTicket>{}))
          if (ledger_.claim(t.number)) {
            target = t;
            return true;
          }
        complaint(pick(3) == 0);
        return false;
      },
      10s, 300ms);
  return target;
}

void CrashHarness::record(bool on_x, std::string id, std::string author, std::string under_post) {
  by_id_[id] = mentions_.size();
  mentions_.push_back({on_x, std::move(id), std::move(author), std::move(under_post)});
}

// One of a few dozen citizens, so most write more than once.
std::string CrashHarness::citizen(bool on_x) {
  constexpr int kCitizens = 24;
  return (on_x ? "xcitizen" : "citizen_") + std::to_string(pick(kCitizens));
}

void CrashHarness::complaint(bool on_x) {
  const auto& [lang, base] =
      complaints()[static_cast<std::size_t>(pick(static_cast<int>(complaints().size())))];
  std::string text = base;
  if (pick(6) == 0) {
    // Long: more than a post may hold; the reply never quotes it.
    for (int n = 20 + pick(40); n > 0; --n)
      text += " 벌써 몇 주째 이런 상황이라 주민들이 많이 불편해하고 있습니다.";
  }
  text += " #" + std::to_string(mentions_.size());  // no two alike (X refuses duplicates)
  const std::string author = citizen(on_x);
  if (on_x) {
    record(true, f.x_mention(author, text, lang), author);
    return;
  }
  static const char* const kVisibility[] = {"public", "public", "unlisted", "private", "direct"};
  record(false, f.mention(author, text, kVisibility[pick(5)], lang), author);
}

// Someone else answers a citizen's mention with a complaint of their own: a new ticket.
bool CrashHarness::answer_someone_else(bool on_x) {
  std::vector<const SentMention*> earlier;
  for (const auto& m : mentions_)
    if (m.on_x == on_x) earlier.push_back(&m);
  if (earlier.empty()) return false;
  const SentMention& parent =
      *earlier[static_cast<std::size_t>(pick(static_cast<int>(earlier.size())))];
  std::string author = parent.author;
  while (author == parent.author) author = citizen(on_x);
  const std::string text = "저도 같은 문제를 겪고 있어요 #" + std::to_string(mentions_.size());
  if (on_x) {
    record(true, f.x_mention(author, text, "ko", parent.id), author);
  } else {
    json::object extra{{"in_reply_to_id", parent.id}};
    record(false, f.mention(author, text, "public", "ko", json::serialize(extra)), author);
  }
  return true;
}

// A citizen answers our reply in their own thread: the mention joins their ticket.
bool CrashHarness::add_to_own_ticket(bool on_x) {
  std::vector<std::pair<std::string, const SentMention*>> ours;  // our post, its mention
  for (const auto& p : on_x ? f.x_posts() : f.posts()) {
    auto it = by_id_.find(str(p, "in_reply_to_id"));
    if (it == by_id_.end()) continue;
    const SentMention& m = mentions_[it->second];
    if (!m.under_post.empty()) continue;
    ours.emplace_back(str(p, "id"), &m);
  }
  if (ours.empty()) return false;
  const auto& [post, m] = ours[static_cast<std::size_t>(pick(static_cast<int>(ours.size())))];
  const std::string author = m->author;
  // Several additions to one ticket: its second "added" reply must differ from the first
  // (X refuses a text it has seen). The citizen's own texts differ too, for the same reason.
  const std::string text =
      additions()[static_cast<std::size_t>(pick(3))] + " #" + std::to_string(mentions_.size());
  if (on_x) {
    record(true, f.x_mention(author, text, "ko", post), author, post);
  } else {
    json::object extra{{"in_reply_to_id", post}};
    record(false, f.mention(author, text, "public", "ko", json::serialize(extra)), author, post);
  }
  return true;
}

void CrashHarness::mention() {
  const bool on_x = pick(3) == 0;
  const int kind = pick(100);
  if (kind < 15 && add_to_own_ticket(on_x)) return;
  if (kind < 30 && answer_someone_else(on_x)) return;
  complaint(on_x);
}

// Until every mention is seen and no outbox row is pending; then sotongd stops cleanly.
void CrashHarness::drain(StoreSnapshot* snap) {
  std::string err;
  bool drained = wait_until(
      [&] {
        return read_store(f.dir() / "sotong.db", snap, &err) &&
               snap->seen.size() >= mentions_.size() && snap->pending_outbox() == 0;
      },
      kDrainTimeout, 250ms);
  EXPECT_TRUE(drained) << "not quiescent after " << kDrainTimeout.count()
                       << " s: " << snap->seen.size() << " of " << mentions_.size()
                       << " mentions seen, " << snap->pending_outbox() << " outbox rows pending "
                       << err;
  // Room for a wrong extra post before sotongd stops.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(f.stop_daemon(SIGTERM), 0);
  EXPECT_TRUE(read_store(f.dir() / "sotong.db", snap, &err)) << err;
}

void CrashHarness::run(int kills) {
  seed_ = env_u64("SOTONG_CRASH_SEED", std::random_device{}());
  rng_.seed(seed_);
  std::cout << "crash harness: seed=" << seed_ << " kills=" << kills
            << " (replay with SOTONG_CRASH_SEED=" << seed_ << ")" << std::endl;
  std::vector<std::string> sandbox_args = Fixture::x_sandbox_args();
  // No budgets: each of hundreds of restarts verifies the X account (X allows 75 in 15 min).
  for (const char* a : {"--rate-limit", "0", "--x-mentions-limit", "0", "--x-post-limit", "0",
                        "--x-post-day-limit", "0", "--x-users-me-limit", "0"})
    sandbox_args.emplace_back(a);
  f.start_sandbox(sandbox_args);
  DaemonSettings s;
  s.x = true;
  s.extra_yaml = "threads:\n  ack_additions: true\n";
  f.write_config(s);

  f.spawn_daemon();  // the first kill may land before the store is even created
  started_at_ = Clock::now();
  {
    Departments departments(f, ledger_, seed_ ^ 0x5eed);
    while (kills_ < kills) {
      static constexpr std::array kMoments{Moment::kSoonAfterStart, Moment::kSoonAfterStart,
                                           Moment::kMidBurst,       Moment::kMidBurst,
                                           Moment::kPostInFlight,   Moment::kMidClose};
      // Of every four kills one comes with a post in flight and one right after a close was
      // answered 200; the first lands in the first start, on a store not yet created.
      Moment m = kMoments[static_cast<std::size_t>(pick(static_cast<int>(kMoments.size())))];
      if (kills_ % 4 == 1) m = Moment::kPostInFlight;
      if (kills_ % 4 == 3) m = Moment::kAfterClose;
      if (kills_ == 0) m = Moment::kSoonAfterStart;
      if (!kill_at(m)) return;
    }
    ASSERT_TRUE(ready());
    departments.stop();  // the close in progress gets its answer first
  }
  StoreSnapshot snap;
  drain(&snap);
  verify(snap);
}

void CrashHarness::verify(const StoreSnapshot& snap) {
  std::vector<PostSeen> posts;
  for (const auto& p : f.posts())
    posts.push_back({kMastodonAccount, str(p, "id"), str(p, "in_reply_to_id"), str(p, "text")});
  for (const auto& p : f.x_posts())
    posts.push_back({kXAccount, str(p, "id"), str(p, "in_reply_to_id"), str(p, "text")});
  CrashVerdict v = check_crash_run(mentions_, snap, posts, ledger_.confirmed());
  for (const auto& p : ledger_.problems()) v.problems.push_back(p);
  std::cout << "crash harness: seed=" << seed_ << " kills=" << kills_
            << " (in-flight posts at kill: " << in_flight_kills_
            << ") mentions=" << mentions_.size() << " closes=" << ledger_.closes_200()
            << " lost=" << v.lost << " doubled=" << v.doubled << std::endl;
  std::cout << "crash harness: tickets=" << snap.tickets.size() << " replies=" << snap.outbox.size()
            << " closes confirmed by 409 after a retry=" << ledger_.closes_409_after_retry()
            << " X replies recorded as \"duplicate\"=" << v.x_duplicates
            << " additions under those opening a ticket of their own=" << v.unthreaded << std::endl;
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.doubled, 0);
  EXPECT_EQ(v.unthreaded, 0) << "an answer under our reply opened a ticket of its own";
  for (std::size_t i = 0; i < v.problems.size() && i < 50; ++i) ADD_FAILURE() << v.problems[i];
}

TEST_F(CrashHarness, TwentyKillNinesLoseNothingAndDoubleNothing) {
  run(kShortRunKills);
}

// The long run (README, "Crash harness"): its own ctest entry, skipped unless
// SOTONG_CRASH_KILLS is set.
TEST_F(CrashHarness, LongRun) {
  const auto kills = static_cast<int>(env_u64("SOTONG_CRASH_KILLS", 0));
  if (kills <= 0) GTEST_SKIP() << "set SOTONG_CRASH_KILLS, e.g. 200";
  run(kills);
}

}  // namespace
}  // namespace sotong::test_support
