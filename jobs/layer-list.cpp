#include "jobs/layer-list.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace t2 {

namespace {

int64_t layer_number(const std::string& spec, const std::string& s) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    throw UsageError("layers '" + spec + "': '" + s + "' is not a layer number (expected all, or a list like 0-15,20)");
  return std::stoll(s);
}

}  // namespace

std::vector<int64_t> parse_layer_list(const std::string& spec) {
  if (spec == "all") return {};
  std::vector<int64_t> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    std::string part = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      out.push_back(layer_number(spec, part));
    } else {
      const int64_t a = layer_number(spec, part.substr(0, dash)), b = layer_number(spec, part.substr(dash + 1));
      if (b < a) throw UsageError("layers '" + spec + "': the range " + part + " is empty (expected low-high)");
      for (int64_t l = a; l <= b; ++l) out.push_back(l);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string layer_list_text(const std::vector<int64_t>& layers) {
  if (layers.empty()) return "all";
  std::string out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(layers[i]) + (j > i ? "-" + std::to_string(layers[j]) : "");
    i = j + 1;
  }
  return out;
}

}  // namespace t2
