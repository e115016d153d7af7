#include "jobs/yaml-tree.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <regex>

#include "core/error.h"

namespace t2::yaml {

const MapEntry* Node::find_entry(const std::string& key) const {
  for (const auto& e : map)
    if (e.key == key) return &e;
  return nullptr;
}

const Node* Node::find(const std::string& key) const {
  const MapEntry* e = find_entry(key);
  return e ? &e->value : nullptr;
}

Node* Node::find(const std::string& key) {
  for (auto& e : map)
    if (e.key == key) return &e.value;
  return nullptr;
}

std::string Node::describe() const {
  switch (kind) {
    case Kind::null: return "null";
    case Kind::seq: return "a list";
    case Kind::map: return "a mapping";
    case Kind::scalar: break;
  }
  return "'" + scalar + "'";
}

namespace {

Origin origin_of(const YAML::Mark& m, int override_index) {
  Origin o;
  o.override_index = override_index;
  if (override_index == 0 && m.line >= 0) {
    o.line = m.line + 1;
    o.col = m.column + 1;
  }
  return o;
}

Node convert(const YAML::Node& y, int override_index, const Origin& fallback) {
  Node n;
  n.origin = origin_of(y.Mark(), override_index);
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.kind = Node::Kind::null;
      // An empty value's mark points past it; the key's position is what the user sees.
      n.origin = fallback;
      break;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::scalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::seq;
      for (const auto& c : y) n.seq.push_back(convert(c, override_index, n.origin));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::Kind::map;
      for (const auto& kv : y) {
        MapEntry e;
        e.key_origin = origin_of(kv.first.Mark(), override_index);
        e.key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("<non-scalar key>");
        e.value = convert(kv.second, override_index, e.key_origin);
        n.map.push_back(std::move(e));
      }
      break;
  }
  return n;
}

}  // namespace

Node parse(const std::string& text, const std::string& label, int override_index) {
  YAML::Node y;
  try {
    y = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    std::string where = override_index ? "<override " + std::to_string(override_index) + ">"
                                       : label + ":" + std::to_string(e.mark.line + 1) + ":" +
                                             std::to_string(e.mark.column + 1);
    throw UsageError(where + ": yaml: " + e.msg + "; expected valid YAML");
  }
  Origin top;
  top.override_index = override_index;
  if (!override_index) top.line = top.col = 1;
  return convert(y, override_index, top);
}

void set_origin(Node& n, const Origin& o) {
  n.origin = o;
  for (auto& c : n.seq) set_origin(c, o);
  for (auto& e : n.map) {
    e.key_origin = o;
    set_origin(e.value, o);
  }
}

bool scalar_is_null(const Node& n) {
  if (n.is_null()) return true;
  if (!n.is_scalar() || n.quoted) return false;
  return n.scalar == "null" || n.scalar == "Null" || n.scalar == "NULL" || n.scalar == "~" || n.scalar.empty();
}

std::optional<bool> scalar_bool(const Node& n) {
  if (!n.is_scalar() || n.quoted) return std::nullopt;
  const std::string& s = n.scalar;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<long long> scalar_int(const Node& n) {
  if (!n.is_scalar() || n.quoted) return std::nullopt;
  static const std::regex re("[-+]?[0-9]+");
  if (!std::regex_match(n.scalar, re)) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(n.scalar.c_str(), &end, 10);
  if (errno == ERANGE) return std::nullopt;
  return v;
}

std::optional<double> scalar_number(const Node& n) {
  if (!n.is_scalar() || n.quoted) return std::nullopt;
  static const std::regex re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (!std::regex_match(n.scalar, re)) return std::nullopt;
  return std::strtod(n.scalar.c_str(), nullptr);
}

}  // namespace t2::yaml
