#include "jobs/config-override.h"

#include <regex>

#include "core/error.h"
#include "core/names.h"

namespace t2 {

namespace {

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find('.', start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

std::string path_prefix(const std::vector<std::string>& keys, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? "." : "") + keys[i];
  return s;
}

// The name an element of a list answers to: its `name`, else its `kind` (experiments).
std::string element_name(const yaml::Node& n) {
  if (!n.is_map()) return "";
  if (const auto* v = n.find("name"); v && v->is_scalar()) return v->scalar;
  if (const auto* v = n.find("kind"); v && v->is_scalar()) return v->scalar;
  return "";
}

}  // namespace

bool looks_like_override(const std::string& arg) {
  if (!arg.empty() && arg[0] == '~') return true;
  size_t eq = arg.find('=');
  return eq != std::string::npos && eq > 0 && arg.substr(0, eq).find('/') == std::string::npos;
}

ConfigOverride parse_override(const std::string& text, int index) {
  ConfigOverride o;
  o.index = index;
  o.text = text;
  const std::string where = "<override " + std::to_string(index) + ">";
  std::string path;
  if (!text.empty() && text[0] == '~') {
    o.remove = true;
    path = text.substr(1);
  } else {
    size_t eq = text.find('=');
    if (eq == std::string::npos)
      throw UsageError(where + ": '" + text + "' is not an override; expected key.path=value or ~key.path");
    path = text.substr(0, eq);
    o.value = yaml::parse(text.substr(eq + 1), where, index);
  }
  static const std::regex key_re("[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*");
  if (path.size() > 1024 || !std::regex_match(path, key_re))  // bounded: std::regex recurses per character
    throw UsageError(where + ": '" + path + "' is not a key path; expected names and list positions joined by '.' "
                     "(e.g. experiments.experts.lr)");
  o.keys = split_path(path);
  yaml::Origin origin;
  origin.override_index = index;
  yaml::set_origin(o.value, origin);
  return o;
}

void apply_override(yaml::Node& root, const ConfigOverride& o, ConfigProblems& problems) {
  yaml::Origin origin;
  origin.override_index = o.index;
  yaml::Node* cur = &root;
  for (size_t i = 0; i < o.keys.size(); ++i) {
    const std::string& key = o.keys[i];
    const bool last = i + 1 == o.keys.size();
    const std::string here = path_prefix(o.keys, i + 1);
    if (cur->is_null() && !o.remove) {
      cur->kind = yaml::Node::Kind::map;
      cur->origin = origin;
    }
    if (cur->is_map()) {
      auto it = std::find_if(cur->map.begin(), cur->map.end(), [&](const yaml::MapEntry& e) { return e.key == key; });
      if (o.remove && last) {
        if (it == cur->map.end()) {
          std::vector<std::string> keys;
          for (const auto& e : cur->map) keys.push_back(e.key);
          problems.add(origin, here, "cannot remove: no such key", suggest(key, keys));
        } else {
          cur->map.erase(it);
        }
        return;
      }
      if (it == cur->map.end()) {
        if (o.remove) {
          problems.add(origin, here, "cannot remove: no such key");
          return;
        }
        yaml::MapEntry e;
        e.key = key;
        e.key_origin = origin;
        e.value.origin = origin;
        cur->map.push_back(std::move(e));
        it = cur->map.end() - 1;
      }
      if (last) {
        it->value = o.value;
        return;
      }
      cur = &it->value;
      continue;
    }
    if (cur->is_seq()) {
      size_t pos = cur->seq.size() + 1;
      static const std::regex num("[0-9]+");
      if (key.size() <= 9 && std::regex_match(key, num)) {
        pos = std::stoul(key);
        if (pos == cur->seq.size() && !o.remove) {  // one past the end appends
          yaml::Node n;
          n.origin = origin;
          cur->seq.push_back(n);
        }
      } else {
        std::vector<std::string> names;
        for (size_t k = 0; k < cur->seq.size(); ++k) {
          std::string nm = element_name(cur->seq[k]);
          if (!nm.empty()) names.push_back(nm);
          if (nm == key && pos > cur->seq.size()) pos = k;
        }
        if (pos > cur->seq.size()) {
          problems.add(origin, here, "no element named '" + key + "' in " + path_prefix(o.keys, i),
                       cur->seq.empty() ? "expected a position (the list is empty: 0 appends)"
                                        : suggest(key, names) + " (or a position 0.." +
                                              std::to_string(cur->seq.size() - 1) + ")");
          return;
        }
      }
      if (pos >= cur->seq.size()) {
        problems.add(origin, here, "position " + key + " is past the end of " + path_prefix(o.keys, i),
                     "expected 0.." + std::to_string(cur->seq.size()) + " (the last appends)");
        return;
      }
      if (last) {
        if (o.remove)
          cur->seq.erase(cur->seq.begin() + static_cast<long>(pos));
        else
          cur->seq[pos] = o.value;
        return;
      }
      cur = &cur->seq[pos];
      continue;
    }
    problems.add(origin, here, "cannot set a key inside " + cur->describe() + " at " + path_prefix(o.keys, i),
                 "expected a path through mappings and lists");
    return;
  }
}

}  // namespace t2
