// t2 quickstart-init on a very short build (a few pre-training steps, small data sets).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "quickstart/quickstart-data.h"
#include "quickstart/quickstart-init.h"
#include "core/files.h"
#include "jobs/task.h"
#include "tests/support/test-support.h"
#include "workers/chat-template.h"
#include "workers/model-config.h"
#include "workers/runtime.h"
#include "workers/safetensors.h"
#include "workers/tokenizer.h"

namespace fs = std::filesystem;
using namespace t2;

namespace {

quickstart::InitOptions small(const std::string& dir, uint64_t seed, bool evaluate = false) {
  quickstart::InitOptions o;
  o.out_dir = dir;
  o.seed = seed;
  o.steps = 4;
  o.batch_size = 8;
  o.evaluate = evaluate;
  o.sizes.train = 40;
  o.sizes.code_train = 30;
  o.sizes.unseen_train = 30;
  o.sizes.test = 8;
  o.sizes.unseen_test = 8;
  return o;
}

// relative path -> bytes of every file below dir
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_file(e.path().string());
  return out;
}

class Quickstart : public ::testing::Test {
 protected:
  void SetUp() override { root = test::make_temp_dir("quickstart"); }
  void TearDown() override { fs::remove_all(root); }
  std::string root;
};

TEST_F(Quickstart, ModelLoadsWithTheRuntimeAndTokenizerRoundTrips) {
  const std::string dir = root + "/qs";
  quickstart::InitReport rep = quickstart::quickstart_init(small(dir, 1, /*evaluate=*/true));
  const std::string md = dir + "/model";
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_TRUE(fs::exists(md + "/" + f)) << f;
  EXPECT_TRUE(fs::exists(dir + "/quickstart.json"));

  // tokenizer: HF byte-level BPE with the Llama 3 special tokens and chat template
  auto tok = Tokenizer::load(md);
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->vocab_size(), rep.vocab_size);
  for (const char* s : {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
    auto id = tok->token_id(s);
    ASSERT_TRUE(id.has_value()) << s;
    EXPECT_TRUE(tok->is_special(*id)) << s;
    EXPECT_EQ(tok->encode(s, true), std::vector<int32_t>{*id}) << s;
  }
  EXPECT_EQ(tok->bos_token(), "<|begin_of_text|>");
  EXPECT_EQ(tok->eos_token(), "<|eot_id|>");
  for (std::string s : {std::string("Ann has 3 apples and gets 4 more. How many apples does Ann have now?"),
                        std::string("def plus_3(x):\n    \"\"\"Return x plus 3.\"\"\"\n    return x + 3\n"),
                        std::string("Unseen words, tabs\tand Unicode: naïve café – 日本語 🙂 12345"), std::string(" "),
                        std::string("")}) {
    EXPECT_EQ(tok->decode(tok->encode(s, false)), s) << s;
  }
  // a task word is one token (the BPE learned the tasks' words)
  EXPECT_EQ(tok->encode(" many", false).size(), 1u);
  auto tmpl = ChatTemplate::for_tokenizer(*tok);
  EXPECT_EQ(tmpl->name(), "llama3");
  auto ids = encode_chat(*tok, *tmpl, {{"user", "How many apples?", {}, ""}});
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], *tok->bos_id());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *tok->bos_id()), 1);

  // config and weights: what the runtime loads
  ModelConfig c = load_model_config(md);
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.vocab_size, tok->vocab_size());
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{*tok->token_id("<|eot_id|>")});
  EXPECT_EQ(c.bos_token_id, *tok->bos_id());
  Checkpoint ck = Checkpoint::open(md);
  EXPECT_EQ(ck.info("model.embed_tokens.weight").shape, (std::vector<int64_t>{c.vocab_size, c.hidden_size}));
  EXPECT_EQ(ck.info("lm_head.weight").shape, (std::vector<int64_t>{c.vocab_size, c.hidden_size}));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    for (const auto& n : ModelConfig::layer_linear_names(l)) EXPECT_TRUE(ck.has(n + ".weight")) << n;
  EXPECT_EQ(ck.names().size(), static_cast<size_t>(3 + 9 * c.num_hidden_layers));
  EXPECT_EQ(ck.file_of("model.norm.weight").metadata().at("format"), "pt");

  auto rt = Runtime::load(md);
  GenerateOptions go;
  go.max_new_tokens = 6;
  auto gens = rt->generate({ids}, go, [&](const std::vector<int32_t>& v) { return tok->decode(v, true); });
  ASSERT_EQ(gens.size(), 1u);
  EXPECT_FALSE(gens[0].ids.empty());
  for (int32_t id : gens[0].ids) EXPECT_LT(id, c.vocab_size);

  // the evaluation ran on every test set with the tasks' scorers
  ASSERT_EQ(rep.base.size(), 6u);
  EXPECT_EQ(rep.base[0].task, "arith");
  EXPECT_EQ(rep.base[0].kind, "gsm8k");
  EXPECT_EQ(rep.base[2].kind, "humaneval");
  EXPECT_EQ(rep.base[4].task, "dispatch");
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(rep.base[i].n, 8u) << rep.base[i].task;
  EXPECT_EQ(rep.base[4].n, 24u);
  EXPECT_EQ(rep.base[5].task, "dispatch_code");
  EXPECT_EQ(rep.base[5].n, 8u);
  EXPECT_EQ(rep.steps, 4);
}

TEST_F(Quickstart, DataLoadsAndScoresWithTheRealTasks) {
  const std::string dir = root + "/qs";
  auto opt = small(dir, 3);
  quickstart::quickstart_init(opt);
  auto synth = quickstart::make_tasks(3, opt.sizes);
  ASSERT_EQ(synth.size(), 4u);
  auto manifest = nlohmann::json::parse(read_file(dir + "/quickstart.json"));
  std::map<std::string, std::string> kinds = {
      {"arith", "gsm8k"}, {"choice", "arc_easy"}, {"code", "humaneval"}, {"arith_choice", "arc_challenge"}};
  for (const auto& t : synth) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.kind, kinds[t.name]);
    EXPECT_EQ(manifest["tasks"][t.name]["kind"], t.kind);
    EXPECT_EQ(t.unseen, t.name == "arith_choice");
    // the files are exactly the generated items
    if (t.train_file == t.test_file) {
      EXPECT_EQ(read_file(dir + "/" + t.train_file), quickstart::to_jsonl(t.train) + quickstart::to_jsonl(t.test));
    } else {
      EXPECT_EQ(read_file(dir + "/" + t.train_file), quickstart::to_jsonl(t.train));
      EXPECT_EQ(read_file(dir + "/" + t.test_file), quickstart::to_jsonl(t.test));
    }
    tasks::TaskOptions o;
    o.files = {{"train", dir + "/" + t.train_file}, {"test", dir + "/" + t.test_file}};
    auto task = tasks::make_task(t.kind, o);
    auto train = task->load_file(dir + "/" + t.train_file);
    auto test = t.train_file == t.test_file ? std::vector<tasks::Example>(train.begin() + long(t.train.size()), train.end())
                                            : task->load_file(dir + "/" + t.test_file);
    if (t.train_file == t.test_file) train.resize(t.train.size());
    ASSERT_EQ(train.size(), t.train.size());
    ASSERT_EQ(test.size(), t.test.size());
    // the task's own split loader reads them too (the kinds' default roles)
    if (t.kind == "gsm8k" || t.kind == "arc_easy") {
      EXPECT_EQ(task->load("train").size(), (t.train.size() + 1) / 2);
    }
    EXPECT_EQ(task->load("test").size(), t.train_file == t.test_file ? t.train.size() + t.test.size() : t.test.size());
    // careful answers are right and sloppy ones wrong, by the task's scorer (code: a few, in the sandbox)
    const size_t n = t.kind == "humaneval" ? 3 : test.size();
    for (size_t i = 0; i < n; ++i) {
      auto good = task->score(test[i], t.test[i].careful);
      auto bad = task->score(test[i], t.test[i].sloppy);
      EXPECT_TRUE(good.correct) << test[i].id << ": " << t.test[i].careful << " -> " << good.detail;
      EXPECT_FALSE(bad.correct) << test[i].id << ": " << t.test[i].sloppy << " -> " << bad.detail;
      if (!t.test[i].slip.empty()) {
        auto slip = task->score(test[i], t.test[i].slip);
        EXPECT_FALSE(slip.correct) << test[i].id << ": " << t.test[i].slip << " -> " << slip.detail;
      }
      EXPECT_EQ(t.test[i].slip.empty(), t.name != "arith_choice");
      EXPECT_GT(t.test[i].p_careful, 0.0);
      EXPECT_LT(t.test[i].p_careful + t.test[i].p_slip, 1.0);
    }
    // no test question is a training question
    std::set<std::string> seen;
    for (const auto& e : train) seen.insert(e.question);
    for (const auto& e : test) EXPECT_FALSE(seen.count(e.question)) << e.id;
  }
  // the dispatch labels of the families, and the classifier's systematic confusion
  EXPECT_EQ(quickstart::sloppy_label("reasoning"), "math");
  EXPECT_NE(quickstart::sloppy_label("math"), "math");
  EXPECT_NE(quickstart::sloppy_label("code"), "code");
}

TEST_F(Quickstart, SameSeedSameBytesOtherSeedOtherBytes) {
  quickstart::quickstart_init(small(root + "/a", 7));
  quickstart::quickstart_init(small(root + "/b", 7));
  quickstart::quickstart_init(small(root + "/c", 8));
  auto a = tree(root + "/a"), b = tree(root + "/b"), c = tree(root + "/c");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [path, bytes] : a) {
    ASSERT_TRUE(b.count(path)) << path;
    EXPECT_TRUE(bytes == b.at(path)) << path << " differs between two builds with seed 7";
  }
  for (const char* p : {"model/model.safetensors", "data/arith-train.jsonl", "data/code.jsonl"})
    EXPECT_FALSE(a.at(p) == c.at(p)) << p << " is the same for seeds 7 and 8";
}

TEST_F(Quickstart, CommandLine) {
  const std::string dir = root + "/cli";
  std::vector<std::string> args = {"quickstart-init", dir, "--steps", "2", "--no-eval", "--train-items", "30",
                                   "--test-items", "5"};
  auto r = test::run_t2(args);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << r.out << r.err;
  EXPECT_NE(r.out.find("model written to"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model/model.safetensors"), std::string::npos) << r.out;
  auto again = test::run_t2(args);
  EXPECT_EQ(again.exit_code, 2) << again.out << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  args.push_back("--force");
  auto forced = test::run_t2(args);
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  // the model answers a chat prompt through `t2 generate`
  auto gen = test::run_t2({"generate", dir + "/model", "--chat", "--prompt", "How many apples?", "--max-new-tokens", "4"});
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
  auto bad = test::run_t2({"quickstart-init", root + "/x", "--steps", "3", "--train-seconds", "5"});
  EXPECT_EQ(bad.exit_code, 2) << "--steps and --train-seconds exclude each other";
}

}  // namespace
