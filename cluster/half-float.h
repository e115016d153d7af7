// fp16 and bf16 conversions (IEEE binary16 and bfloat16 bit patterns in uint16_t), rounding to
// nearest even. Used by the MPI backend's f16/bf16 reductions and by tests that build such buffers.
#pragma once

#include <cstdint>

namespace t2 {

float f16_to_float(uint16_t h);
uint16_t float_to_f16(float f);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);

}  // namespace t2
