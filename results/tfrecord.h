// TFRecord framing, as TensorFlow writes and reads it (tensorflow/core/lib/io/record_writer.cc):
//
//   uint64 length              little-endian
//   uint32 masked_crc32c(length bytes)
//   byte   data[length]
//   uint32 masked_crc32c(data)
//
// with CRC-32C (Castagnoli) masked as ((crc >> 15 | crc << 17) + 0xa282ead8). TensorBoard event
// files are TFRecord files of Event messages (results/tensorboard-events.h). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t2::results {

uint32_t crc32c(std::string_view data);
uint32_t masked_crc32c(std::string_view data);

// One framed record.
std::string tfrecord_frame(std::string_view data);

struct TfRecordScan {
  std::vector<std::string> records;  // every complete record whose checksums hold, in order
  uint64_t valid_bytes = 0;          // where the last good record ends
  bool torn = false;                 // bytes after valid_bytes: a record cut short (or corrupt)
};

// Reads records from the start of `bytes` until the end or the first record that is cut short or
// fails a checksum (a writer killed mid-record leaves exactly that at the end).
TfRecordScan tfrecord_scan(std::string_view bytes);

}  // namespace t2::results
