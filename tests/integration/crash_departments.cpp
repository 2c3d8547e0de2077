#include "crash_departments.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace sotong::test_support {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// Most tickets are closed, some stay open for the rest of the run (and get citizens'
// additions); a close comes up to this long after the ticket was first seen.
constexpr int kClosePercent = 65;
constexpr int kMaxCloseWaitMs = 1500;
// The departments look at their lists this often (a random wait in between).
constexpr int kMinRoundMs = 40;
constexpr int kMaxRoundMs = 250;
// A close that got no answer waits this long before trying again: sotongd is restarting.
constexpr auto kRetryPause = 25ms;

int uniform(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

std::map<std::string, std::string> bearer(const std::string& department) {
  return {{"Authorization", "Bearer " + Fixture::department_tokens().at(department)}};
}

}  // namespace

std::optional<std::vector<OpenTicket>> list_open_tickets(uint16_t port) {
  std::vector<OpenTicket> out;
  for (const auto& [department, token] : Fixture::department_tokens()) {
    std::string after;
    for (;;) {
      std::string target = "/v1/tickets?status=open&limit=200";
      if (!after.empty()) target += "&after=" + after;
      auto r = http("GET", port, target, "", bearer(department));
      auto v = r.json();
      const auto* tickets = v.is_object() ? v.as_object().if_contains("tickets") : nullptr;
      if (r.status != 200 || tickets == nullptr || !tickets->is_array()) return std::nullopt;
      for (const auto& t : tickets->as_array()) {
        const auto* number = t.is_object() ? t.as_object().if_contains("ticket") : nullptr;
        if (number == nullptr || !number->is_string()) return std::nullopt;
        out.push_back({std::string(number->as_string()), department});
      }
      const auto* next = v.as_object().if_contains("next");
      if (next == nullptr || !next->is_string()) break;
      after = std::string(next->as_string());
    }
  }
  return out;
}

std::string random_resolution(std::mt19937_64& rng) {
  static const std::vector<std::string> kShort{
      "현장을 확인하고 보수를 마쳤습니다.",
      "담당 직원이 방문해 조치했습니다. 불편을 드려 죄송합니다.",
      "노선 배차 간격을 조정했습니다 🚌",
      "The light was replaced this morning.",
      "수거 일정을 바로잡았습니다. @contractor 에게도 전달했습니다 #완료",
      "점검 결과 이상이 없어 종결합니다.\n추가로 불편하시면 다시 알려 주세요.",
  };
  std::string r = kShort[static_cast<std::size_t>(uniform(rng, 0, 5))];
  if (uniform(rng, 0, 3) == 0) {
    // Long: the follow-up must be shortened to fit the platform, never refused.
    const int n = uniform(rng, 10, 40);
    for (int i = 0; i < n; ++i)
      r += " 관계 부서와 협의하여 재발하지 않도록 정기 점검을 강화하겠습니다.";
  }
  return r;
}

bool CloseLedger::claim(const std::string& number) {
  std::lock_guard lock(mu_);
  return claimed_.insert(number).second;
}

void CloseLedger::record(const std::string& number, int status, int attempts) {
  std::lock_guard lock(mu_);
  if (status == 200 || (status == 409 && attempts > 1)) {
    confirmed_[number] = status;
    return;
  }
  problems_.push_back("close of " + number + " answered " + std::to_string(status) + " after " +
                      std::to_string(attempts) + " attempt(s)" +
                      (status == 409 ? ": closed by nobody else, and never answered 200" : ""));
}

std::map<std::string, int> CloseLedger::confirmed() const {
  std::lock_guard lock(mu_);
  return confirmed_;
}

std::vector<std::string> CloseLedger::problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

int CloseLedger::closes_200() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(confirmed_.begin(), confirmed_.end(),
                                        [](const auto& kv) { return kv.second == 200; }));
}

int CloseLedger::closes_409_after_retry() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(confirmed_.begin(), confirmed_.end(),
                                        [](const auto& kv) { return kv.second == 409; }));
}

int close_until_answered(const Fixture& f, const OpenTicket& t, const std::string& resolution,
                         CloseLedger& ledger, std::chrono::milliseconds patience) {
  json::object body{{"resolution", resolution}};
  const std::string payload = json::serialize(body);
  const auto deadline = std::chrono::steady_clock::now() + patience;
  int attempts = 0;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const uint16_t port = f.hook_port_from_file();
    if (port == 0) {
      std::this_thread::sleep_for(kRetryPause);
      continue;
    }
    ++attempts;
    status = http("POST", port, "/v1/tickets/" + t.number + "/close", payload, bearer(t.department))
                 .status;
    // No answer: sotongd died or is not listening yet. 503: its store failed the request,
    // and the hook promises nothing was changed.
    if (status != 0 && status != 503) break;
    std::this_thread::sleep_for(kRetryPause);
  }
  ledger.record(t.number, status, attempts);
  return status;
}

Departments::Departments(const Fixture& f, CloseLedger& ledger, uint64_t seed)
    : f_(f), ledger_(ledger), rng_(seed) {
  thread_ = std::thread([this] { run(); });
}

Departments::~Departments() {
  stop();
}

void Departments::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Departments::run() {
  // Tickets seen and left open for good, and those to close with the time to do it.
  std::set<std::string> decided;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, OpenTicket>> due;
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(uniform(rng_, kMinRoundMs, kMaxRoundMs)));
    const uint16_t port = f_.hook_port_from_file();
    if (port == 0) continue;
    auto open = list_open_tickets(port);
    if (!open) continue;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& t : *open) {
      if (!decided.insert(t.number).second) continue;
      if (uniform(rng_, 1, 100) <= kClosePercent)
        due.emplace(
            t.number,
            std::make_pair(now + std::chrono::milliseconds(uniform(rng_, 0, kMaxCloseWaitMs)), t));
    }
    for (auto it = due.begin(); it != due.end() && !stopping_;) {
      if (it->second.first > std::chrono::steady_clock::now()) {
        ++it;
        continue;
      }
      const OpenTicket t = it->second.second;
      it = due.erase(it);
      // The main thread may have taken it to kill sotongd right after its close.
      if (ledger_.claim(t.number)) close_until_answered(f_, t, random_resolution(rng_), ledger_);
    }
  }
}

}  // namespace sotong::test_support
