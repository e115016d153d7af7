// ${VAR} expansion in campaign strings:
//   ${NAME}            the value of NAME (a top-level campaign key such as data_dir, else the environment)
//   ${NAME:-default}   the default when NAME is unset or empty; the default may itself hold ${...}
//   $$                 a literal '$'
// The lookup decides where names come from; the campaign loader tries top-level keys first.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace t2 {

struct EnvExpansion {
  std::string value;
  std::string error;  // empty on success; "variable 'X' is not set" etc.
  bool ok() const { return error.empty(); }
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

EnvExpansion expand_env(const std::string& text, const EnvLookup& lookup);

// Looks names up in the process environment.
std::optional<std::string> getenv_lookup(const std::string& name);

}  // namespace t2
