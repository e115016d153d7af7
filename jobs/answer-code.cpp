#include "jobs/answer-code.h"

#include <cctype>
#include <set>

#include "jobs/answer-regex.h"

namespace t2::tasks {

std::string completion_before_fence(const std::string& response) {
  size_t p = response.find("```");
  return p == std::string::npos ? response : response.substr(0, p);
}

std::string first_code_block(const std::string& text) {
  static const Regex block(R"(```[ \t]*(?:python|py|Python|python3)?[ \t]*\r?\n(.*?)```)", "s");
  auto m = block.search(text);
  if (m && m->groups[1]) return *m->groups[1];
  // an unterminated block: everything after the opening fence
  static const Regex open(R"(```[ \t]*(?:python|py|Python|python3)?[ \t]*\r?\n(.*)$)", "s");
  auto o = open.search(text);
  if (o && o->groups[1]) return *o->groups[1];
  return text;
}

namespace {

struct Statement {
  std::string text;
  std::string head;  // the first line
};

// Splits source into top-level statements (a statement ends where the next unindented line starts
// outside strings, brackets and continuations). Continuation keywords (else/elif/except/finally)
// stay with the statement they continue.
std::vector<Statement> top_level_statements(const std::string& src) {
  std::vector<Statement> out;
  std::string quote;  // active string delimiter: ' " ''' """
  int depth = 0;
  bool continued = false;
  size_t i = 0;
  auto starts_new = [&](size_t line_start) {
    if (!quote.empty() || depth > 0 || continued) return false;
    if (line_start >= src.size()) return false;
    char c = src[line_start];
    // blank, indented and comment-only lines never start a statement (Python ignores the
    // indentation of comment lines, and reference code has column-0 comments inside bodies)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#') return false;
    static const char* cont[] = {"else", "elif", "except", "finally"};
    for (const char* k : cont) {
      std::string kw(k);
      if (src.compare(line_start, kw.size(), kw) == 0) {
        size_t e = line_start + kw.size();
        if (e >= src.size() || !(std::isalnum(static_cast<unsigned char>(src[e])) || src[e] == '_')) return false;
      }
    }
    return true;
  };
  size_t stmt_start = 0;
  bool have_stmt = false;
  size_t line_start = 0;
  while (line_start <= src.size()) {
    if (line_start == src.size()) break;
    if (starts_new(line_start)) {
      if (have_stmt) out.push_back({src.substr(stmt_start, line_start - stmt_start), ""});
      stmt_start = line_start;
      have_stmt = true;
    } else if (!have_stmt) {
      // indented or blank text before any statement: its own (dropped unless it parses as code)
      stmt_start = line_start;
      have_stmt = true;
    }
    // scan the line, updating string/bracket state
    i = line_start;
    continued = false;
    while (i < src.size() && src[i] != '\n') {
      char c = src[i];
      if (!quote.empty()) {
        if (c == '\\') {
          i += 2;
          continue;
        }
        if (src.compare(i, quote.size(), quote) == 0) {
          i += quote.size();
          quote.clear();
          continue;
        }
        ++i;
        continue;
      }
      if (c == '#') {
        while (i < src.size() && src[i] != '\n') ++i;
        break;
      }
      if (c == '"' || c == '\'') {
        if (src.compare(i, 3, std::string(3, c)) == 0) quote = std::string(3, c), i += 3;
        else quote = std::string(1, c), ++i;
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      if (c == '\\' && (i + 1 == src.size() || src[i + 1] == '\n' || (src[i + 1] == '\r'))) continued = true;
      ++i;
    }
    // an unterminated single-quoted string ends at the line end
    if (quote.size() == 1) quote.clear();
    line_start = i < src.size() ? i + 1 : src.size();
  }
  if (have_stmt) out.push_back({src.substr(stmt_start), ""});
  for (auto& s : out) s.head = s.text.substr(0, s.text.find('\n'));
  return out;
}

bool keep_statement(const Statement& s) {
  static const Regex keep(R"(^(?:import\s|from\s+\S+\s+import\s|def\s|async\s+def\s|class\s|@))");
  static const Regex assign(R"(^[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*\s*(?::[^=]*)?=(?!=))");
  return keep.search(s.head).has_value() || assign.search(s.head).has_value();
}

}  // namespace

std::string sanitize_python(const std::string& code) {
  std::string out;
  for (auto& s : top_level_statements(code)) {
    if (!keep_statement(s)) continue;
    out += s.text;
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  return out;
}

std::vector<std::string> defined_functions(const std::string& code) {
  static const Regex def(R"(^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\()", "m");
  std::vector<std::string> names;
  for (auto& m : def.find_all(code))
    if (m.groups[1]) names.push_back(*m.groups[1]);
  return names;
}

std::string mbpp_entry_point(const std::string& code, const std::string& assertion) {
  static const Regex call(R"(([A-Za-z_]\w*)\s*\()");
  std::vector<std::string> called;
  for (auto& m : call.find_all(assertion))
    if (m.groups[1]) called.push_back(*m.groups[1]);
  for (auto& d : defined_functions(code))
    for (auto& c : called)
      if (c == d) return d;
  static const std::set<std::string> builtins = {"set", "list", "tuple", "sorted", "len", "abs", "round", "str",
                                                 "int", "float", "math", "isclose", "dict", "frozenset", "sum",
                                                 "all", "any", "min", "max", "type", "isinstance", "bool"};
  for (auto& c : called)
    if (!builtins.count(c)) return c;
  return "";
}

}  // namespace t2::tasks
