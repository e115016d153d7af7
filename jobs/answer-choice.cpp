#include "jobs/answer-choice.h"

#include <cctype>

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

namespace t2::tasks {

std::optional<char> choice_answer(const std::string& response, size_t n_options) {
  if (n_options < 1 || n_options > 10) n_options = 10;
  std::string t;
  for (size_t i = 0; i < response.size(); ++i) {
    if (response.compare(i, 2, "**") == 0) {
      ++i;
      continue;
    }
    t += response[i];
  }
  char last_ok = char('A' + n_options - 1);
  auto ok = [&](const std::optional<std::string>& g) { return g && g->size() == 1 && (*g)[0] >= 'A' && (*g)[0] <= last_ok; };
  auto last_of = [&](const Regex& re) -> std::optional<char> {
    std::optional<char> got;
    for (auto& m : re.find_all(t))
      for (size_t g = 1; g < m.groups.size(); ++g) {
        auto letter = m.groups[g];
        if (letter && letter->size() == 1) letter = std::string(1, char(std::toupper(static_cast<unsigned char>((*letter)[0]))));
        if (ok(letter)) got = (*letter)[0];
      }
    return got;
  };
  // "the answer is (B)", "Answer: B", "ANSWER: b" in parentheses, "answer is option C"
  static const Regex marked(
      R"((?i:answer)(?: is|:| would be| should be)\s*:?\s*(?:(?:option|choice)\s+)?(?:\(([A-Ja-j])\)|\[?([A-J])\b))");
  static const Regex paren(R"(\(([A-J])\))");
  static const Regex option(R"((?:[oO]ption|[cC]hoice)\s+([A-J])\b)");
  for (const Regex* re : {&marked, &paren, &option})
    if (auto c = last_of(*re)) return c;
  static const Regex lone(R"(\b([A-J])\b)");
  static const Regex article(R"(^ (?!is\b|would\b|seems\b|should\b|appears\b|can\b|must\b)[a-z])");
  std::optional<char> got;
  for (auto& m : lone.find_all(t)) {
    if (!ok(m.groups[1])) continue;
    char c = (*m.groups[1])[0];
    if (c == 'I') continue;  // the pronoun
    if (c == 'A' && article.search(std::string_view(t).substr(m.end))) continue;
    got = c;
  }
  return got;
}

}  // namespace t2::tasks
