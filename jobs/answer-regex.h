// A compiled PCRE2 pattern (Perl/Python-compatible syntax, UTF-8). The answer extractors use it to
// reproduce the reference code's Python `re` patterns exactly, lookaheads and DOTALL included.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace t2::tasks {

struct RegexMatch {
  size_t begin = 0, end = 0;              // of the whole match
  std::vector<std::optional<std::string>> groups;  // groups[0] = whole match
};

class Regex {
 public:
  // flags: 's' DOTALL, 'i' caseless, 'm' multiline. Throws UsageError naming the pattern if invalid.
  explicit Regex(const std::string& pattern, const std::string& flags = "");
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Python re.search: the first match at or after `start`.
  std::optional<RegexMatch> search(std::string_view text, size_t start = 0) const;
  // Python re.findall-like: every non-overlapping match, left to right.
  std::vector<RegexMatch> find_all(std::string_view text) const;
  // Python re.fullmatch.
  bool full_match(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace t2::tasks
