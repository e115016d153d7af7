#include "jobs/answer-number.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "jobs/answer-regex.h"

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

}  // namespace

std::optional<NumberMatch> last_number(const std::string& t) {
  std::optional<NumberMatch> last;
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
    last = m;
    i = end;
  }
  return last;
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
