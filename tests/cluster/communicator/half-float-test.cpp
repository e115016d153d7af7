#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cluster/half-float.h"

// Bit patterns from the IEEE 754 binary16 and bfloat16 definitions.
TEST(HalfFloat, F16KnownPatterns) {
  EXPECT_EQ(t2::float_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(t2::float_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(t2::float_to_f16(65504.0f), 0x7BFF);             // largest finite
  EXPECT_EQ(t2::float_to_f16(65520.0f), 0x7C00);             // rounds to infinity
  EXPECT_EQ(t2::float_to_f16(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(t2::float_to_f16(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
  EXPECT_EQ(t2::float_to_f16(std::ldexp(1.0f, -25)), 0x0000); // halfway to the smallest subnormal: even
  EXPECT_EQ(t2::float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // halfway, ties to even
  EXPECT_EQ(t2::float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(t2::f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(t2::f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(t2::f16_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(t2::f16_to_float(t2::float_to_f16(std::nanf("")))));
}

TEST(HalfFloat, F16RoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00) continue;  // inf / nan
    ASSERT_EQ(t2::float_to_f16(t2::f16_to_float(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(HalfFloat, Bf16KnownPatterns) {
  EXPECT_EQ(t2::float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(t2::float_to_bf16(-1.5f), 0xBFC0);
  EXPECT_EQ(t2::bf16_to_float(0x4049), 3.140625f);
  EXPECT_EQ(t2::float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // halfway: even
  EXPECT_EQ(t2::float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_TRUE(std::isnan(t2::bf16_to_float(t2::float_to_bf16(std::nanf("")))));
}
