#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cluster/signals.h"

class Signals : public ::testing::Test {
 protected:
  void SetUp() override {
    t2::install_preemption_handlers();
    t2::clear_preemption();
  }
  void TearDown() override {
    t2::clear_preemption();
    t2::remove_preemption_handlers();
  }
};

TEST_F(Signals, Usr1SetsTheFlagAndWakesThePipe) {
  EXPECT_FALSE(t2::preemption_requested());
  pollfd p{t2::preemption_wake_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // nothing yet
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_TRUE(t2::preemption_requested());
  EXPECT_EQ(t2::preemption_signal(), SIGUSR1);
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  t2::clear_preemption();
  EXPECT_FALSE(t2::preemption_requested());
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // drained
}

TEST_F(Signals, TermIsAPreemptionAndTheFirstSignalIsKept) {
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_TRUE(t2::preemption_requested());
  EXPECT_EQ(t2::preemption_signal(), SIGTERM);
}

TEST_F(Signals, WaitReturnsWhenASignalArrivesFromAnotherThread) {
  const auto t0 = std::chrono::steady_clock::now();
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(::getpid(), SIGUSR1);
  });
  EXPECT_TRUE(t2::wait_for_preemption(300));
  sender.join();
  // Returned on the signal, not at its 300 s limit (the bound only catches that, not speed).
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 150.0);
}

TEST_F(Signals, WaitTimesOutWithoutASignal) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(t2::wait_for_preemption(0.2));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(took, 0.19);
  EXPECT_LT(took, 60.0);  // a hang, not a slow machine
}

TEST_F(Signals, ManySignalsDoNotBlockTheHandler) {
  // more signals than the pipe holds bytes would block a naive handler; the pipe is non-blocking
  for (int i = 0; i < 70000; ++i) ::kill(::getpid(), SIGUSR1);
  EXPECT_TRUE(t2::preemption_requested());
}
