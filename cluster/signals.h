// Preemption signals. Slurm sends SIGUSR1 shortly before the time limit (sbatch --signal=USR1@120,
// or scancel --signal=USR1) and SIGTERM on cancellation and preemption. The handler only sets an
// atomic flag and writes one byte to a non-blocking pipe (both async-signal-safe); the coordinator's
// loop checks the flag between messages or polls wake_fd() beside its other descriptors, then
// checkpoints and requeues itself (cluster/slurm-client.h: requeue_self).
#pragma once

#include <csignal>

namespace t2 {

// Installs the handlers for SIGUSR1 and SIGTERM (idempotent; SA_RESTART so that unrelated system
// calls are not interrupted). Previous handlers are replaced.
void install_preemption_handlers();

// Restores the default dispositions (tests).
void remove_preemption_handlers();

// True once SIGUSR1 or SIGTERM arrived since the last clear.
bool preemption_requested();

// The first signal received (SIGUSR1 or SIGTERM), 0 when none.
int preemption_signal();

void clear_preemption();

// Read end of the self-pipe: readable once a signal arrived. Drained by clear_preemption().
int preemption_wake_fd();

// Blocks until a preemption signal arrives or `timeout_s` passes; true when one arrived.
bool wait_for_preemption(double timeout_s);

}  // namespace t2
