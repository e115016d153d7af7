// The payload of a work item or of its result: a small JSON object plus named raw arrays (z vectors,
// multipliers, token ids, gradients), packed as one cluster Message (cluster/control-message.h) so
// numbers travel as raw bytes, never as text. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/control-message.h"

namespace t2 {

struct Payload {
  nlohmann::json meta = nlohmann::json::object();
  Message blobs;   // only its blobs are used

  Payload& floats(const std::string& name, const std::vector<float>& v);
  Payload& ints(const std::string& name, const std::vector<int64_t>& v);
  // Token sequences as a flat i32 array plus an i64 array of lengths.
  Payload& sequences(const std::string& name, const std::vector<std::vector<int32_t>>& seqs);

  std::vector<float> floats(const std::string& name) const;
  std::vector<int64_t> ints(const std::string& name) const;
  std::vector<std::vector<int32_t>> sequences(const std::string& name) const;
  bool has(const std::string& name) const { return blobs.has_blob(name); }
};

std::string pack_payload(const Payload& p);
// FormatError naming `what` (the item) when the bytes are not a payload.
Payload unpack_payload(const std::string& bytes, const std::string& what);

}  // namespace t2
