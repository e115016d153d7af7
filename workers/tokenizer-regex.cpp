#include "workers/tokenizer-regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <mutex>
#include <vector>

#include "core/check.h"

namespace t2 {

namespace {
std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}
}  // namespace

// Match data and a JIT stack, reused across calls (creating a JIT stack maps memory each time).
struct Scratch {
  pcre2_match_data* md = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  ~Scratch() {
    if (ctx) pcre2_match_context_free(ctx);
    if (stack) pcre2_jit_stack_free(stack);
    if (md) pcre2_match_data_free(md);
  }
};

struct SplitRegex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::mutex mu;
  std::vector<std::unique_ptr<Scratch>> free;  // one per thread that is splitting at the moment

  std::unique_ptr<Scratch> acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!free.empty()) {
        auto s = std::move(free.back());
        free.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<Scratch>();
    s->md = pcre2_match_data_create_from_pattern(code, nullptr);
    T2_CHECK(s->md != nullptr, "pcre2: out of memory");
    s->ctx = pcre2_match_context_create(nullptr);
    // A JIT stack larger than the 32 KiB default: `\s+(?!\S)` backtracks over long whitespace runs.
    if (jit) s->stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (s->stack) pcre2_jit_stack_assign(s->ctx, nullptr, s->stack);
    return s;
  }
  void release(std::unique_ptr<Scratch> s) {
    std::lock_guard<std::mutex> lock(mu);
    free.push_back(std::move(s));
  }
  ~Impl() {
    free.clear();
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
  std::unique_ptr<Scratch> scratch = impl_->acquire();
  pcre2_match_data* md = scratch->md;
  pcre2_match_context* ctx = scratch->ctx;
  auto cleanup = [&] { impl_->release(std::move(scratch)); };
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
