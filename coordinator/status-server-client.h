// A minimal HTTP/1.1 GET for `t2 status --port N`: asks a running coordinator's status server and
// returns the body of a 200 answer. Every step (connect, send, receive) is bounded by the deadline.
#pragma once

#include <cstdint>
#include <string>

#include "core/deadline.h"

namespace t2 {

// Throws UsageError for an address that is not an IPv4 literal, Error when the connection is refused
// or the answer is not 200 (with its status line), TimeoutError at the deadline.
std::string status_server_get(const std::string& address, uint16_t port, const std::string& path,
                              Deadline deadline = Deadline::after(Seconds(10)));

}  // namespace t2
