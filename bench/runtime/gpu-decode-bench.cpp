// Decode throughput against the memory-bandwidth floor (scripts/gpu-check prints it):
//   t2_gpu_decode_bench --model DIR [--device cuda] [--dtype bfloat16] [--batches 1,64] [--prompt-len 16]
//                   [--new-tokens 32]
// For each batch size: greedy generation of new-tokens tokens (no EOS), decode tokens/s measured as
// (total - prefill of one token) time, next to the floor batch x bandwidth / weight bytes: each decode
// step reads every weight once, so no implementation can be faster than that. The bandwidth is
// measured on the device with one large tensor copy (read + write).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "workers/model.h"
#include "workers/runtime.h"

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return dflt;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

// Bytes per second of a device-to-device copy (reads + writes), best of 5.
double copy_bandwidth(const torch::Device& d) {
  const int64_t n = d.is_cuda() ? (int64_t{1} << 28) : (int64_t{1} << 26);  // 1 GiB / 256 MiB of floats
  auto a = torch::ones({n}, torch::TensorOptions().device(d));
  auto b = torch::empty_like(a);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    sync(d);
    const double t0 = now_s();
    b.copy_(a);
    sync(d);
    best = std::min(best, now_s() - t0);
  }
  return 2.0 * static_cast<double>(n) * 4.0 / best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string model = arg(argc, argv, "--model", "");
    if (model.empty()) {
      std::fprintf(stderr, "usage: t2_decode_bench --model DIR [--device cpu|cuda] [--dtype ...] [--batches 1,64]\n");
      return 2;
    }
    t2::LoadOptions lo;
    lo.device = arg(argc, argv, "--device", "cpu");
    lo.dtype = arg(argc, argv, "--dtype", "auto");
    const std::string batches = arg(argc, argv, "--batches", "1,64");
    const int plen = std::stoi(arg(argc, argv, "--prompt-len", "16"));
    const int ntok = std::stoi(arg(argc, argv, "--new-tokens", "32"));
    auto rt = t2::Runtime::load(model, lo);
    const double weight_bytes = static_cast<double>(rt->config().parameter_count()) *
                                static_cast<double>(torch::elementSize(rt->model().dtype()));
    const torch::Device dev(lo.device == "cuda" ? "cuda:0" : lo.device);
    const double bw = copy_bandwidth(dev);
    std::printf("model %s on %s (%s): %.2f GB of weights; measured copy bandwidth %.0f GB/s\n", model.c_str(),
                lo.device.c_str(), lo.dtype.c_str(), weight_bytes / 1e9, bw / 1e9);
    std::printf("%6s | %16s | %16s | %6s\n", "batch", "decode tok/s", "floor tok/s", "share");
    size_t at = 0;
    while (at <= batches.size()) {
      size_t end = batches.find(',', at);
      if (end == std::string::npos) end = batches.size();
      const int B = std::stoi(batches.substr(at, end - at));
      at = end + 1;
      const int vocab = static_cast<int>(rt->config().vocab_size);
      std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(B));
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < plen; ++j) prompts[static_cast<size_t>(b)].push_back((7 + 31 * b + 17 * j) % vocab);
      t2::GenerateOptions o;
      o.use_config_eos = false;
      o.max_new_tokens = 1;
      rt->generate(prompts, o);  // warm up; also the prefill time
      sync(dev);
      double t0 = now_s();
      rt->generate(prompts, o);
      sync(dev);
      const double prefill_s = now_s() - t0;
      o.max_new_tokens = ntok;
      t0 = now_s();
      rt->generate(prompts, o);
      sync(dev);
      const double decode_s = std::max(1e-9, now_s() - t0 - prefill_s);
      const double tok_s = static_cast<double>(B) * (ntok - 1) / decode_s;
      const double floor_s = static_cast<double>(B) * bw / weight_bytes;
      std::printf("%6d | %16.1f | %16.1f | %5.1f%%\n", B, tok_s, floor_s, 100.0 * tok_s / floor_s);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "t2_decode_bench: %s\n", e.what());
    return 1;
  }
}
