// Answer extraction: GSM8K numbers, ARC letters, code blocks and sanitisation, seeded shuffles
// (checked against Python itself), regexes, JSONL errors.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/files.h"
#include "jobs/answer-choice.h"
#include "jobs/answer-code.h"
#include "jobs/answer-number.h"
#include "jobs/answer-regex.h"
#include "jobs/dataset-shuffle.h"
#include "jobs/jsonl.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

double num(const std::string& s) {
  auto m = last_number(s);
  EXPECT_TRUE(m.has_value()) << s;
  return m ? m->value : -999999;
}

TEST(Gsm8kNumbers, LastNumberHandlesCommasSignsDecimalsAndUnits) {
  EXPECT_EQ(num("so the total is 1,234 dollars."), 1234);
  EXPECT_EQ(num("The answer is 1,450,000"), 1450000);
  EXPECT_EQ(num("temperature drops to -10 degrees"), -10);
  EXPECT_EQ(num("She pays $18.50 per day."), 18.5);
  EXPECT_EQ(num("#### 18"), 18);
  EXPECT_EQ(num("10 - 3 = 7"), 7);
  EXPECT_EQ(num("x-5 is it"), 5);  // '-' after a letter is an operator
  EXPECT_EQ(num("that is 75%."), 75);
  EXPECT_EQ(num("ratio .5"), 0.5);
  EXPECT_EQ(num("1,23"), 23);  // not a thousands group: two numbers
  EXPECT_EQ(num("costs -$5"), -5);
  EXPECT_FALSE(last_number("no digits here").has_value());
}

TEST(Gsm8kNumbers, OriginalRegexDropsCommasAndSigns) {
  EXPECT_EQ(last_number_original("1,234")->value, 234);
  EXPECT_EQ(last_number_original("-3")->value, 3);
  EXPECT_EQ(last_number_original("3.25 apples")->value, 3.25);
  EXPECT_FALSE(last_number_original("none").has_value());
}

TEST(Gsm8kNumbers, ParseWholeNumberAndGold) {
  EXPECT_EQ(*parse_number("2,125"), 2125);
  EXPECT_EQ(*parse_number("-3"), -3);
  EXPECT_FALSE(parse_number("12 apples").has_value());
  EXPECT_EQ(gsm8k_gold_text("a\nb <<1+1=2>>2\n#### 1,000 "), "1,000");
  EXPECT_TRUE(numbers_equal(18.0, 18.0000000001));
  EXPECT_FALSE(numbers_equal(1450000, 1450001));
  EXPECT_FALSE(numbers_equal(18.0, 18.01));
}

TEST(ArcChoice, ExtractionCascade) {
  EXPECT_EQ(*extract_choice_letter("blah. Therefore the answer is (B). Then C"), 'B');
  EXPECT_EQ(*extract_choice_letter("the answer is C"), 'C');
  EXPECT_EQ(*extract_choice_letter("Reasoning...\nAnswer: D\nmore A text"), 'D');
  EXPECT_EQ(*extract_choice_letter("I think B is wrong, so A"), 'A');  // last standalone letter
  EXPECT_FALSE(extract_choice_letter("no letters here at all").has_value());
  EXPECT_FALSE(extract_choice_letter("lowercase a b c").has_value());
}

TEST(Gsm8kNumbers, MarkedAnswerWinsOverLaterNumbers) {
  auto ans = [](const std::string& s) {
    auto m = gsm8k_answer(s);
    return m ? m->value : -999999;
  };
  EXPECT_EQ(ans("The answer is 64.\n\n(At full price it would have been 16 * 5 = 80.)"), 64);
  EXPECT_EQ(ans("work\n#### 72\nCheck: 72 / 2 = 36"), 72);
  EXPECT_EQ(ans("#### Step 1\n3 + 4 = 7\n#### Step 2\n7 * 2 = 14"), 14);  // headings are not markers
  EXPECT_EQ(ans("So she pays $\\boxed{1{,}200}$ in total; 100 per month."), 1200);
  EXPECT_EQ(ans("**Answer:** 18 dollars\n\nVerification: 9 * 2 = 18, and 20 - 2 = 18."), 18);
  EXPECT_EQ(ans("The answer is 3 + 4 = 7. Each of the 5 boxes..."), 7);
  EXPECT_EQ(ans("The temperature ends at \xE2\x88\x92" "12 degrees."), -12);
  EXPECT_EQ(ans("She has 1\\,500 stamps"), 1500);
  EXPECT_EQ(ans("No marker: 3 then 5"), 5);
}

TEST(ArcChoice, CarefulWordBoundaries) {
  EXPECT_EQ(*choice_answer("the answer is Definitely C", 4), 'C');
  EXPECT_EQ(*extract_choice_letter("the answer is Definitely C"), 'D');  // the reference
  EXPECT_EQ(*choice_answer("The answer is (B). A quick check: A plant needs light.", 4), 'B');
  EXPECT_EQ(*choice_answer("I believe option C fits best.", 4), 'C');
  EXPECT_EQ(*choice_answer("Answer: **D**", 4), 'D');
  EXPECT_EQ(*choice_answer("The answer is (A)... wait, no: the answer is (C).", 4), 'C');
  EXPECT_FALSE(choice_answer("A plant needs water and I think so.", 4).has_value());
}

TEST(ArcChoice, GoldLetterMapsNumericKeysByPosition) {
  EXPECT_EQ(*gold_letter("C", {"A", "B", "C", "D"}), 'C');
  EXPECT_EQ(*gold_letter("3", {"1", "2", "3", "4"}), 'C');
  EXPECT_FALSE(gold_letter("E", {"A", "B"}).has_value());
}

TEST(ArcChoice, ReferenceGuessMatchesPythonRandom) {
  std::string script = "import random\nfor n in (2,3,4,5):\n    random.seed(42)\n    print(random.randint(0, n-1))\n";
  auto r = run_subprocess({test::python3(), "-c", script});
  ASSERT_TRUE(r.ok()) << r.err;
  std::string expect;
  for (size_t n : {2, 3, 4, 5}) expect += std::to_string(reference_guess_letter(n) - 'A') + "\n";
  EXPECT_EQ(expect, r.out);
}

TEST(Shuffle, MatchesPythonAndNumpy) {
  std::string script =
      "import random, numpy as np\n"
      "for seed, n in ((16, 300), (27, 5000), (38, 1172), (0, 7), (2**40 + 5, 50)):\n"
      "    x = list(range(n)); random.seed(seed); random.shuffle(x); print(' '.join(map(str, x)))\n"
      "    if seed < 2**32:\n"
      "        y = np.arange(n); np.random.RandomState(seed).shuffle(y); print(' '.join(map(str, y)))\n";
  auto r = run_subprocess({test::python3(), "-c", script});
  ASSERT_TRUE(r.ok()) << r.err;
  std::string expect;
  auto line = [](const std::vector<size_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
    return s + "\n";
  };
  for (auto [seed, n] : std::vector<std::pair<uint64_t, size_t>>{{16, 300}, {27, 5000}, {38, 1172}, {0, 7},
                                                                  {(1ull << 40) + 5, 50}}) {
    expect += line(seeded_permutation(n, seed, "python"));
    if (seed < (1ull << 32)) expect += line(seeded_permutation(n, seed, "numpy"));
  }
  EXPECT_EQ(expect, r.out);
  EXPECT_THROW(seeded_permutation(3, 1, "torch"), UsageError);
}

TEST(Code, CompletionAndBlocks) {
  EXPECT_EQ(completion_before_fence("\ndef f():\n    return 1\n```\nExplanation"), "\ndef f():\n    return 1\n");
  EXPECT_EQ(first_code_block("Here:\n```python\nx = 1\n```\nmore"), "x = 1\n");
  EXPECT_EQ(first_code_block("plain text"), "plain text");
}

TEST(Code, SanitizeKeepsDefinitionsAndDropsTopLevelNoise) {
  std::string code =
      "import math\n"
      "from collections import Counter\n"
      "R = 3\n"
      "def f(x):\n"
      "    s = '''\n"
      "col0 text inside a string\n"
      "'''\n"
      "    return x + R\n"
      "\n"
      "print(f(2))\n"
      "assert f(1) == 4\n"
      "if __name__ == '__main__':\n"
      "    print('main')\n"
      "class A:\n"
      "    pass\n"
      "@staticmethod\n"
      "def g(\n"
      "    y):\n"
      "    return y\n"
      "f(3)\n"
      "x == 3\n";
  std::string s = sanitize_python(code);
  EXPECT_NE(s.find("import math"), std::string::npos);
  EXPECT_NE(s.find("from collections import Counter"), std::string::npos);
  EXPECT_NE(s.find("R = 3"), std::string::npos);
  EXPECT_NE(s.find("col0 text inside a string"), std::string::npos);
  EXPECT_NE(s.find("class A"), std::string::npos);
  EXPECT_NE(s.find("def g(\n    y):"), std::string::npos);
  EXPECT_EQ(s.find("print("), std::string::npos) << s;
  EXPECT_EQ(s.find("assert"), std::string::npos) << s;
  EXPECT_EQ(s.find("__main__"), std::string::npos) << s;
  EXPECT_EQ(s.find("f(3)"), std::string::npos) << s;
  EXPECT_EQ(s.find("x == 3"), std::string::npos) << s;
  // the sanitised program still runs
  auto r = run_subprocess({test::python3(), "-c", s + "print(f(2))\n"});
  EXPECT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(r.out, "5\n");
}

TEST(Code, MbppEntryPoint) {
  EXPECT_EQ(mbpp_entry_point("def helper():\n  pass\ndef similar(a,b):\n  return a\n",
                             "assert set(similar((3, 4), (5, 4))) == set((4,))"),
            "similar");
  EXPECT_EQ(mbpp_entry_point("", "assert sorted(find_x(3)) == [1]"), "find_x");
}

TEST(Regex, PythonLikeSearch) {
  Regex re(R"(\b[A-J]\b(?!.*\b[A-J]\b))", "s");
  auto m = re.search("A then\nB");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m->groups[0], "B");
  EXPECT_EQ(Regex(R"(\d+)").find_all("a1b22c333").size(), 3u);
  EXPECT_TRUE(Regex("ab+").full_match("abbb"));
  EXPECT_FALSE(Regex("ab+").full_match("abbbc"));
  EXPECT_THROW(Regex("(unclosed"), UsageError);
}

TEST(Jsonl, MalformedLinesAreNamedByFileAndLine) {
  std::string dir = test::make_temp_dir("tasks-jsonl");
  std::string f = dir + "/bad.jsonl";
  write_file_atomic(f, "{\"a\": 1}\n\n{\"a\": 2\n");
  try {
    read_records(f);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(f + ":3"), std::string::npos) << e.what();
  }
  write_file_atomic(f, "[1, 2]\n");
  EXPECT_THROW(read_records(f), FormatError);
  auto ok = parse_jsonl("{\"x\": \"y\"}\r\n{\"x\": 3}\n", "mem.jsonl");
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(require_string(ok[0], "x"), "y");
  try {
    require_string(ok[1], "x");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("mem.jsonl:2"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos);
  }
  EXPECT_THROW(read_records(dir + "/missing.jsonl"), UsageError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t2::tasks
