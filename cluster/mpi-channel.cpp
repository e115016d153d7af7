#include "cluster/mpi-channel.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "cluster/mpi-runtime.h"
#include "core/check.h"

namespace t2 {

MpiChannel::MpiChannel(MPI_Comm parent, const ChannelOptions& opt)
    : name_(opt.name), max_frame_(std::clamp<size_t>(opt.max_frame_bytes, 64, INT_MAX)) {
  mpi_init();
  MPI_Request req;
  T2_MPI_CHECK(MPI_Ibarrier(parent, &req));
  if (!mpi_wait_until(req, Deadline::after(opt.setup_timeout)))
    throw TimeoutError(fmt::format("opening channel '{}': not every rank arrived within {:.3g} s (world rank {})",
                                   name_, opt.setup_timeout.count(), mpi_world_rank()));
  T2_MPI_CHECK(MPI_Comm_dup(parent, &comm_));
  T2_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  T2_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  T2_MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiChannel::~MpiChannel() {
  if (!mpi_is_initialized() || comm_ == MPI_COMM_NULL) return;
  for (auto& a : abandoned_)
    for (auto& r : a.requests) {
      int done = 0;
      if (r != MPI_REQUEST_NULL) MPI_Test(&r, &done, MPI_STATUS_IGNORE);
      if (!done && r != MPI_REQUEST_NULL) return;  // still pending: leave the communicator to process exit
    }
  MPI_Comm_free(&comm_);
}

std::string MpiChannel::origin(int source) const {
  return fmt::format("rank {} of channel '{}'", source, name_);
}

std::string MpiChannel::silence(int source, const Deadline& deadline) const {
  auto it = last_sent_.find(source);
  if (it == last_sent_.end()) return fmt::format("rank {} sent nothing (no request was sent to it)", source);
  const double ago = std::chrono::duration_cast<Seconds>(Clock::now() - it->second.at).count();
  return fmt::format("rank {} has not answered; last sent to it {:.3g} s ago: {}", source, ago, it->second.what);
}

void MpiChannel::send(const Message& m, int dest, const Deadline& deadline) {
  T2_CHECK(dest >= 0 && dest < size_, "channel '{}': send of {} to rank {} outside [0, {})", name_, m.describe(), dest,
           size_);
  std::vector<char> buf = encode_message(m);
  std::vector<MPI_Request> reqs;
  for (size_t off = 0; off == 0 || off < buf.size(); off += max_frame_) {
    const int n = static_cast<int>(std::min(max_frame_, buf.size() - off));
    reqs.emplace_back();
    T2_MPI_CHECK(MPI_Isend(buf.data() + off, n, MPI_BYTE, dest, off == 0 ? kFirstFrameTag : kMoreFrameTag, comm_,
                           &reqs.back()));
  }
  Sent s{m.describe(), m.request_id, m.job_id, Clock::now()};
  for (auto& r : reqs) {
    if (mpi_wait_until(r, deadline)) continue;
    bool all_cancelled = true;
    for (auto& q : reqs) {
      if (q == MPI_REQUEST_NULL) continue;
      MPI_Cancel(&q);
      all_cancelled = mpi_wait_until(q, Deadline::after(Seconds(1))) && all_cancelled;
    }
    if (!all_cancelled) abandoned_.push_back({std::move(buf), reqs});
    throw TimeoutError(fmt::format("channel '{}': rank {} could not deliver {} to rank {} before the deadline: the "
                                   "receiver is not receiving", name_, rank_, s.what, dest));
  }
  last_sent_[dest] = std::move(s);
}

std::optional<Received> MpiChannel::receive(int source, const Deadline& deadline) {
  PollBackoff backoff;
  int flag = 0;
  MPI_Message handle;
  MPI_Status st;
  for (;;) {
    T2_MPI_CHECK(MPI_Improbe(source, kFirstFrameTag, comm_, &flag, &handle, &st));
    if (flag) break;
    if (deadline.expired()) return std::nullopt;
    backoff.pause();
  }
  int n = 0;
  T2_MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &n));
  const int from = st.MPI_SOURCE;
  // the first frame carries the header, whose bytes 8..16 hold the total size
  std::vector<char> first(static_cast<size_t>(n));
  T2_MPI_CHECK(MPI_Mrecv(first.data(), n, MPI_BYTE, &handle, &st));
  uint64_t total = static_cast<uint64_t>(n);
  if (n >= 16) std::memcpy(&total, first.data() + 8, 8);
  if (total <= static_cast<uint64_t>(n)) return Received{decode_message(first.data(), first.size(), origin(from)), from};
  // a multi-frame message: the sender's frame size is the size of its first frame
  const size_t frame = static_cast<size_t>(n);
  T2_CHECK_AS(FormatError, frame >= 64 && total < (uint64_t(1) << 40),
              "control message from {}: header announces {} bytes but the first frame has {}", origin(from), total, n);
  std::vector<char> buf(static_cast<size_t>(total));
  std::memcpy(buf.data(), first.data(), first.size());
  first.clear();
  first.shrink_to_fit();
  for (size_t off = frame; off < total; off += frame) {
    const int k = static_cast<int>(std::min<uint64_t>(frame, total - off));
    MPI_Request req;
    T2_MPI_CHECK(MPI_Irecv(buf.data() + off, k, MPI_BYTE, from, kMoreFrameTag, comm_, &req));
    if (!mpi_wait_until(req, deadline, &st)) {
      MPI_Cancel(&req);
      mpi_wait_until(req, Deadline::after(Seconds(1)));
      throw TimeoutError(fmt::format("channel '{}': {} stopped sending in the middle of a {}-byte message (at byte {})",
                                     name_, origin(from), total, off));
    }
  }
  return Received{decode_message(buf.data(), buf.size(), origin(from)), from};
}

std::optional<Received> MpiChannel::recv_any(const Deadline& deadline) { return receive(MPI_ANY_SOURCE, deadline); }

Message MpiChannel::recv_from(int source, const Deadline& deadline) {
  T2_CHECK(source >= 0 && source < size_, "channel '{}': recv from rank {} outside [0, {})", name_, source, size_);
  const auto t0 = Clock::now();
  auto r = receive(source, deadline);
  if (!r) {
    const double waited = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
    throw TimeoutError(fmt::format("channel '{}': rank {} waited {:.3g} s for rank {}: {}", name_, rank_, waited,
                                   source, silence(source, deadline)));
  }
  return std::move(r->message);
}

std::optional<MpiChannel::Sent> MpiChannel::last_sent_to(int rank) const {
  auto it = last_sent_.find(rank);
  if (it == last_sent_.end()) return std::nullopt;
  return it->second;
}

}  // namespace t2
