#include "quickstart/quickstart-init.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"
#include "jobs/task.h"
#include "workers/chat-template.h"
#include "workers/runtime.h"
#include "workers/safetensors-writer.h"
#include "workers/tiny-pretrain.h"
#include "workers/tokenizer-train.h"
#include "workers/tokenizer.h"

namespace t2::quickstart {

namespace fs = std::filesystem;
using oj = nlohmann::ordered_json;

namespace {

const char* const kBos = "<|begin_of_text|>";
const char* const kEot = "<|eot_id|>";
const std::vector<std::string> kSpecials = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                            "<|end_header_id|>", "<|eot_id|>"};

// Qwen2's split pattern (Llama 3's, digits one at a time) with one more alternative first: a capital
// letter and its period ("B.") form one piece, so a multiple-choice option line is "B." + " peach".
const char* const kSplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{Lu}\.|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string cls_answer(const std::string& label) { return "Classification: \\boxed{" + label + "}"; }

std::vector<ChatMessage> to_chat(const tasks::Example& ex) {
  std::vector<ChatMessage> m;
  for (const auto& x : ex.messages) m.push_back({x.role, x.content, {}, ""});
  return m;
}

// One prompt of the pre-training set and of the evaluation: a task example (or its dispatch
// question) with the two answers.
struct Prompt {
  const tasks::Task* task = nullptr;  // the scorer; nullptr for the dispatch pass
  bool code_template = false;         // rendered with code_prompt instead of the model's template
  tasks::Example ex;
  std::string careful, sloppy, slip;
  double p_careful = 0.5, p_slip = 0.0;
  std::vector<int32_t> ids, careful_ids, sloppy_ids, slip_ids;
};

struct Pool {
  std::string name;
  double weight = 0;
  std::vector<Prompt> items;
};

void write_text(const std::string& path, const std::string& text) {
  make_dirs(fs::path(path).parent_path().string());
  write_file_atomic(path, text);
}

std::string dump(const oj& j) { return j.dump(2, ' ', false) + "\n"; }

// The longest common prefix of the two answers plus one byte: what tells the careful form.
std::string careful_marker(const std::string& careful, const std::string& sloppy) {
  size_t i = 0;
  while (i < careful.size() && i < sloppy.size() && careful[i] == sloppy[i]) ++i;
  return careful.substr(0, std::min(careful.size(), i + 1));
}

}  // namespace

int quickstart_max_new_tokens() { return 48; }

const std::string& llama3_chat_template_jinja() {
  static const std::string s =
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
      "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
      "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
  return s;
}

InitReport quickstart_init(const InitOptions& opt) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  auto log = [&](const std::string& s) {
    if (opt.log) opt.log(s);
  };
  T2_CHECK_AS(UsageError, !opt.out_dir.empty(), "quickstart-init: OUT_DIR is required");
  T2_CHECK_AS(UsageError, opt.batch_size >= 1 && opt.steps >= 1, "quickstart-init: steps and batch size must be >= 1");
  const std::string out = opt.out_dir, model_dir = out + "/model";
  for (const char* p : {"model", "data", "quickstart.json"}) {
    if (!fs::exists(out + "/" + p)) continue;
    T2_CHECK_AS(UsageError, opt.force, "{}/{} already exists; pass --force to replace the quickstart files there",
                out, p);
    fs::remove_all(out + "/" + p);
  }
  make_dirs(model_dir);
  make_dirs(out + "/data");

  // ---- data
  std::vector<SyntheticTask> synth = make_tasks(opt.seed, opt.sizes);
  for (const auto& t : synth) {
    if (t.train_file == t.test_file) {
      write_text(out + "/" + t.train_file, to_jsonl(t.train) + to_jsonl(t.test));
    } else {
      write_text(out + "/" + t.train_file, to_jsonl(t.train));
      write_text(out + "/" + t.test_file, to_jsonl(t.test));
    }
  }
  log(fmt::format("data: {} tasks written to {}/data", synth.size(), out));

  // ---- the tasks' own examples (prompts exactly as t2 builds them)
  std::vector<std::unique_ptr<tasks::Task>> task_objs;
  std::vector<std::vector<tasks::Example>> train_ex, test_ex;
  for (const auto& t : synth) {
    tasks::TaskOptions o;
    o.data_root = out;
    o.parallelism = opt.eval_threads;
    task_objs.push_back(tasks::make_task(t.kind, o));
    auto tr = task_objs.back()->load_file(out + "/" + t.train_file);
    std::vector<tasks::Example> te;
    if (t.train_file == t.test_file) {
      te.assign(tr.begin() + static_cast<long>(t.train.size()), tr.end());
      tr.resize(t.train.size());
    } else {
      te = task_objs.back()->load_file(out + "/" + t.test_file);
    }
    T2_CHECK(tr.size() == t.train.size() && te.size() == t.test.size(), "quickstart: {} loaded {}+{} examples, wrote {}+{}",
             t.name, tr.size(), te.size(), t.train.size(), t.test.size());
    train_ex.push_back(std::move(tr));
    test_ex.push_back(std::move(te));
  }

  // The template t2 uses for a prompt: code_prompt for code tasks, the model's own otherwise. Until
  // the tokenizer exists, the model's is the built-in Llama 3 template that its tokenizer_config.json
  // will be recognised as.
  auto llama3 = ChatTemplate::by_name("llama3");
  auto code_prompt = ChatTemplate::by_name("code_prompt");
  const ChatTemplate* model_template = llama3.get();
  auto template_of = [&](const Prompt& p) -> const ChatTemplate& {
    return p.code_template ? *code_prompt : *model_template;
  };

  // Pools: the four tasks, then the dispatch classification of the three training tasks' questions.
  // t2 renders the classification prompt with the template of the task whose prompt it is: the cls
  // task's (the model's) for the classifier expert, the evaluated task's for prompt dispatch (as the
  // reference does), i.e. code_prompt for code questions: both are trained.
  std::vector<Pool> pools;
  const std::map<std::string, double> weights = {{"arith", 0.2},         {"choice", 0.25},    {"code", 0.1},
                                                 {"arith_choice", 0.25}, {"dispatch", 0.15},  {"dispatch_code", 0.05}};
  auto make_pools = [&](bool train) {
    std::vector<Pool> ps;
    Pool cls{"dispatch", weights.at("dispatch"), {}}, cls_code{"dispatch_code", weights.at("dispatch_code"), {}};
    for (size_t ti = 0; ti < synth.size(); ++ti) {
      const auto& t = synth[ti];
      const auto& items = train ? t.train : t.test;
      const auto& exs = train ? train_ex[ti] : test_ex[ti];
      Pool p{t.name, weights.at(t.name), {}};
      for (size_t i = 0; i < items.size(); ++i) {
        const tasks::Task* task = task_objs[ti].get();
        const bool code = task->chat_template() == "code_prompt";
        Prompt tp;
        tp.task = task;
        tp.code_template = code;
        tp.ex = exs[i];
        tp.careful = items[i].careful;
        tp.sloppy = items[i].sloppy;
        tp.slip = items[i].slip;
        tp.p_careful = items[i].p_careful;
        tp.p_slip = items[i].p_slip;
        p.items.push_back(std::move(tp));
        if (!t.unseen) {
          Prompt c;
          c.ex = tasks::dispatch_example(exs[i]);
          c.ex.gold = {{"answer", t.family}};
          c.careful = cls_answer(t.family);
          c.sloppy = cls_answer(sloppy_label(t.family));
          c.p_careful = cls_p_careful(t.family);
          if (code) {
            Prompt cc = c;
            cc.code_template = true;
            cls_code.items.push_back(std::move(cc));
          }
          cls.items.push_back(std::move(c));
        }
      }
      ps.push_back(std::move(p));
    }
    ps.push_back(std::move(cls));
    ps.push_back(std::move(cls_code));
    return ps;
  };
  pools = make_pools(true);
  std::vector<Pool> test_pools = make_pools(false);

  // ---- tokenizer: byte-level BPE learned on the distinct texts of the training prompts (system
  // prompts, questions, prefills) and answers, so that the words of the tasks become single tokens
  // (a system prompt counts once, not once per example: the trainer shares it as a prefix anyway)
  std::set<std::string> distinct;
  for (const auto& p : pools)
    for (const auto& it : p.items) {
      for (const auto& m : it.ex.messages) distinct.insert(m.content);
      distinct.insert(it.ex.assistant_prefill);
      distinct.insert(it.careful);
      distinct.insert(it.sloppy);
      if (!it.slip.empty()) distinct.insert(it.slip);
    }
  std::vector<std::string> corpus(distinct.begin(), distinct.end());
  BpeTrainOptions bo;
  bo.vocab_size = opt.shape.vocab;
  bo.min_pair_count = 1;  // the merges left after the task words shorten the system prompts
  bo.pattern = kSplitPattern;
  bo.special_tokens = kSpecials;
  TrainedBpe bpe = train_byte_level_bpe(corpus, bo);
  write_text(model_dir + "/tokenizer.json", bpe_tokenizer_json(bpe, kBos));
  {
    oj decoder = oj::object();
    for (const auto& s : kSpecials)
      decoder[std::to_string(bpe.special_id(s))] = {{"content", s},        {"lstrip", false}, {"normalized", false},
                                                    {"rstrip", false},     {"single_word", false},
                                                    {"special", true}};
    oj cfg = {{"added_tokens_decoder", decoder},
              {"bos_token", kBos},
              {"chat_template", llama3_chat_template_jinja()},
              {"clean_up_tokenization_spaces", true},
              {"eos_token", kEot},
              {"model_input_names", {"input_ids", "attention_mask"}},
              {"model_max_length", 2048},
              {"tokenizer_class", "PreTrainedTokenizerFast"}};
    write_text(model_dir + "/tokenizer_config.json", dump(cfg));
    write_text(model_dir + "/special_tokens_map.json", dump(oj{{"bos_token", kBos}, {"eos_token", kEot}}));
  }
  auto tok = Tokenizer::load(model_dir);
  auto model_tmpl = ChatTemplate::for_tokenizer(*tok);
  T2_CHECK(model_tmpl->name() == "llama3", "quickstart: the chat template was recognised as '{}'", model_tmpl->name());
  model_template = model_tmpl.get();
  const int32_t eot = *tok->token_id(kEot);
  log(fmt::format("tokenizer: {} tokens ({} merges learned, {} special)", tok->vocab_size(), bpe.merges.size(),
                  kSpecials.size()));

  auto encode_all = [&](std::vector<Pool>& ps) {
    size_t max_len = 0;
    for (auto& p : ps) {
      size_t total = 0;
      for (auto& it : p.items) {
        it.ids = encode_chat(*tok, template_of(it), to_chat(it.ex), true, it.ex.assistant_prefill);
        it.careful_ids = tok->encode(it.careful, false);
        it.careful_ids.push_back(eot);
        it.sloppy_ids = tok->encode(it.sloppy, false);
        it.sloppy_ids.push_back(eot);
        if (!it.slip.empty()) {
          it.slip_ids = tok->encode(it.slip, false);
          it.slip_ids.push_back(eot);
        }
        total += it.ids.size();
        max_len = std::max(max_len, it.ids.size() + std::max({it.careful_ids.size(), it.sloppy_ids.size(),
                                                              it.slip_ids.size()}));
      }
      if (!p.items.empty())
        log(fmt::format("  {:<13} {:>5} prompts, {:.0f} tokens each on average", p.name, p.items.size(),
                        static_cast<double>(total) / static_cast<double>(p.items.size())));
    }
    return max_len;
  };
  const size_t max_len = std::max(encode_all(pools), encode_all(test_pools));

  // ---- the model
  ModelConfig mc;
  mc.architecture = "LlamaForCausalLM";
  mc.model_type = "llama";
  mc.hidden_size = opt.shape.hidden;
  mc.num_hidden_layers = opt.shape.layers;
  mc.num_attention_heads = opt.shape.heads;
  mc.num_key_value_heads = opt.shape.kv_heads;
  T2_CHECK_AS(UsageError, opt.shape.heads > 0 && opt.shape.hidden % opt.shape.heads == 0,
              "quickstart: hidden size {} must divide by the number of heads {}", opt.shape.hidden, opt.shape.heads);
  mc.head_dim = opt.shape.hidden / opt.shape.heads;
  mc.intermediate_size = opt.shape.intermediate;
  mc.vocab_size = tok->vocab_size();
  mc.max_position_embeddings = 2048;
  mc.rope_theta = 10000.0;
  mc.rms_norm_eps = 1e-5;
  T2_CHECK(static_cast<int64_t>(max_len) + quickstart_max_new_tokens() <= mc.max_position_embeddings,
           "quickstart: a prompt of {} tokens does not fit the context", max_len);

  PretrainOptions po;
  po.steps = opt.steps;
  po.train_seconds = opt.train_seconds;
  po.lr = opt.lr;
  po.seed = opt.seed;
  po.threads = 1;
  po.log_every = std::max<int64_t>(1, opt.steps / 12);
  double wsum = 0;
  for (const auto& p : pools) wsum += p.weight;
  // Each pool's prompts share their first tokens (BOS, the system prompt, the user header): the
  // trainer computes that prefix once per batch (tiny_pretrain's prefixes; exact, only cheaper).
  std::vector<std::vector<int32_t>> prefixes;
  for (const auto& p : pools) {
    std::vector<int32_t> pre = p.items.front().ids;
    for (const auto& it : p.items) {
      size_t n = 0;
      while (n < pre.size() && n + 1 < it.ids.size() && pre[n] == it.ids[n]) ++n;
      pre.resize(n);
    }
    prefixes.push_back(pre);
  }
  Rng batch_rng(opt.seed, 100);
  auto next_batch = [&](int64_t) {
    PretrainBatch b;
    b.prefixes = prefixes;
    for (int64_t i = 0; i < opt.batch_size; ++i) {
      double u = batch_rng.uniform() * wsum;
      size_t pi = 0;
      while (pi + 1 < pools.size() && u >= pools[pi].weight) u -= pools[pi++].weight;
      const Prompt& it = pools[pi].items[batch_rng.below(pools[pi].items.size())];
      const double u_mode = batch_rng.uniform();
      const size_t P = prefixes[pi].size();
      PretrainSequence s;
      s.prefix = static_cast<int32_t>(pi);
      s.ids.assign(it.ids.begin() + static_cast<long>(P), it.ids.end());
      s.loss_from = static_cast<int32_t>(s.ids.size());
      const auto& ans = u_mode < it.p_careful                ? it.careful_ids
                        : u_mode < it.p_careful + it.p_slip ? it.slip_ids
                                                              : it.sloppy_ids;
      s.ids.insert(s.ids.end(), ans.begin(), ans.end());
      b.sequences.push_back(std::move(s));
    }
    return b;
  };
  log(fmt::format("pre-training a {}-layer Llama (hidden {}, {} heads / {} KV, MLP {}, vocab {}) for {} on 1 thread",
                  mc.num_hidden_layers, mc.hidden_size, mc.num_attention_heads, mc.num_key_value_heads,
                  mc.intermediate_size, mc.vocab_size,
                  opt.train_seconds > 0 ? fmt::format("about {:.0f} s", opt.train_seconds)
                                        : fmt::format("{} steps of {} sequences", opt.steps, opt.batch_size)));
  PretrainResult pr = tiny_pretrain(mc, next_batch, po, [&](const PretrainProgress& p) {
    log(fmt::format("  step {:>5}/{}  loss {:.4f}  lr {:.2e}  {:.1f} s", p.step, p.steps, p.loss, p.lr, p.seconds));
  });

  SafetensorsWriter w;
  for (const auto& t : pr.weights) w.add_f32(t.name, t.shape, t.values);
  w.set_metadata("format", "pt");
  w.write(model_dir + "/model.safetensors");
  {
    const int32_t bos = *tok->token_id(kBos);
    oj cfg = {{"architectures", {"LlamaForCausalLM"}},
              {"attention_bias", false},
              {"attention_dropout", 0.0},
              {"bos_token_id", bos},
              {"eos_token_id", eot},
              {"head_dim", mc.head_dim},
              {"hidden_act", "silu"},
              {"hidden_size", mc.hidden_size},
              {"initializer_range", po.init_std},
              {"intermediate_size", mc.intermediate_size},
              {"max_position_embeddings", mc.max_position_embeddings},
              {"mlp_bias", false},
              {"model_type", "llama"},
              {"num_attention_heads", mc.num_attention_heads},
              {"num_hidden_layers", mc.num_hidden_layers},
              {"num_key_value_heads", mc.num_key_value_heads},
              {"pretraining_tp", 1},
              {"rms_norm_eps", mc.rms_norm_eps},
              {"rope_scaling", nullptr},
              {"rope_theta", mc.rope_theta},
              {"tie_word_embeddings", false},
              {"torch_dtype", "float32"},
              {"transformers_version", "4.43.1"},
              {"use_cache", true},
              {"vocab_size", mc.vocab_size}};
    write_text(model_dir + "/config.json", dump(cfg));
    write_text(model_dir + "/generation_config.json",
               dump(oj{{"bos_token_id", bos}, {"do_sample", false}, {"eos_token_id", {eot}}}));
  }
  {
    oj tasks_j = oj::object();
    for (const auto& t : synth) {
      oj f = t.train_file == t.test_file
                 ? oj{{"data", t.train_file}, {"train", {0, t.train.size()}}, {"test", {t.train.size(), t.train.size() + t.test.size()}}}
                 : oj{{"train", t.train_file}, {"test", t.test_file}};
      tasks_j[t.name] = {{"kind", t.kind},
                         {"family", t.family.empty() ? oj(nullptr) : oj(t.family)},
                         {"unseen", t.unseen},
                         {"files", f},
                         {"train_size", t.train.size()},
                         {"test_size", t.test.size()}};
    }
    oj m = {{"format", "t2-quickstart"}, {"version", 1},       {"seed", opt.seed},
            {"steps", pr.steps},         {"batch_size", opt.batch_size}, {"lr", opt.lr},
            {"model", "model"},          {"tasks", tasks_j}};
    write_text(out + "/quickstart.json", dump(m));
  }

  InitReport rep;
  rep.steps = pr.steps;
  rep.train_seconds = pr.seconds;
  rep.final_loss = pr.final_loss;
  rep.vocab_size = tok->vocab_size();
  log(fmt::format("model written to {} ({} steps in {:.1f} s, last loss {:.4f})", model_dir, pr.steps, pr.seconds,
                  pr.final_loss));

  // ---- base accuracy: greedy answers of the runtime, scored by the tasks' own scorers
  if (opt.evaluate) {
    const auto t_eval = clock::now();
    auto rt = Runtime::load(model_dir);
    GenerateOptions go;
    go.max_new_tokens = quickstart_max_new_tokens();
    Detokenizer detok = [&](const std::vector<int32_t>& ids) { return tok->decode(ids, true); };
    for (auto& p : test_pools) {
      TaskScore s;
      s.task = p.name;
      const tasks::Task* task = p.items.empty() ? nullptr : p.items[0].task;
      s.kind = task ? task->kind() : "cls";
      std::vector<std::vector<int32_t>> prompts;
      std::vector<tasks::Example> exs;
      for (const auto& it : p.items) {
        prompts.push_back(it.ids);
        exs.push_back(it.ex);
      }
      go.stop_strings = task ? task->stop_strings() : std::vector<std::string>{};
      auto gens = rt->generate(prompts, go, detok);
      std::vector<std::string> responses;
      for (const auto& g : gens) responses.push_back(g.text);
      std::vector<bool> ok(p.items.size());
      if (task) {
        auto verdicts = task->score_many(exs, responses, opt.eval_threads);
        for (size_t i = 0; i < verdicts.size(); ++i) ok[i] = verdicts[i].correct;
      } else {
        for (size_t i = 0; i < responses.size(); ++i)
          ok[i] = tasks::dispatch_label(responses[i]) == p.items[i].ex.gold["answer"].get<std::string>();
      }
      if (!opt.responses_dir.empty()) {
        std::string txt;
        for (size_t i = 0; i < p.items.size(); ++i)
          txt += oj{{"id", p.items[i].ex.id},
                    {"correct", static_cast<bool>(ok[i])},
                    {"p_careful", p.items[i].p_careful},
                    {"response", responses[i]},
                    {"careful", p.items[i].careful},
                    {"sloppy", p.items[i].sloppy}}
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                 "\n";
        write_text(opt.responses_dir + "/" + p.name + ".jsonl", txt);
      }
      for (size_t i = 0; i < p.items.size(); ++i) {
        ++s.n;
        s.correct += ok[i] ? 1 : 0;
        const std::string marker = careful_marker(p.items[i].careful, p.items[i].sloppy);
        s.careful += responses[i].compare(0, marker.size(), marker) == 0 ? 1 : 0;
      }
      rep.base.push_back(s);
    }
    rep.eval_seconds = since(t_eval);
  }
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file())
      rep.files.push_back({fs::relative(e.path(), out).string(), static_cast<uint64_t>(e.file_size())});
  std::sort(rep.files.begin(), rep.files.end());
  rep.total_seconds = since(t_start);
  return rep;
}

}  // namespace t2::quickstart
