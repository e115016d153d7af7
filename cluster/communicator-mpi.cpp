#include "cluster/communicator-mpi.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/half-float.h"
#include "cluster/mpi-runtime.h"
#include "core/check.h"

namespace t2 {

namespace {

// f16 and bf16 have no MPI type: each gets its own 2-byte type, so that t2's reduction operations
// can tell them apart by the datatype handle they receive.
struct HalfTypes {
  MPI_Datatype f16 = MPI_DATATYPE_NULL, bf16 = MPI_DATATYPE_NULL;
  MPI_Op sum = MPI_OP_NULL, max = MPI_OP_NULL, min = MPI_OP_NULL;
};

template <typename Fn>
void reduce_half(void* in, void* inout, int* len, MPI_Datatype* dt, Fn fn);

HalfTypes& half_types();

template <typename Fn>
void reduce_half(void* in, void* inout, int* len, MPI_Datatype* dt, Fn fn) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  const bool is_bf16 = *dt == half_types().bf16;
  for (int i = 0; i < *len; ++i) {
    if (is_bf16) {
      b[i] = float_to_bf16(fn(bf16_to_float(a[i]), bf16_to_float(b[i])));
    } else {
      b[i] = float_to_f16(fn(f16_to_float(a[i]), f16_to_float(b[i])));
    }
  }
}

void half_sum(void* in, void* inout, int* len, MPI_Datatype* dt) {
  reduce_half(in, inout, len, dt, [](float a, float b) { return a + b; });
}
void half_max(void* in, void* inout, int* len, MPI_Datatype* dt) {
  reduce_half(in, inout, len, dt, [](float a, float b) { return std::max(a, b); });
}
void half_min(void* in, void* inout, int* len, MPI_Datatype* dt) {
  reduce_half(in, inout, len, dt, [](float a, float b) { return std::min(a, b); });
}

HalfTypes& half_types() {
  static HalfTypes t;
  static std::once_flag once;
  std::call_once(once, [] {
    T2_MPI_CHECK(MPI_Type_contiguous(2, MPI_BYTE, &t.f16));
    T2_MPI_CHECK(MPI_Type_commit(&t.f16));
    T2_MPI_CHECK(MPI_Type_contiguous(2, MPI_BYTE, &t.bf16));
    T2_MPI_CHECK(MPI_Type_commit(&t.bf16));
    T2_MPI_CHECK(MPI_Op_create(half_sum, 1, &t.sum));
    T2_MPI_CHECK(MPI_Op_create(half_max, 1, &t.max));
    T2_MPI_CHECK(MPI_Op_create(half_min, 1, &t.min));
  });
  return t;
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
    case DType::f16: return half_types().f16;
    case DType::bf16: return half_types().bf16;
  }
  T2_FAIL("unknown dtype {}", static_cast<int>(t));
}

MPI_Op mpi_op(ReduceOp op, DType t) {
  const bool half = t == DType::f16 || t == DType::bf16;
  switch (op) {
    case ReduceOp::sum: return half ? half_types().sum : MPI_SUM;
    case ReduceOp::max: return half ? half_types().max : MPI_MAX;
    case ReduceOp::min: return half ? half_types().min : MPI_MIN;
  }
  T2_FAIL("unknown reduce op {}", static_cast<int>(op));
}

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
  }
  return "?";
}

// Waits until every rank of `comm` arrives, within `deadline`, so that a following blocking MPI
// call (MPI_Comm_dup, MPI_Comm_split) cannot hang on a missing rank.
void arrive_all(MPI_Comm comm, const Deadline& deadline, const std::string& what) {
  MPI_Request req;
  T2_MPI_CHECK(MPI_Ibarrier(comm, &req));
  if (!mpi_wait_until(req, deadline)) {
    int r = 0, n = 0;
    MPI_Comm_rank(comm, &r);
    MPI_Comm_size(comm, &n);
    throw TimeoutError(fmt::format("{}: not every one of the {} ranks arrived before the deadline (rank {} waited)",
                                   what, n, r));
  }
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm owned, const MpiCommunicatorOptions& opt)
      : comm_(owned), name_(opt.name), default_timeout_(opt.default_timeout), chunk_(std::max<size_t>(1, std::min<size_t>(opt.max_chunk_elements, INT32_MAX))) {
    T2_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    T2_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    T2_MPI_CHECK(MPI_Comm_size(comm_, &size_));
    world_rank_ = mpi_world_rank();
    int flag = 0;
    int* ub = nullptr;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
    tag_ub_ = flag && ub ? *ub : 32767;
  }

  // A call that leaves the deadline at its default (timeouts::collective) gets the communicator's
  // default_timeout (the campaign's timeouts.collective).
  CollectiveOptions effective(const CollectiveOptions& given) const {
    CollectiveOptions o = given;
    if (o.timeout == timeouts::collective) o.timeout = default_timeout_;
    return o;
  }

  ~MpiCommunicator() override {
    if (!mpi_is_initialized()) return;
    for (auto& r : abandoned_) {
      int done = 0;
      if (r != MPI_REQUEST_NULL) MPI_Test(&r, &done, MPI_STATUS_IGNORE);
      if (!done && r != MPI_REQUEST_NULL) {
        // Freeing a communicator with a pending operation is erroneous: leave it to process exit.
        spdlog::warn("mpi communicator '{}': an operation abandoned after a timeout is still pending; "
                     "the communicator is not freed", name_);
        return;
      }
    }
    MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  MPI_Comm comm() const { return comm_; }

  void all_reduce(BufferView buf, ReduceOp op, const CollectiveOptions& given) override {
    const CollectiveOptions opt = effective(given);
    const std::string what = fmt::format("all_reduce({}, {} x {})", op_name(op), buf.count, dtype_name(buf.dtype));
    prepare(what, buf);
    const Deadline deadline = Deadline::after(opt.timeout);
    const MPI_Datatype t = mpi_type(buf.dtype);
    const MPI_Op o = mpi_op(op, buf.dtype);
    auto* p = static_cast<char*>(buf.data);
    const size_t esz = dtype_size(buf.dtype);
    for (size_t off = 0; off < buf.count; off += chunk_) {
      const int n = static_cast<int>(std::min(chunk_, buf.count - off));
      MPI_Request req;
      T2_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, p + off * esz, n, t, o, comm_, &req));
      complete(req, deadline, opt, what, -1);
    }
  }

  void all_gather(BufferView send, BufferView recv, const CollectiveOptions& given) override {
    const CollectiveOptions opt = effective(given);
    const std::string what = fmt::format("all_gather({} x {})", send.count, dtype_name(send.dtype));
    prepare(what, send);
    prepare(what, recv);
    T2_CHECK(recv.dtype == send.dtype, "{} on group '{}': recv dtype {} differs from send dtype {}", what, name_,
             dtype_name(recv.dtype), dtype_name(send.dtype));
    T2_CHECK(recv.count == send.count * static_cast<size_t>(size_),
             "{} on group '{}': recv must hold size() * send.count = {} elements, has {}", what, name_,
             send.count * static_cast<size_t>(size_), recv.count);
    const Deadline deadline = Deadline::after(opt.timeout);
    const MPI_Datatype t = mpi_type(send.dtype);
    const size_t esz = dtype_size(send.dtype);
    const auto* s = static_cast<const char*>(send.data);
    auto* r = static_cast<char*>(recv.data);
    const bool in_place = s == r + static_cast<size_t>(rank_) * send.bytes();
    if (send.count <= chunk_) {
      const int n = static_cast<int>(send.count);
      MPI_Request req;
      T2_MPI_CHECK(MPI_Iallgather(in_place ? MPI_IN_PLACE : s, n, t, r, n, t, comm_, &req));
      complete(req, deadline, opt, what, -1);
      return;
    }
    // Chunk k of every rank lands at r + rank * count + k * chunk: a receive type whose extent is a
    // whole rank block places the pieces without a staging copy.
    for (size_t off = 0; off < send.count; off += chunk_) {
      const int n = static_cast<int>(std::min(chunk_, send.count - off));
      MPI_Datatype piece, strided;
      T2_MPI_CHECK(MPI_Type_contiguous(n, t, &piece));
      T2_MPI_CHECK(MPI_Type_create_resized(piece, 0, static_cast<MPI_Aint>(send.bytes()), &strided));
      T2_MPI_CHECK(MPI_Type_commit(&strided));
      MPI_Request req;
      // in place: this rank's chunk is already where the receive type would put it
      T2_MPI_CHECK(MPI_Iallgather(in_place ? MPI_IN_PLACE : s + off * esz, n, t, r + off * esz, 1, strided, comm_, &req));
      MPI_Type_free(&strided);
      MPI_Type_free(&piece);
      complete(req, deadline, opt, what, -1);
    }
  }

  void broadcast(BufferView buf, int root, const CollectiveOptions& given) override {
    const CollectiveOptions opt = effective(given);
    const std::string what = fmt::format("broadcast({} x {}, root {})", buf.count, dtype_name(buf.dtype), root);
    prepare(what, buf);
    T2_CHECK(root >= 0 && root < size_, "{} on group '{}' of size {}: root out of range", what, name_, size_);
    const Deadline deadline = Deadline::after(opt.timeout);
    const MPI_Datatype t = mpi_type(buf.dtype);
    auto* p = static_cast<char*>(buf.data);
    const size_t esz = dtype_size(buf.dtype);
    for (size_t off = 0; off < buf.count; off += chunk_) {
      const int n = static_cast<int>(std::min(chunk_, buf.count - off));
      MPI_Request req;
      T2_MPI_CHECK(MPI_Ibcast(p + off * esz, n, t, root, comm_, &req));
      complete(req, deadline, opt, what, root);
    }
  }

  void send(BufferView buf, int peer, int tag, const CollectiveOptions& given) override {
    const CollectiveOptions opt = effective(given);
    const std::string what = fmt::format("send({} x {}, tag {})", buf.count, dtype_name(buf.dtype), tag);
    prepare(what, buf);
    check_peer(what, peer, tag);
    const Deadline deadline = Deadline::after(opt.timeout);
    const MPI_Datatype t = mpi_type(buf.dtype);
    const auto* p = static_cast<const char*>(buf.data);
    const size_t esz = dtype_size(buf.dtype);
    // at least one message, so that a zero-element send still matches its recv
    for (size_t off = 0; off == 0 || off < buf.count; off += chunk_) {
      const int n = static_cast<int>(std::min(chunk_, buf.count - off));
      MPI_Request req;
      T2_MPI_CHECK(MPI_Isend(p + off * esz, n, t, peer, tag, comm_, &req));
      complete_p2p(req, deadline, opt, what, peer, nullptr, 0);
    }
  }

  void recv(BufferView buf, int peer, int tag, const CollectiveOptions& given) override {
    const CollectiveOptions opt = effective(given);
    const std::string what = fmt::format("recv({} x {}, tag {})", buf.count, dtype_name(buf.dtype), tag);
    prepare(what, buf);
    check_peer(what, peer, tag);
    const Deadline deadline = Deadline::after(opt.timeout);
    const MPI_Datatype t = mpi_type(buf.dtype);
    auto* p = static_cast<char*>(buf.data);
    const size_t esz = dtype_size(buf.dtype);
    for (size_t off = 0; off == 0 || off < buf.count; off += chunk_) {
      const int n = static_cast<int>(std::min(chunk_, buf.count - off));
      MPI_Request req;
      T2_MPI_CHECK(MPI_Irecv(p + off * esz, n, t, peer, tag, comm_, &req));
      complete_p2p(req, deadline, opt, what, peer, &t, n);
    }
  }

  void barrier(const CollectiveOptions& given) override {
    const CollectiveOptions opt = effective(given);
    prepare("barrier", BufferView{});
    const Deadline deadline = Deadline::after(opt.timeout);
    MPI_Request req;
    T2_MPI_CHECK(MPI_Ibarrier(comm_, &req));
    complete(req, deadline, opt, "barrier", -1);
  }

 private:
  std::string where() const {
    return fmt::format("rank {} (world rank {}) of group '{}' (size {}, backend mpi)", rank_, world_rank_, name_, size_);
  }

  void prepare(const std::string& what, const BufferView& b) {
    T2_CHECK(!broken_, "{} on {}: the communicator is unusable since {}", what, where(), broken_reason_);
    T2_CHECK(b.device < 0, "{} on {}: the mpi backend takes host buffers, got one on CUDA device {}", what, where(),
             b.device);
    T2_CHECK(b.count == 0 || b.data != nullptr, "{} on {}: null buffer with {} elements", what, where(), b.count);
  }

  void check_peer(const std::string& what, int peer, int tag) const {
    T2_CHECK(peer >= 0 && peer < size_, "{} on {}: peer {} out of range", what, where(), peer);
    // a blocking send to oneself completes only while MPI buffers it eagerly: refuse it always
    T2_CHECK(peer != rank_, "{} on {}: send/recv to oneself is not supported", what, where());
    T2_CHECK(tag >= 0 && tag <= tag_ub_, "{} on {}: tag must be in [0, {}]", what, where(), tag_ub_);
  }

  // Collective completion; on timeout the request is abandoned and the communicator broken.
  void complete(MPI_Request& req, const Deadline& deadline, const CollectiveOptions& opt, const std::string& what,
                int root) {
    if (mpi_wait_until(req, deadline)) return;
    abandoned_.push_back(req);
    broken_ = true;
    broken_reason_ = fmt::format("{} timed out", what);
    const std::string waiting_for =
        root >= 0 && root != rank_ ? fmt::format("root rank {}", root)
                                   : fmt::format("the other {} rank(s) of the group", size_ - 1);
    throw TimeoutError(fmt::format("{} on {}: deadline of {:.3g} s passed while waiting for {}", what, where(),
                                   opt.timeout.count(), waiting_for));
  }

  // Point-to-point completion; on timeout the request is cancelled (the communicator stays usable).
  void complete_p2p(MPI_Request& req, const Deadline& deadline, const CollectiveOptions& opt, const std::string& what,
                    int peer, const MPI_Datatype* recv_type, int expected) {
    MPI_Status st;
    if (mpi_wait_until(req, deadline, &st)) {
      if (recv_type) {
        int got = 0;
        T2_MPI_CHECK(MPI_Get_count(&st, *recv_type, &got));
        T2_CHECK(got == expected, "{} on {}: peer {} sent {} elements where {} were expected", what, where(), peer,
                 got, expected);
      }
      return;
    }
    MPI_Cancel(&req);
    if (!mpi_wait_until(req, Deadline::after(Seconds(1)), &st)) {
      abandoned_.push_back(req);
      broken_ = true;
      broken_reason_ = fmt::format("{} with peer {} timed out and could not be cancelled", what, peer);
    }
    throw TimeoutError(fmt::format("{} on {}: deadline of {:.3g} s passed waiting for peer rank {}", what, where(),
                                   opt.timeout.count(), peer));
  }

  MPI_Comm comm_;
  std::string name_;
  Seconds default_timeout_;
  size_t chunk_;
  int rank_ = 0, size_ = 1, world_rank_ = 0, tag_ub_ = 32767;
  bool broken_ = false;
  std::string broken_reason_;
  std::vector<MPI_Request> abandoned_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const MpiCommunicatorOptions& opt) {
  mpi_init();
  return make_mpi_communicator(MPI_COMM_WORLD, opt);
}

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, const MpiCommunicatorOptions& opt) {
  T2_CHECK(mpi_is_initialized(), "make_mpi_communicator: MPI is not initialised (call t2::mpi_init first)");
  arrive_all(comm, Deadline::after(opt.setup_timeout), fmt::format("creating mpi communicator '{}'", opt.name));
  MPI_Comm dup;
  T2_MPI_CHECK(MPI_Comm_dup(comm, &dup));
  return std::make_unique<MpiCommunicator>(dup, opt);
}

std::unique_ptr<Communicator> make_mpi_communicator_split(MPI_Comm parent, int color, int key,
                                                          const MpiCommunicatorOptions& opt) {
  T2_CHECK(mpi_is_initialized(), "make_mpi_communicator_split: MPI is not initialised (call t2::mpi_init first)");
  arrive_all(parent, Deadline::after(opt.setup_timeout), fmt::format("splitting mpi communicator '{}'", opt.name));
  MPI_Comm out;
  T2_MPI_CHECK(MPI_Comm_split(parent, color < 0 ? MPI_UNDEFINED : color, key, &out));
  if (out == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiCommunicator>(out, opt);
}

std::unique_ptr<Communicator> make_mpi_communicator_ranks(MPI_Comm parent, const std::vector<int>& ranks,
                                                          const MpiCommunicatorOptions& opt) {
  T2_CHECK(mpi_is_initialized(), "make_mpi_communicator_ranks: MPI is not initialised (call t2::mpi_init first)");
  int me = 0, n = 0;
  T2_MPI_CHECK(MPI_Comm_rank(parent, &me));
  T2_MPI_CHECK(MPI_Comm_size(parent, &n));
  T2_CHECK(!ranks.empty(), "group '{}': empty rank list", opt.name);
  for (size_t i = 0; i < ranks.size(); ++i) {
    T2_CHECK(ranks[i] >= 0 && ranks[i] < n, "group '{}': rank {} out of range [0, {})", opt.name, ranks[i], n);
    for (size_t j = 0; j < i; ++j) T2_CHECK(ranks[i] != ranks[j], "group '{}': rank {} listed twice", opt.name, ranks[i]);
  }
  T2_CHECK(std::find(ranks.begin(), ranks.end(), me) != ranks.end(),
           "group '{}': rank {} is not a member of [{}] and must not create it", opt.name, me, fmt::join(ranks, ", "));
  // Handshake with every other member so that MPI_Comm_create_group (blocking) finds them all there.
  constexpr int kHandshakeTag = 32001;
  const Deadline deadline = Deadline::after(opt.setup_timeout);
  std::vector<MPI_Request> reqs;
  std::vector<char> tokens(ranks.size());
  char token = 1;
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (ranks[i] == me) continue;
    reqs.emplace_back();
    T2_MPI_CHECK(MPI_Irecv(&tokens[i], 1, MPI_CHAR, ranks[i], kHandshakeTag, parent, &reqs.back()));
    reqs.emplace_back();
    T2_MPI_CHECK(MPI_Isend(&token, 1, MPI_CHAR, ranks[i], kHandshakeTag, parent, &reqs.back()));
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (!mpi_wait_until(reqs[i], deadline)) {
      for (auto& r : reqs) {
        if (r == MPI_REQUEST_NULL) continue;
        MPI_Cancel(&r);
        mpi_wait_until(r, Deadline::after(Seconds(1)));
      }
      throw TimeoutError(fmt::format("creating group '{}' of ranks [{}]: rank {} of the parent waited {:.3g} s and "
                                     "not every member arrived",
                                     opt.name, fmt::join(ranks, ", "), me, opt.setup_timeout.count()));
    }
  }
  MPI_Group parent_group, group;
  T2_MPI_CHECK(MPI_Comm_group(parent, &parent_group));
  T2_MPI_CHECK(MPI_Group_incl(parent_group, static_cast<int>(ranks.size()), ranks.data(), &group));
  MPI_Comm out;
  T2_MPI_CHECK(MPI_Comm_create_group(parent, group, kHandshakeTag, &out));
  MPI_Group_free(&group);
  MPI_Group_free(&parent_group);
  return std::make_unique<MpiCommunicator>(out, opt);
}

MPI_Comm mpi_comm_of(const Communicator& c) {
  if (const auto* m = dynamic_cast<const MpiCommunicator*>(&c)) return m->comm();
  return MPI_COMM_NULL;
}

}  // namespace t2
