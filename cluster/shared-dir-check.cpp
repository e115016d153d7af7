#include "cluster/shared-dir-check.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "cluster/mpi-runtime.h"
#include "core/error.h"
#include "core/files.h"

namespace t2 {

namespace {

void wait_or_throw(MPI_Request& req, const Deadline& deadline, const char* what) {
  if (!mpi_wait_until(req, deadline))
    throw TimeoutError(fmt::format("shared run directory check: {} did not complete in time (a rank did not arrive)",
                                   what));
}

}  // namespace

void check_shared_directory(const std::string& dir, Seconds timeout) {
  const Deadline deadline = Deadline::after(timeout);
  const int rank = mpi_world_rank(), size = mpi_world_size();
  const std::string path = dir + "/.t2-shared-check";
  char token[64] = {0};
  if (rank == 0) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    char host[128] = {0};
    gethostname(host, sizeof host - 1);
    const std::string t = fmt::format("{}-{}-{}", host, getpid(), now).substr(0, sizeof token - 1);
    std::memcpy(token, t.data(), t.size());
    make_dirs(dir);
    write_file_atomic(path, t);
  }
  MPI_Request req;
  MPI_Ibcast(token, sizeof token, MPI_CHAR, 0, MPI_COMM_WORLD, &req);
  wait_or_throw(req, deadline, "the broadcast of the token");
  std::string seen;
  {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    seen = ss.str();
  }
  const int ok = seen == token ? 1 : 0;
  char host[64] = {0};
  gethostname(host, sizeof host - 1);
  std::vector<int> oks(static_cast<size_t>(size));
  std::vector<char> hosts(static_cast<size_t>(size) * sizeof host);
  MPI_Request r1, r2;
  MPI_Iallgather(&ok, 1, MPI_INT, oks.data(), 1, MPI_INT, MPI_COMM_WORLD, &r1);
  wait_or_throw(r1, deadline, "the gathering of the answers");
  MPI_Iallgather(host, sizeof host, MPI_CHAR, hosts.data(), sizeof host, MPI_CHAR, MPI_COMM_WORLD, &r2);
  wait_or_throw(r2, deadline, "the gathering of the host names");
  std::string blind;
  for (int r = 0; r < size; ++r)
    if (!oks[static_cast<size_t>(r)])
      blind += fmt::format("{}rank {} on {}", blind.empty() ? "" : ", ",
                           r, std::string(hosts.data() + static_cast<size_t>(r) * sizeof host).c_str());
  if (!blind.empty())
    throw UsageError(fmt::format(
        "the run directory {} is not on a file system shared by every rank: {} cannot see the file {} that rank 0 "
        "wrote (expected output: on a shared file system, e.g. NFS or Lustre, mounted at the same path on every node)",
        dir, blind, path));
}

}  // namespace t2
