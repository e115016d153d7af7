// Version and the git revision this binary was built from.
#pragma once

namespace t2 {
const char* version();   // "0.1.0"
const char* git_sha();   // short sha, with "-dirty" when the tree had changes; "unknown" outside git
}  // namespace t2
