// A writer that the crash test kills with SIGKILL at random instants: it resumes from what the
// readers say is on disk and continues evaluation batches, training checkpoints (with the curve
// carried inside them) and CEM generations until all are done. With PROGRESS_FD it writes one byte
// there after each unit is durable, so that the test can pace its kills on the writer's progress
// instead of the clock (a fast machine must not finish the work between two kills).
//   results-crash-writer RUN_DIR N_BATCHES N_STEPS N_GENERATIONS [PROGRESS_FD]
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crash-writer-content.h"
#include "core/error.h"
#include "results/run-store.h"

using namespace t2;
using namespace t2::results;

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s RUN_DIR N_BATCHES N_STEPS N_GENERATIONS [PROGRESS_FD]\n", argv[0]);
    return 2;
  }
  const int progress_fd = argc == 6 ? std::atoi(argv[5]) : -1;
  ::signal(SIGPIPE, SIG_IGN);
  // One byte per durable unit; a closed reader (the test gave up) must not stop the writer.
  auto report_unit = [progress_fd] {
    if (progress_fd < 0) return;
    const char c = 'u';
    while (::write(progress_fd, &c, 1) < 0 && errno == EINTR) {
    }
  };
  try {
    const std::string dir = argv[1];
    const int64_t n_batches = std::atoll(argv[2]), n_steps = std::atoll(argv[3]), n_gens = std::atoll(argv[4]);
    RunMeta meta;
    meta.name = "crash";
    meta.models = {{"tiny", "Tiny"}};
    meta.tasks = {{"gsm8k", "GSM8K"}};
    auto store = RunStore::open_for_write(dir, meta);
    store.keep_checkpoints = 2;
    store.begin_job({crash::eval_job, "evaluate", {{"model", "tiny"}, {"task", "gsm8k"}, {"method", "svf"}, {"seed", "42"}}});
    store.begin_job({crash::train_job, "train-expert", {{"model", "tiny"}, {"task", "gsm8k"}}});
    store.begin_job({crash::cem_job, "few-shot-search", {{"model", "tiny"}}});
    auto r = store.reader();
    int64_t b = r.next_eval_batch(crash::eval_job);
    CheckpointState state;
    if (auto c = r.latest_checkpoint(crash::train_job)) state = std::move(*c);
    auto last_gen = r.latest_cem_generation(crash::cem_job);
    int64_t g = last_gen ? last_gen->generation + 1 : 0;
    while (b < n_batches || state.step < n_steps || g < n_gens) {
      if (b < n_batches) {
        store.write_eval_batch(crash::eval_job, crash::batch(b++));
        report_unit();
      }
      if (state.step < n_steps) {
        state.step += 1;
        state.curve.points.push_back(crash::curve_point(state.step));
        auto& z = state.floats["z"];
        z.resize(crash::z_size);
        for (int i = 0; i < crash::z_size; ++i) z[i] = crash::z_value(state.step, i);
        state.ints["cursor"] = {state.step * 8};
        state.bytes["rng"] = {uint8_t(state.step), uint8_t(state.step >> 8)};
        store.write_checkpoint(crash::train_job, state);
        report_unit();
      }
      if (g < n_gens) {
        store.write_cem_generation(crash::cem_job, crash::generation(g++));
        report_unit();
      }
    }
    if (!r.is_done(crash::eval_job)) {
      store.write_metrics(crash::eval_job, Metrics::from_records(r.read_examples(crash::eval_job)));
      store.mark_done(crash::eval_job);
    }
    if (!r.is_done(crash::train_job)) store.mark_done(crash::train_job);
    if (!r.is_done(crash::cem_job)) store.mark_done(crash::cem_job);
    store.finish_run();
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "crash-writer: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
