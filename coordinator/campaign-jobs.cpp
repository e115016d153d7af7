#include "coordinator/campaign-jobs.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <optional>

#include "coordinator/campaign-data.h"
#include "workers/work-executor.h"
#include "coordinator/work-payload.h"
#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "experts/cem.h"
#include "experts/expert-file.h"
#include "experts/mixture.h"
#include "experts/reinforce.h"
#include "experts/svd-layout.h"
#include "experts/svf-subset.h"
#include "experts/svf-transfer.h"
#include "jobs/layer-list.h"
#include "experts/z-layout.h"
#include "jobs/math-sympy.h"
#include "results/run-layout.h"
#include "results/run-store.h"
#include "results/tensorboard-events.h"

namespace t2 {

namespace {

using nlohmann::json;

std::string param_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Scores that depend on the machine are recorded with the job: MATH pairs the C++ comparison cannot
// decide go to sympy, so whether sympy was there is a parameter of the result.
results::JobInfo job_info(const Job& j, const Campaign& c) {
  results::JobInfo info;
  info.id = j.id;
  info.kind = j.kind;
  for (auto it = j.params.begin(); it != j.params.end(); ++it) info.params[it.key()] = param_text(it.value());
  if (!j.model.empty()) info.params["model"] = j.model;
  if (!j.task.empty()) info.params["task"] = j.task;
  if (!j.method.empty()) info.params["method"] = j.method;
  // an evaluation shown under another key (Table 4's rows): t2 table reads "method"
  if (j.kind == "evaluate" && j.params.contains("label") && j.params["label"].is_string()) {
    info.params["method"] = j.params["label"].get<std::string>();
    info.params["evaluated_method"] = j.method;
  }
  if (j.seed >= 0) info.params["seed"] = std::to_string(j.seed);
  if (j.kind == "classifier_expert") {
    const TaskSpec* t = c.find_task(j.params.value("task", std::string("cls")));
    const bool test = t && campaign_task_options(c, *t).has_compat(tasks::compat::cls_test_data);
    info.params["cls_data"] = test ? "test splits (compat cls_test_data: the questions it later routes)" : "train splits";
  }
  if (const TaskSpec* t = j.task.empty() ? nullptr : c.find_task(j.task); t && j.method == "t2_fewshot")
    info.params["evaluated"] = t->split.count("train")
                                   ? "test (shots from the train split)"
                                   : "test without the few-shot examples (the task has no train split)";
  if (const TaskSpec* t = j.task.empty() ? nullptr : c.find_task(j.task); t && t->kind == "math") {
    const auto to = campaign_task_options(c, *t);
    tasks::SandboxOptions sb = to.sandbox;  // where the task runs its sympy pairs (jobs/task-math.cpp)
    sb.python = to.python;
    const std::string& why = tasks::sympy_status(sb);
    info.params["sympy"] = why.empty() ? "available" : "missing (undecided MATH pairs count wrong): " + why;
  }
  return info;
}

// Shared by the drivers of one run: the store, the tasks, expert vectors read once.
struct Shared {
  const Campaign& campaign;
  const Plan& plan;
  results::RunStore& store;
  CampaignTasks& tasks;
  CampaignJobsOptions opt;
  std::map<std::string, Expert> experts;  // by producing job id
  // TensorBoard event files, one folder per job (RUN_DIR/tensorboard/<job-dir>), open while it runs.
  std::map<std::string, std::unique_ptr<results::TensorboardWriter>> tensorboard;
  bool tensorboard_failed = false;

  std::string expert_path(const std::string& job_id) const { return store.job_dir(job_id) + "/expert.h5"; }
  const Expert& expert(const std::string& job_id) {
    auto it = experts.find(job_id);
    if (it != experts.end()) return it->second;
    return experts.emplace(job_id, expert_read(expert_path(job_id))).first->second;
  }
  SvdLayout svd(const std::string& model) const {
    auto it = opt.model_tp.find(model);
    return read_svd_layout(run_svd_dir(store.dir(), model), it == opt.model_tp.end() ? opt.tp : it->second);
  }
  void log(const std::string& line) const {
    if (opt.log) opt.log(line);
  }
  // Curves for TensorBoard: secondary to the HDF5 records, so a failure to write them is reported
  // once and never stops the run.
  void scalars(const std::string& job_id, int64_t step, const results::Scalars& values) {
    if (tensorboard_failed) return;
    try {
      auto& w = tensorboard[job_id];
      if (!w)
        w = std::make_unique<results::TensorboardWriter>(store.dir() + "/tensorboard/" +
                                                         results::layout::job_dir_name(job_id));
      w->write(step, values);
    } catch (const std::exception& e) {
      tensorboard_failed = true;
      log(std::string("TensorBoard event files are not written any more: ") + e.what());
    }
  }
  const Job& plan_job(const std::string& id) const {
    const Job* j = plan.find(id);
    T2_CHECK(j, "job '{}' is not in the plan", id);
    return *j;
  }
};

// The expert `id` as job `user` applies it: checked against the user's model, or, when the user asks
// for transfer_from (Tables 5, 9), transferred from that model (same matrices and ranks, else a
// UsageError naming the first difference) with sigma_order, shuffled by the user's seed.
Expert job_expert(Shared& sh, const Job& user, const std::string& id) {
  const Expert& e = sh.expert(id);
  SvdLayout svd = sh.svd(user.model);
  const auto& P = user.params;
  if (P.contains("transfer_from") && P["transfer_from"].is_string()) {
    TransferSpec t;
    t.transfer_from = sh.svd(P["transfer_from"].get<std::string>()).source_hash;  // the expert must come from it
    t.order = parse_sigma_order(P.value("sigma_order", std::string("ordered")));
    t.seed = static_cast<uint64_t>(user.seed);
    return expert_transfer(e, sh.expert_path(id), svd.layout, svd.source_hash, user.model, t);
  }
  expert_check_compatible(e, sh.expert_path(id), svd.layout, svd.source_hash);
  return e;
}

// What a few-shot search mixes: its experts' z (in the search's order), the layout, the mixing rule.
struct FewshotSetup {
  std::vector<std::vector<float>> z;
  ZLayout layout;
  bool per_matrix = true;
  MixingMode mode = MixingMode::multiplier;
};

// "shots:<n>:<seed>": the few-shot examples a search job is scored on (seed: shots_seed, else the
// job's seed).
std::string shots_role(const Job& search) {
  const auto& P = search.params;
  const int64_t seed = P.contains("shots_seed") && P["shots_seed"].is_number_integer() ? P["shots_seed"].get<int64_t>()
                                                                                         : search.seed;
  return "shots:" + std::to_string(P.value("shots", int64_t{10})) + ":" + std::to_string(seed);
}

FewshotSetup fewshot_setup(Shared& sh, const Job& search) {
  FewshotSetup f;
  SvdLayout svd = sh.svd(search.model);
  f.layout = svd.layout;
  for (const auto& id : search.params.at("experts").get<std::vector<std::string>>())
    f.z.push_back(job_expert(sh, search, id).z);
  f.per_matrix = search.params.value("per_matrix", true);
  f.mode = mixing_mode_from_name(search.params.value("mixing", std::string("multiplier")));
  return f;
}

// A job run as rounds of independent items: start() queues the first round (or finishes at once),
// take() consumes each result, round_done() queues the next round or finishes. round_done() runs
// inside complete() of the round's last result, so between rounds the driver always has items or
// is finished: the scheduler never sees a driver that is waiting on nothing.
class RoundDriver : public JobDriver {
 public:
  RoundDriver(Shared& sh, Job job) : sh_(sh), job_(std::move(job)) {}

  std::optional<WorkSpec> next() override {
    if (!started_) {
      if (done()) return std::nullopt;
      started_ = true;
      auto info = job_info(job_, sh_.campaign);
      // the isolation generated code of this job runs under (throws where it is unavailable)
      if (!job_.task.empty()) info.params["sandbox"] = sh_.tasks.get(job_.task).sandbox_isolation();
      sh_.store.begin_job(info);
      start();
      settle();
    }
    if (queue_.empty()) return std::nullopt;
    Pending q = std::move(queue_.front());
    queue_.pop_front();
    ++outstanding_;
    // Built and packed only now, when the item is handed out: a round of many items (an evaluation
    // of thousands of batches) holds one shared base payload, not one packed copy per item.
    return WorkSpec{std::move(q.kind), q.index, q.units, pack_payload(q.build())};
  }

  void complete(const WorkSpec& spec, const WorkResult& result) override {
    --outstanding_;
    auto request = requests_.extract(spec.index);
    T2_CHECK(!request.empty(), "{}: a result for item #{} that this job did not hand out", job_.id, spec.index);
    take(request.mapped(), unpack_payload(result.payload, job_.id + " " + spec.kind + " #" + std::to_string(spec.index)));
    settle();
  }

  // A job finished in an earlier session is done before it is ever started, so that the scheduler
  // releases its dependents at once.
  bool exhausted() const override { return done(); }
  bool done() const override {
    if (!started_ && !finished_ && !checked_store_) {
      checked_store_ = true;
      finished_ = sh_.store.reader().is_done(job_.id);
    }
    return finished_;
  }
  nlohmann::json metrics() const override { return metrics_; }

 protected:
  virtual void start() = 0;
  // One result with the metadata of the request it answers.
  virtual void take(const json& request, const Payload& result) = 0;
  virtual void round_done() = 0;

  void push(const std::string& kind, uint64_t units, const Payload& p) {
    auto shared = std::make_shared<const Payload>(p);
    push_lazy(kind, units, p.meta, [shared] { return *shared; });
  }
  // An item whose payload `build` makes when it is handed out; `meta` is what take() gets back.
  void push_lazy(const std::string& kind, uint64_t units, json meta, std::function<Payload()> build) {
    requests_.emplace(next_index_, std::move(meta));  // take() gets it back without decoding the payload
    queue_.push_back(Pending{kind, next_index_++, units, std::move(build)});
  }
  void finish() {
    sh_.store.mark_done(job_.id);
    sh_.tensorboard.erase(job_.id);  // closes (and syncs) its event file
    finished_ = true;
    sh_.log("done " + job_.id + (metrics_.empty() ? "" : " " + metrics_.dump()));
  }

  Shared& sh_;
  Job job_;
  json metrics_ = json::object();

 private:
  void settle() {
    while (!finished_ && queue_.empty() && outstanding_ == 0) round_done();
  }
  struct Pending {
    std::string kind;
    uint64_t index = 0, units = 0;
    std::function<Payload()> build;
  };
  bool started_ = false;
  mutable bool finished_ = false, checked_store_ = false;
  std::deque<Pending> queue_;
  std::map<uint64_t, json> requests_;  // metadata of the items handed out and not yet answered
  int outstanding_ = 0;
  uint64_t next_index_ = 0;
};

// ---------------------------------------------------------------------------------------------
class DecomposeDriver : public RoundDriver {
 public:
  using RoundDriver::RoundDriver;
  uint64_t units_total() const override { return 1; }
  uint64_t units_done() const override { return done() ? 1 : 0; }

 protected:
  void start() override {
    Payload p;
    p.meta = {{"modules", job_.params.value("modules", std::string("mlp"))},
              {"layers", job_.params.value("layers", std::string("all"))},
              {"dtype", job_.params.value("dtype", std::string("fp32"))}};
    push("decompose", 1, p);
  }
  void take(const json&, const Payload& r) override { metrics_ = r.meta; }
  void round_done() override { finish(); }
};

// ---------------------------------------------------------------------------------------------
// Evaluation of one (model, task, method, seed) cell.
class EvaluateDriver : public RoundDriver {
 public:
  using RoundDriver::RoundDriver;
  uint64_t units_total() const override { return static_cast<uint64_t>(n_); }
  uint64_t units_done() const override { return static_cast<uint64_t>(done_units_); }

 protected:
  void start() override {
    // An unseen task's baseline: choose among the training-task adapters on the valid split first.
    if (job_.params.contains("adapter_candidates")) return select_adapter();
    start_test();
  }

  // The test batches not yet in the store.
  void start_test() {
    const auto& task = sh_.tasks.get(job_.task);
    // the few-shot mixture never scores the examples it was searched on
    role_ = job_.method == "t2_fewshot" ? task.evaluated_role(shots_role(sh_.plan_job(job_.params.at("fewshot").get<std::string>())))
                                        : "test";
    n_ = static_cast<int64_t>(task.examples(role_).size());
    if (job_.params.contains("limit") && job_.params["limit"].is_number_integer())
      n_ = std::min<int64_t>(n_, job_.params["limit"].get<int64_t>());
    const int64_t bs = std::max<int64_t>(1, job_.params.value("batch_size", int64_t{64}));
    const int64_t batches = (n_ + bs - 1) / bs;
    Payload base = adaptation();
    base.meta["task"] = job_.task;
    base.meta["role"] = role_;
    base.meta["temperature"] = job_.params.value("temperature", 0.0);
    base.meta["seed"] = job_.seed;
    auto reader = sh_.store.reader();
    auto missing = reader.missing_eval_batches(job_.id, batches);
    done_units_ = n_;
    auto shared = std::make_shared<const Payload>(std::move(base));  // one copy of z for every batch
    for (int64_t b : missing) {
      std::vector<int64_t> idx;
      for (int64_t i = b * bs; i < std::min(n_, (b + 1) * bs); ++i) idx.push_back(i);
      done_units_ -= static_cast<int64_t>(idx.size());
      json meta = shared->meta;
      meta["indices"] = idx;
      meta["batch"] = b;
      push_lazy("generate", idx.size(), meta, [shared, meta] {
        Payload p = *shared;
        p.meta = meta;
        return p;
      });
    }
  }

  void take(const json& request, const Payload& r) override {
    if (selecting_) {
      auto& sc = selection_[request.at("candidate").get<size_t>()];
      for (const auto& rec : r.meta.at("records")) sc += rec.at("score").get<double>();
      return;
    }
    results::EvalBatch batch;
    const auto idx = request.at("indices").get<std::vector<int64_t>>();
    batch.index = request.at("batch").get<int64_t>();
    batch.first_example = idx.empty() ? 0 : idx.front();
    for (const auto& rec : r.meta.at("records")) {
      results::ExampleRecord e;
      e.example_id = rec.at("example_id").get<std::string>();
      e.example_index = rec.at("example_index").get<int64_t>();
      e.prompt_hash = rec.at("prompt_hash").get<std::string>();
      e.response = rec.at("response").get<std::string>();
      e.extracted = rec.at("extracted").get<std::string>();
      e.reference = rec.at("reference").get<std::string>();
      e.score = rec.at("score").get<double>();
      e.route = rec.at("route").get<std::string>();
      e.prompt_tokens = rec.at("prompt_tokens").get<int64_t>();
      e.response_tokens = rec.at("response_tokens").get<int64_t>();
      e.prompt = rec.value("prompt", std::string());
      batch.records.push_back(std::move(e));
    }
    sh_.store.write_eval_batch(job_.id, batch);
    done_units_ += static_cast<int64_t>(idx.size());
  }

  void round_done() override {
    if (selecting_) return selected();
    auto m = results::Metrics::from_records(sh_.store.reader().read_examples(job_.id));
    sh_.store.write_metrics(job_.id, m);
    sh_.scalars(job_.id, 0, {{"eval/accuracy", m.accuracy}, {"eval/standard_error", m.standard_error}});
    metrics_ = {{"accuracy", m.accuracy}, {"n", m.n}, {"se", m.standard_error}};
    finish();
  }

 private:
  Payload adaptation() {
    Payload p;
    const std::string method = job_.method;
    if (method == "base") {
      p.meta["adapt"] = "base";
      return p;
    }
    if (method == "svf") {
      const std::string id = job_.params.at("expert").get<std::string>();
      const Expert e = job_expert(sh_, job_, id);
      p.meta["adapt"] = "z";
      p.meta["route_name"] = e.task;
      p.floats("z", e.z);
      return p;
    }
    if (method == "t2_prompt" || method == "t2_cls") {
      json route = {{"strategy", method == "t2_cls" ? "cls" : "prompt"}};
      std::vector<std::string> labels;
      std::string last;
      for (const char* label : {"code", "math", "reasoning"}) {  // the reference's loading order
        if (!job_.params.at("experts").contains(label)) continue;
        const std::string id = job_.params["experts"][label].get<std::string>();
        p.floats(std::string("z:") + label, job_expert(sh_, job_, id).z);
        labels.push_back(label);
        last = label;
      }
      route["labels"] = labels;
      route["last"] = last;
      route["other"] = job_.params.value("dispatch", json::object()).value("other", std::string("base"));
      if (method == "t2_cls") {
        const std::string id = job_.params.at("classifier").get<std::string>();
        const Expert& e = sh_.expert(id);
        check(e, id);
        p.floats("cls_z", e.z);
        route["cls_task"] = e.task;
      }
      p.meta["adapt"] = "route";
      p.meta["route"] = route;
      return p;
    }
    if (method == "lora" || method == "ia3" || method == "dora") {
      const std::string id = adapter_.empty() ? job_.params.at("adapter").get<std::string>() : adapter_;
      p.meta["adapt"] = "peft";
      p.meta["route_name"] = method + ":" + sh_.plan_job(id).task;
      p.meta["peft_dir"] = peft_dir(id);
      return p;
    }
    if (method == "t2_fewshot") {
      const std::string id = job_.params.at("fewshot").get<std::string>();
      auto gen = sh_.store.reader().latest_cem_generation(id);
      T2_CHECK(gen.has_value(), "{}: few-shot search {} has no generation in {}", job_.id, id, sh_.store.dir());
      FewshotSetup f = fewshot_setup(sh_, sh_.plan_job(id));
      p.meta["adapt"] = "m";
      p.meta["route_name"] = "mixture";
      p.floats("m", mixture_multipliers(f.z, f.layout, gen->best_alpha, f.per_matrix, f.mode));
      return p;
    }
    throw NotAvailable(job_.id + ": evaluation method '" + method +
                       "' is not built in t2 run (methods: base, svf, t2_prompt, t2_cls, t2_fewshot, lora, ia3, dora)");
  }

  std::string peft_dir(const std::string& adapter_job) const {
    const std::string dir = sh_.store.job_dir(adapter_job) + "/adapter";
    T2_CHECK_AS(UsageError, path_exists(dir + "/adapter_config.json"), "{}: adapter {} has no PEFT files in {}", job_.id,
                adapter_job, dir);
    return dir;
  }

  // Every candidate adapter on the task's valid split (greedy, so the choice is reproducible and a
  // resumed job makes it again identically); never on the test split.
  void select_adapter() {
    const auto& task = sh_.tasks.get(job_.task);
    T2_CHECK_AS(UsageError, task.has_role("valid"), "{}: choosing a training-task adapter needs task {}'s valid split",
                job_.id, job_.task);
    const int64_t n = static_cast<int64_t>(task.examples("valid").size());
    T2_CHECK_AS(UsageError, n > 0, "{}: task {} has an empty valid split", job_.id, job_.task);
    candidates_ = job_.params.at("adapter_candidates").get<std::vector<std::string>>();
    selection_.assign(candidates_.size(), 0.0);
    n_select_ = n;
    selecting_ = true;
    for (size_t c = 0; c < candidates_.size(); ++c)
      for (int64_t first = 0; first < n; first += sh_.opt.valid_batch) {
        std::vector<int64_t> idx;
        for (int64_t i = first; i < std::min(n, first + sh_.opt.valid_batch); ++i) idx.push_back(i);
        Payload p;
        p.meta = {{"task", job_.task}, {"role", "valid"},  {"indices", idx}, {"temperature", 0.0},
                  {"adapt", "peft"},   {"peft_dir", peft_dir(candidates_[c])}, {"candidate", c}};
        push("generate", 0, p);
      }
  }

  // The best candidate (the first of equals, in the experiment's task order) is recorded in
  // jobs/<job>/selection.h5 (chosen adapter, each candidate's valid accuracy), then the test runs.
  void selected() {
    selecting_ = false;
    size_t best = 0;
    for (size_t c = 1; c < selection_.size(); ++c)
      if (selection_[c] > selection_[best]) best = c;
    adapter_ = candidates_[best];
    std::vector<double> acc;
    for (double v : selection_) acc.push_back(v / static_cast<double>(n_select_));
    sh_.store.write_unit(job_.id, "selection.h5", [&](h5::File& f) {
      f.set_attr("chosen", adapter_);
      f.set_attr("chosen_task", sh_.plan_job(adapter_).task);
      f.set_attr("selected_on", job_.task + " valid split (" + std::to_string(n_select_) + " examples)");
      f.write_strings("candidates", candidates_);
      f.write("valid_accuracy", acc);
    });
    metrics_["selected"] = adapter_;
    sh_.log(job_.id + ": chose " + adapter_ + " (valid accuracy " + std::to_string(acc[best]) + ")");
    start_test();
  }

  void check(const Expert& e, const std::string& id) {
    SvdLayout s = sh_.svd(job_.model);
    expert_check_compatible(e, sh_.expert_path(id), s.layout, s.source_hash);
  }

  int64_t n_ = 0, done_units_ = 0;
  std::string role_ = "test";
  // the unseen-task choice among training-task adapters
  bool selecting_ = false;
  std::vector<std::string> candidates_;
  std::vector<double> selection_;  // correct answers per candidate on the valid split
  int64_t n_select_ = 0;
  std::string adapter_;
};

// ---------------------------------------------------------------------------------------------
// Training of one SVF expert (train_expert), of the classifier expert (classifier_expert) or of a
// PEFT baseline adapter (train_peft), with one of two objectives:
//   policy_gradient  per step: `generate` rollouts, then `grad` / `peft_grad` items (REINFORCE);
//   next_token       per step: `svf_next_token` / `peft_grad` items on the solutions; each returns the
//                    sum over its shard and its token count, and the coordinator divides the sum of
//                    the shards (in shard order) by the batch's tokens.
// The coordinator holds the values (z, or the adapter's full flat parameters in PeftTrainer's order, at any TP) and
// the optimizer in a ReinforceState either way, so data order, checkpoints, exact resume and the
// best-on-validation choice are the same code. A PEFT adapter starts from a `peft_init` item (PEFT's
// seeded initialisation needs the model) and ends as a `peft_save` item that writes the chosen
// values in PEFT's layout to jobs/<job>/adapter.
class TrainDriver : public RoundDriver {
 public:
  using RoundDriver::RoundDriver;
  uint64_t units_total() const override { return static_cast<uint64_t>(cfg_.steps); }
  uint64_t units_done() const override { return static_cast<uint64_t>(state_ ? state_->step : 0); }

 protected:
  void start() override {
    const auto& P = job_.params;
    task_ = job_.kind == "classifier_expert" ? P.value("task", std::string("cls")) : job_.task;
    peft_ = job_.kind == "train_peft";
    next_token_ = P.value("objective", std::string(peft_ ? "next_token" : "policy_gradient")) == "next_token";
    if (peft_) {
      peft_settings_ = {{"method", job_.method}, {"objective", next_token_ ? "next_token" : "policy_gradient"},
                        {"r", P.value("r", int64_t{16})}, {"alpha", P.value("alpha", 32.0)},
                        {"dropout", P.value("dropout", 0.05)}, {"modules", P.value("modules", std::string("attn"))},
                        {"seed", job_.seed}};
    }
    cfg_.batch_size = P.value("batch_size", int64_t{256});
    cfg_.samples_per_prompt = P.value("samples_per_prompt", int64_t{1});
    const bool sample = P.value("rollout", std::string("greedy")) == "sample";
    cfg_.temperature = sample ? P.value("temperature", 1.0) : 0.0;
    cfg_.top_p = P.value("top_p", 1.0);
    cfg_.baseline = baseline_from_name(P.value("baseline", std::string("none")));
    cfg_.kl_coeff = P.value("kl_coef", 0.0);
    micro_batch_ = P.value("micro_batch", int64_t{0});
    recompute_ = P.value("recompute", std::string("layer"));
    cfg_.kl_direction = P.value("kl_direction", std::string("ref_to_policy")) == "policy_to_ref"
                            ? KlDirection::policy_ref
                            : KlDirection::ref_policy;
    cfg_.optimizer.kind = P.value("optimizer", std::string("adam"));
    cfg_.optimizer.lr = P.value("lr", 2e-3);
    cfg_.optimizer.weight_decay = P.value("weight_decay", 0.0);
    cfg_.optimizer.clip_norm = P.contains("clip") && P["clip"].is_number() ? P["clip"].get<double>() : 0.0;
    cfg_.steps = P.value("steps", int64_t{200});
    cfg_.optimizer.cosine = P.value("schedule", std::string("none")) == "cosine";
    cfg_.optimizer.total_steps = cfg_.steps;
    cfg_.eval_every = P.value("valid_every", int64_t{10});
    cfg_.seed = static_cast<uint64_t>(job_.seed);
    reinforce_validate(cfg_);
    if (next_token_) {
      // The rollout and reward settings mean nothing without rollouts: refuse them, never ignore them.
      const std::vector<std::pair<const char*, json>> rl = {
          {"kl_coef", 0.0},       {"rollout", "greedy"},   {"samples_per_prompt", 1}, {"baseline", "none"},
          {"reward_correct", 1.0}, {"reward_wrong", -1.0}, {"reward_unparsed", -1.0}};
      for (const auto& [k, def] : rl)
        if (P.contains(k) && P[k] != def)
          throw UsageError(job_.id + ": " + k + " " + P[k].dump() +
                           " is a policy-gradient setting; with objective next_token leave it at " + def.dump());
    }
    // Settings the campaign schema accepts but t2 run does not implement yet: refuse, never ignore.
    if (P.value("max_mult", 1.0) != 1.0)
      throw NotAvailable(job_.id + ": max_mult other than 1 is not implemented in t2 run");
    if (P.value("z_dtype", std::string("fp32")) != "fp32")
      throw NotAvailable(job_.id + ": z_dtype " + P.value("z_dtype", std::string()) + " is not implemented (fp32 only)");

    const auto& task = sh_.tasks.get(task_);
    n_train_ = static_cast<int64_t>(task.examples("train").size());
    T2_CHECK_AS(UsageError, n_train_ > 0, "{}: task {} has an empty train split", job_.id, task_);
    n_valid_ = task.has_role("valid") ? static_cast<int64_t>(task.examples("valid").size()) : 0;
    if (peft_) {
      if (auto ck = sh_.store.reader().latest_checkpoint(job_.id)) {
        const auto& b = ck->bytes.at("state");
        state_ = reinforce_state_from_bytes(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()),
                                            sh_.store.job_dir(job_.id));
        sh_.log("resume " + job_.id + " from step " + std::to_string(state_->step));
        begin_step();
      } else {
        phase_ = Phase::init;
        Payload p;
        p.meta = {{"peft", peft_settings_}};
        push("peft_init", 0, p);
      }
      return;
    }
    svd_ = sh_.svd(job_.model);
    // The expert's modules and layers among the decomposed matrices; the others keep a uniform z.
    try {
      trained_ = svf_trained_matrices(svd_.layout, P.value("modules", std::string("mlp")),
                                      parse_layer_list(P.value("layers", std::string("all"))));
    } catch (const UsageError& e) {
      throw UsageError(job_.id + ": " + e.what() + " (" + svd_.file + ")");
    }
    metrics_["parameters"] = svf_trained_values(svd_.layout, trained_);

    if (auto ck = sh_.store.reader().latest_checkpoint(job_.id)) {
      const auto& b = ck->bytes.at("state");
      state_ = reinforce_state_from_bytes(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()),
                                          sh_.store.job_dir(job_.id));
      T2_CHECK_AS(UsageError, state_->layout == svd_.layout,
                  "{}: the checkpoint's matrices differ from the decomposition in {}", job_.id, svd_.file);
      sh_.log("resume " + job_.id + " from step " + std::to_string(state_->step));
      begin_step();
    } else {
      auto z0 = z_init(svd_.layout, cfg_.seed, P.value("init_mean", 0.1), P.value("init_std", 0.01));
      for (size_t i = 0; i < trained_.size(); ++i)  // untrained: uniform, which gives back W
        if (!trained_[i])
          std::fill(z0.begin() + svd_.layout.offset(i), z0.begin() + svd_.layout.offset(i) + svd_.layout.sizes[i],
                    static_cast<float>(P.value("init_mean", 0.1)));
      state_ = reinforce_init(svd_.layout, std::move(z0), n_train_, cfg_);
      if (!validate()) begin_step();
    }
  }

  void take(const json& request, const Payload& r) override {
    const int64_t shard = request.value("shard", int64_t{-1});
    if (phase_ == Phase::init || phase_ == Phase::save) {
      init_result_ = r;
    } else if (phase_ == Phase::validate) {
      for (const auto& rec : r.meta.at("records")) {
        valid_correct_ += rec.at("score").get<double>();
        valid_n_ += 1;
      }
    } else if (phase_ == Phase::rollout) {
      rollouts_[static_cast<size_t>(shard)] = r;
    } else {
      grads_[static_cast<size_t>(shard)] = r;
    }
  }

  void round_done() override {
    if (phase_ == Phase::init) {  // the adapter's initial values: one "matrix" of all its parameters
      std::vector<float> v = init_result_->floats("params");
      ZLayout layout;
      layout.names = {"peft:" + job_.method};
      layout.sizes = {static_cast<int64_t>(v.size())};
      state_ = reinforce_init(layout, std::move(v), n_train_, cfg_);
      metrics_["parameters"] = init_result_->meta.value("parameters", int64_t{0});
      if (!validate()) begin_step();
      return;
    }
    if (phase_ == Phase::save) {
      write_peft_metrics();
      finish();
      return;
    }
    if (phase_ == Phase::validate) {
      double acc = valid_n_ > 0 ? valid_correct_ / valid_n_ : 0.0;
      *state_ = reinforce_record_validation(std::move(*state_), acc);
      metrics_["validation"] = acc;
      checkpoint();
      begin_step();
      return;
    }
    if (phase_ == Phase::rollout) {
      send_gradients();
      return;
    }
    // gradients in: sum in shard order, one optimizer step.
    ShardGradient total;
    int64_t count = 0;
    for (const auto& g : grads_) {
      ShardGradient s;
      s.grad = g->floats("grad");
      s.loss = g->meta.value("loss", 0.0);
      s.kl = g->meta.value("kl", 0.0);
      s.logp = g->meta.value("logp", 0.0);
      s.samples = g->meta.value("samples", int64_t{0});
      total = total.grad.empty() ? s : shard_gradient_add(total, s);
      count += g->meta.value("count", int64_t{0});
    }
    for (size_t i = 0; i < trained_.size(); ++i)  // matrices outside the expert's modules and layers
      if (!trained_[i])
        std::fill(total.grad.begin() + svd_.layout.offset(i),
                  total.grad.begin() + svd_.layout.offset(i) + svd_.layout.sizes[i], 0.0f);
    if (next_token_) {  // shards return sums: the batch mean over its solution tokens
      const double n = static_cast<double>(std::max<int64_t>(1, count));
      for (auto& v : total.grad) v = static_cast<float>(v / n);
      total.loss /= n;
    }
    *state_ = reinforce_apply(std::move(*state_), cfg_, total, rewards_);
    const auto& pt = state_->curve.back();
    metrics_["step"] = state_->step;
    metrics_["reward"] = pt.reward_mean;
    metrics_["loss"] = pt.loss;
    if (!validate()) {
      checkpoint();
      begin_step();
    }
  }

 private:
  enum class Phase { init, validate, rollout, gradient, save };

  // The values an item adapts the model with: z, or the PEFT adapter's parameters.
  void put_values(Payload& p, const std::vector<float>& v) const {
    if (peft_) {
      p.meta["adapt"] = "peft";
      p.meta["peft"] = peft_settings_;
      p.meta["step"] = state_->step;
      p.floats("peft", v);
    } else {
      p.meta["adapt"] = "z";
      p.floats("z", v);
    }
  }

  // Queues the validation of the current z when due; false when not due (or no valid split).
  bool validate() {
    if (!reinforce_should_validate(*state_, cfg_) || n_valid_ == 0) return false;
    phase_ = Phase::validate;
    valid_correct_ = valid_n_ = 0;
    for (int64_t first = 0; first < n_valid_; first += sh_.opt.valid_batch) {
      Payload p;
      std::vector<int64_t> idx;
      for (int64_t i = first; i < std::min(n_valid_, first + sh_.opt.valid_batch); ++i) idx.push_back(i);
      p.meta = {{"task", task_}, {"role", "valid"}, {"indices", idx}, {"temperature", 0.0}};
      put_values(p, state_->z);
      push("generate", 0, p);
    }
    return true;
  }

  void begin_step() {
    if (reinforce_done(*state_, cfg_)) {
      if (peft_) {  // the chosen values in PEFT's layout, written by a worker (it has the model)
        phase_ = Phase::save;
        Payload p;
        p.meta = {{"dir", sh_.store.job_dir(job_.id) + "/adapter"}};
        put_values(p, chosen());
        push("peft_save", 0, p);
        return;
      }
      write_expert();
      finish();
      return;
    }
    phase_ = Phase::rollout;
    batch_ = reinforce_next_batch(*state_, cfg_);
    const int64_t B = static_cast<int64_t>(batch_.examples.size());
    const int64_t S = sh_.opt.rollout_shard;
    shards_ = (B + S - 1) / S;
    rollouts_.assign(static_cast<size_t>(shards_), std::nullopt);
    grads_.assign(static_cast<size_t>(shards_), std::nullopt);
    if (next_token_) {  // no rollouts: the gradient of the solutions' log-likelihood
      phase_ = Phase::gradient;
      rewards_.clear();
      for (int64_t s = 0; s < shards_; ++s) {
        std::vector<int64_t> idx(batch_.examples.begin() + s * S, batch_.examples.begin() + std::min(B, (s + 1) * S));
        Payload p;
        p.meta = {{"task", task_}, {"role", "train"}, {"indices", idx}, {"shard", s}, {"batch_count", 1}};
        put_values(p, state_->z);
        push(peft_ ? "peft_grad" : "svf_next_token", 0, p);
      }
      return;
    }
    for (int64_t s = 0; s < shards_; ++s) {
      std::vector<int64_t> idx(batch_.examples.begin() + s * S, batch_.examples.begin() + std::min(B, (s + 1) * S));
      Payload p;
      p.meta = {{"task", task_},     {"role", "train"},
                {"indices", idx},
                {"shard", s},        {"samples", cfg_.samples_per_prompt},
                {"temperature", cfg_.temperature}, {"top_p", cfg_.top_p},
                {"seed", batch_.rollout_seed + static_cast<uint64_t>(s)}, {"return_tokens", true}};
      put_values(p, state_->z);
      push("generate", 1, p);
    }
  }

  void send_gradients() {
    phase_ = Phase::gradient;
    rewards_.clear();
    std::vector<int64_t> group_of;
    std::vector<std::vector<int64_t>> shard_samples;  // per shard: example index of each sample
    int64_t prompt = 0;
    // the experiment's rewards (reward_correct / reward_wrong / reward_unparsed), not the task's ±1
    const double r_correct = job_.params.value("reward_correct", 1.0), r_wrong = job_.params.value("reward_wrong", -1.0),
                 r_unparsed = job_.params.value("reward_unparsed", -1.0);
    for (int64_t s = 0; s < shards_; ++s) {
      const auto& r = *rollouts_[static_cast<size_t>(s)];
      std::vector<int64_t> ex;
      for (const auto& rec : r.meta.at("records")) {
        const bool correct = rec.at("score").get<double>() > 0.5, parsed = rec.value("parsed", true);
        rewards_.push_back(correct ? r_correct : parsed ? r_wrong : r_unparsed);
        ex.push_back(rec.at("example_index").get<int64_t>());
      }
      // samples of one prompt are consecutive: group k = prompt position in the whole batch
      for (size_t i = 0; i < ex.size(); ++i) group_of.push_back(prompt + static_cast<int64_t>(i) / cfg_.samples_per_prompt);
      prompt += static_cast<int64_t>(ex.size()) / cfg_.samples_per_prompt;
      shard_samples.push_back(std::move(ex));
    }
    auto adv = reinforce_advantages(rewards_, group_of, cfg_.baseline);
    const int64_t total_samples = static_cast<int64_t>(rewards_.size());
    size_t at = 0;
    for (int64_t s = 0; s < shards_; ++s) {
      const auto& r = *rollouts_[static_cast<size_t>(s)];
      const auto& ex = shard_samples[static_cast<size_t>(s)];
      Payload p;
      p.meta = {{"task", task_},
                {"role", "train"},
                {"indices", ex},
                {"shard", s},
                {"advantages", std::vector<double>(adv.begin() + static_cast<long>(at),
                                                   adv.begin() + static_cast<long>(at + ex.size()))},
                {"batch_samples", total_samples},
                {"batch_count", total_samples},
                {"kl_coef", cfg_.kl_coeff},
                {"kl_direction", kl_direction_name(cfg_.kl_direction)},
                {"micro_batch", micro_batch_},
                {"recompute", recompute_}};
      if (peft_)
        put_values(p, state_->z);
      else
        p.floats("z", state_->z);
      p.sequences("completions", r.sequences("tokens"));
      at += ex.size();
      push(peft_ ? "peft_grad" : "grad", 0, p);
    }
  }

  void checkpoint() {
    results::CheckpointState c;
    c.step = state_->step;
    c.best_score = std::isfinite(state_->best_score) ? state_->best_score : 0.0;
    c.best_step = state_->best_step;
    std::string b = reinforce_state_to_bytes(*state_);
    c.bytes["state"] = std::vector<uint8_t>(b.begin(), b.end());
    c.floats["z"] = state_->z;
    for (const auto& t : state_->curve) {
      results::CurvePoint p;
      p.step = t.step;
      p.reward_mean = t.reward_mean;
      p.reward_std = t.reward_std;
      p.loss = t.loss;
      p.kl = t.kl;
      p.grad_norm = t.grad_norm;
      p.val_accuracy = t.validation;
      c.curve.points.push_back(p);
    }
    sh_.store.write_checkpoint(job_.id, c);
    // After the checkpoint: every point of the curve it holds, each (tag, step) written once
    // (a resumed job's earlier points are already in the event file and are skipped).
    for (const auto& t : state_->curve)
      sh_.scalars(job_.id, t.step,
                  {{"train/reward_mean", t.reward_mean}, {"train/reward_std", t.reward_std}, {"train/loss", t.loss},
                   {"train/kl", t.kl}, {"train/grad_norm", t.grad_norm}, {"train/lr", t.lr},
                   {"train/validation", t.validation}});
  }

  // The values that become the result: best on validation (select: best_valid), else the last.
  std::vector<float> chosen() const {
    const bool best = job_.params.value("select", std::string("best_valid")) == "best_valid" && state_->best_step >= 0 &&
                      !state_->best_z.empty();
    return best ? state_->best_z : state_->z;
  }

  void write_peft_metrics() {
    results::Metrics m;
    m.accuracy = std::isfinite(state_->best_score) ? state_->best_score : 0.0;
    m.n = n_valid_;
    m.standard_error = n_valid_ > 0 ? std::sqrt(m.accuracy * (1 - m.accuracy) / double(n_valid_)) : 0.0;
    m.extra["parameters"] = init_result_ ? init_result_->meta.value("parameters", 0.0) : 0.0;
    m.extra["best_step"] = static_cast<double>(state_->best_step);
    sh_.store.write_metrics(job_.id, m);
  }

  void write_expert() {
    Expert e;
    e.layout = state_->layout;
    const bool best = job_.params.value("select", std::string("best_valid")) == "best_valid" && state_->best_step >= 0 &&
                      !state_->best_z.empty();
    e.z = best ? state_->best_z : state_->z;
    const ModelSpec* spec = sh_.campaign.find_model(job_.model);
    // A Hub id names the weights better than a cache folder: "org/name@<snapshot hash>".
    e.base_model = spec->hf_id.empty() ? spec->path : spec->hf_id + "@" + spec->hf_commit;
    e.base_model_hash = svd_.source_hash;
    e.task = task_;
    e.method = next_token_ ? "next_token" : "reinforce";
    e.config = job_.params.dump();
    e.curve = state_->curve;
    e.best_validation = std::isfinite(state_->best_score) ? state_->best_score : 0.0;
    e.best_step = state_->best_step;
    expert_write(sh_.expert_path(job_.id), e);
    sh_.experts.erase(job_.id);
    results::Metrics m;
    m.accuracy = e.best_validation;
    m.n = n_valid_;
    m.standard_error = n_valid_ > 0 ? std::sqrt(m.accuracy * (1 - m.accuracy) / double(n_valid_)) : 0.0;
    sh_.store.write_metrics(job_.id, m);
  }

  std::string task_;
  bool peft_ = false, next_token_ = false;
  std::vector<bool> trained_;  // SVF: per decomposed matrix, whether this expert adapts it
  json peft_settings_;
  std::optional<Payload> init_result_;  // peft_init's answer (parameter count), then peft_save's
  ReinforceConfig cfg_;
  SvdLayout svd_;
  std::optional<ReinforceState> state_;
  int64_t n_train_ = 0, n_valid_ = 0;
  Phase phase_ = Phase::rollout;
  ReinforceBatch batch_;
  int64_t shards_ = 0;
  int64_t micro_batch_ = 0;  // rollouts per forward/backward of a grad item (0: the whole shard)
  std::string recompute_ = "layer";  // grad items: "layer" (rerun each layer in backward) or "none"
  std::vector<std::optional<Payload>> rollouts_, grads_;
  std::vector<double> rewards_;
  double valid_correct_ = 0, valid_n_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Few-shot CEM (or random shooting) over expert mixture coefficients α.
class FewshotDriver : public RoundDriver {
 public:
  using RoundDriver::RoundDriver;
  uint64_t units_total() const override { return static_cast<uint64_t>(cfg_.generations); }
  uint64_t units_done() const override { return static_cast<uint64_t>(state_ ? state_->generation : 0); }

 protected:
  void start() override {
    const auto& P = job_.params;
    setup_ = fewshot_setup(sh_, job_);
    cfg_.method = P.value("optimizer", std::string("cem"));
    cfg_.population = P.value("population", int64_t{32});
    cfg_.elites = P.value("elites", int64_t{6});
    cfg_.generations = P.value("generations", int64_t{50});
    cfg_.init_std = P.value("init_std", 0.5);
    cfg_.lo = P.value("alpha_min", 0.0);
    cfg_.hi = P.value("alpha_max", 1.0);
    cfg_.re_eval_best = P.value("re_eval_best", true);
    cfg_.loglik_tie_break = P.value("loglik_tiebreak", true);
    cfg_.seed = static_cast<uint64_t>(job_.seed);
    search_validate(cfg_);
    if (P.value("normalize", false)) throw NotAvailable(job_.id + ": normalize: true is not implemented in t2 run");
    if (P.value("select", std::string("final")) != "final")
      throw NotAvailable(job_.id + ": select " + P.value("select", std::string()) + " is not implemented (final only)");
    const int64_t K = static_cast<int64_t>(setup_.z.size());
    const int64_t dim = mixture_dim(K, setup_.layout, setup_.per_matrix);
    const double m0 = P.contains("init_mean") && P["init_mean"].is_number() ? P["init_mean"].get<double>() : 1.0 / double(K);
    role_ = shots_role(job_);
    if (auto g = sh_.store.reader().latest_cem_generation(job_.id)) {
      const auto& b = g->bytes.at("state");
      state_ = search_state_from_bytes(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()),
                                       sh_.store.job_dir(job_.id));
      sh_.log("resume " + job_.id + " from generation " + std::to_string(state_->generation));
    } else {
      state_ = search_init(dim, std::vector<double>(static_cast<size_t>(dim), m0), cfg_);
    }
    next_generation();
  }

  void take(const json& request, const Payload& r) override {
    const auto first = request.at("first").get<size_t>();
    auto acc = r.meta.at("accuracy").get<std::vector<double>>();
    auto ll = r.meta.at("loglik").get<std::vector<double>>();
    for (size_t i = 0; i < acc.size(); ++i) scores_.at(first + i) = CandidateScore{acc[i], ll[i]};
  }

  void round_done() override {
    *state_ = search_tell(std::move(*state_), cfg_, scores_);
    results::CemGeneration g;
    g.generation = state_->generation;
    g.mean = state_->mean;
    g.std = state_->std;
    g.best_score = state_->best_score.accuracy;
    g.best_alpha = state_->best;
    for (const auto& s : scores_) g.population_scores.push_back(s.accuracy);
    std::string b = search_state_to_bytes(*state_);
    g.bytes["state"] = std::vector<uint8_t>(b.begin(), b.end());
    sh_.store.write_cem_generation(job_.id, g);
    double mean = 0;
    for (double v : g.population_scores) mean += v / static_cast<double>(g.population_scores.size());
    sh_.scalars(job_.id, g.generation, {{"search/best_score", g.best_score}, {"search/mean_score", mean}});
    metrics_ = {{"generation", state_->generation}, {"best_accuracy", state_->best_score.accuracy}};
    next_generation();
  }

 private:
  void next_generation() {
    if (search_done(*state_, cfg_)) {
      results::Metrics m;
      m.accuracy = state_->best_score.accuracy;
      m.n = static_cast<int64_t>(sh_.tasks.get(job_.task).examples(role_).size());
      sh_.store.write_metrics(job_.id, m);
      finish();
      return;
    }
    auto pop = search_ask(*state_, cfg_);
    scores_.assign(pop.size(), CandidateScore{});
    const size_t chunk = static_cast<size_t>(sh_.opt.cem_chunk);
    for (size_t first = 0; first < pop.size(); first += chunk) {
      size_t n = std::min(chunk, pop.size() - first);
      std::vector<float> rows;
      for (size_t c = first; c < first + n; ++c) {
        auto m = mixture_multipliers(setup_.z, setup_.layout, pop[c], setup_.per_matrix, setup_.mode);
        rows.insert(rows.end(), m.begin(), m.end());
      }
      Payload p;
      p.meta = {{"task", job_.task}, {"role", role_}, {"candidates", n}, {"first", first}, {"temperature", 0.0}};
      p.floats("m", rows);
      push("cem", 0, p);
    }
  }

  FewshotSetup setup_;
  SearchConfig cfg_;
  std::string role_;
  std::optional<SearchState> state_;
  std::vector<CandidateScore> scores_;
};

}  // namespace

std::vector<JobSpec> make_campaign_jobs(const Campaign& campaign, const Plan& plan, results::RunStore& store,
                                        CampaignTasks& tasks, const CampaignJobsOptions& options) {
  auto shared = std::make_shared<Shared>(Shared{campaign, plan, store, tasks, options, {}});
  std::vector<JobSpec> out;
  for (const Job& j : plan.jobs) {
    JobSpec s;
    s.id = j.id;
    s.kind = j.kind;
    s.model = j.model;
    s.deps = j.deps;
    if (auto it = options.model_tp.find(j.model); it != options.model_tp.end()) s.tp = it->second;
    std::shared_ptr<JobDriver> d;
    if (j.kind == "decompose")
      d = std::make_shared<DecomposeDriver>(*shared, j);
    else if (j.kind == "train_expert" || j.kind == "classifier_expert" || j.kind == "train_peft")
      d = std::make_shared<TrainDriver>(*shared, j);
    else if (j.kind == "fewshot_search")
      d = std::make_shared<FewshotDriver>(*shared, j);
    else if (j.kind == "evaluate")
      d = std::make_shared<EvaluateDriver>(*shared, j);
    else
      throw UsageError("job " + j.id + ": unknown kind '" + j.kind + "'");
    // the drivers share `shared`; keep it alive as long as any of them
    s.driver = std::shared_ptr<JobDriver>(d.get(), [d, shared](JobDriver*) mutable { d.reset(); });
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace t2
