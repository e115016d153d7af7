// t2_memory_probe: runs ONE work item of a kind on a model folder and its SVD factors and prints the
// peak resident set of doing it, for memory_measure.py (which compares it with `t2 plan --device cpu`).
// One process per item, so that items do not pollute each other's peak.
//
//   t2_memory_probe MODEL_DIR SVD_DIR ITEM DTYPE BATCH PROMPT_TOKENS NEW_TOKENS KL RECOMPUTE
//     ITEM evaluate | grad | cem, DTYPE float32 | bfloat16, KL 0 | 1 (grad: also the reference),
//     RECOMPUTE layer | none (grad: the campaign key `recompute`)
//
// The item paths are the work executor's (workers/work-executor.cpp): evaluate = adapt_expert(z) +
// TransformerPolicy::generate_full, cem = per-row adapt_multipliers + generate_full, grad =
// reinforce_shard_gradient. The peak is VmHWM after the model and factors are loaded, with the
// high-water mark reset (/proc/self/clear_refs "5") just before the item, so loading is not counted:
// the plan's "resident" terms are what stays after loading.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "experts/reinforce-step.h"
#include "experts/transformer-policy.h"
#include "workers/model.h"

namespace {

int64_t status_kb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

std::vector<std::vector<int32_t>> token_rows(int64_t rows, int64_t len, int64_t vocab, int64_t salt) {
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < len; ++t)
      out[static_cast<size_t>(r)].push_back(static_cast<int32_t>((r * 7919 + t * 104729 + salt * 31) % vocab));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10) {
    std::cerr << "usage: t2_memory_probe MODEL_DIR SVD_DIR evaluate|grad|cem float32|bfloat16 BATCH PROMPT_TOKENS "
                 "NEW_TOKENS KL layer|none\n";
    return 2;
  }
  const std::string model_dir = argv[1], svd_dir = argv[2], item = argv[3], dtype = argv[4];
  const int64_t batch = std::stoll(argv[5]), prompt = std::stoll(argv[6]), fresh = std::stoll(argv[7]);
  const bool kl = std::string(argv[8]) == "1";
  const bool recompute = std::string(argv[9]) == "layer";
  if (item != "evaluate" && item != "grad" && item != "cem") {
    std::cerr << "t2_memory_probe: unknown item '" << item << "'\n";
    return 2;
  }
  const int64_t baseline_kb = status_kb("VmRSS");
  t2::LoadOptions lo;
  lo.dtype = dtype;
  auto model = t2::Model::load(model_dir, lo);
  t2::TransformerPolicy policy(*model, svd_dir);
  policy.set_layer_recompute(recompute);
  const int64_t vocab = model->config().vocab_size, total = policy.layout().total();
  // Token ids from the first 4096 of the vocabulary, as text mostly uses a small set of frequent
  // tokens: the embedding table is served in place from the mapped file and only the pages of rows a
  // prompt touches become resident. Ids spread over all 128k rows would, with the page cache's large
  // folios (a fault maps the whole folio), map most of the 1 GB table here (docs/runtime.md).
  const int64_t ids = std::min<int64_t>(vocab, 4096);
  auto prompts = token_rows(batch, prompt, ids, 1);

  const int64_t loaded_kb = status_kb("VmRSS");
  { std::ofstream("/proc/self/clear_refs") << "5"; }  // VmHWM := VmRSS
  double checksum = 0;  // of the gradient (grad items), so that runs with and without recomputation compare
  const auto t0 = std::chrono::steady_clock::now();
  if (item == "evaluate" || item == "cem") {
    if (item == "evaluate") {
      policy.adapt_expert(std::vector<float>(static_cast<size_t>(total), 0.5f));
    } else {
      auto m = torch::rand({batch, total}, torch::kFloat);  // host: adapt_multipliers moves the rows
      policy.adapt_multipliers(m);
    }
    t2::GenerateOptions go;
    go.max_new_tokens = static_cast<int>(fresh);
    go.use_config_eos = false;  // every row runs the full length, as the plan assumes
    auto gens = policy.generate_full(prompts, go);
    if (static_cast<int64_t>(gens.size()) != batch) return 1;
  } else {
    std::vector<t2::TokenSeq> ps, cs;
    for (const auto& p : prompts) ps.emplace_back(p.begin(), p.end());
    for (const auto& c : token_rows(batch, fresh, ids, 2)) cs.emplace_back(c.begin(), c.end());
    std::vector<double> adv(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) adv[static_cast<size_t>(b)] = b % 2 ? 1.0 : -0.5;
    t2::ReinforceConfig rc;
    rc.kl_coeff = kl ? 0.1 : 0.0;
    auto g = t2::reinforce_shard_gradient(policy, std::vector<float>(static_cast<size_t>(total), 0.5f), ps, cs, adv,
                                          batch, rc);
    if (static_cast<int64_t>(g.grad.size()) != total) return 1;
    for (size_t i = 0; i < g.grad.size(); ++i) checksum += static_cast<double>(g.grad[i]) * static_cast<double>(i % 7 + 1);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t peak_kb = status_kb("VmHWM");
  // After the item: how much of the resident set is mapped files (a checkpoint served in place) and
  // how much anonymous memory (copies, activations), for reading the peak.
  const int64_t file_kb = status_kb("RssFile"), anon_kb = status_kb("RssAnon");
  std::printf("{\"item\": \"%s\", \"dtype\": \"%s\", \"peak_bytes\": %lld, \"loaded_bytes\": %lld, "
              "\"baseline_bytes\": %lld, \"seconds\": %.1f, \"checksum\": %.9g, \"rss_file_bytes_after\": %lld, "
              "\"rss_anon_bytes_after\": %lld}\n",
              item.c_str(), dtype.c_str(), static_cast<long long>(peak_kb) * 1024,
              static_cast<long long>(loaded_kb) * 1024, static_cast<long long>(baseline_kb) * 1024, secs, checksum, static_cast<long long>(file_kb) * 1024,
              static_cast<long long>(anon_kb) * 1024);
  return 0;
}
