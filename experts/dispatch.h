// Dispatch, the first pass of Transformer² (METHOD.md §6): decide which expert (or mixture) adapts
// the model for a question.
//   prompt  — the model (base or classifier expert) answers the exact classification prompt below;
//             the first \boxed{...} is the label; code / math / reasoning pick their expert, anything
//             else is "other", which uses the base weights (compat original: the last expert loaded).
//   cls     — the same, with the classifier expert (trained by REINFORCE on dispatch_cls_dataset).
//   fewshot — a CEM mixture of the experts found on a few examples of the task (cem.h, mixture.h).
// Torch-free (public).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace t2 {

// The system message of the classification pass, byte for byte as the reference renders it
// (leading newline, 4-space indentation, the trailing space on the Reasoning line).
const std::string& dispatch_classification_prompt();

// The label of a classification answer: the first \boxed{...} content if it is exactly "code",
// "math" or "reasoning" (case-sensitive, as the reference), else "other".
std::string dispatch_label(const std::string& response);

enum class DispatchCompat { fixed, original };
DispatchCompat dispatch_compat_from_name(const std::string& name);  // fixed | original

// Which expert serves a label: its index in `experts` (label → expert file order), or -1 for the
// base weights. compat original: "other" (or a label without an expert) gets `last_loaded`, the
// expert the reference would still have loaded (its eval order is code, math, reasoning, other).
int dispatch_route(const std::string& label, const std::map<std::string, int>& experts, DispatchCompat compat,
                   int last_loaded);

// One labelled example of the classifier-expert data (§6.2).
struct ClsExample {
  std::string question;
  std::string label;   // code | math | reasoning
};
struct ClsSplit {
  std::vector<ClsExample> train, valid, test;
};
// The §6.2 recipe: the first `per_source` items of each source (math, code, reasoning) concatenated,
// split 4:1 by index % 5 < 4, the train part split even/odd into train/valid. The caller chooses
// the sources: the reference's test-set questions only when contamination is opted in.
ClsSplit dispatch_cls_dataset(const std::vector<std::string>& math, const std::vector<std::string>& code,
                              const std::vector<std::string>& reasoning, size_t per_source = 399);

// The classifier's reward: +1 when dispatch_label(response) equals the label, else −1.
double dispatch_cls_reward(const std::string& response, const std::string& label);

}  // namespace t2
