// MpiChannel: the coordinator <-> worker control plane over MPI. Sends and receives whole
// Messages (cluster/control-message.h) on a private duplicate of an MPI communicator, so they
// never match tensor-parallel traffic. Every call has a deadline; a peer that does not answer
// becomes a TimeoutError naming its rank and the last request sent to it, never a hang.
//
// Framing: a message travels as one MPI message when it fits max_frame_bytes (1 GiB by default;
// MPI counts are int), else as a first frame plus continuation frames on a second tag from the same
// sender (MPI keeps their order); the receiver takes the frame size from the first frame.
// Receives use MPI_Improbe + MPI_Mrecv, so the size is known before the buffer is allocated.
#pragma once

#include <mpi.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/control-message.h"
#include "core/deadline.h"

namespace t2 {

struct ChannelOptions {
  std::string name = "control";
  size_t max_frame_bytes = size_t(1) << 30;
  Seconds setup_timeout{120};  // every rank of the parent must open the channel within this
};

struct Received {
  Message message;
  int source = -1;
};

class MpiChannel {
 public:
  // Collective over `parent` (initialises MPI when needed).
  explicit MpiChannel(MPI_Comm parent = MPI_COMM_WORLD, const ChannelOptions& opt = {});
  ~MpiChannel();
  MpiChannel(const MpiChannel&) = delete;
  MpiChannel& operator=(const MpiChannel&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const { return name_; }

  // Returns once MPI has taken the message (buffered, or matched by the receiver). Throws
  // TimeoutError naming `dest` when the deadline passes first.
  void send(const Message& m, int dest, const Deadline& deadline);

  // The next message from any rank, or nullopt when none arrived before the deadline.
  std::optional<Received> recv_any(const Deadline& deadline);

  // The next message from `source`; TimeoutError naming the rank and the last request sent to it.
  Message recv_from(int source, const Deadline& deadline);

  // What this rank last sent to `rank` (for "rank 3 stopped answering after request #17 ...").
  struct Sent {
    std::string what;  // Message::describe()
    uint64_t request_id = 0;
    std::string job_id;
    Clock::time_point at;
  };
  std::optional<Sent> last_sent_to(int rank) const;

  // The duplicate communicator under the channel and its two tags (tests inject raw frames).
  MPI_Comm comm() const { return comm_; }
  static constexpr int kFirstFrameTag = 1;
  static constexpr int kMoreFrameTag = 2;

 private:
  std::optional<Received> receive(int source, const Deadline& deadline);
  std::string origin(int source) const;
  std::string silence(int source, const Deadline& deadline) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::string name_;
  size_t max_frame_;
  int rank_ = 0, size_ = 1;
  std::map<int, Sent> last_sent_;
  struct Abandoned {
    std::vector<char> buffer;
    std::vector<MPI_Request> requests;
  };
  std::vector<Abandoned> abandoned_;  // sends that could not be cancelled keep their buffer alive
};

}  // namespace t2
