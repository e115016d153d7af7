#include "jobs/config-schema.h"

#include <cmath>
#include <regex>

#include "core/names.h"

namespace t2 {

namespace {

std::string num(double v) {
  std::string s = nlohmann::json(v).dump();
  if (s.size() > 2 && s.substr(s.size() - 2) == ".0") s.resize(s.size() - 2);
  return s;
}

}  // namespace

std::function<std::string(const nlohmann::json&)> rule_greater(double lo) {
  return [lo](const nlohmann::json& v) { return v.get<double>() > lo ? "" : "expected a value > " + num(lo); };
}

std::function<std::string(const nlohmann::json&)> rule_at_least(double lo) {
  return [lo](const nlohmann::json& v) { return v.get<double>() >= lo ? "" : "expected a value >= " + num(lo); };
}

std::function<std::string(const nlohmann::json&)> rule_between(double lo, double hi) {
  return [lo, hi](const nlohmann::json& v) {
    double x = v.get<double>();
    return x >= lo && x <= hi ? "" : "expected a value in [" + num(lo) + ", " + num(hi) + "]";
  };
}

std::function<std::string(const nlohmann::json&)> rule_power_of_two() {
  return [](const nlohmann::json& v) {
    long long x = v.get<long long>();
    return x >= 1 && (x & (x - 1)) == 0 ? "" : "expected a power of two >= 1 (1, 2, 4, 8, ...)";
  };
}

std::function<std::string(const nlohmann::json&)> rule_slurm_time() {
  return [](const nlohmann::json& v) {
    static const std::regex re("([0-9]+-)?[0-9]{1,2}(:[0-9]{2}){0,2}");
    // std::regex recurses per character: bound the text first (a long scalar would overflow the stack)
    const std::string& t = v.get<std::string>();
    return t.size() <= 32 && std::regex_match(t, re) ? ""
                                                      : "expected a Slurm time: MM, HH:MM:SS or D-HH:MM:SS";
  };
}

bool is_identifier(const std::string& s) {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9_-]*");
  return s.size() <= 256 && std::regex_match(s, re);  // bounded: std::regex recurses per character
}

std::function<std::string(const nlohmann::json&)> rule_identifier() {
  return [](const nlohmann::json& v) {
    return is_identifier(v.get<std::string>()) ? ""
                                               : "expected a name of letters, digits, '_' and '-' (no dots or spaces)";
  };
}

std::string describe_type(const ParamSpec& spec) {
  std::string t;
  switch (spec.type) {
    case ParamType::integer: t = "an integer"; break;
    case ParamType::number: t = "a number"; break;
    case ParamType::boolean: t = "true or false"; break;
    case ParamType::string: t = "a string"; break;
    case ParamType::choice: t = "one of " + join(spec.choices); break;
    case ParamType::string_list: t = "a list of strings"; break;
    case ParamType::string_map: t = "a mapping of names to strings"; break;
  }
  if (spec.nullable) t += " or null";
  return t;
}

bool check_value(const yaml::Node& n, const ParamSpec& spec, const std::string& key_path, ConfigProblems& problems,
                 nlohmann::json& out) {
  auto fail = [&](const std::string& what, const std::string& expected) {
    problems.add(n.origin, key_path, what, expected);
    return false;
  };
  auto wrong_type = [&]() { return fail("got " + n.describe(), "expected " + describe_type(spec)); };

  if (yaml::scalar_is_null(n)) {
    if (spec.nullable) {
      out = nullptr;
      return true;
    }
    return wrong_type();
  }
  switch (spec.type) {
    case ParamType::integer: {
      auto v = yaml::scalar_int(n);
      if (!v) return wrong_type();
      out = *v;
      break;
    }
    case ParamType::number: {
      auto v = yaml::scalar_number(n);
      if (!v || !std::isfinite(*v)) return wrong_type();
      out = *v;
      break;
    }
    case ParamType::boolean: {
      auto v = yaml::scalar_bool(n);
      if (!v) return wrong_type();
      out = *v;
      break;
    }
    case ParamType::string:
      if (!n.is_scalar()) return wrong_type();
      out = n.scalar;
      break;
    case ParamType::choice:
      if (!n.is_scalar()) return wrong_type();
      if (std::find(spec.choices.begin(), spec.choices.end(), n.scalar) == spec.choices.end())
        return fail("unknown value '" + n.scalar + "'", suggest(n.scalar, spec.choices));
      out = n.scalar;
      break;
    case ParamType::string_list: {
      out = nlohmann::json::array();
      if (n.is_scalar()) {
        out.push_back(n.scalar);
        break;
      }
      if (!n.is_seq()) return wrong_type();
      bool ok = true;
      for (size_t i = 0; i < n.seq.size(); ++i) {
        const auto& c = n.seq[i];
        if (!c.is_scalar()) {
          problems.add(c.origin, key_path + "." + std::to_string(i), "got " + c.describe(), "expected a string");
          ok = false;
          continue;
        }
        out.push_back(c.scalar);
      }
      if (!ok) return false;
      break;
    }
    case ParamType::string_map: {
      if (!n.is_map()) return wrong_type();
      out = nlohmann::json::object();
      bool ok = true;
      for (const auto& e : n.map) {
        if (!e.value.is_scalar()) {
          problems.add(e.value.origin, key_path + "." + e.key, "got " + e.value.describe(), "expected a string");
          ok = false;
          continue;
        }
        out[e.key] = e.value.scalar;
      }
      if (!ok) return false;
      break;
    }
  }
  if (spec.check) {
    std::string bad = spec.check(out);
    if (!bad.empty()) return fail("value " + (out.is_string() ? "'" + out.get<std::string>() + "'" : out.dump()) +
                                      " is out of range", bad);
  }
  return true;
}

const ParamSpec* find_spec(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> spec_names(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(s.name);
  return out;
}

}  // namespace t2
