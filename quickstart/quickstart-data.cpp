#include "quickstart/quickstart-data.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/check.h"

namespace t2::quickstart {

using oj = nlohmann::ordered_json;

Rng::Rng(uint64_t seed, uint64_t stream) : s_(seed) {
  s_ = next() ^ (stream * 0xd1b54a32d192ed03ULL);
  next();
}

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rng::below(uint64_t n) {
  T2_CHECK(n > 0, "Rng::below(0)");
  return next() % n;  // n is tiny here: the modulo bias is < 2^-50
}

int64_t Rng::range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1))); }

double Rng::uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

namespace {

template <typename T>
const T& pick(Rng& r, const std::vector<T>& v) {
  return v[r.below(v.size())];
}

// Probability of the careful answer for items whose surface feature is in the "careful" group and
// for the others: the model learns both, greedy decoding follows the more likely one.
constexpr double kHigh = 0.75, kLow = 0.3;

// ---------------------------------------------------------------- categories

struct Category {
  std::string plural;
  std::vector<std::string> items;
  bool careful;
};

const std::vector<Category>& categories() {
  static const std::vector<Category> c = {
      {"colors", {"red", "blue", "green", "yellow", "purple"}, true},
      {"animals", {"dog", "cat", "horse", "cow", "lion"}, false},
      {"fruits", {"apple", "banana", "grape", "lemon", "peach"}, true},
      {"tools", {"hammer", "saw", "drill", "wrench", "shovel"}, false},
      {"vehicles", {"car", "bus", "train", "truck", "boat"}, true},
      {"metals", {"iron", "copper", "tin", "zinc", "nickel"}, false},
  };
  return c;
}

// ---------------------------------------------------------------- arithmetic word problems

const std::vector<std::string> kNames = {"Ann", "Ben", "Cal", "Dan", "Eve", "Fay",
                                         "Gus", "Hal", "Ivy", "Jon", "Kim", "Lea"};
bool careful_name(const std::string& n) {
  return n == "Ann" || n == "Cal" || n == "Eve" || n == "Gus" || n == "Ivy";
}
const std::vector<std::string> kObjects = {"apples", "pens", "books", "coins", "cards", "shells", "stamps", "marbles"};

struct Problem {
  std::string question, name;
  int a = 0, b = 0, result = 0;
  char op = '+';
};

// two_digit: additions with a result of 12 or more (so that every option of arith_choice, the result
// -2 .. +3, has two digits and every option line the same number of tokens)
Problem make_problem(Rng& r, bool two_digit = false, const std::string& object = "") {
  Problem p;
  p.name = pick(r, kNames);
  const std::string& obj = object.empty() ? pick(r, kObjects) : object;
  int form = static_cast<int>(r.below(two_digit ? 2 : 3));
  if (two_digit && form == 1) form = 2;
  if (form == 1) {
    p.op = '-';
    p.a = static_cast<int>(r.range(2, 9));
    p.b = static_cast<int>(r.range(1, p.a - 1));
    p.result = p.a - p.b;
    p.question = fmt::format("{} has {} {} and gives away {}. How many {} does {} have left?", p.name, p.a, obj, p.b,
                             obj, p.name);
  } else {
    p.a = static_cast<int>(r.range(two_digit ? 3 : 2, 9));
    p.b = static_cast<int>(r.range(two_digit ? 12 - p.a : 1, 9));
    p.result = p.a + p.b;
    p.question = form == 0 ? fmt::format("{} has {} {} and gets {} more. How many {} does {} have now?", p.name, p.a,
                                         obj, p.b, obj, p.name)
                           : fmt::format("{} had {} {}. A friend gave {} {} more. How many {} does {} have?", p.name,
                                         p.a, obj, p.name, p.b, obj, p.name);
  }
  return p;
}

std::string working(const Problem& p) { return fmt::format("{} {} {} = {}", p.a, p.op, p.b, p.result); }

Item arith_item(Rng& r) {
  Problem p = make_problem(r);
  Item it;
  it.careful = fmt::format("{}\n#### {}", working(p), p.result);
  it.sloppy = fmt::format("#### {}", p.result + 1);
  it.p_careful = careful_name(p.name) ? kHigh : kLow;
  it.record = oj{{"question", p.question}, {"answer", it.careful}};
  return it;
}

std::string letter(size_t i) { return std::string(1, static_cast<char>('A' + i)); }

oj arc_record(const std::string& id, const std::string& question, const std::vector<std::string>& options,
              size_t answer) {
  oj labels = oj::array();
  for (size_t i = 0; i < options.size(); ++i) labels.push_back(letter(i));
  return oj{{"id", id},
            {"question", question},
            {"choices", {{"text", options}, {"label", labels}}},
            {"answerKey", letter(answer)}};
}

// Multiple choice, careful: go through the options in order, copying each and marking it "-" (wrong)
// or "+" (right), stop at the right one and name its letter. Each checked line has the tokens of the
// option line it copies, so every copy is at the same distance back. Sloppy: name the first option
// that is wrong, without checking the others.
std::string checked_options(const std::vector<std::string>& options, size_t right) {
  std::string s;
  for (size_t i = 0; i <= right; ++i) s += fmt::format("{}. {} {}\n", letter(i), options[i], i == right ? "+" : "-");
  return s + fmt::format("so the answer is ({}).", letter(right));
}

std::string first_wrong(size_t right) { return fmt::format(". The answer is ({}).", letter(right == 0 ? 1 : 0)); }

// The unseen task: an addition (two-digit result) about objects that are one of the categories ("Ann
// has 8 fruits and gets 5 more"), with four numeric options: the result, one too many and two other
// nearby numbers. Two decisions, each with the prior of a training task: check the options (":",
// as choice; likely for the careful categories) or name the first wrong one ("."); and within the
// check, work the sum out (as arith; likely for the careful names) or write "#### <one too many>" and
// check the options against that.
Item arith_choice_item(Rng& r, const std::string& id) {
  const Category& cat = pick(r, categories());
  Problem p = make_problem(r, true, cat.plural);
  std::vector<int> values = {p.result, p.result + 1};
  std::vector<int> near = {p.result - 1, p.result + 2, p.result - 2, p.result + 3};
  for (size_t k = near.size(); k > 1; --k) std::swap(near[k - 1], near[r.below(k)]);
  values.push_back(near[0]);
  values.push_back(near[1]);
  for (size_t k = values.size(); k > 1; --k) std::swap(values[k - 1], values[r.below(k)]);
  size_t right = 0, slipped = 0;
  std::vector<std::string> options;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] == p.result) right = i;
    if (values[i] == p.result + 1) slipped = i;
    options.push_back(std::to_string(values[i]));
  }
  Item it;
  it.careful = fmt::format(":\n{}\n{}", working(p), checked_options(options, right));
  it.slip = fmt::format(":\n#### {}\n{}", p.result + 1, checked_options(options, slipped));
  it.sloppy = first_wrong(right);
  const double check = cat.careful ? kHigh : kLow, work = careful_name(p.name) ? kHigh : kLow;
  it.p_careful = check * work;
  it.p_slip = check * (1 - work);
  it.record = arc_record(id, p.question, options, right);
  return it;
}

Item choice_item(Rng& r, const std::string& id) {
  const auto& cats = categories();
  size_t ci = r.below(cats.size());
  const Category& c = cats[ci];
  static const std::vector<std::string> forms = {"Which of these is one of the {}?", "Which word names one of the {}?",
                                                 "Which one of the following is found among the {}?"};
  std::string question = fmt::format(fmt::runtime(pick(r, forms)), c.plural);
  // the right item and one item from each of three other categories
  std::vector<size_t> others;
  for (size_t k = 0; k < cats.size(); ++k)
    if (k != ci) others.push_back(k);
  for (size_t k = others.size(); k > 1; --k) std::swap(others[k - 1], others[r.below(k)]);
  std::string right_item = pick(r, c.items);
  std::vector<std::string> options = {right_item};
  for (size_t k = 0; k < 3; ++k) options.push_back(pick(r, cats[others[k]].items));
  for (size_t k = options.size(); k > 1; --k) std::swap(options[k - 1], options[r.below(k)]);
  size_t right = static_cast<size_t>(std::find(options.begin(), options.end(), right_item) - options.begin());
  Item it;
  it.careful = ":\n" + checked_options(options, right);
  it.careful.insert(it.careful.size() - 1, fmt::format(", as {} is one of the {}", right_item, c.plural));
  it.sloppy = first_wrong(right);
  it.p_careful = c.careful ? kHigh : kLow;
  it.record = arc_record(id, question, options, right);
  return it;
}

// ---------------------------------------------------------------- code

struct Op {
  std::string name, doc, expr;  // doc and expr with {v} (the argument) and {k} (the constant)
  bool careful;
};

const std::vector<Op>& ops() {
  static const std::vector<Op> o = {
      {"plus", "Return {v} plus {k}.", "{v} + {k}", true},
      {"minus", "Return {v} minus {k}.", "{v} - {k}", false},
      {"times", "Return {v} times {k}.", "{v} * {k}", false},
      {"max", "Return the larger of {v} and {k}.", "max({v}, {k})", true},
      {"min", "Return the smaller of {v} and {k}.", "min({v}, {k})", false},
      {"rsub", "Return {k} minus {v}.", "{k} - {v}", true},
      {"div", "Return {v} divided by {k}, rounded down.", "{v} // {k}", false},
      {"mod", "Return the remainder of {v} divided by {k}.", "{v} % {k}", false},
  };
  return o;
}

const std::vector<std::string> kArgNames = {"x", "n", "a", "v", "num"};
const std::vector<long> kTestInputs = {0, 4, 11, -3, 37, 1000};

// Python semantics (floor division, remainder with the sign of the divisor).
long apply_op(const std::string& name, long x, long k) {
  if (name == "plus") return x + k;
  if (name == "minus") return x - k;
  if (name == "times") return x * k;
  if (name == "max") return std::max(x, k);
  if (name == "min") return std::min(x, k);
  if (name == "rsub") return k - x;
  long q = x / k, m = x % k;
  if (m != 0 && ((m < 0) != (k < 0))) --q, m += k;
  return name == "div" ? q : m;
}

Item code_item(Rng& r, size_t index) {
  const Op& op = pick(r, ops());
  const int k = static_cast<int>(r.range(2, 20));
  const std::string& v = pick(r, kArgNames);
  auto sub = [&](const std::string& s, int kk) {
    return fmt::format(fmt::runtime(s), fmt::arg("v", v), fmt::arg("k", kk));
  };
  const std::string entry = fmt::format("{}_{}", op.name, k);
  const std::string prompt = fmt::format("def {}({}):\n    \"\"\"{}\"\"\"\n", entry, v, sub(op.doc, k));
  std::string test = "\n\ndef check(candidate):\n";
  bool sloppy_fails = false;
  for (long x : kTestInputs) {
    test += fmt::format("    assert candidate({}) == {}\n", x, apply_op(op.name, x, k));
    sloppy_fails = sloppy_fails || apply_op(op.name, x, k) != apply_op(op.name, x, k + 1);
  }
  T2_CHECK(sloppy_fails, "quickstart: the tests of {} do not tell k={} from k+1", entry, k);
  Item it;
  it.careful = fmt::format("\n    y = {}\n    return y\n```", sub(op.expr, k));
  it.sloppy = fmt::format("\n    return {}\n```", sub(op.expr, k + 1));
  it.p_careful = op.careful ? kHigh : kLow;
  it.record = oj{{"task_id", fmt::format("Code/{}", index)},
                 {"prompt", prompt},
                 {"canonical_solution", fmt::format("    return {}\n", sub(op.expr, k))},
                 {"test", test},
                 {"entry_point", entry}};
  return it;
}

}  // namespace

std::string sloppy_label(const std::string& label) {
  if (label == "math") return "reasoning";
  if (label == "reasoning") return "math";
  return "math";
}

double cls_p_careful(const std::string& label) {
  if (label == "reasoning") return 0.35;
  return 0.8;
}

std::string to_jsonl(const std::vector<Item>& items) {
  std::string out;
  for (const auto& it : items) out += it.record.dump() + "\n";
  return out;
}

std::vector<SyntheticTask> make_tasks(uint64_t seed, const DataSizes& n) {
  std::vector<SyntheticTask> out(4);
  // Items are drawn from one stream per task; test items are drawn after the training items and
  // re-drawn while their question already occurs in the training set (arith/choice: the question
  // and options; code: the function), so no test item is a training item.
  auto fill = [](SyntheticTask& t, size_t ntrain, size_t ntest, auto make) {
    std::set<std::string> seen;
    auto key = [](const Item& it) {
      return it.record.contains("prompt") ? it.record["prompt"].get<std::string>() : it.record["question"].dump() +
                                                                                          (it.record.contains("choices") ? it.record["choices"].dump() : "");
    };
    for (size_t i = 0; i < ntrain; ++i) {
      t.train.push_back(make(true, i));
      seen.insert(key(t.train.back()));
    }
    for (size_t i = 0; i < ntest; ++i) {
      Item it = make(false, i);
      for (int tries = 0; seen.count(key(it)) && tries < 1000; ++tries) it = make(false, i);
      t.test.push_back(std::move(it));
    }
  };

  {
    SyntheticTask& t = out[0];
    t.name = "arith", t.kind = "gsm8k", t.family = "math";
    t.train_file = "data/arith-train.jsonl", t.test_file = "data/arith-test.jsonl";
    Rng r(seed, 1);
    fill(t, n.train, n.test, [&](bool, size_t) { return arith_item(r); });
  }
  {
    SyntheticTask& t = out[1];
    t.name = "choice", t.kind = "arc_easy", t.family = "reasoning";
    t.train_file = "data/choice-train.jsonl", t.test_file = "data/choice-test.jsonl";
    Rng r(seed, 2);
    fill(t, n.train, n.test, [&](bool train, size_t i) {
      return choice_item(r, fmt::format("choice-{}-{:04d}", train ? "train" : "test", i));
    });
  }
  {
    SyntheticTask& t = out[2];
    t.name = "code", t.kind = "humaneval", t.family = "code";
    t.train_file = t.test_file = "data/code.jsonl";
    Rng r(seed, 3);
    fill(t, n.code_train, n.test, [&](bool train, size_t i) { return code_item(r, train ? i : n.code_train + i); });
  }
  {
    SyntheticTask& t = out[3];
    t.name = "arith_choice", t.kind = "arc_challenge", t.family = "", t.unseen = true;
    t.train_file = "data/arith_choice-train.jsonl", t.test_file = "data/arith_choice-test.jsonl";
    Rng r(seed, 4);
    fill(t, n.unseen_train, n.unseen_test, [&](bool train, size_t i) {
      return arith_choice_item(r, fmt::format("arith-choice-{}-{:04d}", train ? "train" : "test", i));
    });
  }
  // The careful answer is what the next-token baselines (LoRA, IA3) learn: a "target" field
  // (jobs/task-target.h; arith's gsm8k answer is already the careful working).
  for (auto& t : out)
    if (t.kind != "gsm8k")
      for (auto* items : {&t.train, &t.test})
        for (auto& it : *items) it.record["target"] = it.careful;
  return out;
}

}  // namespace t2::quickstart
