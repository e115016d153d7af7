#include "workers/runtime-group.h"

#include <cstdlib>

#include "cluster/communicator-mpi.h"
#include "cluster/communicator-nccl.h"
#include "cluster/mpi-runtime.h"
#include "cluster/world-layout.h"
#include "core/check.h"
#include "workers/device-info.h"

namespace t2 {

RuntimeGroup load_runtime_group(const std::string& model_dir, const std::string& dtype, const std::string& device,
                                int tp) {
  T2_CHECK_AS(UsageError, tp >= 1, "--tp must be >= 1, got {}", tp);
  RuntimeGroup g;
  LoadOptions lo;
  lo.dtype = dtype;
  lo.device = resolve_device(device);
  if (tp > 1) {
    T2_CHECK_AS(UsageError, std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK"),
                "--tp {} needs {} processes: run it as `mpirun -np {} t2 ...`", tp, tp, tp);
    MpiCommunicatorOptions mo;
    mo.name = "tp";
    g.control = make_mpi_communicator(mo);
    T2_CHECK_AS(UsageError, g.control->size() == tp, "--tp {} but mpirun started {} processes", tp,
                g.control->size());
    // each rank its own GPU: cuda / auto resolve to cuda:<rank among the ranks of this host>
    lo.device = resolve_device(device, host_local_rank(*g.control));
    const bool on_cuda = lo.device.rfind("cuda", 0) == 0;
    T2_CHECK_AS(NotAvailable, !on_cuda || nccl_available(),
                "--tp {} on {} needs NCCL, and this t2 was built without it (scripts/gpu-build), or use --device cpu",
                tp, lo.device);
    if (on_cuda) {
      // tensors over NCCL, bootstrapped over the MPI group
      g.comm = make_nccl_communicator(*g.control, std::stoi(lo.device.substr(lo.device.find(':') + 1)));
    }
    lo.tp_comm = g.comm ? g.comm.get() : g.control.get();
    g.prints = g.control->rank() == 0;
  }
  g.runtime = Runtime::load(model_dir, lo);
  return g;
}

std::vector<int32_t> parse_id_list(const std::string& s, const std::string& what) {
  std::vector<int32_t> out;
  size_t at = 0;
  while (at <= s.size()) {
    size_t end = s.find(',', at);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(at, end - at);
    char* stop = nullptr;
    long v = std::strtol(item.c_str(), &stop, 10);
    T2_CHECK_AS(UsageError, !item.empty() && stop && *stop == '\0' && v >= 0 && v <= INT32_MAX,
                "{}: '{}' is not a token id (item {} of '{}'); expected comma-separated non-negative integers", what,
                item, out.size() + 1, s);
    out.push_back(static_cast<int32_t>(v));
    at = end + 1;
  }
  return out;
}

}  // namespace t2
