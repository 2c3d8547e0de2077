// The departments' side of the crash harness: they list their open tickets and close them
// through the hook while sotongd is being killed and restarted. A close is retried while the
// hook does not answer (sotongd down or restarting) and counts once it is answered: 200, or
// 409 "already closed" after a retry, which proves an earlier attempt committed and its answer
// died with sotongd.
//
// Thread rules: Departments runs on a thread of its own; the CloseLedger has its own lock; the
// hook's port is read from its file (Fixture::hook_port_from_file), never from the Fixture's
// fields, which the main thread changes as it restarts sotongd.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace sotong::test_support {

struct OpenTicket {
  std::string number;
  std::string department;
};

// Every open ticket over all departments, or nullopt if the hook did not answer every page.
std::optional<std::vector<OpenTicket>> list_open_tickets(uint16_t port);

// A department's resolution: Korean or English, sometimes long, sometimes with an @ or a #
// that the follow-up must not carry.
std::string random_resolution(std::mt19937_64& rng);

class CloseLedger {
 public:
  // Claims a ticket for one closer; false if it was claimed before.
  bool claim(const std::string& number);
  // The hook's final answer to closing `number` after `attempts` requests (0: none in time).
  void record(const std::string& number, int status, int attempts);

  // Tickets whose close was answered: number -> 200, or 409 for "already closed after a retry".
  std::map<std::string, int> confirmed() const;
  // Answers no close should get (a 409 at the first attempt, 404, no answer at all...).
  std::vector<std::string> problems() const;
  int closes_200() const;
  int closes_409_after_retry() const;

 private:
  mutable std::mutex mu_;
  std::set<std::string> claimed_;
  std::map<std::string, int> confirmed_;
  std::vector<std::string> problems_;
};

// Closes `t`, retrying while sotongd is down or restarting, until the hook answers or
// `patience` runs out; records the outcome in `ledger` and returns the final status.
int close_until_answered(const Fixture& f, const OpenTicket& t, const std::string& resolution,
                         CloseLedger& ledger,
                         std::chrono::milliseconds patience = std::chrono::seconds(60));

// The departments at work: each ticket, when first seen, is closed (most of them, after a
// random wait) or left open for good.
class Departments {
 public:
  Departments(const Fixture& f, CloseLedger& ledger, uint64_t seed);
  ~Departments();
  Departments(const Departments&) = delete;
  Departments& operator=(const Departments&) = delete;

  // Lets the close in progress get its answer, then joins the thread.
  void stop();

 private:
  void run();

  const Fixture& f_;
  CloseLedger& ledger_;
  std::mt19937_64 rng_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sotong::test_support
