// Dispatch rate of the control plane: rank 0 hands out N no-op work items to the other ranks (one
// in flight per worker, the coordinator's scheduling pattern) through MpiChannel, each worker
// answers with a reply; the reference is the same pattern with raw MPI_Send/MPI_Recv of byte
// buffers of the same sizes, measured in the same run. Prints items/s and the ratio.
//
//   mpirun --oversubscribe -np 4 t2_bench_dispatch [items=10000]
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cluster/mpi-channel.h"
#include "cluster/mpi-runtime.h"
#include "core/error.h"

namespace {

using t2::Deadline;
using t2::Seconds;

t2::Message work_item(uint64_t id) {
  t2::Message m;
  m.type = t2::MessageType::request;
  m.request_id = id;
  m.job_id = "bench";
  m.kind = "noop";
  return m;
}

double channel_run(t2::MpiChannel& ch, int items) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  if (ch.rank() == 0) {
    int sent = 0, done = 0;
    for (int w = 1; w < ch.size() && sent < items; ++w) ch.send(work_item(static_cast<uint64_t>(sent++)), w, Deadline::after(Seconds(60)));
    while (done < items) {
      auto r = ch.recv_any(Deadline::after(Seconds(60)));
      if (!r) throw t2::TimeoutError("bench: no reply within 60 s");
      ++done;
      if (sent < items) ch.send(work_item(static_cast<uint64_t>(sent++)), r->source, Deadline::after(Seconds(60)));
    }
    t2::Message stop;
    stop.type = t2::MessageType::shutdown;
    for (int w = 1; w < ch.size(); ++w) ch.send(stop, w, Deadline::after(Seconds(60)));
  } else {
    for (;;) {
      t2::Message m = ch.recv_from(0, Deadline::after(Seconds(60)));
      if (m.type == t2::MessageType::shutdown) break;
      t2::Message rep;
      rep.type = t2::MessageType::reply;
      rep.request_id = m.request_id;
      rep.job_id = m.job_id;
      ch.send(rep, 0, Deadline::after(Seconds(60)));
    }
  }
  return MPI_Wtime() - t0;
}

double raw_run(int items, int req_bytes, int rep_bytes) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<char> req(static_cast<size_t>(req_bytes)), rep(static_cast<size_t>(rep_bytes));
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  if (rank == 0) {
    int sent = 0, done = 0;
    for (int w = 1; w < size && sent < items; ++w, ++sent) MPI_Send(req.data(), req_bytes, MPI_BYTE, w, 1, MPI_COMM_WORLD);
    while (done < items) {
      MPI_Status st;
      MPI_Recv(rep.data(), rep_bytes, MPI_BYTE, MPI_ANY_SOURCE, 2, MPI_COMM_WORLD, &st);
      ++done;
      if (sent < items) {
        MPI_Send(req.data(), req_bytes, MPI_BYTE, st.MPI_SOURCE, 1, MPI_COMM_WORLD);
        ++sent;
      }
    }
    for (int w = 1; w < size; ++w) MPI_Send(req.data(), 0, MPI_BYTE, w, 1, MPI_COMM_WORLD);
  } else {
    for (;;) {
      MPI_Status st;
      MPI_Recv(req.data(), req_bytes, MPI_BYTE, 0, 1, MPI_COMM_WORLD, &st);
      int n = 0;
      MPI_Get_count(&st, MPI_BYTE, &n);
      if (n == 0) break;
      MPI_Send(rep.data(), rep_bytes, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
    }
  }
  return MPI_Wtime() - t0;
}

}  // namespace

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  const int items = argc > 1 ? std::atoi(argv[1]) : 10000;
  t2::MpiChannel ch;
  if (ch.size() < 2) {
    std::fprintf(stderr, "run under mpirun with at least 2 ranks\n");
    return 2;
  }
  t2::Message rep;
  rep.type = t2::MessageType::reply;
  rep.job_id = "bench";
  const int req_bytes = static_cast<int>(t2::encode_message(work_item(0)).size());
  const int rep_bytes = static_cast<int>(t2::encode_message(rep).size());
  channel_run(ch, items / 10);  // warm-up
  raw_run(items / 10, req_bytes, rep_bytes);
  const double t_channel = channel_run(ch, items);
  const double t_raw = raw_run(items, req_bytes, rep_bytes);
  if (ch.rank() == 0) {
    const double r_channel = items / t_channel, r_raw = items / t_raw;
    std::printf("dispatch of %d no-op items from rank 0 over %d workers (request %d B, reply %d B)\n", items,
                ch.size() - 1, req_bytes, rep_bytes);
    std::printf("  t2 MpiChannel (deadlines, typed messages): %9.0f items/s  (%.3f s)\n", r_channel, t_channel);
    std::printf("  raw MPI_Send/MPI_Recv, same sizes:         %9.0f items/s  (%.3f s)\n", r_raw, t_raw);
    std::printf("  ratio channel / raw: %.2f   target >= 5000 items/s: %s\n", r_channel / r_raw,
                r_channel >= 5000 ? "met" : "NOT met");
  }
  return 0;
}
