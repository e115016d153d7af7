#include "jobs/answer-choice.h"

#include "jobs/answer-regex.h"
#include "jobs/dataset-shuffle.h"

namespace t2::tasks {

std::optional<char> extract_choice_letter(const std::string& response) {
  static const Regex first(R"(answer is \(?([A-J])\)?)");
  static const Regex second(R"(.*[aA]nswer:\s*([A-J]))");
  static const Regex third(R"(\b[A-J]\b(?!.*\b[A-J]\b))", "s");
  for (const Regex* re : {&first, &second, &third}) {
    auto m = re->search(response);
    if (!m) continue;
    const auto& g = m->groups.size() > 1 ? m->groups[1] : m->groups[0];
    if (g && !g->empty()) return (*g)[0];
  }
  return std::nullopt;
}

char reference_guess_letter(size_t n_options) {
  PythonRandom rng(42);
  return char('A' + rng.randint(0, int64_t(n_options) - 1));
}

std::optional<char> gold_letter(const std::string& key, const std::vector<std::string>& labels) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == key) return char('A' + i);
  return std::nullopt;
}

}  // namespace t2::tasks
