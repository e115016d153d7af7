#include "cluster/slurm-script.h"

#include <regex>

#include <fmt/format.h>

#include "core/check.h"
#include "core/names.h"

namespace t2 {

namespace {

// Values that go into a #SBATCH line: printable, no whitespace, no quotes or shell metacharacters.
bool safe_value(const std::string& v) {
  static const std::regex ok(R"([A-Za-z0-9_.,:@%+=/\-\[\]]+)");
  return std::regex_match(v, ok);
}

void check_value(const std::string& field, const std::string& v, bool optional) {
  if (v.empty() && optional) return;
  T2_CHECK_AS(UsageError, !v.empty() && safe_value(v),
              "slurm.{}: '{}' must be a non-empty word of letters, digits and _.,:@%+=/-[] (no spaces or quotes)",
              field, v);
}

}  // namespace

std::string shell_quote(const std::string& s) {
  static const std::regex plain(R"([A-Za-z0-9_./:=@%+,\-]+)");
  if (std::regex_match(s, plain)) return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

long slurm_time_seconds(const std::string& t, const std::string& field) {
  static const std::regex re(R"(^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$)");
  std::smatch m;
  T2_CHECK_AS(UsageError, std::regex_match(t, m, re),
              "slurm.{}: '{}' is not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)", field, t);
  auto num = [&](int i) { return m[i].matched ? std::stol(m[i].str()) : 0L; };
  if (m[1].matched) {  // D-HH[:MM[:SS]]
    return num(1) * 86400 + num(2) * 3600 + num(3) * 60 + num(4);
  }
  if (m[4].matched) return num(2) * 3600 + num(3) * 60 + num(4);  // HH:MM:SS
  if (m[3].matched) return num(2) * 60 + num(3);                   // MM:SS
  return num(2) * 60;                                              // minutes
}

void validate(const SbatchSpec& s) {
  check_value("job_name", s.job_name, false);
  check_value("partition", s.partition, true);
  check_value("account", s.account, true);
  check_value("qos", s.qos, true);
  T2_CHECK_AS(UsageError, slurm_time_seconds(s.time) > 0, "slurm.time: '{}' is zero", s.time);
  T2_CHECK_AS(UsageError, s.nodes >= 1, "slurm.nodes: must be >= 1, got {}", s.nodes);
  T2_CHECK_AS(UsageError, s.ntasks >= s.nodes, "slurm.ntasks: {} task(s) cannot cover {} node(s)", s.ntasks, s.nodes);
  T2_CHECK_AS(UsageError, s.ntasks_per_node >= 0 && s.gpus_per_node >= 0 && s.cpus_per_task >= 0,
              "slurm: ntasks_per_node, gpus_per_node and cpus_per_task must be >= 0");
  if (s.ntasks_per_node > 0)
    T2_CHECK_AS(UsageError, s.ntasks_per_node * s.nodes >= s.ntasks,
                "slurm.ntasks_per_node: {} x {} node(s) < ntasks {}", s.ntasks_per_node, s.nodes, s.ntasks);
  if (!s.mem.empty())
    T2_CHECK_AS(UsageError, std::regex_match(s.mem, std::regex(R"(\d+[KMGT]?)")),
                "slurm.mem: '{}' is not a Slurm memory size (e.g. 64G, 512M, 0)", s.mem);
  if (!s.array.empty())
    T2_CHECK_AS(UsageError, std::regex_match(s.array, std::regex(R"(\d+(-\d+(:\d+)?)?(,\d+(-\d+(:\d+)?)?)*(%\d+)?)")),
                "slurm.array: '{}' is not an array spec (0-7, 0-99%10, 1,3,5)", s.array);
  if (!s.signal.empty())
    T2_CHECK_AS(UsageError, std::regex_match(s.signal, std::regex(R"((R?B?:)?(SIG)?[A-Z0-9]+(@\d+)?)")),
                "slurm.signal: '{}' is not a --signal spec (USR1@120, B:TERM@60)", s.signal);
  const std::vector<std::string> modes{"append", "truncate"};
  T2_CHECK_AS(UsageError, s.open_mode == "append" || s.open_mode == "truncate", "slurm.open_mode: '{}' ({})",
              s.open_mode, suggest(s.open_mode, modes));
  check_value("output", s.output, false);
  check_value("distribution", s.distribution, true);
  check_value("error", s.error, true);
  check_value("chdir", s.chdir, true);
  for (const auto& o : s.extra_options)
    T2_CHECK_AS(UsageError, o.rfind("--", 0) == 0 && o.size() > 2 && safe_value(o),
                "slurm.extra_options: '{}' must look like --name or --name=value, without spaces", o);
  for (const auto& [k, v] : s.env) {
    T2_CHECK_AS(UsageError, std::regex_match(k, std::regex(R"([A-Za-z_][A-Za-z0-9_]*)")),
                "slurm.env: '{}' is not a variable name", k);
    T2_CHECK_AS(UsageError, v.find('\n') == std::string::npos, "slurm.env.{}: value has a newline", k);
  }
  for (const auto& l : s.setup_lines)
    T2_CHECK_AS(UsageError, l.find('\n') == std::string::npos, "slurm.setup: one line per entry, got '{}'", l);
  const std::vector<std::string> launchers{"srun", "mpirun"};
  T2_CHECK_AS(UsageError, s.launcher == "srun" || s.launcher == "mpirun", "slurm.launcher: '{}' ({})", s.launcher,
              suggest(s.launcher, launchers));
  T2_CHECK_AS(UsageError, !s.command.empty(), "slurm: no command to launch");
  T2_CHECK_AS(UsageError, s.command_suffix.find('\n') == std::string::npos, "slurm: command suffix has a newline");
  T2_CHECK_AS(UsageError, s.comment.find('\n') == std::string::npos, "slurm: comment has a newline");
}

std::vector<std::string> sbatch_options(const SbatchSpec& s) {
  validate(s);
  std::vector<std::string> o;
  o.push_back("--job-name=" + s.job_name);
  if (!s.partition.empty()) o.push_back("--partition=" + s.partition);
  if (!s.account.empty()) o.push_back("--account=" + s.account);
  if (!s.qos.empty()) o.push_back("--qos=" + s.qos);
  o.push_back("--time=" + s.time);
  o.push_back(fmt::format("--nodes={}", s.nodes));
  o.push_back(fmt::format("--ntasks={}", s.ntasks));
  if (s.ntasks_per_node > 0) o.push_back(fmt::format("--ntasks-per-node={}", s.ntasks_per_node));
  if (s.gpus_per_node > 0) o.push_back(fmt::format("--gpus-per-node={}", s.gpus_per_node));
  if (s.cpus_per_task > 0) o.push_back(fmt::format("--cpus-per-task={}", s.cpus_per_task));
  if (!s.distribution.empty()) o.push_back("--distribution=" + s.distribution);
  if (!s.mem.empty()) o.push_back("--mem=" + s.mem);
  if (!s.array.empty()) o.push_back("--array=" + s.array);
  if (!s.signal.empty()) o.push_back("--signal=" + s.signal);
  if (s.requeue) o.push_back("--requeue");
  o.push_back("--open-mode=" + s.open_mode);
  o.push_back("--output=" + s.output);
  if (!s.error.empty()) o.push_back("--error=" + s.error);
  if (!s.chdir.empty()) o.push_back("--chdir=" + s.chdir);
  if (s.overcommit) o.push_back("--overcommit");
  for (const auto& x : s.extra_options) o.push_back(x);
  return o;
}

std::string launch_line(const SbatchSpec& s) {
  validate(s);
  std::string line = s.launcher == "srun" ? "srun --mpi=pmix" : "mpirun -np \"$SLURM_NTASKS\"";
  if (s.launcher == "srun" && s.overcommit) line += " --overcommit";
  if (s.launcher == "srun" && !s.distribution.empty()) line += " --distribution=" + s.distribution;
  for (const auto& a : s.command) line += " " + shell_quote(a);
  if (!s.command_suffix.empty()) line += " " + s.command_suffix;
  return line;
}

std::string render_sbatch(const SbatchSpec& s) {
  std::string out = "#!/bin/bash\n";
  if (!s.comment.empty()) out += "# " + s.comment + "\n";
  for (const auto& o : sbatch_options(s)) out += "#SBATCH " + o + "\n";
  out += "set -eo pipefail\n";
  for (const auto& [k, v] : s.env) out += "export " + k + "=" + shell_quote(v) + "\n";
  for (const auto& l : s.setup_lines) out += l + "\n";
  // every start (first, requeued, preempted) logs one line: the log is appended to
  out += "echo \"t2: job ${SLURM_JOB_ID} array task ${SLURM_ARRAY_TASK_ID:-none} start ${SLURM_RESTART_COUNT:-0} "
         "on $(hostname) at $(date -u +%FT%TZ)\"\n";
  out += launch_line(s) + "\n";
  return out;
}

}  // namespace t2
