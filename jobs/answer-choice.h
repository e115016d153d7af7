// Multiple-choice answers (ARC and user tasks of scorer kind `multiple_choice`), METHOD.md §5.3.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace t2::tasks {

// The reference's cascade (compat `arc_guess`): `answer is \(?([A-J])\)?` (first match), then `.*[aA]nswer:\s*([A-J])`,
// then the last standalone letter A-J anywhere (`\b[A-J]\b(?!.*\b[A-J]\b)`, DOTALL).
std::optional<char> extract_choice_letter(const std::string& response);

// As a careful grader reads a response with `n_options` options (letters A.. only): the last
// "answer is (X)" / "answer is option X" / "answer: X" with X a whole word (not the "D" of
// "Definitely"), markdown bold ignored; else the last "(X)" or "option X"; else the last standalone
// letter that is not the article "A" nor the pronoun "I".
std::optional<char> choice_answer(const std::string& response, size_t n_options = 10);

// The reference's replacement for an unparseable answer: random.seed(42); randint(0, n-1) as a
// letter ("A" for 4 or 5 options, "C" for 3). Used only under compat `original`.
char reference_guess_letter(size_t n_options);

// The letter of gold `answer_key` among `labels`: its position mapped to A, B, ... so that ARC's
// numeric keys "1".."4" become "A".."D". nullopt when the key is not among the labels.
std::optional<char> gold_letter(const std::string& answer_key, const std::vector<std::string>& labels);

}  // namespace t2::tasks
