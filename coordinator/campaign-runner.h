// `t2 run CAMPAIGN.yaml`: the whole campaign on this process, under mpirun or under srun. Every rank
// loads the same campaign; WorldLayout (cluster/world-layout.h) says who coordinates and which ranks
// form the worker groups; rank 0 opens the run directory (the only writer), builds the job drivers
// (coordinator/campaign-jobs.h) and schedules them; the other ranks serve work items until told to
// stop. An existing run directory is resumed: finished jobs are skipped, training continues from its
// last checkpoint, searches from their last generation, evaluations from their missing batches.
//
// The campaign is frozen in the run directory at its first start and every job's parameters are
// recorded (coordinator/campaign-freeze.h): a rerun whose edits touch jobs with results exits 2
// listing them, unless `rerun_changed`.
//
// SIGUSR1 (Slurm's warning before the time limit, or preemption): rank 0 stops handing out work,
// requeues its own job at once (bounded by max_restarts; before the shutdown, so nothing in it can
// skip the requeue), then releases the workers; everything written so far is complete.
// SIGTERM (scancel, t2 cancel): the same stop, without requeue.
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
  bool rerun_changed = false;   // recompute jobs whose parameters changed (coordinator/campaign-freeze.h)
};

// Returns the exit code: 0 when every job finished, 1 when some failed or were skipped, or when the
// run stopped on a signal without being requeued.
int run_campaign(const std::string& campaign_file, const CampaignRunOptions& options);

}  // namespace t2
