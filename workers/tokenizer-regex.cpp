#include "workers/tokenizer-regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/check.h"

namespace t2 {

namespace {
std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}
}  // namespace

struct SplitRegex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

SplitRegex::SplitRegex(const std::string& pattern, const std::string& origin)
    : impl_(std::make_unique<Impl>()), pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  T2_CHECK_AS(FormatError, impl_->code != nullptr,
              "{}: pre-tokenizer regex does not compile at pattern offset {}: {} (pattern {})", origin,
              off, pcre2_message(err), pattern);
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

SplitRegex::~SplitRegex() = default;

void SplitRegex::split(std::string_view text, bool keep_gaps, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  T2_CHECK(md != nullptr, "pcre2: out of memory");
  // A JIT stack larger than the 32 KiB default: `\s+(?!\S)` backtracks over long whitespace runs.
  pcre2_jit_stack* stack = impl_->jit ? pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr) : nullptr;
  pcre2_match_context* ctx = pcre2_match_context_create(nullptr);
  if (stack) pcre2_jit_stack_assign(ctx, nullptr, stack);
  auto cleanup = [&] {
    pcre2_match_context_free(ctx);
    if (stack) pcre2_jit_stack_free(stack);
    pcre2_match_data_free(md);
  };
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, gap = 0;
  uint32_t options = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), pos, options, md, ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      size_t at = pcre2_get_startchar(md);
      cleanup();
      if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        T2_FAIL_AS(UsageError, "text to tokenize is not valid UTF-8 at byte {}: {}", at, pcre2_message(rc));
      T2_FAIL("pre-tokenizer regex failed at byte {}: {}", pos, pcre2_message(rc));
    }
    options = PCRE2_NO_UTF_CHECK;  // the whole subject was checked by the first call
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (e == b) {  // empty match: step over one code point
      size_t n = pos + 1;
      while (n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) ++n;
      pos = n;
      continue;
    }
    if (keep_gaps && b > gap) out.push_back(text.substr(gap, b - gap));
    out.push_back(text.substr(b, e - b));
    pos = gap = e;
  }
  if (keep_gaps && gap < text.size()) out.push_back(text.substr(gap));
  cleanup();
}

}  // namespace t2
