// Test helper: the preemption flow of t2 under Slurm. On its first start it installs the preemption
// handlers, says "ready", waits for SIGUSR1/SIGTERM, then requeues its own job with requeue_self
// (at most 1 restart) and waits to be stopped by the requeue. On a restart it says "resumed".
#include <cstdio>
#include <thread>

#include "cluster/signals.h"
#include "cluster/slurm-client.h"
#include "cluster/world-layout.h"

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const auto env = t2::WorldLayout::process_env();
  const int restarts = env.count("SLURM_RESTART_COUNT") ? std::stoi(env.at("SLURM_RESTART_COUNT")) : 0;
  if (restarts > 0) {
    std::printf("resumed restart=%d\n", restarts);
    return 0;
  }
  t2::install_preemption_handlers();
  std::printf("ready restart=%d\n", restarts);
  if (!t2::wait_for_preemption(90)) {
    std::printf("no signal within 90 s\n");
    return 1;
  }
  std::printf("got signal %d\n", t2::preemption_signal());
  t2::SlurmClient client;
  const auto d = t2::requeue_self(client, env, 1);
  std::printf("%s\n", d.why.c_str());
  if (!d.requeued) return 1;
  // the requeue ends this process; the deadline only bounds a requeue that never comes
  std::this_thread::sleep_for(std::chrono::seconds(60));
  std::printf("requeue did not stop the job\n");
  return 1;
}
