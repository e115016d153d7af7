#include "core/deadline.h"

#include <fmt/format.h>

#include "core/error.h"

namespace t2 {

void Deadline::check(const std::string& what) const {
  if (expired()) throw TimeoutError(fmt::format("{}: deadline passed", what));
}

}  // namespace t2
