// Sweep axes and their Cartesian product. A campaign key given as a list where one value is
// expected (seed: [1, 2], lr: [1e-3, 2e-3]) is an axis; the jobs of an experiment are every
// combination, the first axis varying slowest, so job order is stable and readable.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2 {

struct SweepAxis {
  std::string name;
  std::vector<nlohmann::json> values;
};

// Every combination as an object {axis name: value}; one empty object when there are no axes,
// none when an axis is empty.
std::vector<nlohmann::json> cartesian(const std::vector<SweepAxis>& axes);

// "lr=0.001,kl_coef=0.1": the values of `keys` in a point, for job ids ("" when keys is empty).
std::string sweep_label(const nlohmann::json& point, const std::vector<std::string>& keys);

// A value as it appears in a label: strings bare, numbers in JSON form.
std::string sweep_value_text(const nlohmann::json& v);

}  // namespace t2
