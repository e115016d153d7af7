#include "jobs/answer-regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/check.h"

namespace t2::tasks {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  pcre2_code* anchored = nullptr;  // the same pattern wrapped for full matches
  ~Impl() {
    if (code) pcre2_code_free(code);
    if (anchored) pcre2_code_free(anchored);
  }
};

namespace {

pcre2_code* compile(const std::string& pattern, uint32_t options) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                                &off, nullptr);
  if (!c) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    T2_FAIL_AS(UsageError, "invalid regular expression '{}' at offset {}: {}", pattern, off,
               reinterpret_cast<char*>(buf));
  }
  pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
  return c;
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& flags) : pattern_(pattern), impl_(new Impl) {
  uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  for (char f : flags) {
    if (f == 's') opt |= PCRE2_DOTALL;
    else if (f == 'i') opt |= PCRE2_CASELESS;
    else if (f == 'm') opt |= PCRE2_MULTILINE;
    else T2_FAIL_AS(UsageError, "regex '{}': unknown flag '{}' (expected s, i, m)", pattern, f);
  }
  impl_->code = compile(pattern, opt);
  impl_->anchored = compile("(?:" + pattern + ")\\z", opt | PCRE2_ANCHORED);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::optional<RegexMatch> Regex::search(std::string_view text, size_t start) const {
  if (start > text.size()) return std::nullopt;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, 0, md,
                       nullptr);
  std::optional<RegexMatch> out;
  if (rc > 0) {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    uint32_t n = pcre2_get_ovector_count(md);
    RegexMatch m;
    m.begin = ov[0];
    m.end = ov[1];
    for (uint32_t i = 0; i < n; ++i) {
      if (ov[2 * i] == PCRE2_UNSET || int(i) >= rc) m.groups.emplace_back(std::nullopt);
      else m.groups.emplace_back(std::string(text.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i])));
    }
    out = std::move(m);
  }
  pcre2_match_data_free(md);
  return out;
}

std::vector<RegexMatch> Regex::find_all(std::string_view text) const {
  std::vector<RegexMatch> all;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto m = search(text, pos);
    if (!m) break;
    size_t next = m->end > m->begin ? m->end : m->end + 1;
    all.push_back(std::move(*m));
    pos = next;
  }
  return all;
}

bool Regex::full_match(std::string_view text) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->anchored, nullptr);
  int rc = pcre2_match(impl_->anchored, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, md,
                       nullptr);
  pcre2_match_data_free(md);
  return rc > 0;
}

}  // namespace t2::tasks
