// TensorBoard event files written by hand: TFRecord framing (results/tfrecord.h) of Event messages
// encoded exactly as TensorFlow defines them (tensorflow/core/util/event.proto, summary.proto):
//
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
//
// A file starts with an Event holding file_version "brain.Event:2"; each later Event holds the
// scalars of one step. TensorBoard, tensorboardX readers and `wandb sync` read these files.
//
// Crash-safe like every write of a run: each Event is one write(2) of a whole record, synced; a
// kill leaves at most a torn last record, which readers skip and a reopening writer cuts off before
// appending. A reopened writer never writes a (tag, step) again that the folder already has at that
// step or later: a resumed job that recomputes steps after its last checkpoint adds nothing twice.
// Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace t2::results {

using Scalars = std::vector<std::pair<std::string, double>>;  // tag -> value (stored as float32)

std::string encode_file_version_event(double wall_time);
std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars);

struct DecodedEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> scalars;
};
// Decodes the fields above, skipping any other field; FormatError on malformed bytes.
DecodedEvent decode_event(std::string_view bytes);

// "events.out.tfevents.<unix seconds>.<host>", the name TensorBoard looks for.
bool is_event_file_name(const std::string& file_name);

class TensorboardWriter {
 public:
  // Creates DIR when needed; appends to the newest event file there (its torn tail cut off first) or
  // starts a new one. Reads every event file of DIR for the steps each tag already has.
  explicit TensorboardWriter(const std::string& dir);
  ~TensorboardWriter();
  TensorboardWriter(const TensorboardWriter&) = delete;
  TensorboardWriter& operator=(const TensorboardWriter&) = delete;

  // Writes one Event with the scalars whose tag has no value at `step` or later yet (non-finite
  // values are skipped); returns how many were written.
  size_t write(int64_t step, const Scalars& scalars);
  const std::string& path() const { return path_; }
  // The latest step written for `tag` (this session or an earlier one), or -1.
  int64_t last_step(const std::string& tag) const;

 private:
  std::string path_;
  int fd_ = -1;
  std::map<std::string, int64_t> last_step_;
};

}  // namespace t2::results
