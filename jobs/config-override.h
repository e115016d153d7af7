// Command-line overrides in Hydra style, applied to the campaign tree before validation:
//
//   models.llama3-8b.path=/models/llama3     set a key (created when absent)
//   experiments.0.lr=1e-3                    list elements by position ...
//   experiments.experts.lr=[1e-3,2e-3]       ... or, for experiments, by name (here: a sweep)
//   ~slurm.account                           remove a key
//
// The value is parsed as YAML (a scalar, [a, b] list or {k: v} mapping). Everything an override
// sets carries the origin "<override N>" (N counts from 1), so a problem it causes is reported
// against the override rather than a line of the file.
#pragma once

#include <string>
#include <vector>

#include "jobs/config-problems.h"
#include "jobs/yaml-tree.h"

namespace t2 {

struct ConfigOverride {
  int index = 0;                  // 1-based position on the command line
  std::string text;               // as given
  std::vector<std::string> keys;  // the key path split on '.'
  bool remove = false;            // ~key.path
  yaml::Node value;
};

// Parses "key.path=value" or "~key.path". Throws UsageError "<override N>: ..." when malformed.
ConfigOverride parse_override(const std::string& text, int index);

// Applies one override; a path that cannot be followed is recorded as a problem.
void apply_override(yaml::Node& root, const ConfigOverride& o, ConfigProblems& problems);

// True when `arg` looks like an override (has '=' before any '/', or starts with '~').
bool looks_like_override(const std::string& arg);

}  // namespace t2
