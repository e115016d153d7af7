#include "cluster/placement.h"

#include <algorithm>
#include <cstdlib>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.h"

namespace t2 {

std::string Placement::describe(int rank) const {
  T2_CHECK(rank >= 0 && rank < static_cast<int>(ranks.size()), "placement: rank {} of {}", rank, ranks.size());
  const RankPlace& r = ranks[static_cast<size_t>(rank)];
  std::string what = r.role;
  if (r.group >= 0) what += fmt::format(" of group {} (tp_rank {})", r.group, r.tp_rank);
  return fmt::format("rank {}: host {} (node {}, local {}), {}, device {}", r.rank, r.host, r.node, r.local_rank, what,
                     r.device);
}

std::string Placement::summary() const {
  std::string groups_text = fmt::format("{} group(s) x tp {}", groups.size(), tp);
  if (tps.size() > 1) {
    groups_text.clear();
    for (int t : tps)
      groups_text += fmt::format("{}{} group(s) x tp {}", groups_text.empty() ? "" : " + ", groups_of_tp(t).size(), t);
  }
  std::string s = fmt::format("{} rank(s) on {} node(s): rank 0 {}; {} on {} ({}){}", ranks.size(), nodes.size(),
                              coordinator_works ? "coordinates and works" : "only coordinates", groups_text,
                              device_kind, device_reason,
                              groups_span_nodes ? "; groups span nodes (tp exceeds one node)" : "");
  if (!idle.empty()) s += fmt::format("; {} idle", idle.size());
  return s;
}

std::string Placement::describe_group(int g) const {
  T2_CHECK(g >= 0 && g < static_cast<int>(groups.size()), "placement: group {} of {}", g, groups.size());
  const auto& rs = groups[static_cast<size_t>(g)];
  std::vector<std::string> hosts;
  for (int r : rs) {
    const std::string& h = ranks[static_cast<size_t>(r)].host;
    if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
  }
  bool consecutive = true;
  for (size_t i = 1; i < rs.size(); ++i) consecutive = consecutive && rs[i] == rs[i - 1] + 1;
  std::string ranks_text;
  if (rs.size() == 1)
    ranks_text = std::to_string(rs[0]);
  else if (consecutive)
    ranks_text = fmt::format("{}-{}", rs.front(), rs.back());
  else
    ranks_text = fmt::format("{}", fmt::join(rs, ","));
  return fmt::format("group {}: tp {}, node{} {}, rank{} {}, devices {}", g, group_tp[static_cast<size_t>(g)],
                     hosts.size() > 1 ? "s" : "", fmt::join(hosts, "+"), rs.size() > 1 ? "s" : "", ranks_text,
                     ranks[static_cast<size_t>(rs.front())].device == "cpu" ? "cpu" : "cuda");
}

std::vector<int> Placement::groups_of_tp(int t) const {
  std::vector<int> out;
  for (size_t g = 0; g < group_tp.size(); ++g)
    if (group_tp[g] == t) out.push_back(static_cast<int>(g));
  return out;
}

std::vector<int> distinct_tps(std::vector<int> tps) {
  std::sort(tps.begin(), tps.end(), std::greater<int>());
  tps.erase(std::unique(tps.begin(), tps.end()), tps.end());
  return tps;
}

namespace {

// What one node can hold for the grouping rule: its GPUs under CUDA (each task seeing one GPU counts
// as one), its worker ranks on the CPU.
int node_capacity(const std::vector<int>& workers, const PlacementInput& in, bool cuda) {
  if (!cuda) return static_cast<int>(workers.size());
  int most = 0;
  bool one_each = true;
  for (int r : workers) {
    most = std::max(most, in.gpus[static_cast<size_t>(r)]);
    one_each = one_each && in.gpus[static_cast<size_t>(r)] == 1;
  }
  return one_each ? static_cast<int>(workers.size()) : most;
}

}  // namespace

Placement place_ranks(const PlacementInput& in) {
  const int n = static_cast<int>(in.hosts.size());
  const std::vector<int> tps = distinct_tps(in.tps.empty() ? std::vector<int>{in.tp} : in.tps);
  const int tp = tps.front();  // the largest
  T2_CHECK_AS(UsageError, n >= 1, "placement: a world needs at least one rank");
  T2_CHECK_AS(UsageError, static_cast<int>(in.gpus.size()) == n, "placement: {} GPU counts for {} ranks",
              in.gpus.size(), n);
  T2_CHECK_AS(UsageError, tps.back() >= 1, "world layout: tensor-parallel degree must be >= 1, got {}", tps.back());
  T2_CHECK_AS(UsageError, in.device == "auto" || in.device == "cpu" || in.device == "cuda",
              "device '{}' is not supported; expected auto, cpu or cuda", in.device);

  Placement p;
  p.tp = tp;
  p.tps = tps;
  p.ranks.resize(static_cast<size_t>(n));
  std::vector<std::vector<int>> on_node;  // ranks of each node
  for (int r = 0; r < n; ++r) {
    RankPlace& rp = p.ranks[static_cast<size_t>(r)];
    rp.rank = r;
    rp.host = in.hosts[static_cast<size_t>(r)];
    auto it = std::find(p.nodes.begin(), p.nodes.end(), rp.host);
    rp.node = static_cast<int>(it - p.nodes.begin());
    if (it == p.nodes.end()) {
      p.nodes.push_back(rp.host);
      on_node.emplace_back();
    }
    rp.local_rank = static_cast<int>(on_node[static_cast<size_t>(rp.node)].size());
    on_node[static_cast<size_t>(rp.node)].push_back(r);
    rp.device = "cpu";
    rp.role = "idle";
  }

  p.coordinator_works = tps.size() == 1 && n - 1 < tp;
  if (p.coordinator_works)
    T2_CHECK_AS(UsageError, n % tp == 0,
                "world layout: {} rank(s) cannot hold a coordinator plus a worker group of tp {} (need {} ranks), "
                "nor groups of {} that include the coordinator (need a multiple of {})",
                n, tp, tp + 1, tp, tp);
  const int first_worker = p.coordinator_works ? 0 : 1;
  std::vector<std::vector<int>> workers(on_node.size());  // worker candidates per node, rank order
  for (int r = first_worker; r < n; ++r) workers[static_cast<size_t>(p.ranks[static_cast<size_t>(r)].node)].push_back(r);

  // the device kind, decided once for the whole world
  bool all_see_gpus = true;
  std::string blind;
  for (int r = first_worker; r < n; ++r)
    if (in.gpus[static_cast<size_t>(r)] <= 0 && all_see_gpus) {
      all_see_gpus = false;
      blind = fmt::format("rank {} on host {}", r, in.hosts[static_cast<size_t>(r)]);
    }
  if (in.device == "cpu") {
    p.device_kind = "cpu";
    p.device_reason = "device: cpu";
  } else if (in.device == "cuda") {
    T2_CHECK_AS(UsageError, in.cuda_built,
                "device: cuda was asked for, but this t2 was built against a LibTorch without CUDA; use device: cpu "
                "(or auto), or build t2 for GPUs with scripts/gpu-build");
    T2_CHECK_AS(UsageError, all_see_gpus,
                "device: cuda was asked for, but {} sees no GPU (CUDA_VISIBLE_DEVICES='{}'); use device: cpu (or "
                "auto), or run on GPU nodes",
                blind, [] {
                  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
                  return std::string(v ? v : "<unset>");
                }());
    p.device_kind = "cuda";
    p.device_reason = "device: cuda";
  } else if (in.cuda_built && all_see_gpus) {
    p.device_kind = "cuda";
    p.device_reason = "device: auto, every worker sees a GPU";
  } else {
    p.device_kind = "cpu";
    p.device_reason = in.cuda_built ? "device: auto, " + blind + " sees no GPU" : "device: auto, t2 built without CUDA";
  }
  const bool cuda = p.device_kind == "cuda";

  // groups, in rounds of one group per degree (largest first): inside the first node with room
  // unless tp exceeds what one node holds, then the next free workers in node order
  int per_node = 0;
  for (const auto& w : workers) per_node = std::max(per_node, node_capacity(w, in, cuda));
  std::vector<size_t> taken(workers.size(), 0);  // workers of each node already in a group (a prefix)
  auto place_one = [&](int t) -> bool {
    std::vector<int> members;
    if (t <= per_node) {
      for (size_t node = 0; node < workers.size(); ++node)
        if (workers[node].size() - taken[node] >= static_cast<size_t>(t)) {
          members.assign(workers[node].begin() + static_cast<std::ptrdiff_t>(taken[node]),
                         workers[node].begin() + static_cast<std::ptrdiff_t>(taken[node]) + t);
          taken[node] += static_cast<size_t>(t);
          break;
        }
    } else {
      size_t free_total = 0;
      for (size_t node = 0; node < workers.size(); ++node) free_total += workers[node].size() - taken[node];
      if (free_total >= static_cast<size_t>(t)) {
        for (size_t node = 0; node < workers.size() && static_cast<int>(members.size()) < t; ++node)
          while (taken[node] < workers[node].size() && static_cast<int>(members.size()) < t)
            members.push_back(workers[node][taken[node]++]);
        p.groups_span_nodes = true;
      }
    }
    if (members.empty()) return false;
    p.groups.push_back(std::move(members));
    p.group_tp.push_back(t);
    return true;
  };
  for (bool first_round = true;; first_round = false) {
    bool placed = false;
    for (int t : tps) {
      const bool ok = place_one(t);
      placed = placed || ok;
      if (!ok && first_round && tps.size() > 1) {
        int need = 1;
        for (int x : tps) need += x;
        T2_FAIL_AS(UsageError,
                   "world layout: no room for a worker group of tp {} beside the groups of the other model sizes "
                   "(tp {}): {} rank(s) on {} node(s), each node holding at most {} worker(s); a campaign with "
                   "these model sizes needs one group of each, at least {} ranks with a group of tp <= one node "
                   "inside one node (t2 submit sizes the allocation so)",
                   t, fmt::join(tps, ", "), n, p.nodes.size(), per_node, need);
      }
    }
    if (!placed) break;
  }
  T2_CHECK_AS(UsageError, !p.groups.empty(),
              "world layout: no worker group of tp {} fits {} rank(s) on {} node(s) (the coordinator, rank 0, "
              "does not work when there are >= {} other ranks)",
              tp, n, p.nodes.size(), tp);
  // numbered by first rank, so that group order follows rank order
  std::vector<size_t> order(p.groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p.groups[a][0] < p.groups[b][0]; });
  {
    std::vector<std::vector<int>> groups;
    std::vector<int> group_tp;
    for (size_t i : order) {
      groups.push_back(std::move(p.groups[i]));
      group_tp.push_back(p.group_tp[i]);
    }
    p.groups = std::move(groups);
    p.group_tp = std::move(group_tp);
  }

  // roles, groups and GPUs
  for (size_t g = 0; g < p.groups.size(); ++g)
    for (size_t i = 0; i < p.groups[g].size(); ++i) {
      RankPlace& rp = p.ranks[static_cast<size_t>(p.groups[g][i])];
      rp.group = static_cast<int>(g);
      rp.tp_rank = static_cast<int>(i);
      rp.role = "worker";
    }
  p.ranks[0].role = p.ranks[0].group >= 0 ? "coordinator+worker" : "coordinator";
  for (size_t node = 0; node < workers.size(); ++node) {
    int index = 0;  // among the node's working ranks
    for (int r : workers[node]) {
      RankPlace& rp = p.ranks[static_cast<size_t>(r)];
      if (rp.group < 0) {
        p.idle.push_back(r);
        continue;
      }
      if (cuda) {
        const int visible = in.gpus[static_cast<size_t>(r)];
        if (visible == 1) {
          rp.device = "cuda:0";  // the launcher gave this task its own GPU
        } else {
          T2_CHECK_AS(UsageError, index < visible,
                      "host {} has more worker ranks than GPUs: rank {} would be worker {} but only {} GPU(s) are "
                      "visible; start at most {} worker rank(s) per node (plus the coordinator on its node)",
                      p.nodes[node], r, index, visible, visible);
          rp.device = fmt::format("cuda:{}", index);
        }
      }
      ++index;
    }
  }
  std::sort(p.idle.begin(), p.idle.end());
  return p;
}

std::vector<std::string> parse_test_hosts(const std::string& spec, int world_size) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= spec.size()) {
    size_t end = spec.find(',', at);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(at, end - at);
    int count = 1;
    if (auto star = item.find('*'); star != std::string::npos) {
      const std::string c = item.substr(star + 1);
      char* stop = nullptr;
      const long v = std::strtol(c.c_str(), &stop, 10);
      T2_CHECK_AS(UsageError, !c.empty() && stop && *stop == '\0' && v >= 1 && v <= 1 << 20,
                  "T2_TEST_HOSTS='{}': '{}' is not HOST*COUNT with a positive count", spec, item);
      count = static_cast<int>(v);
      item = item.substr(0, star);
    }
    T2_CHECK_AS(UsageError, !item.empty(), "T2_TEST_HOSTS='{}': empty host name; expected e.g. a*9,b*8", spec);
    for (int i = 0; i < count; ++i) out.push_back(item);
    at = end + 1;
  }
  T2_CHECK_AS(UsageError, static_cast<int>(out.size()) == world_size,
              "T2_TEST_HOSTS='{}' names {} rank(s) but the world has {}", spec, out.size(), world_size);
  return out;
}

}  // namespace t2
