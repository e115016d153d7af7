#include "tests/cluster/communicator/communicator-expectations.h"

#include <gtest/gtest.h>

#include <cstring>

#include "cluster/half-float.h"

namespace t2::test {

namespace {

const CollectiveOptions kOpt{Seconds(60)};
const std::vector<size_t> kCounts{0, 1, 1023};

void put(std::vector<char>& host, DType t, size_t i, double v) {
  char* p = host.data() + i * dtype_size(t);
  switch (t) {
    case DType::f32: { float x = static_cast<float>(v); std::memcpy(p, &x, 4); break; }
    case DType::f64: std::memcpy(p, &v, 8); break;
    case DType::i32: { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); break; }
    case DType::i64: { int64_t x = static_cast<int64_t>(v); std::memcpy(p, &x, 8); break; }
    case DType::u8: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(p, &x, 1); break; }
    case DType::f16: { uint16_t x = float_to_f16(static_cast<float>(v)); std::memcpy(p, &x, 2); break; }
    case DType::bf16: { uint16_t x = float_to_bf16(static_cast<float>(v)); std::memcpy(p, &x, 2); break; }
  }
}

double get(const std::vector<char>& host, DType t, size_t i) {
  const char* p = host.data() + i * dtype_size(t);
  switch (t) {
    case DType::f32: { float x; std::memcpy(&x, p, 4); return x; }
    case DType::f64: { double x; std::memcpy(&x, p, 8); return x; }
    case DType::i32: { int32_t x; std::memcpy(&x, p, 4); return x; }
    case DType::i64: { int64_t x; std::memcpy(&x, p, 8); return static_cast<double>(x); }
    case DType::u8: { uint8_t x; std::memcpy(&x, p, 1); return x; }
    case DType::f16: { uint16_t x; std::memcpy(&x, p, 2); return f16_to_float(x); }
    case DType::bf16: { uint16_t x; std::memcpy(&x, p, 2); return bf16_to_float(x); }
  }
  return 0;
}

std::vector<char> filled(DType t, size_t count, int rank, int salt) {
  std::vector<char> h(count * dtype_size(t));
  for (size_t i = 0; i < count; ++i) put(h, t, i, test_value(rank, i, salt));
  return h;
}

bool is_signed(DType t) { return t != DType::u8; }

}  // namespace

BufferPlace host_place() {
  BufferPlace p;
  p.alloc = [](size_t count, DType t) {
    return BufferView{count ? new char[count * dtype_size(t)] : nullptr, count, t, -1};
  };
  p.upload = [](BufferView dst, const std::vector<char>& host) {
    if (!host.empty()) std::memcpy(dst.data, host.data(), host.size());
  };
  p.download = [](BufferView src) {
    const auto* b = static_cast<const char*>(src.data);
    return std::vector<char>(b, b + src.bytes());
  };
  p.release = [](BufferView b) { delete[] static_cast<char*>(b.data); };
  return p;
}

const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> all{DType::f32, DType::f16, DType::bf16, DType::f64,
                                      DType::i32, DType::i64, DType::u8};
  return all;
}

double test_value(int rank, size_t i, int salt) {
  // distinct per rank and element, small enough that sums over 8 ranks stay exact in f16/bf16/u8;
  // the sign alternates with the rank so that max and min pick different ranks
  const double v = static_cast<double>((rank + 1) * 3 + static_cast<int>((i + static_cast<size_t>(salt)) % 7));
  return (rank % 2 == 1 && salt % 2 == 0) ? -v : v;
}

void expect_all_reduce(Communicator& c, const BufferPlace& place) {
  for (DType t : all_dtypes()) {
    for (size_t count : kCounts) {
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min}) {
        const int salt = is_signed(t) ? 0 : 1;  // u8: non-negative values
        BufferView b = place.alloc(count, t);
        place.upload(b, filled(t, count, c.rank(), salt));
        c.all_reduce(b, op, kOpt);
        const auto out = place.download(b);
        place.release(b);
        for (size_t i = 0; i < count; ++i) {
          double want = test_value(0, i, salt);
          for (int r = 1; r < c.size(); ++r) {
            const double v = test_value(r, i, salt);
            want = op == ReduceOp::sum ? want + v : op == ReduceOp::max ? std::max(want, v) : std::min(want, v);
          }
          ASSERT_EQ(get(out, t, i), want) << "all_reduce op " << static_cast<int>(op) << " dtype " << dtype_name(t)
                                          << " count " << count << " element " << i << " rank " << c.rank();
        }
      }
    }
  }
}

void expect_all_gather(Communicator& c, const BufferPlace& place) {
  for (DType t : all_dtypes()) {
    for (size_t count : kCounts) {
      const int salt = 1;
      BufferView s = place.alloc(count, t);
      BufferView r = place.alloc(count * static_cast<size_t>(c.size()), t);
      place.upload(s, filled(t, count, c.rank(), salt));
      c.all_gather(s, r, kOpt);
      const auto out = place.download(r);
      place.release(s);
      place.release(r);
      for (int q = 0; q < c.size(); ++q)
        for (size_t i = 0; i < count; ++i)
          ASSERT_EQ(get(out, t, static_cast<size_t>(q) * count + i), test_value(q, i, salt))
              << "all_gather dtype " << dtype_name(t) << " count " << count << " block of rank " << q
              << " element " << i << " on rank " << c.rank();
    }
  }
}

void expect_broadcast(Communicator& c, const BufferPlace& place) {
  for (DType t : all_dtypes()) {
    for (int root = 0; root < c.size(); ++root) {
      const size_t count = 1023;
      BufferView b = place.alloc(count, t);
      place.upload(b, filled(t, count, c.rank(), 3));
      c.broadcast(b, root, kOpt);
      const auto out = place.download(b);
      place.release(b);
      for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(get(out, t, i), test_value(root, i, 3))
            << "broadcast dtype " << dtype_name(t) << " root " << root << " element " << i << " on rank " << c.rank();
    }
  }
}

void expect_send_recv_ring(Communicator& c, const BufferPlace& place) {
  if (c.size() < 2) {
    BufferView b = place.alloc(4, DType::f32);
    EXPECT_THROW(c.send(b, 0, 1, kOpt), Error);
    EXPECT_THROW(c.recv(b, 0, 1, kOpt), Error);
    place.release(b);
    return;
  }
  const int n = c.size(), me = c.rank();
  const int next = (me + 1) % n, prev = (me + n - 1) % n;
  for (DType t : all_dtypes()) {
    for (size_t count : kCounts) {
      BufferView out = place.alloc(count, t);
      BufferView in = place.alloc(count, t);
      place.upload(out, filled(t, count, me, 5));
      // even ranks send first, odd ranks receive first: no cycle of ranks all blocked in send
      if (me % 2 == 0) {
        c.send(out, next, 11, kOpt);
        c.recv(in, prev, 11, kOpt);
      } else {
        c.recv(in, prev, 11, kOpt);
        c.send(out, next, 11, kOpt);
      }
      const auto got = place.download(in);
      place.release(out);
      place.release(in);
      for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(get(got, t, i), test_value(prev, i, 5))
            << "recv dtype " << dtype_name(t) << " count " << count << " element " << i << " from " << prev;
    }
  }
}

void expect_barrier(Communicator& c) {
  for (int i = 0; i < 3; ++i) c.barrier(kOpt);
}

void expect_contract(Communicator& c, const BufferPlace& place) {
  SCOPED_TRACE("backend " + c.backend() + " size " + std::to_string(c.size()) + " rank " + std::to_string(c.rank()));
  expect_all_reduce(c, place);
  expect_all_gather(c, place);
  expect_broadcast(c, place);
  expect_send_recv_ring(c, place);
  expect_barrier(c);
}

}  // namespace t2::test
