// MATH answer extraction and normalisation, ported from the reference evaluator
// (fishfarm `competation_math.py`, itself Hendrycks et al.'s `is_equiv` helpers): METHOD.md §5.2.
#pragma once

#include <optional>
#include <string>

namespace t2::tasks {

// The last "\boxed{...}" / "\fbox{...}" (or "\boxed X") in `s` with its braces matched, including the
// command; nullopt when there is none or its braces never close.
std::optional<std::string> last_boxed_only_string(const std::string& s);
// "\boxed{X}" -> "X" ("\boxed X" -> "X", "\fbox{X}" -> "X"); nullopt when `s` is not of that form.
std::optional<std::string> remove_boxed(const std::string& s);
// The content of the last boxed expression in `s`.
std::optional<std::string> last_boxed_content(const std::string& s);

// Response extraction. Reference (`reference` = true, compat `math_tolerance`): after the last
// "The answer is: " up to the first ".\n" (a trailing '.' stripped) when that phrase occurs, otherwise
// the last boxed content. Default: the same, but a "$...$" around that answer is dropped, a \boxed{}
// in it (or after it) gives its content, and without phrase or box the text after the last "answer
// is" (any case) up to the end of its line.
std::optional<std::string> extract_math_answer(const std::string& response, bool reference = false);

// `_strip_string`: the normalisation both sides get before comparison.
std::string strip_math_string(std::string s);

}  // namespace t2::tasks
