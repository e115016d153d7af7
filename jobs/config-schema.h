// The schema of one campaign key: its type, default, allowed range or names, and whether a list in
// its place is a sweep axis. Sections (models, tasks, experiments of each kind, slurm) are lists
// of ParamSpec; check_value() turns one YAML value into JSON or records a problem.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/config-problems.h"
#include "jobs/yaml-tree.h"

namespace t2 {

enum class ParamType {
  integer,      // 64-bit integer
  number,       // double (integers accepted)
  boolean,      // true / false
  string,       // any string
  choice,       // one of `choices`
  string_list,  // list of strings (a scalar is taken as a one-element list)
  string_map,   // mapping of string to string
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::string;
  nlohmann::json default_value;  // used when the key is absent; null = absent stays null
  bool required = false;
  bool nullable = false;         // null is an accepted value
  bool sweepable = false;        // a list here is a sweep axis (experiments only)
  std::vector<std::string> choices;
  // Extra range rule: returns "" when the value is fine, else "expected ..." text.
  std::function<std::string(const nlohmann::json&)> check;
  std::string range;             // human text for docs and messages: "> 0", "power of two >= 1"
  std::string doc;
};

// Range rules.
std::function<std::string(const nlohmann::json&)> rule_greater(double lo);          // v > lo
std::function<std::string(const nlohmann::json&)> rule_at_least(double lo);         // v >= lo
std::function<std::string(const nlohmann::json&)> rule_between(double lo, double hi);  // lo <= v <= hi
std::function<std::string(const nlohmann::json&)> rule_power_of_two();
std::function<std::string(const nlohmann::json&)> rule_slurm_time();                // [D-]HH:MM:SS | MM | HH:MM:SS
std::function<std::string(const nlohmann::json&)> rule_identifier();                // [A-Za-z0-9][A-Za-z0-9_-]*

bool is_identifier(const std::string& s);

// "an integer", "one of a, b", ...
std::string describe_type(const ParamSpec& spec);

// Checks one non-list value against `spec` (lists are handled by the caller: sweep axis or
// string_list). Returns false and records a problem when the value is wrong.
bool check_value(const yaml::Node& n, const ParamSpec& spec, const std::string& key_path, ConfigProblems& problems,
                 nlohmann::json& out);

// Finds a spec by name in a section, nullptr when absent.
const ParamSpec* find_spec(const std::vector<ParamSpec>& specs, const std::string& name);
std::vector<std::string> spec_names(const std::vector<ParamSpec>& specs);

}  // namespace t2
