#include "jobs/math-extract.h"

#include <cctype>
#include <vector>

namespace t2::tasks {

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
}

std::string strip(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n\f\v");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n\f\v");
  return s.substr(a, b - a + 1);
}

std::string fix_fracs(const std::string& string) {
  auto substrs = split(string, "\\frac");
  std::string new_str = substrs[0];
  for (size_t k = 1; k < substrs.size(); ++k) {
    const std::string& substr = substrs[k];
    new_str += "\\frac";
    if (!substr.empty() && substr[0] == '{') {
      new_str += substr;
      continue;
    }
    if (substr.size() < 2) return string;
    char a = substr[0], b = substr[1];
    if (b != '{') {
      new_str += std::string("{") + a + "}{" + b + "}" + substr.substr(2);
    } else {
      new_str += std::string("{") + a + "}" + b + substr.substr(2);
    }
  }
  return new_str;
}

bool parse_python_int(const std::string& s, long long& v) {
  // int(s) for the forms str(int(s)) reproduces; the caller re-checks the round trip.
  if (s.empty() || s.size() > 18) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j)
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  v = std::stoll(s);
  return true;
}

std::string fix_a_slash_b(const std::string& string) {
  auto parts = split(string, "/");
  if (parts.size() != 2) return string;
  long long a, b;
  if (!parse_python_int(parts[0], a) || !parse_python_int(parts[1], b)) return string;
  if (string != std::to_string(a) + "/" + std::to_string(b)) return string;
  return "\\frac{" + std::to_string(a) + "}{" + std::to_string(b) + "}";
}

std::string remove_right_units(const std::string& string) {
  // "\text{ " only ever describes units; the reference asserts exactly one occurrence.
  if (string.find("\\text{ ") == std::string::npos) return string;
  auto splits = split(string, "\\text{ ");
  if (splits.size() != 2) return string;
  return splits[0];
}

std::string fix_sqrt(const std::string& string) {
  if (string.find("\\sqrt") == std::string::npos) return string;
  auto splits = split(string, "\\sqrt");
  std::string out = splits[0];
  for (size_t k = 1; k < splits.size(); ++k) {
    const std::string& sp = splits[k];
    if (!sp.empty() && sp[0] != '{') out += std::string("\\sqrt{") + sp[0] + "}" + sp.substr(1);
    else out += "\\sqrt" + sp;
  }
  return out;
}

}  // namespace

std::optional<std::string> last_boxed_only_string(const std::string& s) {
  size_t idx = s.rfind("\\boxed");
  if (idx == std::string::npos) {
    idx = s.rfind("\\fbox");
    if (idx == std::string::npos) return std::nullopt;
  }
  // "\boxed 5": the token after the space, up to a '$' or the end
  if (s.compare(idx, 7, "\\boxed ") == 0) {
    size_t a = idx + 7;
    size_t e = s.find('$', a);
    return s.substr(idx, (e == std::string::npos ? s.size() : e) - idx);
  }
  int open = 0;
  for (size_t i = idx; i < s.size(); ++i) {
    if (s[i] == '{') ++open;
    if (s[i] == '}') {
      --open;
      if (open == 0) return s.substr(idx, i + 1 - idx);
    }
  }
  return std::nullopt;
}

std::optional<std::string> remove_boxed(const std::string& s) {
  if (s.rfind("\\boxed ", 0) == 0) return s.substr(7);
  for (const std::string left : {"\\boxed{", "\\fbox{"}) {
    if (s.rfind(left, 0) == 0 && s.size() > left.size() && s.back() == '}')
      return s.substr(left.size(), s.size() - left.size() - 1);
  }
  return std::nullopt;
}

std::optional<std::string> last_boxed_content(const std::string& s) {
  auto b = last_boxed_only_string(s);
  if (!b) return std::nullopt;
  return remove_boxed(*b);
}

namespace {

// "$x$", "\\(x\\)", "\\[x\\]" -> "x" (then a trailing full stop dropped)
std::string drop_math_delimiters(std::string s) {
  s = strip(s);
  for (;;) {
    if (s.size() >= 2 && s.front() == '$' && s.back() == '$') s = strip(s.substr(1, s.size() - 2));
    else if (s.size() >= 4 && (s.compare(0, 2, "\\(") == 0 && s.compare(s.size() - 2, 2, "\\)") == 0))
      s = strip(s.substr(2, s.size() - 4));
    else if (s.size() >= 4 && (s.compare(0, 2, "\\[") == 0 && s.compare(s.size() - 2, 2, "\\]") == 0))
      s = strip(s.substr(2, s.size() - 4));
    else if (!s.empty() && s.back() == '.') s = strip(s.substr(0, s.size() - 1));
    else return s;
  }
}

}  // namespace

std::optional<std::string> extract_math_answer(const std::string& response, bool reference) {
  static const std::string phrase = "The answer is: ";
  size_t p = response.rfind(phrase);
  size_t box = response.rfind("\\boxed");
  if (box == std::string::npos) box = response.rfind("\\fbox");
  if (p != std::string::npos && (reference || box == std::string::npos || box < p)) {
    std::string rest = response.substr(p + phrase.size());
    size_t e = rest.find(".\n");
    if (e != std::string::npos) rest = rest.substr(0, e);
    rest = strip(rest);
    if (!rest.empty() && rest.back() == '.') rest.pop_back();
    if (reference) return rest;
    return drop_math_delimiters(rest);
  }
  if (auto b = last_boxed_content(response); b || reference) return b;
  // no box: "The final answer is $\\frac{3}{4}$." as a careful reader takes it
  std::string low = response;
  for (auto& c : low) c = char(std::tolower(static_cast<unsigned char>(c)));
  size_t q = low.rfind("answer is");
  if (q == std::string::npos) return std::nullopt;
  std::string rest = response.substr(q + 9);
  size_t a = rest.find_first_not_of(" \t:");
  if (a == std::string::npos) return std::nullopt;
  rest = rest.substr(a);
  size_t e = std::string::npos;
  if (rest[0] == '$') {
    e = rest.find('$', rest.compare(0, 2, "$$") == 0 ? 2 : 1);  // "$3$. I hope it is correct."
    if (e != std::string::npos) e += rest.compare(0, 2, "$$") == 0 ? 2 : 1;
  }
  if (e == std::string::npos) e = std::min(rest.find('\n'), rest.find(". "));
  if (e != std::string::npos) rest = rest.substr(0, e);
  rest = drop_math_delimiters(rest);
  if (rest.empty()) return std::nullopt;
  return rest;
}

std::string strip_math_string(std::string string) {
  replace_all(string, "\n", "");
  replace_all(string, "\\!", "");
  replace_all(string, "\\\\", "\\");
  replace_all(string, "tfrac", "frac");
  replace_all(string, "dfrac", "frac");
  replace_all(string, "\\left", "");
  replace_all(string, "\\right", "");
  replace_all(string, "^{\\circ}", "");
  replace_all(string, "^\\circ", "");
  replace_all(string, "\\$", "");
  string = remove_right_units(string);
  replace_all(string, "\\%", "");
  replace_all(string, " .", " 0.");
  replace_all(string, "{.", "{0.");
  if (string.empty()) return string;
  if (string[0] == '.') string = "0" + string;
  // "k = 5" -> "5" when the left side is short
  auto eq = split(string, "=");
  if (eq.size() == 2 && eq[0].size() <= 2) string = eq[1];
  string = fix_sqrt(string);
  replace_all(string, " ", "");
  string = fix_fracs(string);
  if (string == "0.5") string = "\\frac{1}{2}";
  string = fix_a_slash_b(string);
  return string;
}

}  // namespace t2::tasks
