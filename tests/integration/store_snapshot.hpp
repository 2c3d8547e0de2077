// StoreSnapshot: the rows of sotongd's SQLite store that the crash harness compares with the
// sandbox's record of posts — mentions seen, tickets, outbox, audit events — read through a
// read-only connection of its own. Reading while sotongd runs is safe (WAL: a reader never
// blocks the writer) and sees the last commit. It reads the store's tables as daemon/store.cpp
// creates them, on purpose: the test must not trust the code it checks.
// Errors: read_store returns false and says why in `err`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sotong::test_support {

struct SeenRow {
  std::string platform;
  std::string account;
  std::string mention_id;
  std::string ticket;  // the ticket's number; empty when the mention opened none
  std::string decision;
};

struct TicketRecord {
  std::string number;
  std::string platform;
  std::string account;
  std::string mention_id;
  std::string status;
  bool hidden = false;
};

struct OutboxRecord {
  int64_t id = 0;
  std::string ticket;
  std::string kind;
  std::string account;
  std::string in_reply_to_id;
  std::string text;
  std::string state;
  std::string platform_post_id;
  int attempts = 0;
  std::string last_error;
};

struct EventRecord {
  std::string ticket;
  std::string kind;
};

struct StoreSnapshot {
  std::vector<SeenRow> seen;
  std::vector<TicketRecord> tickets;
  std::vector<OutboxRecord> outbox;
  std::vector<EventRecord> events;

  std::size_t pending_outbox() const;
};

bool read_store(const std::filesystem::path& db, StoreSnapshot* out, std::string* err);

}  // namespace sotong::test_support
