// MATH extraction, normalisation and equivalence. strip_math_string is checked against the
// reference's Python `_strip_string` (Hendrycks et al.) run by python3 on the same inputs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "jobs/math-equal.h"
#include "jobs/math-expr.h"
#include "jobs/math-extract.h"
#include "jobs/math-sympy.h"
#include "tests/jobs/tasks/math-reference-python.h"
#include "tests/support/test-support.h"

namespace t2::tasks {



namespace {

TEST(MathExtract, LastBoxedWithNestedBraces) {
  EXPECT_EQ(*last_boxed_content("so \\boxed{1} and finally $\\boxed{\\frac{a}{b^{2}}}$."), "\\frac{a}{b^{2}}");
  EXPECT_EQ(*last_boxed_content("\\fbox{7}"), "7");
  EXPECT_EQ(*last_boxed_content("$\\boxed 5$"), "5");
  EXPECT_FALSE(last_boxed_content("\\boxed{never closed").has_value());
  EXPECT_FALSE(last_boxed_content("no box").has_value());
}

TEST(MathExtract, TheAnswerIsForm) {
  EXPECT_EQ(*extract_math_answer("work...\nThe answer is: 42.\nmore"), "42");
  EXPECT_EQ(*extract_math_answer("The answer is: \\frac{1}{2}."), "\\frac{1}{2}");
  EXPECT_EQ(*extract_math_answer("thus \\boxed{3}"), "3");
}

TEST(MathNormalise, MatchesThePythonReference) {
  std::vector<std::string> inputs = {
      "\\frac12",        "\\dfrac{1}{2}",    "0.5",          ".5",           "x = 3",      "\\left( 3, \\frac{\\pi}{2} \\right)",
      "10\\%",           "90^\\circ",        "\\$1,000",     "5 \\text{ cm}", "\\sqrt3",    "3/4",
      "\\tfrac{3}{4}",   "k=\\sqrt2",        "\\frac{1}2",   "a/b",          "1/2/3",      "y = 2x + 1",
      "\\frac 3 4",      "\\!10",            "{.5}",         "",             "\\frac{",    "\\sqrt",
      "\\\\text{(C)}",   "-7/3",             "12\\%",        "\\frac1",      "x=y=z"};
  std::string in;
  for (auto& s : inputs) in += nlohmann::json(s).dump() + "\n";
  SubprocessOptions o;
  o.stdin_data = in;
  auto r = run_subprocess({test::python3(), "-c", kPythonStripString}, o);
  ASSERT_TRUE(r.ok()) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  for (auto& s : inputs) {
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_EQ(strip_math_string(s), nlohmann::json::parse(line).get<std::string>()) << "input: " << s;
  }
}

MathEquivalence eq(const std::string& a, const std::string& b) { return math_is_equiv(a, b).result; }

TEST(MathEqual, Cascade) {
  EXPECT_EQ(eq("0.5", "\\frac{1}{2}"), MathEquivalence::equal);
  EXPECT_EQ(eq("\\frac12", "\\dfrac{1}{2}"), MathEquivalence::equal);
  EXPECT_EQ(eq("1,000", "1000"), MathEquivalence::equal);
  EXPECT_EQ(eq("25", "0.25"), MathEquivalence::different);  // no x100 leniency by default
  EXPECT_EQ(eq("20", "2000"), MathEquivalence::different);
  // the reference's percentage leniency (compat math_tolerance)
  EXPECT_EQ(math_is_equiv(std::string("25"), std::string("0.25"), kMathReferenceRel, true).result,
            MathEquivalence::equal);
  EXPECT_EQ(math_is_equiv(std::string("20"), std::string("2000"), kMathReferenceRel, true).result,
            MathEquivalence::equal);
  EXPECT_EQ(eq("(1,2)", "\\left( 1, 2 \\right)"), MathEquivalence::equal);
  EXPECT_EQ(eq("[1, \\frac{1}{2}]", "[1,0.5]"), MathEquivalence::equal);
  EXPECT_EQ(eq("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"), MathEquivalence::equal);
  EXPECT_EQ(eq("2x+2", "2(x+1)"), MathEquivalence::equal);
  EXPECT_EQ(eq("x^2+2x+1", "(x+1)^2"), MathEquivalence::equal);
  EXPECT_EQ(eq("3\\pi", "\\pi\\cdot3"), MathEquivalence::equal);
  EXPECT_EQ(eq("3", "4"), MathEquivalence::different);
  EXPECT_EQ(eq("x^2", "x^3"), MathEquivalence::different);
  EXPECT_EQ(eq("(1,2)", "(2,1)"), MathEquivalence::different);
  EXPECT_EQ(eq("\\frac{1}{3}", "0.333"), MathEquivalence::different);
  EXPECT_EQ(eq("2220+1", "2220"), MathEquivalence::different);
  // the reference's N() check at rel 1e-3 (compat math_tolerance) accepts both
  EXPECT_EQ(math_is_equiv(std::string("\\frac{1}{3}"), std::string("0.333"), kMathReferenceRel).result,
            MathEquivalence::equal);
  EXPECT_EQ(math_is_equiv(std::string("2220+1"), std::string("2220"), kMathReferenceRel).result,
            MathEquivalence::equal);
  EXPECT_EQ(math_is_equiv(std::nullopt, std::nullopt).result, MathEquivalence::equal);
  EXPECT_EQ(math_is_equiv(std::nullopt, std::string("1")).result, MathEquivalence::different);
}

TEST(MathEqual, CarefulGraderByDefault) {
  // mixed numbers are sums, not products
  EXPECT_EQ(eq("137.5", "137 \\frac{1}{2}"), MathEquivalence::equal);
  EXPECT_EQ(eq("68.5", "137 \\frac{1}{2}"), MathEquivalence::different);
  EXPECT_EQ(eq("\\frac{275}{2}", "137\\frac12"), MathEquivalence::equal);
  EXPECT_EQ(eq("-2.25", "-2\\frac{1}{4}"), MathEquivalence::equal);
  EXPECT_EQ(eq("2\\sqrt{3}", "2\\sqrt3"), MathEquivalence::equal);
  // answer lists without brackets are unordered; tuples stay ordered
  EXPECT_EQ(eq("-2, 1", "1,-2"), MathEquivalence::equal);
  EXPECT_EQ(eq("x=1, x=-2", "-2,1"), MathEquivalence::equal);
  EXPECT_EQ(eq("1, 2", "1,-2"), MathEquivalence::different);
  EXPECT_EQ(eq("1, 2, 3", "1,2"), MathEquivalence::different);
  EXPECT_EQ(eq("(1,2)", "(2,1)"), MathEquivalence::different);
  // thousands separators: "{,}", "\\,", ","; a comma list is not a number
  EXPECT_EQ(eq("2{,}000", "2000"), MathEquivalence::equal);
  EXPECT_EQ(eq("2\\,000", "2,000"), MathEquivalence::equal);
  EXPECT_EQ(eq("1,2", "12"), MathEquivalence::different);
  EXPECT_EQ(math_is_equiv(std::string("1,2"), std::string("12"), kMathReferenceRel, true).result,
            MathEquivalence::equal);  // the reference drops every comma
  // the Unicode minus, decimals and fractions in every spelling
  EXPECT_EQ(eq("\xE2\x88\x92" "3", "-3"), MathEquivalence::equal);
  EXPECT_EQ(eq("0.75", "\\dfrac{3}{4}"), MathEquivalence::equal);
  EXPECT_EQ(eq("\\tfrac34", "\\frac{3}{4}"), MathEquivalence::equal);
  EXPECT_EQ(eq("1.5", "\\frac32"), MathEquivalence::equal);
  EXPECT_EQ(eq("1000001", "1000000"), MathEquivalence::different);
  // units and text wrappers
  EXPECT_EQ(eq("12\\text{cm}", "12"), MathEquivalence::equal);
  EXPECT_EQ(eq("\\text{(C)}", "C"), MathEquivalence::equal);
  EXPECT_EQ(eq("\\$18", "18"), MathEquivalence::equal);
  EXPECT_EQ(eq("25\\%", "25"), MathEquivalence::equal);
}

TEST(MathExtract, CarefulExtractionByDefault) {
  EXPECT_EQ(*extract_math_answer("The answer is: $\\boxed{\\frac{1}{2}}$"), "\\frac{1}{2}");
  EXPECT_EQ(*extract_math_answer("The answer is: $\\boxed{\\frac{1}{2}}$", true), "$\\boxed{\\frac{1}{2}}$");
  EXPECT_EQ(*extract_math_answer("The answer is: $5$.\nok"), "5");
  EXPECT_EQ(*extract_math_answer("So the final answer is $\\frac{3}{4}$."), "\\frac{3}{4}");
  EXPECT_FALSE(extract_math_answer("So the final answer is $\\frac{3}{4}$.", true).has_value());
}

TEST(MathExpr, ParsesAndEvaluates) {
  auto p = ParsedMath::parse("\\frac{1}{2}+\\sqrt{9}\\cdot 2^{3}");
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(p->evaluate(), 24.5);
  EXPECT_FALSE(ParsedMath::parse("\\text{(C)}").has_value());
  EXPECT_FALSE(ParsedMath::parse("x_1+1").has_value());
  auto v = ParsedMath::parse("2x y");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->variables().size(), 2u);
}

TEST(MathSympy, DecidesWhatCppCannot) {
  if (!sympy_status().empty()) GTEST_SKIP() << sympy_status();
  // trigonometric identities are outside the C++ subset
  auto v = math_is_equiv(std::string("2\\sin(x)\\cos(x)"), std::string("\\sin(2x)"));
  ASSERT_EQ(v.result, MathEquivalence::unknown);
  auto r = sympy_equal_batch({{v.pred_norm, v.ref_norm}, {"\\sin(x)", "\\cos(x)"}, {"\\text{(A)}", "7"}});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], MathEquivalence::equal);
  EXPECT_EQ(r[1], MathEquivalence::different);
  EXPECT_NE(r[2], MathEquivalence::equal);
}

// Model text reaches sympy's evaluating parser only as plain arithmetic, and only in the sandbox.
TEST(MathSympy, ModelTextIsNeverEvaluated) {
  if (!sympy_status().empty()) GTEST_SKIP() << sympy_status();
  const std::string dir = "/tmp/t2-sympy-eval-" + std::to_string(::getpid());
  auto r = sympy_equal_batch({{"__import__('os').mkdir('" + dir + "')", "1"},
                              {"open('/etc/hostname').read()", "1"},
                              {"(lambda: 1)()", "1"},
                              {"x.__class__", "x"},
                              {"2 + 2", "4"}});
  ASSERT_EQ(r.size(), 5u);
  EXPECT_FALSE(std::filesystem::exists(dir)) << "model text was evaluated";
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(r[i], MathEquivalence::unknown) << i;
  EXPECT_EQ(r[4], MathEquivalence::equal);  // plain arithmetic still works
  std::filesystem::remove(dir);
}

}  // namespace
}  // namespace t2::tasks
