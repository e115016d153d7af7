#include "jobs/answer-number.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "jobs/answer-regex.h"
#include "jobs/math-extract.h"

namespace t2::tasks {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Scans one number starting at text[i] (a digit or '.'); returns the end offset and fills digits
// (commas removed). Thousands groups must be exactly three digits after the first group of 1-3.
size_t scan_number(const std::string& t, size_t i, std::string& digits) {
  size_t j = i;
  std::string d;
  while (j < t.size() && is_digit(t[j])) d += t[j++];
  // thousands separators: "1,234" but only when the first group has 1-3 digits
  if (!d.empty() && d.size() <= 3) {
    while (j + 3 < t.size() && t[j] == ',' && is_digit(t[j + 1]) && is_digit(t[j + 2]) &&
           is_digit(t[j + 3]) && (j + 4 >= t.size() || !is_digit(t[j + 4]))) {
      d.append(t, j + 1, 3);
      j += 4;
    }
  }
  if (j + 1 < t.size() && t[j] == '.' && is_digit(t[j + 1])) {
    d += '.';
    ++j;
    while (j < t.size() && is_digit(t[j])) d += t[j++];
  }
  digits = d;
  return j;
}

// Every number of `t`, left to right (the rules of last_number).
std::vector<NumberMatch> all_numbers(const std::string& t);

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
}

std::string lower_ascii(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The number a marked stretch gives: after its last '=' when it has one, else its first number.
std::optional<NumberMatch> marked_number(const std::string& seg) {
  size_t eq = seg.rfind('=');
  auto nums = all_numbers(eq == std::string::npos ? seg : seg.substr(eq + 1));
  if (nums.empty()) return std::nullopt;
  return nums.front();
}

}  // namespace

std::string normalise_number_text(const std::string& in) {
  std::string s = in;
  replace_all(s, "{,}", ",");
  replace_all(s, "\\$", "$");
  replace_all(s, "\xE2\x88\x92", "-");  // U+2212 MINUS SIGN
  // "1\,000": a LaTeX thin space between digit groups
  for (size_t p = 0; (p = s.find("\\,", p)) != std::string::npos;) {
    bool digits = p > 0 && is_digit(s[p - 1]) && p + 2 < s.size() && is_digit(s[p + 2]);
    if (digits) s.replace(p, 2, ",");
    else p += 2;
  }
  return s;
}

std::optional<NumberMatch> gsm8k_answer(const std::string& response, std::string* how) {
  const std::string bold = normalise_number_text(response);
  std::string t = bold;
  replace_all(t, "**", "");  // markdown bold around "Answer:" or the number
  auto said = [&](const char* rule, std::optional<NumberMatch> m) {
    if (how) *how = rule;
    return m;
  };
  // "#### 18" (the GSM8K solution format); a markdown heading "#### Step 2" is not a marker
  for (size_t p = t.rfind("####"); p != std::string::npos; p = p ? t.rfind("####", p - 1) : std::string::npos) {
    size_t a = t.find_first_not_of(" \t$", p + 4);
    if (a < t.size() && (is_digit(t[a]) || t[a] == '-' || t[a] == '.')) {
      auto nums = all_numbers(t.substr(p + 4));
      if (!nums.empty()) return said("####", nums.front());
    }
    if (p == 0) break;
  }
  if (auto box = last_boxed_content(t)) {
    if (auto m = marked_number(*box)) return said("boxed", m);
  }
  std::string low = lower_ascii(t);
  size_t best = std::string::npos, best_len = 0;
  for (const char* mk : {"answer is", "answer:", "answer =", "answer would be", "answer should be", "answer will be",
                         "answer of"}) {
    size_t p = low.rfind(mk);
    if (p != std::string::npos && (best == std::string::npos || p > best)) best = p, best_len = std::strlen(mk);
  }
  if (best != std::string::npos) {
    size_t a = t.find_first_not_of(" \t\r\n:", best + best_len);
    if (a != std::string::npos) {
      // the marked sentence: up to a line break, a sentence end, or an aside in parentheses
      size_t e = a;
      while (e < t.size()) {
        char c = t[e];
        if (c == '\n' || c == '(' || c == ';') break;
        if ((c == '.' || c == '?' || c == '!') && (e + 1 >= t.size() || std::isspace(static_cast<unsigned char>(t[e + 1]))))
          break;
        ++e;
      }
      if (auto m = marked_number(t.substr(a, e - a))) return said("answer is", m);
    }
  }
  // the last bold number ("makes **$18** a day") when nothing else marks the answer
  std::optional<NumberMatch> bolded;
  for (size_t a = bold.find("**"); a != std::string::npos;) {
    size_t b = bold.find("**", a + 2);
    if (b == std::string::npos) break;
    auto nums = all_numbers(bold.substr(a + 2, b - a - 2));
    if (!nums.empty()) bolded = nums.front();
    a = bold.find("**", b + 2);
  }
  if (bolded) return said("bold", bolded);
  // the last number before a closing check ("Check: 26 + 12 + 10 = 48"), which restates, not answers
  std::string low2 = lower_ascii(t);
  size_t cut = std::string::npos;
  for (size_t line = 0; line < t.size(); line = t.find('\n', line) == std::string::npos ? t.size() : t.find('\n', line) + 1) {
    size_t a = low2.find_first_not_of(" \t*#>-(", line);
    if (a == std::string::npos) break;
    for (const char* w : {"check", "to check", "to double check", "to double-check", "double check", "double-check",
                          "verification", "verify", "let me verify", "let's verify", "let me check", "let's check",
                          "sanity check", "note:"})
      if (low2.compare(a, std::strlen(w), w) == 0 && last_number(t.substr(0, line))) {
        cut = line;
        break;
      }
    if (cut != std::string::npos) break;
  }
  return said("last number", last_number(cut == std::string::npos ? t : t.substr(0, cut)));
}

namespace {

std::vector<NumberMatch> all_numbers(const std::string& t) {
  std::vector<NumberMatch> out;
  size_t i = 0;
  while (i < t.size()) {
    bool starts = is_digit(t[i]) || (t[i] == '.' && i + 1 < t.size() && is_digit(t[i + 1]) &&
                                     (i == 0 || !is_digit(t[i - 1])));
    if (!starts) {
      ++i;
      continue;
    }
    std::string digits;
    size_t end = scan_number(t, i, digits);
    if (digits.empty()) {
      ++i;
      continue;
    }
    size_t begin = i;
    bool negative = false;
    // a sign directly before the number (possibly "$" or a space-less "-$5") and not after an operand
    size_t s = i;
    if (s > 0 && t[s - 1] == '$') --s;
    if (s > 0 && (t[s - 1] == '-' || t[s - 1] == '+')) {
      bool operand_before = s >= 2 && (is_alnum(t[s - 2]) || t[s - 2] == ')' || t[s - 2] == '.');
      if (!operand_before) {
        negative = t[s - 1] == '-';
        begin = s - 1;
      }
    }
    if (digits[0] == '.') digits = "0" + digits;
    NumberMatch m;
    m.value = std::strtod(digits.c_str(), nullptr) * (negative ? -1 : 1);
    m.text = t.substr(begin, end - begin);
    out.push_back(m);
    i = end;
  }
  return out;
}

}  // namespace

std::optional<NumberMatch> last_number(const std::string& t) {
  auto all = all_numbers(t);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<NumberMatch> last_number_original(const std::string& text) {
  static const Regex re(R"(\d*\.?\d+)");
  auto all = re.find_all(text);
  if (all.empty()) return std::nullopt;
  NumberMatch m;
  m.text = *all.back().groups[0];
  m.value = std::strtod(m.text.c_str(), nullptr);
  return m;
}

std::optional<double> parse_number(const std::string& raw) {
  std::string s;
  for (char c : raw)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  if (!s.empty() && s[0] == '$') s.erase(0, 1);
  bool percent = false;
  if (!s.empty() && s.back() == '%') s.pop_back(), percent = true;
  if (s.empty()) return std::nullopt;
  auto m = last_number(s);
  if (!m || m->text.size() != s.size() || s.find('$') != std::string::npos) return std::nullopt;
  (void)percent;  // "7%" compares as 7, as the gold answers write percentages
  return m->value;
}

bool numbers_equal(double a, double b, double rel) {
  if (std::isnan(a) || std::isnan(b)) return false;
  return std::fabs(a - b) <= rel * std::max(1.0, std::fabs(b));
}

std::string gsm8k_gold_text(const std::string& answer) {
  auto p = answer.rfind("####");
  std::string s = p == std::string::npos ? answer : answer.substr(p + 4);
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace t2::tasks
