// Numeric answers (GSM8K and user tasks of scorer kind `numeric`).
//
// Default (a careful grader): the answer the response marks — the number after the last "####", in
// the last "\boxed{}", or after the last "answer is" / "answer:" (up to the end of that sentence,
// after its last "=") — else the last number in the text. "{,}" and "\," thousands separators and
// the Unicode minus (U+2212) are read as "," and "-". A number may carry a sign ("-3", "+4"; a '-'
// directly after a letter or digit is an operator, not a sign), thousands separators ("1,234,567" is
// one number; "1,23" is two), a decimal part ("2.50", ".5") and is followed by anything (units, "%",
// a full stop). Compared with a relative tolerance.
//
// compat `gsm8k_regex` (METHOD.md §5.1): the reference's regex `\d*\.?\d+`, last match, so "1,234"
// reads as 234 and "-3" as 3; the gold answer goes through the same regex and is truncated to an int.
#pragma once

#include <optional>
#include <string>

namespace t2::tasks {

struct NumberMatch {
  double value = 0;
  std::string text;  // as written, e.g. "-1,234.50"
};

// The number a response gives as its answer (default rules above), or nullopt; `how` (optional)
// names the rule that found it ("####", "boxed", "answer is", "last number").
std::optional<NumberMatch> gsm8k_answer(const std::string& response, std::string* how = nullptr);
// "{,}" -> ",", "\," between digits -> ",", U+2212 / U+2013 before a digit -> "-".
std::string normalise_number_text(const std::string& text);
// The last number in `text` (default rules), or nullopt.
std::optional<NumberMatch> last_number(const std::string& text);
// The reference's `\d*\.?\d+` last match as a float, or nullopt.
std::optional<NumberMatch> last_number_original(const std::string& text);
// Parses a whole string as one number ("1,234", "-3.5", "$12", "7%"): nullopt if it is not one.
std::optional<double> parse_number(const std::string& text);

// |a-b| <= rel * max(1, |b|).
bool numbers_equal(double a, double b, double rel = 1e-9);

// GSM8K gold: the text after the last "####" of a reference solution (else the whole text).
std::string gsm8k_gold_text(const std::string& answer_field);

}  // namespace t2::tasks
