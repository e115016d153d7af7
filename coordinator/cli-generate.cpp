// t2 generate: generate from a model folder. Prompts are text (needs the folder's tokenizer; --chat
// wraps it in the chat template) or token ids (works on a folder with only config.json + safetensors).
// Under `mpirun -np N ... --tp N` the ranks form one tensor-parallel group and rank 0 prints.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <optional>

#include "coordinator/cli.h"
#include "core/check.h"
#include "core/files.h"
#include "workers/chat-template.h"
#include "workers/runtime-group.h"
#include "workers/tokenizer.h"

namespace t2::cli {

namespace {

struct GenerateArgs {
  std::string model_dir;
  std::vector<std::string> prompts;
  std::vector<std::string> prompt_ids;
  bool chat = false;
  std::string chat_template;
  int max_new_tokens = 64;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::vector<int32_t> eos;
  bool json = false;
  std::string dtype = "auto", device = "cpu";
  int tp = 1;
};

int run_generate(const GenerateArgs& a) {
  T2_CHECK_AS(UsageError, a.prompts.empty() != a.prompt_ids.empty(),
              "give either --prompt TEXT or --prompt-ids 1,2,3 (each may repeat for a batch)");
  T2_CHECK_AS(UsageError, !a.chat || !a.prompts.empty(), "--chat applies to --prompt TEXT");
  std::unique_ptr<Tokenizer> tok;
  const bool have_tok = path_exists(a.model_dir + "/tokenizer.json") || path_exists(a.model_dir + "/tokenizer.model");
  if (!a.prompts.empty() || have_tok) {
    T2_CHECK_AS(UsageError, have_tok || a.prompts.empty(),
                "{}: --prompt TEXT needs tokenizer.json or tokenizer.model in the model folder; use --prompt-ids",
                a.model_dir);
    tok = Tokenizer::load(a.model_dir);
  }
  std::vector<std::vector<int32_t>> batch;
  for (const auto& s : a.prompt_ids) batch.push_back(parse_id_list(s, "--prompt-ids"));
  for (const auto& text : a.prompts) {
    if (a.chat) {
      auto tmpl = a.chat_template.empty() ? ChatTemplate::for_tokenizer(*tok) : ChatTemplate::by_name(a.chat_template);
      batch.push_back(encode_chat(*tok, *tmpl, {{"user", text}}));
    } else {
      std::vector<int32_t> ids;
      if (tok->add_bos()) ids.push_back(*tok->bos_id());
      auto body = tok->encode(text);
      ids.insert(ids.end(), body.begin(), body.end());
      batch.push_back(ids);
    }
  }
  RuntimeGroup g = load_runtime_group(a.model_dir, a.dtype, a.device, a.tp);
  GenerateOptions opt;
  opt.max_new_tokens = a.max_new_tokens;
  opt.temperature = a.temperature;
  opt.top_p = a.top_p;
  opt.seed = a.seed;
  opt.stop_strings = a.stop;
  opt.eos_ids = a.eos;
  if (tok)
    for (int32_t e : tok->eos_ids()) opt.eos_ids.push_back(e);
  Detokenizer detok;
  if (tok) detok = [&](const std::vector<int32_t>& ids) { return tok->decode(ids, /*skip_special=*/true); };
  auto gens = g.runtime->generate(batch, opt, detok);
  if (!g.prints) return 0;
  if (a.json) {
    nlohmann::json out = {{"model", a.model_dir}, {"generations", nlohmann::json::array()}};
    for (size_t i = 0; i < gens.size(); ++i) {
      nlohmann::json o = {{"prompt_ids", batch[i]}, {"ids", gens[i].ids}, {"logprobs", gens[i].logprobs},
                          {"stop_reason", gens[i].stop_reason}};
      if (tok) o["text"] = gens[i].text;
      out["generations"].push_back(o);
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& gen : gens) {
      if (tok) {
        std::cout << gen.text << "\n";
      } else {
        for (size_t i = 0; i < gen.ids.size(); ++i) std::cout << (i ? "," : "") << gen.ids[i];
        std::cout << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("generate", "Generate text or token ids with a model folder");
  auto a = std::make_shared<GenerateArgs>();
  app->add_option("model_dir", a->model_dir, "HF model folder (config.json + safetensors [+ tokenizer])")->required();
  app->add_option("--prompt", a->prompts, "prompt text (repeat for a batch); needs the folder's tokenizer");
  app->add_option("--prompt-ids", a->prompt_ids, "prompt token ids, comma separated (repeat for a batch)");
  app->add_flag("--chat", a->chat, "wrap --prompt in the model's chat template as one user turn");
  app->add_option("--chat-template", a->chat_template, "built-in chat template name instead of the detected one");
  app->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate at most")->check(CLI::NonNegativeNumber);
  app->add_option("--temperature", a->temperature, "0 = greedy; > 0 samples")->check(CLI::NonNegativeNumber);
  app->add_option("--top-p", a->top_p, "nucleus mass in (0, 1]")->check(CLI::Range(0.0, 1.0));
  app->add_option("--seed", a->seed, "sampling seed (same seed, same text)");
  app->add_option("--stop", a->stop, "stop string (repeatable; needs a tokenizer)");
  app->add_option("--eos-id", a->eos, "extra end-of-sequence id (repeatable)");
  app->add_flag("--json", a->json, "print JSON: ids, text, per-token log-probs, stop reason");
  app->add_option("--dtype", a->dtype, "auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16");
  app->add_option("--device", a->device, "cpu, cuda, cuda:N");
  app->add_option("--tp", a->tp, "tensor-parallel ranks (run under mpirun -np N)")->check(CLI::PositiveNumber);
  return {app, [a]() -> int { return run_generate(*a); }};
}

}  // namespace t2::cli
