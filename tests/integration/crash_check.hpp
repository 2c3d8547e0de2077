// The crash harness's verdict: what a run made (mentions, answered closes) held against what
// sotongd's store says and what the sandbox recorded as posted. Pure: no I/O, no threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "store_snapshot.hpp"

namespace sotong::test_support {

// The harness's accounts (Fixture::write_config).
inline constexpr const char* kMastodonAccount = "songpa";
inline constexpr const char* kXAccount = "songpa_x";

struct SentMention {
  bool on_x = false;
  std::string id;
  std::string author;
  std::string under_post;  // our post it answers, when the author adds to their own ticket
};

// One status in the sandbox's record of posts.
struct PostSeen {
  std::string account;
  std::string id;
  std::string in_reply_to_id;
  std::string text;
};

struct CrashVerdict {
  int lost = 0;     // mentions, replies or closes with nothing to show for them
  int doubled = 0;  // second tickets, second posts, posts nothing queued
  // X only: replies recorded as post "duplicate" (an answer lost, the retry refused as
  // duplicate content), and citizens' additions under such a reply that sotongd did not find
  // (through the conversation or the author's ticket) and so opened a ticket of their own.
  int x_duplicates = 0;
  int unthreaded = 0;  // answers under an unrecorded reply of ours that opened their own ticket
  std::vector<std::string> problems;  // every finding, lost and doubled ones included
};

// `closes`: the tickets whose close was answered (number -> 200, or 409 after a retry).
CrashVerdict check_crash_run(const std::vector<SentMention>& mentions, const StoreSnapshot& store,
                             const std::vector<PostSeen>& posts,
                             const std::map<std::string, int>& closes);

}  // namespace sotong::test_support
