// Typed, versioned coordinator <-> worker messages (DESIGN.md decision 4: MPI is the control plane).
// A message is a small typed header, three short strings (job id, request kind, JSON metadata) and
// named raw arrays ("blobs") that carry z vectors, gradients and token ids without any text encoding.
//
// Wire format (host byte order: every rank of one job runs the same binary on the same architecture),
// version 1:
//   offset  0  u32 magic "T2MS"           4  u16 version        6  u16 type
//           8  u64 total bytes           16  u64 request id
//          24  u32 job id bytes          28  u32 kind bytes    32  u32 meta bytes   36  u32 blob count
//          40  job id, kind, meta (raw bytes), then padding to a multiple of 8
//   per blob: u32 name bytes, u8 dtype, 3 zero bytes, u64 element count, the name, padding to 8,
//             the raw elements, padding to 8
// A decoder refuses another magic, another version, a total that differs from the bytes received,
// and any length that runs past the end, naming the sender and the byte offset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/communicator.h"

namespace t2 {

inline constexpr uint16_t kControlMessageVersion = 1;

// The message kinds of the control plane. What a request asks for is in Message::kind (the
// coordinator's vocabulary: "load", "generate", "score", ...), so cluster/ knows no model or task.
enum class MessageType : uint16_t {
  hello = 1,      // worker -> coordinator: ready (meta: layout, capabilities)
  request = 2,    // coordinator -> worker: do `kind` for `job_id`
  reply = 3,      // worker -> coordinator: the result of request `request_id`
  error = 4,      // worker -> coordinator: request `request_id` failed (meta: the error)
  heartbeat = 5,  // either way: still alive
  shutdown = 6,   // coordinator -> worker: leave the request loop
};
const char* message_type_name(MessageType t);

struct Blob {
  std::string name;
  DType dtype = DType::f32;
  size_t count = 0;
  std::vector<char> bytes;  // count * dtype_size(dtype)
};

struct Message {
  MessageType type = MessageType::request;
  uint64_t request_id = 0;
  std::string job_id;
  std::string kind;
  std::string meta;  // JSON text, small
  std::vector<Blob> blobs;

  Message& add_blob(std::string name, const void* data, size_t count, DType dtype);
  Message& add_floats(std::string name, const std::vector<float>& v) {
    return add_blob(std::move(name), v.data(), v.size(), DType::f32);
  }
  bool has_blob(const std::string& name) const;
  // Throws FormatError naming the message and the blobs it has.
  const Blob& blob(const std::string& name) const;
  std::vector<float> floats(const std::string& name) const;  // the blob must be f32
  size_t payload_bytes() const;
  // "request #12 'generate' for job 'train/gsm8k' (2 blobs, 1.6 MB)"
  std::string describe() const;
};

std::vector<char> encode_message(const Message& m);
// `origin` names the sender in errors ("rank 3 of channel 'control'").
Message decode_message(const char* data, size_t size, const std::string& origin);

}  // namespace t2
