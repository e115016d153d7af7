#include "jobs/yaml-env.h"

#include <cctype>
#include <cstdlib>

namespace t2 {

namespace {

bool valid_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// depth guards against a default that expands into itself through the lookup.
EnvExpansion expand(const std::string& text, const EnvLookup& lookup, int depth) {
  EnvExpansion r;
  if (depth > 16) {
    r.error = "variable expansion nested more than 16 levels";
    return r;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      r.value += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      r.value += '$';
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      r.value += '$';
      continue;
    }
    // Find the matching '}' (defaults may nest ${...}).
    size_t j = i + 2;
    int open = 1;
    for (; j < text.size(); ++j) {
      if (text[j] == '{' && text[j - 1] == '$') ++open;
      if (text[j] == '}' && --open == 0) break;
    }
    if (j >= text.size()) {
      r.error = "unterminated '${' at character " + std::to_string(i + 1);
      return r;
    }
    std::string inner = text.substr(i + 2, j - i - 2);
    std::string name = inner;
    std::optional<std::string> def;
    size_t sep = inner.find(":-");
    if (sep != std::string::npos) {
      name = inner.substr(0, sep);
      def = inner.substr(sep + 2);
    }
    if (!valid_name(name)) {
      r.error = "'${" + inner + "}' is not a variable reference (names are letters, digits and '_')";
      return r;
    }
    std::optional<std::string> v = lookup(name);
    if (v && !v->empty()) {
      r.value += *v;
    } else if (def) {
      EnvExpansion d = expand(*def, lookup, depth + 1);
      if (!d.ok()) return d;
      r.value += d.value;
    } else {
      r.error = "variable '" + name + "' is not set and has no default (write ${" + name + ":-default})";
      return r;
    }
    i = j;
  }
  return r;
}

}  // namespace

EnvExpansion expand_env(const std::string& text, const EnvLookup& lookup) { return expand(text, lookup, 0); }

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

}  // namespace t2
