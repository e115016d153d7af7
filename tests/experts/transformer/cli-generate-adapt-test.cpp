// `t2 generate --experts ... --adapt prompt|cls|fewshot` through the built binary, on a random
// Mistral-shaped fixture with the real Mistral v0.3 tokenizer (copied from the data folder into the
// fixture's temp folder) and its SVD factors: the route line, routing by task family and by --route,
// the answer of a routed prompt equal to the library's generation with that expert, fewshot with a
// one-hot alpha equal to that expert, and exit code 2 with a clear message for bad input.
#include <gtest/gtest.h>

#include "core/error.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "experts/decompose.h"
#include "experts/expert-file.h"
#include "experts/transformer-policy.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"
#include "workers/tokenizer.h"

namespace t2 {
namespace {

const std::vector<std::string> kFixture = {"--family", "mistral", "--seed", "41", "--hidden", "64", "--layers", "2",
                                           "--heads", "4", "--kv-heads", "2", "--intermediate", "96",
                                           "--vocab", "32768", "--tie"};

struct Setup {
  std::string dir;                       // model folder with tokenizer.model and t2-svd/
  std::string e_math, e_code, e_other, e_bad_hash, cls;
  ZLayout layout;
  std::string hash;
};

// The fixture, the tokenizer, the factors and four expert files (built once per process).
const Setup& setup(const std::string& data) {
  static std::optional<Setup> s;
  if (s) return *s;
  Setup x;
  x.dir = test::make_fixture("cli-adapt-mistral", kFixture);
  std::filesystem::copy_file(data + "/tokenizers/mistral-v0.3/tokenizer.model", x.dir + "/tokenizer.model",
                             std::filesystem::copy_options::overwrite_existing);
  decompose_model(x.dir, {});
  {
    auto model = Model::load(x.dir, {});
    TransformerPolicy pol(*model, x.dir + "/t2-svd");
    x.layout = pol.layout();
    x.hash = pol.source_hash();
  }
  auto write = [&](const std::string& name, const std::string& task, uint64_t seed, const std::string& hash) {
    Expert e;
    e.layout = x.layout;
    e.z = z_init(x.layout, seed, 0.0, 4.0);  // far from uniform: the answer changes
    e.base_model = "fixture";
    e.base_model_hash = hash;
    e.task = task;
    auto path = x.dir + "/" + name;
    expert_write(path, e);
    return path;
  };
  x.e_math = write("gsm8k.h5", "gsm8k", 1, x.hash);
  x.e_code = write("mbpp.h5", "mbpp", 2, x.hash);
  x.e_other = write("mine.h5", "my_task", 3, x.hash);
  x.e_bad_hash = write("stale.h5", "arc_easy", 4, "0000000000000000");
  x.cls = write("cls.h5", "cls", 5, x.hash);
  s = x;
  return *s;
}

nlohmann::json run_json(const std::vector<std::string>& args, std::string* err = nullptr) {
  auto r = test::run_t2(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (err) *err = r.err;
  return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
}

std::vector<int32_t> ids_of(const nlohmann::json& j, size_t i = 0) {
  return j["generations"][i]["ids"].get<std::vector<int32_t>>();
}

const std::string kQuestion = "Natalia sold clips to 48 of her friends in April. How many clips did she sell?";

TEST(CliGenerateAdapt, PromptDispatchPrintsTheRouteAndOtherUsesTheBaseModel) {
  T2_REQUIRE_DATA(data);
  const auto& s = setup(data);
  std::vector<std::string> common = {"generate", s.dir, "--prompt", kQuestion, "--max-new-tokens", "6", "--json"};
  auto plain = run_json(common);
  std::string err;
  auto args = common;
  args.insert(args.end(), {"--experts", s.e_math + "," + s.e_code, "--adapt", "prompt", "--classify-max-new-tokens",
                           "8"});
  auto j = run_json(args, &err);
  ASSERT_EQ(j["generations"].size(), 1u);
  auto route = j["generations"][0]["route"];
  const std::string label = route["label"];
  EXPECT_TRUE(label == "code" || label == "math" || label == "reasoning" || label == "other") << label;
  EXPECT_TRUE(route["classification"].is_string());
  EXPECT_NE(err.find("route: " + label + " -> "), std::string::npos) << err;
  // A random model does not answer \boxed{math}: "other" goes to the base weights, bit for bit.
  if (label == "other") {
    EXPECT_EQ(route["to"], "base");
    EXPECT_EQ(ids_of(j), ids_of(plain));
  }
}

TEST(CliGenerateAdapt, LabelRoutesByTaskFamilyAndEqualsTheLibrary) {
  T2_REQUIRE_DATA(data);
  const auto& s = setup(data);
  std::vector<std::string> common = {"generate", s.dir, "--prompt", kQuestion, "--max-new-tokens", "8", "--json",
                                     "--experts", s.e_math + "," + s.e_code, "--adapt", "prompt"};
  std::string err;
  auto args = common;
  args.insert(args.end(), {"--label", "math"});
  auto math = run_json(args, &err);
  EXPECT_NE(err.find("route: math -> " + s.e_math), std::string::npos) << err;
  EXPECT_EQ(math["generations"][0]["route"]["to"], s.e_math);
  args = common;
  args.insert(args.end(), {"--label", "code"});
  auto code = run_json(args, &err);
  EXPECT_NE(err.find("route: code -> " + s.e_code), std::string::npos) << err;

  // The library with the same expert and the same prompt ids gives the same answer.
  auto model = Model::load(s.dir, {});
  TransformerPolicy pol(*model, s.dir + "/t2-svd");
  auto tok = Tokenizer::load(s.dir);
  std::vector<int32_t> prompt = math["generations"][0]["prompt_ids"].get<std::vector<int32_t>>();
  GenerateOptions go;
  go.max_new_tokens = 8;
  go.eos_ids = tok->eos_ids();
  pol.adapt_expert(expert_read(s.e_math).z);
  EXPECT_EQ(pol.generate_full({prompt}, go)[0].ids, ids_of(math));
  pol.adapt_expert(expert_read(s.e_code).z);
  auto code_ids = pol.generate_full({prompt}, go)[0].ids;
  EXPECT_EQ(code_ids, ids_of(code));
  pol.adapt_base();
  EXPECT_NE(pol.generate_full({prompt}, go)[0].ids, ids_of(math)) << "the expert should change the answer";

  // --route overrides the task family; fewshot with a one-hot alpha is that expert.
  args = common;
  args.insert(args.end(), {"--label", "math", "--route", "math=" + s.e_code});
  auto routed = run_json(args, &err);
  EXPECT_NE(err.find("route: math -> " + s.e_code), std::string::npos) << err;
  EXPECT_EQ(ids_of(routed), code_ids);
  auto few = run_json({"generate", s.dir, "--prompt", kQuestion, "--max-new-tokens", "8", "--json", "--experts",
                       s.e_math + "," + s.e_code, "--adapt", "fewshot", "--alpha", "0,1"},
                      &err);
  EXPECT_NE(err.find("route: fewshot -> 0*" + s.e_math + " + 1*" + s.e_code), std::string::npos) << err;
  EXPECT_EQ(ids_of(few), code_ids);
  // text output: the answer on stdout, the route on stderr
  auto r = test::run_t2({"generate", s.dir, "--prompt", kQuestion, "--max-new-tokens", "8", "--experts",
                         s.e_math + "," + s.e_code, "--adapt", "prompt", "--label", "math"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, math["generations"][0]["text"].get<std::string>() + "\n");
  EXPECT_EQ(r.err.find("route: math -> " + s.e_math), 0u) << r.err;
}

TEST(CliGenerateAdapt, ClassifierExpertRunsTheFirstPass) {
  T2_REQUIRE_DATA(data);
  const auto& s = setup(data);
  std::string err;
  auto j = run_json({"generate", s.dir, "--prompt", kQuestion, "--prompt", "Write a function that reverses a list.",
                     "--max-new-tokens", "4", "--json", "--experts", s.e_math + "," + s.e_code, "--adapt", "cls",
                     "--classifier", s.cls, "--classify-max-new-tokens", "6"},
                    &err);
  ASSERT_EQ(j["generations"].size(), 2u);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(j["generations"][i]["route"]["classification"].is_string());
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << err;  // one route line per prompt
}

TEST(CliGenerateAdapt, BadInputExitsTwoWithAClearMessage) {
  T2_REQUIRE_DATA(data);
  const auto& s = setup(data);
  struct Case {
    std::vector<std::string> extra;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--experts", s.e_math}, "need --adapt"},
      {{"--experts", s.e_math, "--adapt", "magic"}, "--adapt must be prompt, cls or fewshot"},
      {{"--experts", s.e_math + "," + s.e_bad_hash, "--adapt", "prompt"}, s.e_bad_hash},
      {{"--experts", s.e_math + "," + s.e_other, "--adapt", "prompt"}, "--route"},
      {{"--experts", s.e_math, "--adapt", "prompt", "--route", "poetry=" + s.e_math}, "code, math, reasoning or other"},
      {{"--experts", s.e_math, "--adapt", "fewshot"}, "--alpha"},
      {{"--experts", s.e_math + "," + s.e_code, "--adapt", "fewshot", "--alpha", "1,2,3"}, "--alpha has 3 values"},
      {{"--experts", s.e_math, "--adapt", "cls"}, "--classifier CLS.h5"},
      {{"--experts", s.e_math, "--adapt", "prompt", "--svd", s.dir + "/nowhere"}, "t2 decompose"},
      {{"--experts", s.dir + "/missing.h5", "--adapt", "prompt"}, "missing.h5"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"generate", s.dir, "--prompt", "hi", "--max-new-tokens", "2"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    auto r = test::run_t2(args);
    EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  // with --route an expert of any task serves the label it is given
  auto r = test::run_t2({"generate", s.dir, "--prompt", "hi", "--max-new-tokens", "2", "--experts", s.e_other,
                         "--adapt", "prompt", "--route", "reasoning=" + s.e_other, "--label", "reasoning"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("route: reasoning -> " + s.e_other), std::string::npos) << r.err;
}

}  // namespace
}  // namespace t2
