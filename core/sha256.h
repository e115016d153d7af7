// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex: what Python's hashlib.sha256(...).hexdigest()
// gives, for formats that name content by it (lm-evaluation-harness's doc/prompt/target hashes).
#pragma once

#include <string>
#include <string_view>

namespace t2 {

std::string sha256_hex(std::string_view data);

}  // namespace t2
