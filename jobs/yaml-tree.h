// The campaign file as a tree that remembers where every value came from: a line and column of the
// YAML file, or the index of a command-line override. Validation works on this tree (not on
// yaml-cpp nodes) so that values set by `key.path=value` overrides report "<override N>" and values
// from the file report FILE:LINE:COL. Internal to jobs/ (no yaml-cpp types leak out).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace t2::yaml {

// Where a value came from. line/col are 1-based; override_index is 1-based, 0 when from the file.
struct Origin {
  int line = 0;
  int col = 0;
  int override_index = 0;
};

struct MapEntry;

struct Node {
  enum class Kind { null, scalar, seq, map };
  Kind kind = Kind::null;
  std::string scalar;        // text of a scalar (after the parser; env expansion happens later)
  bool quoted = false;       // "..." or '...' scalars are always strings
  Origin origin;
  std::vector<Node> seq;
  std::vector<MapEntry> map;  // in document order; duplicates are kept so validation can name them

  bool is_null() const { return kind == Kind::null; }
  bool is_scalar() const { return kind == Kind::scalar; }
  bool is_seq() const { return kind == Kind::seq; }
  bool is_map() const { return kind == Kind::map; }
  // First entry with this key, or nullptr.
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  const MapEntry* find_entry(const std::string& key) const;
  // "a mapping", "a list", "the scalar '3'", "null" for messages.
  std::string describe() const;
};

struct MapEntry {
  std::string key;
  Origin key_origin;
  Node value;
};

// Parses YAML text. A syntax error throws t2::UsageError "LABEL:LINE:COL: yaml: <parser message>;
// expected valid YAML" with yaml-cpp's position. An empty document is a null node.
Node parse(const std::string& text, const std::string& label, int override_index = 0);

// Sets every origin in the tree (values given on the command line).
void set_origin(Node& n, const Origin& o);

// Plain-scalar classification following the YAML 1.2 core schema.
bool scalar_is_null(const Node& n);
std::optional<bool> scalar_bool(const Node& n);
std::optional<long long> scalar_int(const Node& n);
std::optional<double> scalar_number(const Node& n);

}  // namespace t2::yaml
