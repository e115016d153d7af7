#include "jobs/config-split.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>

#include "core/names.h"
#include "jobs/dataset-shuffle.h"

namespace t2 {

std::string SplitRule::text() const {
  std::string s = source;
  for (const auto& st : stages) {
    s += "|" + st.op;
    if (st.op == "mod") {
      s += ":" + std::to_string(st.args[0]) + ":";
      for (size_t i = 1; i < st.args.size(); ++i) s += (i > 1 ? "," : "") + std::to_string(st.args[i]);
    } else {
      for (auto a : st.args) s += ":" + std::to_string(a);
    }
  }
  return s;
}

namespace {

std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

bool parse_count(const std::string& s, int64_t& v) {
  static const std::regex re("[0-9]{1,12}");
  if (s.size() > 12 || !std::regex_match(s, re)) return false;  // bounded: std::regex recurses per character
  v = std::strtoll(s.c_str(), nullptr, 10);
  return true;
}

}  // namespace

bool parse_split_rule(const std::string& text, SplitRule& out, std::string& error) {
  static const std::map<std::string, std::string> forms = {
      {"all", "all"},         {"even", "even"},         {"odd", "odd"},       {"first", "first:N"},
      {"last", "last:N"},     {"range", "range:A:B"},   {"mod", "mod:K:R[,R...]"}, {"shuffle", "shuffle:SEED"}};
  std::vector<std::string> names;
  for (const auto& f : forms) names.push_back(f.second);
  out = {};
  std::vector<std::string> parts = split_on(text, '|');
  out.source = parts[0];
  if (out.source.empty()) {
    error = "split rule '" + text + "' does not start with a data key; expected e.g. 'train|even'";
    return false;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    std::vector<std::string> f = split_on(parts[i], ':');
    SplitStage st;
    st.op = f[0];
    auto bad = [&](const std::string& why) {
      auto it = forms.find(st.op);
      error = "stage '" + parts[i] + "' " + why + "; expected " +
              (it != forms.end() ? it->second : "one of " + join(names));
      return false;
    };
    auto it = forms.find(st.op);
    if (it == forms.end()) {
      std::vector<std::string> ops;
      for (const auto& fm : forms) ops.push_back(fm.first);
      std::string close = closest_name(st.op, ops);
      error = "unknown stage '" + parts[i] + "'; " + (close.empty() ? "" : "did you mean '" + forms.at(close) + "'? ") +
              "valid: " + join(names);
      return false;
    }
    size_t want = st.op == "first" || st.op == "last" || st.op == "shuffle" ? 1
                  : st.op == "range" || st.op == "mod"                    ? 2
                                                                          : 0;
    if (f.size() - 1 != want) return bad("has " + std::to_string(f.size() - 1) + " arguments");
    if (st.op == "mod") {
      int64_t k = 0;
      if (!parse_count(f[1], k) || k < 1) return bad("has a bad modulus");
      st.args.push_back(k);
      for (const auto& r : split_on(f[2], ',')) {
        int64_t v = 0;
        if (!parse_count(r, v) || v >= k) return bad("has remainder '" + r + "' outside 0.." + std::to_string(k - 1));
        st.args.push_back(v);
      }
    } else {
      for (size_t a = 1; a < f.size(); ++a) {
        int64_t v = 0;
        if (!parse_count(f[a], v)) return bad("has a non-numeric argument '" + f[a] + "'");
        st.args.push_back(v);
      }
      if (st.op == "range" && st.args[0] > st.args[1]) return bad("has A > B");
    }
    out.stages.push_back(st);
  }
  return true;
}


std::vector<int64_t> python_shuffle(std::vector<int64_t> items, uint64_t seed) {
  // The task suite's CPython-exact generator (jobs/dataset-shuffle.h): one implementation for both.
  tasks::PythonRandom rng(seed);
  rng.shuffle(items);
  return items;
}

std::vector<int64_t> apply_split(const SplitRule& rule, int64_t n) {
  std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  for (const auto& st : rule.stages) {
    std::vector<int64_t> next;
    const int64_t m = static_cast<int64_t>(idx.size());
    if (st.op == "all") {
      next = idx;
    } else if (st.op == "even" || st.op == "odd") {
      for (int64_t i = st.op == "even" ? 0 : 1; i < m; i += 2) next.push_back(idx[i]);
    } else if (st.op == "first") {
      next.assign(idx.begin(), idx.begin() + std::min(m, st.args[0]));
    } else if (st.op == "last") {
      next.assign(idx.end() - std::min(m, st.args[0]), idx.end());
    } else if (st.op == "range") {
      for (int64_t i = st.args[0]; i < std::min(m, st.args[1]); ++i) next.push_back(idx[i]);
    } else if (st.op == "mod") {
      for (int64_t i = 0; i < m; ++i)
        if (std::find(st.args.begin() + 1, st.args.end(), i % st.args[0]) != st.args.end()) next.push_back(idx[i]);
    } else if (st.op == "shuffle") {
      next = python_shuffle(idx, static_cast<uint64_t>(st.args[0]));
    }
    idx = std::move(next);
  }
  return idx;
}

}  // namespace t2
