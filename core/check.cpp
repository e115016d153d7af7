#include "core/check.h"

namespace t2::detail {

std::string check_location(const char* file, int line, const char* expr) {
  // Only the path below the source root: messages stay short and identical across checkouts.
  std::string f = file;
  for (const char* root : {"/core/", "/cluster/", "/workers/", "/experts/", "/jobs/", "/coordinator/",
                           "/results/", "/tests/", "/bench/"}) {
    auto pos = f.rfind(root);
    if (pos != std::string::npos) {
      f = f.substr(pos + 1);
      break;
    }
  }
  if (expr == nullptr) return fmt::format(" [{}:{}]", f, line);
  return fmt::format(" [{}:{}: {}]", f, line, expr);
}

}  // namespace t2::detail
