// The synthetic tasks of the quickstart (`t2 quickstart-init`): small generated data sets in the real
// formats of t2's task kinds, so the unchanged task code (jobs/task.h) loads and scores them.
//
//   name          kind           family     content
//   arith         gsm8k          math       one-step word problems, {"question", "answer"}, answer ends "#### N"
//   choice        arc_easy       reasoning  "which of these is one of the fruits?", ARC schema (A-D)
//   code          humaneval      code       one-line Python functions, HumanEval layout, run in the sandbox
//   arith_choice  arc_challenge  (unseen)   word problems about fruits, tools, ... as ARC-style multiple
//                                           choice: needs careful arithmetic and a careful choice at once;
//                                           no expert is trained on it
//
// Every item also carries the two answers the pre-training text uses after the task's own prompt: a
// careful one (shows its working and is right) and a sloppy one (jumps to a systematically wrong
// answer: one too many, the next option letter, the constant plus one, a wrong class), and the
// probability of the careful one. That probability depends on a surface feature of the question (the
// person's name, the category, the operation), so greedy decoding of the trained model is right on some
// items and wrong on others, while the careful behaviour stays available to every item: the latent
// skill that SVF experts can bring out. arith_choice makes two such decisions: whether to check the
// options (as choice: by the category its objects belong to) and whether to work the sum out (as
// arith: by the name), so it needs what the reasoning and the math experts each learn. The dispatch classification (cls) pre-training items are made
// from the training items of arith, choice and code with the labels math, reasoning, code.
//
// Everything is a pure function of the seed (SplitMix64 streams, no std:: distributions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2::quickstart {

struct Item {
  nlohmann::ordered_json record;  // one JSONL line in the task kind's format
  // Pre-training answers (the text after the rendered prompt): careful with probability p_careful,
  // slip with p_slip (arith_choice only: the careful procedure with sloppy arithmetic), else sloppy.
  std::string careful, sloppy, slip;
  double p_careful = 0.5, p_slip = 0.0;
};

struct SyntheticTask {
  std::string name;    // campaign task name (arith, choice, code, arith_choice)
  std::string kind;    // t2 task kind (gsm8k, arc_easy, humaneval, arc_challenge)
  std::string family;  // dispatch family of its expert: math, reasoning, code; "" for the unseen task
  bool unseen = false;
  // data files relative to OUT_DIR: train and test (one file for humaneval, whose kind has one data
  // key: train items first, then test items)
  std::string train_file, test_file;
  std::vector<Item> train, test;
};

struct DataSizes {
  size_t train = 1000;        // arith, choice
  size_t code_train = 600;
  size_t unseen_train = 2000;  // the unseen task's careful answer (sum, then a numeric check) needs the most examples
  size_t test = 150;          // arith, choice, code
  size_t unseen_test = 600;   // arith_choice: the headline gain, measured with the smallest standard error
};

// The four tasks, in the order above.
std::vector<SyntheticTask> make_tasks(uint64_t seed, const DataSizes& sizes = {});

// The sloppy dispatch label of `label` (the classifier's systematic confusion) and the probability of
// the right label in pre-training, per label.
std::string sloppy_label(const std::string& label);
double cls_p_careful(const std::string& label);

// JSONL text of items (one compact record per line, fields in the kind's order).
std::string to_jsonl(const std::vector<Item>& items);

// SplitMix64: a small, fully specified generator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  Rng(uint64_t seed, uint64_t stream);
  uint64_t next();
  uint64_t below(uint64_t n);           // [0, n)
  int64_t range(int64_t lo, int64_t hi);  // [lo, hi]
  double uniform();                     // [0, 1)
  bool bernoulli(double p) { return uniform() < p; }

 private:
  uint64_t s_;
};

}  // namespace t2::quickstart
