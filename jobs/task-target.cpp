#include "jobs/task-target.h"

#include "core/error.h"

namespace t2::tasks {

namespace {

std::string text_of(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string next_token_target(const Task& task, const Example& ex) {
  const auto& g = ex.gold;
  if (g.is_object() && g.contains("target") && g["target"].is_string()) return g["target"].get<std::string>();
  const std::string kind = task.kind();
  if ((kind == "gsm8k" || kind == "math") && g.contains("solution")) return text_of(g["solution"]);
  if ((kind == "arc_easy" || kind == "arc_challenge") && g.contains("answer"))
    return ".\nThe answer is " + text_of(g["answer"]) + ".";
  if (kind == "humaneval" && g.contains("reference") && g.contains("prompt")) {
    const std::string ref = g["reference"].get<std::string>(), prompt = g["prompt"].get<std::string>();
    // the prefill ended with the stripped prompt: the body starts on a new line
    std::string body = ref.substr(std::min(ref.size(), prompt.size()));
    while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
    return "\n" + body + "\n```";
  }
  if (kind == "mbpp" && g.contains("reference")) return "\n" + text_of(g["reference"]) + "\n```";
  if (kind == "cls" && g.contains("answer")) return "\\boxed{" + text_of(g["answer"]) + "}";
  if (kind == "user" && g.contains("answer")) return text_of(g["answer"]);
  throw UsageError("example " + ex.id + " of a " + kind +
                   " task has no solution to train on with the next-token objective (give its records a "
                   "\"target\" field)");
}

}  // namespace t2::tasks
