// The deterministic content the crash writer produces, so the test can check every unit it finds
// against what must be there, whatever instant the writer was killed at.
#pragma once

#include <cmath>
#include <string>

#include "results/run-records.h"

namespace t2::crash {

inline constexpr const char* eval_job = "evaluate/tiny/gsm8k/svf/seed42";
inline constexpr const char* train_job = "train-expert/tiny/gsm8k";
inline constexpr const char* cem_job = "few-shot-search/tiny/arc_challenge";
inline constexpr int batch_size = 16;
inline constexpr int z_size = 4096;

inline results::ExampleRecord record(int64_t k) {
  return {"gsm8k/test/" + std::to_string(k), k, "hash" + std::to_string(k * 2654435761u % 1000003),
          "response to " + std::to_string(k), std::to_string(k % 17), std::to_string(k % 13),
          (k * 7) % 3 == 0 ? 1.0 : 0.0, k % 2 ? "gsm8k" : "base", 100 + k % 50, 20 + k % 30};
}

inline results::EvalBatch batch(int64_t b) {
  results::EvalBatch out{b, b * batch_size, {}};
  for (int i = 0; i < batch_size; ++i) out.records.push_back(record(b * batch_size + i));
  return out;
}

inline results::CurvePoint curve_point(int64_t step) {
  return {step, std::sin(step * 0.1), 0.1 + step * 1e-3, -std::cos(step * 0.1), 1e-3 * step, 1.0 / step,
          step % 5 == 0 ? 0.5 + step * 1e-3 : std::nan("")};
}

inline float z_value(int64_t step, int i) { return static_cast<float>(step) + static_cast<float>(i) * 1e-3f; }

inline results::CemGeneration generation(int64_t g) {
  return {g, {0.1 * g, 0.2}, {0.5 / (g + 1), 0.1}, 0.5 + 0.01 * g, {0.3, 0.7 - 0.01 * g}, {0.4, 0.5, 0.5 + 0.01 * g},
          {{"rng", {uint8_t(g), 1, 2}}}};
}

}  // namespace t2::crash
