// Notification: what a department's webhook is told when one of its tickets opens, is handed
// to it or opens again. The pure part: the payload kept with the queued row, the body of one
// delivery (sotong's JSON envelope, or Slack's and Mattermost's {"text"}), its signed
// headers, and what the receiver's answer means for the rows (see docs/notifications.md).
// No I/O; thread-safe. Errors are values.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/http_client.hpp"
#include "daemon/store.hpp"
#include "daemon/util/result.hpp"

namespace sotong::notification {

// The events a department hears of.
inline constexpr std::string_view kOpened = "opened";
inline constexpr std::string_view kReassigned = "reassigned";  // told to the new department
inline constexpr std::string_view kReopened = "reopened";

// Told at once rather than with the department's next batch: an urgent ticket, or one the
// rules flag with `notify: true`.
bool urgent(const TicketRow& t);

// The JSON object kept as the row's payload: the ticket as of the event, as the department
// sees it through the hook, with personal data masked in the text and without the author.
// `from` is the department a reassigned ticket came from (empty otherwise).
std::string payload(const TicketRow& t, std::string_view event, const std::string& from,
                    int64_t now_ms);

// The body of one POST carrying `rows`: {"notifications": [{"id": ..., payload...}]} for
// "json" (one shape for one row and for a batch), {"text": "..."} for "slack".
std::string body(const std::vector<NotificationRow>& rows, std::string_view format);

// The headers of a delivery: content type, X-Sotong-Delivery (the ids, comma-separated),
// X-Sotong-Event (the events, comma-separated, each once) and, with a secret, the
// X-Sotong-Timestamp and X-Sotong-Signature of hook_auth.hpp over POST `target` and `body`.
std::vector<std::pair<std::string, std::string>> headers(const std::vector<NotificationRow>& rows,
                                                         const std::string& secret,
                                                         std::string_view target,
                                                         std::string_view body, int64_t now_s);

// A webhook URL as the HTTP client takes it: the endpoint and the path and query to POST to.
struct Destination {
  Endpoint endpoint;
  std::string target;
};
Result<Destination> destination(const std::string& url);

// What an answer (or its absence) means for the rows it carried.
struct Verdict {
  enum class Kind { kDelivered, kRetry, kRefused };
  Kind kind = Kind::kRetry;
  std::chrono::milliseconds retry_after{0};  // the receiver's Retry-After, if it sent one
  std::string error;                         // kRetry, kRefused: for last_error and the log
};
// 2xx: delivered. 408, 429, 5xx and redirects (not followed; the admin may fix the URL, and
// a retry goes to the configuration's URL of the moment): retried. Any other 4xx: the
// receiver refuses the notification, and asking again would not change its mind.
Verdict judge(int status, std::string_view retry_after_header, std::string_view body);
// No answer at all (timeout, refused connection, TLS failure): retried.
Verdict judge_failure(const std::string& error);

// The wait before attempt `attempts` + 1, without jitter: `initial` doubling up to `max`.
std::chrono::milliseconds backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                  int attempts);

}  // namespace sotong::notification
