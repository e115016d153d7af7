// `t2 run CAMPAIGN.yaml`: the whole campaign on this process, under mpirun or under srun. Every rank
// loads the same campaign; WorldLayout (cluster/world-layout.h) says who coordinates and which ranks
// form the worker groups; rank 0 opens the run directory (the only writer), builds the job drivers
// (coordinator/campaign-jobs.h) and schedules them; the other ranks serve work items until told to
// stop. An existing run directory is resumed: finished jobs are skipped, training continues from its
// last checkpoint, searches from their last generation, evaluations from their missing batches.
//
// SIGUSR1 / SIGTERM (Slurm's warning before the time limit, preemption): rank 0 stops handing out
// work, lets the items in flight finish or be abandoned (everything written so far is complete),
// releases the workers and, under Slurm, requeues its own job (bounded by max_restarts).
#pragma once

#include <string>
#include <vector>

namespace t2 {

struct CampaignRunOptions {
  std::vector<std::string> overrides;
  int status_port = 0;          // 0: none (the campaign's `status_port` when it has one)
  bool progress = true;         // one live display on a terminal, periodic lines otherwise
  double progress_every_s = 30; // seconds between progress lines when stderr is not a terminal
  int max_restarts = 3;         // Slurm self-requeues after a preemption signal
};

// Returns the exit code: 0 when every job finished, 1 when some failed or were skipped, or when the
// run stopped on a signal without being requeued.
int run_campaign(const std::string& campaign_file, const CampaignRunOptions& options);

}  // namespace t2
