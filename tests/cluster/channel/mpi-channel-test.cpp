// MpiChannel under mpirun -np 3: rank 0 plays the coordinator, ranks 1 and 2 the workers.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <thread>

#include "cluster/mpi-channel.h"
#include "cluster/mpi-runtime.h"
#include "core/error.h"

namespace {

using t2::Deadline;
using t2::Seconds;

Deadline in(double s) { return Deadline::after(Seconds(s)); }

std::vector<float> ramp(size_t n, float start) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Each worker answers one request: the z blob doubled, the job id and request id echoed.
void serve_one(t2::MpiChannel& ch) {
  t2::Message req = ch.recv_from(0, in(60));
  ASSERT_EQ(req.type, t2::MessageType::request);
  t2::Message rep;
  rep.type = t2::MessageType::reply;
  rep.request_id = req.request_id;
  rep.job_id = req.job_id;
  rep.kind = req.kind;
  auto z = req.floats("z");
  for (auto& x : z) x *= 2;
  rep.add_floats("z2", z);
  ch.send(rep, 0, in(60));
}

void round_trip(t2::MpiChannel& ch, size_t n) {
  if (ch.rank() == 0) {
    for (int w = 1; w < ch.size(); ++w) {
      t2::Message m;
      m.request_id = 100 + static_cast<uint64_t>(w);
      m.job_id = "job-" + std::to_string(w);
      m.kind = "noop";
      m.add_floats("z", ramp(n, static_cast<float>(w)));
      ch.send(m, w, in(60));
    }
    std::vector<bool> seen(static_cast<size_t>(ch.size()), false);
    for (int k = 1; k < ch.size(); ++k) {
      auto r = ch.recv_any(in(60));
      ASSERT_TRUE(r.has_value());
      const int w = r->source;
      ASSERT_GE(w, 1);
      EXPECT_FALSE(seen[static_cast<size_t>(w)]);
      seen[static_cast<size_t>(w)] = true;
      EXPECT_EQ(r->message.type, t2::MessageType::reply);
      EXPECT_EQ(r->message.request_id, 100u + static_cast<uint64_t>(w));
      EXPECT_EQ(r->message.job_id, "job-" + std::to_string(w));
      const auto z2 = r->message.floats("z2");
      ASSERT_EQ(z2.size(), n);
      for (size_t i = 0; i < n; i += 997) ASSERT_EQ(z2[i], 2.0f * (static_cast<float>(w) + static_cast<float>(i)));
      EXPECT_EQ(z2[n - 1], 2.0f * (static_cast<float>(w) + static_cast<float>(n - 1)));
    }
  } else {
    serve_one(ch);
  }
}

TEST(MpiChannel, RoundTripSmall) {
  t2::MpiChannel ch;
  round_trip(ch, 16);
}

TEST(MpiChannel, RoundTripLargePayloadOneFrame) {
  t2::MpiChannel ch;
  round_trip(ch, 2'500'000);  // 10 MB of floats each way
}

TEST(MpiChannel, RoundTripLargePayloadManyFrames) {
  t2::ChannelOptions o;
  o.name = "framed";
  // 10 MB go as 4 frames from rank 0 and as 2 frames back: the receiver follows the sender's size
  o.max_frame_bytes = t2::mpi_world_rank() == 0 ? 3 << 20 : 6 << 20;
  t2::MpiChannel ch(MPI_COMM_WORLD, o);
  round_trip(ch, 2'500'000);
}

TEST(MpiChannel, RecvAnyReturnsNothingAtTheDeadline) {
  t2::MpiChannel ch;
  const auto t0 = t2::Clock::now();
  auto r = ch.recv_any(in(0.2));
  EXPECT_FALSE(r.has_value());
  const double took = std::chrono::duration_cast<Seconds>(t2::Clock::now() - t0).count();
  EXPECT_GE(took, 0.2);
  EXPECT_LT(took, 60.0);  // only a wait past the deadline fails, not a slow machine
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(MpiChannel, SilentWorkerIsReportedWithItsLastRequest) {
  t2::MpiChannel ch;
  const int silent = ch.size() - 1;
  if (ch.rank() == 0) {
    t2::Message m;
    m.request_id = 77;
    m.job_id = "eval/arc-easy";
    m.kind = "score";
    ch.send(m, silent, in(10));
    ASSERT_TRUE(ch.last_sent_to(silent).has_value());
    EXPECT_EQ(ch.last_sent_to(silent)->request_id, 77u);
    const auto t0 = t2::Clock::now();
    try {
      ch.recv_from(silent, in(0.5));
      ADD_FAILURE() << "recv_from returned although rank " << silent << " never answered";
    } catch (const t2::TimeoutError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("rank " + std::to_string(silent)), std::string::npos) << msg;
      EXPECT_NE(msg.find("#77"), std::string::npos) << msg;
      EXPECT_NE(msg.find("eval/arc-easy"), std::string::npos) << msg;
    }
    const double took = std::chrono::duration_cast<Seconds>(t2::Clock::now() - t0).count();
    EXPECT_LT(took, 60.0);  // the deadline ended the wait (the silent rank never answers)
  }
  MPI_Barrier(MPI_COMM_WORLD);
  // the silent rank drains the request so the channel is clean for the next test
  if (ch.rank() == silent) {
    EXPECT_EQ(ch.recv_from(0, in(120)).request_id, 77u);
  }
}

TEST(MpiChannel, SendToARankThatNeverReceivesTimesOut) {
  // a large message needs the receiver (rendezvous): a dead receiver turns into a TimeoutError
  t2::ChannelOptions o;
  o.name = "dead";
  t2::MpiChannel ch(MPI_COMM_WORLD, o);
  const int dead = ch.size() - 1;
  if (ch.rank() == 0) {
    t2::Message m;
    m.request_id = 5;
    m.add_floats("z", ramp(1 << 20, 0));
    try {
      ch.send(m, dead, in(0.5));
      ADD_FAILURE() << "a 4 MB send completed without a receiver";
    } catch (const t2::TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find("to rank " + std::to_string(dead)), std::string::npos) << e.what();
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(MpiChannel, WrongVersionOnTheWireIsAFormatError) {
  t2::MpiChannel ch;
  if (ch.rank() == 1) {
    t2::Message m;
    m.kind = "hello";
    auto buf = t2::encode_message(m);
    const uint16_t v = 99;
    std::memcpy(buf.data() + 4, &v, 2);
    MPI_Send(buf.data(), static_cast<int>(buf.size()), MPI_BYTE, 0, t2::MpiChannel::kFirstFrameTag, ch.comm());
  }
  if (ch.rank() == 0) {
    try {
      ch.recv_from(1, in(10));
      ADD_FAILURE() << "a version-99 message was accepted";
    } catch (const t2::FormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("version 99"), std::string::npos) << msg;
      EXPECT_NE(msg.find("rank 1"), std::string::npos) << msg;
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
