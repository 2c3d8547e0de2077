#include "crash_check.hpp"

#include <set>
#include <utility>

namespace sotong::test_support {

namespace {

using Key = std::pair<std::string, std::string>;  // (account, an id or a post's reply key)

// The store's view indexed for the checks.
struct Index {
  std::map<Key, const SeenRow*> seen;                               // (account, mention id)
  std::map<Key, std::vector<const TicketRecord*>> tickets_of;       // (account, mention id)
  std::map<Key, const OutboxRecord*> row_of_post;                   // (account, our post's id)
  std::map<std::string, std::vector<const OutboxRecord*>> rows_of;  // ticket -> its replies
  std::map<std::string, std::map<std::string, int>> events;         // ticket -> kind -> count

  explicit Index(const StoreSnapshot& s) {
    for (const auto& r : s.seen) seen[{r.account, r.mention_id}] = &r;
    for (const auto& t : s.tickets) tickets_of[{t.account, t.mention_id}].push_back(&t);
    for (const auto& o : s.outbox) {
      if (!o.platform_post_id.empty()) row_of_post[{o.account, o.platform_post_id}] = &o;
      rows_of[o.ticket].push_back(&o);
    }
    for (const auto& e : s.events) ++events[e.ticket][e.kind];
  }
};

class Checker {
 public:
  Checker(const StoreSnapshot& store, CrashVerdict& v) : store_(store), index_(store), v_(v) {}

  // Every mention seen once, with its one ticket, or joined to the ticket it was added under.
  void mentions(const std::vector<SentMention>& mentions) {
    std::set<Key> made;
    for (const auto& m : mentions) {
      const std::string account = m.on_x ? kXAccount : kMastodonAccount;
      made.insert({account, m.id});
      auto s = index_.seen.find({account, m.id});
      if (s == index_.seen.end()) {
        note(&v_.lost, "mention " + m.id + " on " + account + " was never seen");
        continue;
      }
      if (!m.under_post.empty()) {
        auto joined = index_.row_of_post.find({account, m.under_post});
        if (joined != index_.row_of_post.end()) {
          const SeenRow& r = *s->second;
          if (r.decision != "thread" || r.ticket != joined->second->ticket)
            note(nullptr, "mention " + m.id + " under our post " + m.under_post + " of " +
                              joined->second->ticket + " was recorded as " + r.decision + " " +
                              r.ticket);
          continue;
        }
        // Only X's "duplicate" leaves a post of ours that the store does not know by its id.
        if (!m.on_x)
          note(nullptr, "mention " + m.id + " answers our post " + m.under_post +
                            ", which no outbox row names");
        // Found anyway (the conversation, or the author's ticket with an unrecorded reply).
        if (s->second->decision == "thread") continue;
        ++v_.unthreaded;
      }
      const auto& own = index_.tickets_of[{account, m.id}];
      if (own.empty()) note(&v_.lost, "mention " + m.id + " on " + account + " opened no ticket");
      if (own.size() > 1)
        note(&v_.doubled, "mention " + m.id + " opened " + std::to_string(own.size()) + " tickets");
    }
    for (const auto& r : store_.seen)
      if (made.count({r.account, r.mention_id}) == 0)
        note(nullptr, "mention " + r.mention_id + " on " + r.account + " was seen, never made");
  }

  // Every outbox row posted exactly once, as the post it records, and nothing else posted.
  void posts(const std::vector<PostSeen>& posts) {
    std::map<Key, std::vector<std::string>> ids;  // (account, reply-to + text) -> post ids
    for (const auto& p : posts) ids[{p.account, p.in_reply_to_id + "\n" + p.text}].push_back(p.id);
    std::set<Key> matched;
    for (const auto& o : store_.outbox) {
      const std::string what = o.ticket + " " + o.kind + " (outbox " + std::to_string(o.id) + ")";
      if (o.state != "sent")
        note(&v_.lost, what + " left " + o.state + " after " + std::to_string(o.attempts) +
                           " attempt(s): " + o.last_error);
      const Key key{o.account, o.in_reply_to_id + "\n" + o.text};
      const auto& found = ids[key];
      if (!matched.insert(key).second) note(nullptr, what + ": two outbox rows with one text");
      if (o.platform_post_id == "duplicate") ++v_.x_duplicates;
      if (found.empty() && o.state == "sent")
        note(&v_.lost, what + " is marked sent as " + o.platform_post_id + ", never posted");
      if (found.size() > 1) {
        v_.doubled += static_cast<int>(found.size()) - 1;
        v_.problems.push_back(what + " posted " + std::to_string(found.size()) + " times");
      }
      const bool known_duplicate = o.account == kXAccount && o.platform_post_id == "duplicate";
      if (found.size() == 1 && o.state == "sent" && o.platform_post_id != found[0] &&
          !known_duplicate)
        note(nullptr, what + " recorded as post " + o.platform_post_id + ", posted as " + found[0]);
    }
    for (const auto& [key, found] : ids)
      if (matched.count(key) == 0)
        note(&v_.doubled, key.first + " posted " + std::to_string(found.size()) +
                              " status(es) no outbox row accounts for, e.g. " + found[0]);
  }

  // One acknowledgement a ticket, one follow-up an answered close, the audit trail whole.
  void tickets(const std::map<std::string, int>& closes) {
    std::set<std::string> numbers;
    for (const auto& t : store_.tickets) {
      numbers.insert(t.number);
      std::map<std::string, int> kinds;  // reply kind -> rows
      for (const auto* o : index_.rows_of[t.number]) ++kinds[o->kind];
      if (!t.hidden && kinds["ack"] != 1)
        note(kinds["ack"] == 0 ? &v_.lost : &v_.doubled,
             t.number + " has " + std::to_string(kinds["ack"]) + " acknowledgements queued");
      const bool closed = t.status == "closed";
      if (closed != (closes.count(t.number) != 0))
        note(closed ? nullptr : &v_.lost,
             t.number + " is " + t.status +
                 (closed ? ", though no close of it was answered" : ", though its close was"));
      if (closed && kinds["followup"] != 1)
        note(kinds["followup"] == 0 ? &v_.lost : &v_.doubled,
             t.number + " closed with " + std::to_string(kinds["followup"]) + " follow-ups queued");
      std::map<std::string, int> want{{"opened", 1}, {"closed", closed ? 1 : 0}};
      for (const auto& [kind, n] : kinds) {
        want[kind + "_queued"] = n;
        want[kind + "_posted"] = n;
      }
      auto& have = index_.events[t.number];
      for (const auto& [kind, n] : want)
        if (have[kind] != n)
          note(nullptr, t.number + "'s audit trail has " + std::to_string(have[kind]) + " " + kind +
                            ", expected " + std::to_string(n));
    }
    for (const auto& [number, status] : closes)
      if (numbers.count(number) == 0)
        note(&v_.lost, number + " was closed (" + std::to_string(status) + ") and is gone");
  }

 private:
  void note(int* counter, std::string what) {
    if (counter != nullptr) ++*counter;
    v_.problems.push_back(std::move(what));
  }

  const StoreSnapshot& store_;
  Index index_;
  CrashVerdict& v_;
};

}  // namespace

CrashVerdict check_crash_run(const std::vector<SentMention>& mentions, const StoreSnapshot& store,
                             const std::vector<PostSeen>& posts,
                             const std::map<std::string, int>& closes) {
  CrashVerdict v;
  Checker c(store, v);
  c.mentions(mentions);
  c.posts(posts);
  c.tickets(closes);
  return v;
}

}  // namespace sotong::test_support
