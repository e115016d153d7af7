#include "workers/chat-template-json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace t2 {

namespace {

// Python float repr: the shortest digits that round-trip, positional for exponents -4..15.
std::string float_repr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  int p = 1;
  for (; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  int exp = std::atoi(std::strchr(buf, 'e') + 1);
  std::string s;
  if (exp >= -4 && exp < 16) {
    std::snprintf(buf, sizeof buf, "%.*f", std::max(p - 1 - exp, 0), v);
    s = buf;
    if (s.find('.') == std::string::npos) s += ".0";
  } else {
    s = buf;  // d.ddde+XX: C and Python agree on the two-digit exponent
  }
  return s;
}

void dump(const nlohmann::ordered_json& v, std::string& out) {
  switch (v.type()) {
    case nlohmann::ordered_json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        dump(nlohmann::ordered_json(it.key()), out);
        out += ": ";
        dump(it.value(), out);
      }
      out += '}';
      break;
    }
    case nlohmann::ordered_json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        dump(v[i], out);
      }
      out += ']';
      break;
    }
    case nlohmann::ordered_json::value_t::number_float:
      out += float_repr(v.get<double>());
      break;
    case nlohmann::ordered_json::value_t::string: {
      out += '"';
      for (unsigned char c : v.get_ref<const std::string&>()) {
        switch (c) {
          case '"': out += "\\\""; break;
          case '\\': out += "\\\\"; break;
          case '\n': out += "\\n"; break;
          case '\r': out += "\\r"; break;
          case '\t': out += "\\t"; break;
          case '\b': out += "\\b"; break;
          case '\f': out += "\\f"; break;
          default:
            if (c < 0x20) {
              char buf[8];
              std::snprintf(buf, sizeof buf, "\\u%04x", c);
              out += buf;
            } else {
              out += static_cast<char>(c);
            }
        }
      }
      out += '"';
      break;
    }
    default:
      out += v.dump();  // null, booleans, integers
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::ordered_json& value) {
  std::string out;
  dump(value, out);
  return out;
}

}  // namespace t2
