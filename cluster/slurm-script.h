// Slurm batch scripts: an SbatchSpec (one sbatch script: resources, options, launch line) rendered
// to text. (The campaign's `slurm:` section, jobs/campaign.h, is mapped onto it by t2 submit.)
// Every #SBATCH value is validated (no whitespace or newlines that could smuggle in shell or
// directives); errors name the field. The launch line is `srun --mpi=pmix <t2> run ...` (PMIx is the
// MPI plugin that works with Debian's Open MPI) or `mpirun` inside the allocation.
//
// Preemption flow the rendered script is built for: --signal=USR1@120 makes Slurm send SIGUSR1 to
// every task 120 s before the time limit; t2's coordinator checkpoints and runs `scontrol requeue`
// (bounded by SLURM_RESTART_COUNT, cluster/slurm-client.h); --requeue allows that and requeues on
// node failure; --open-mode=append keeps the log of every start in one file.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace t2 {

struct SbatchSpec {
  std::string job_name = "t2";
  std::string partition;        // "" = the cluster's default
  std::string account;
  std::string qos;
  std::string time = "01:00:00";  // minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
  int nodes = 1;
  int ntasks = 1;               // total tasks (MPI ranks)
  int ntasks_per_node = 0;      // 0 = not set
  int gpus_per_node = 0;        // 0 = no GPU request
  int cpus_per_task = 0;        // 0 = not set
  std::string distribution;     // e.g. "plane=8" (also passed to srun); "" = Slurm's default (block)
  std::string mem;              // "64G", "0" (all), "" = not set
  std::string array;            // "0-7", "0-99%10", "1,3,5" ; "" = not an array
  std::string signal = "USR1@120";
  bool requeue = true;
  std::string open_mode = "append";  // "append" or "truncate"
  std::string output = "%x-%A_%a.out";
  std::string error;            // "" = with the output
  std::string chdir;            // "" = the submission directory
  bool overcommit = false;      // more tasks than CPUs (small test clusters)
  std::vector<std::string> extra_options;       // further sbatch options, each "--name[=value]"
  std::map<std::string, std::string> env;      // exported before the launch
  std::vector<std::string> setup_lines;        // shell lines before the launch (module load ...)
  std::string launcher = "srun";               // "srun" or "mpirun"
  std::vector<std::string> command;            // program and arguments, each shell-quoted
  std::string command_suffix;                  // appended unquoted, e.g. "--index \"$SLURM_ARRAY_TASK_ID\""
  std::string comment;                          // a comment line at the top (what the script runs)
};

// Throws UsageError naming the field and the expectation.
void validate(const SbatchSpec& s);

// The #SBATCH options, in order, without the prefix ("--job-name=t2", "--nodes=1", ...).
std::vector<std::string> sbatch_options(const SbatchSpec& s);

// `srun --mpi=pmix 't2' 'run' ...` or `mpirun -np "$SLURM_NTASKS" ...`.
std::string launch_line(const SbatchSpec& s);

// The whole script.
std::string render_sbatch(const SbatchSpec& s);

// POSIX single-quote quoting ('' for the empty string; plain words stay bare).
std::string shell_quote(const std::string& s);

// Slurm time string -> seconds ("1-02:03:04" -> 93784); throws UsageError naming `field`.
long slurm_time_seconds(const std::string& t, const std::string& field = "time");

}  // namespace t2
