#include "jobs/yaml-tree.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cctype>

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

// Bounds that no real campaign file comes near, so that a hostile or broken file fails fast:
// aliases are expanded here (yaml-cpp shares aliased nodes), so a "billion laughs" tree of 9 levels
// of 10 aliases would otherwise become 10^9 nodes, and a self-referential alias would never end.
constexpr size_t kMaxNodes = 100000;
constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxScalar = 65536;

struct Budget {
  std::string label;
  int override_index = 0;
  size_t nodes = 0;
  std::vector<YAML::Node> ancestors;
};

[[noreturn]] void refuse(const Budget& b, const YAML::Mark& m, const std::string& what) {
  std::string where = b.override_index ? "<override " + std::to_string(b.override_index) + ">"
                                       : b.label + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  throw UsageError(where + ": " + what);
}

Node convert(const YAML::Node& y, int override_index, const Origin& fallback, Budget& b) {
  for (const auto& a : b.ancestors)
    if (a.is(y))
      refuse(b, y.Mark(), "a YAML alias refers to a node that contains it (a self-referential anchor); expected a tree");
  if (b.ancestors.size() >= kMaxDepth)
    refuse(b, y.Mark(), "YAML nested more than " + std::to_string(kMaxDepth) + " levels deep; expected a campaign file");
  if (++b.nodes > kMaxNodes)
    refuse(b, y.Mark(),
           "YAML expands to more than " + std::to_string(kMaxNodes) +
               " nodes (aliases are expanded; an alias tree such as 'billion laughs' grows exponentially); "
               "expected a campaign file");
  b.ancestors.push_back(y);
  struct Pop {
    Budget& b;
    ~Pop() { b.ancestors.pop_back(); }
  } pop{b};
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
      if (y.Scalar().size() > kMaxScalar)
        refuse(b, y.Mark(), "a scalar of " + std::to_string(y.Scalar().size()) + " characters; at most " +
                                std::to_string(kMaxScalar) + " (put long text in a file the campaign names)");
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::seq;
      for (const auto& c : y) n.seq.push_back(convert(c, override_index, n.origin, b));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::Kind::map;
      for (const auto& kv : y) {
        MapEntry e;
        e.key_origin = origin_of(kv.first.Mark(), override_index);
        e.key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("<non-scalar key>");
        if (e.key.size() > kMaxScalar) refuse(b, kv.first.Mark(), "a key of " + std::to_string(e.key.size()) + " characters");
        e.value = convert(kv.second, override_index, e.key_origin, b);
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
  Budget b;
  b.label = label;
  b.override_index = override_index;
  return convert(y, override_index, top, b);
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
  // by hand, not std::regex: libstdc++'s matcher recurses per character (a long scalar overflows the stack)
  const std::string& t = n.scalar;
  size_t i = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  if (i == t.size() || t.size() > 40) return std::nullopt;
  for (size_t k = i; k < t.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(t[k]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(n.scalar.c_str(), &end, 10);
  if (errno == ERANGE) return std::nullopt;
  return v;
}

std::optional<double> scalar_number(const Node& n) {
  if (!n.is_scalar() || n.quoted) return std::nullopt;
  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? by hand (see scalar_int)
  const std::string& t = n.scalar;
  if (t.size() > 400) return std::nullopt;
  auto digits = [&](size_t& i) {
    size_t a = i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    return i - a;
  };
  size_t i = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  size_t whole = digits(i);
  if (i < t.size() && t[i] == '.') {
    ++i;
    size_t frac = digits(i);
    if (!whole && !frac) return std::nullopt;
  } else if (!whole) {
    return std::nullopt;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    if (!digits(i)) return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  return std::strtod(n.scalar.c_str(), nullptr);
}

}  // namespace t2::yaml
