#include "workers/runtime.h"

#include "workers/model.h"

namespace t2 {

Runtime::Runtime(std::unique_ptr<Model> m) : model_(std::move(m)) {}
Runtime::~Runtime() = default;

std::unique_ptr<Runtime> Runtime::load(const std::string& model_dir, const LoadOptions& opt) {
  return std::unique_ptr<Runtime>(new Runtime(Model::load(model_dir, opt)));
}

const ModelConfig& Runtime::config() const { return model_->config(); }

Model& Runtime::model() { return *model_; }

std::vector<Generation> Runtime::generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opt,
                                          const Detokenizer& detok) {
  return model_->generate(prompts, opt, detok);
}

std::vector<std::vector<float>> Runtime::logprobs(const std::vector<std::vector<int32_t>>& prompts,
                                                  const std::vector<std::vector<int32_t>>& continuations) {
  std::vector<std::vector<float>> out;
  for (const torch::Tensor& t : model_->score(prompts, continuations, /*grad=*/false)) {
    torch::Tensor c = t.to(torch::kCPU, torch::kFloat).contiguous();
    out.emplace_back(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

}  // namespace t2
