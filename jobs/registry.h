// A registry of named things (task kinds, experiment kinds, evaluation methods, optimizers, dispatch
// strategies). Validation asks the registry for the valid names, so adding a task kind is one
// add() call and every error message lists it (DESIGN decision 7: registries, not switch statements).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/names.h"

namespace t2 {

template <typename T>
class Registry {
 public:
  explicit Registry(std::string what) : what_(std::move(what)) {}

  // Registers `name`; a second registration of the same name is a programming error.
  void add(const std::string& name, T value) {
    if (items_.count(name)) throw Error(what_ + " '" + name + "' is registered twice");
    order_.push_back(name);
    items_.emplace(name, std::move(value));
  }
  // Replaces an existing entry (a real implementation taking over a name registered with defaults).
  void replace(const std::string& name, T value) {
    if (!items_.count(name)) order_.push_back(name);
    items_[name] = std::move(value);
  }

  bool contains(const std::string& name) const { return items_.count(name) != 0; }
  const T* find(const std::string& name) const {
    auto it = items_.find(name);
    return it == items_.end() ? nullptr : &it->second;
  }
  // Throws UsageError "unknown <what> 'x'; did you mean 'y'? valid: ...".
  const T& at(const std::string& name) const {
    if (const T* v = find(name)) return *v;
    throw UsageError("unknown " + what_ + " '" + name + "'; " + suggest(name, order_));
  }
  // Names in registration order.
  const std::vector<std::string>& names() const { return order_; }
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::vector<std::string> order_;
  std::map<std::string, T> items_;
};

}  // namespace t2
