// JSON text as Python's json.dumps(value, ensure_ascii=False) writes it (", " and ": " separators,
// keys in the given order, floats as repr), which is what model chat formats embed for tool
// definitions, calls and results (mistral-common).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace t2 {

std::string python_json_dumps(const nlohmann::ordered_json& value);

}  // namespace t2
