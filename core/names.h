// Helpers for messages about names: "did you mean" suggestions and lists of valid names.
#pragma once

#include <string>
#include <vector>

namespace t2 {

// Levenshtein distance (bytes).
size_t edit_distance(const std::string& a, const std::string& b);

// The closest candidate within a distance that scales with the length, or "" when none is close.
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

// "did you mean 'x'? valid: a, b, c" (the first part only when a close candidate exists).
std::string suggest(const std::string& name, const std::vector<std::string>& candidates);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

}  // namespace t2
