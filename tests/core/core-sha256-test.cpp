// core/sha256: the FIPS 180-4 test vectors, and lengths around the padding boundaries checked
// against Python's hashlib.
#include <gtest/gtest.h>

#include "core/sha256.h"
#include "core/subprocess.h"
#include "tests/support/test-support.h"

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(t2::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(t2::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(t2::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, PaddingBoundariesMatchHashlib) {
  std::string lines, script = "import hashlib\nfor n in range(130): print(hashlib.sha256(bytes((i * 7 + 3) % 256 for i in range(n))).hexdigest())\n";
  for (int n = 0; n < 130; ++n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 7 + 3) % 256));
    lines += t2::sha256_hex(s) + "\n";
  }
  auto r = t2::run_subprocess({t2::test::python3(), "-c", script});
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  EXPECT_EQ(r.out, lines);
}
