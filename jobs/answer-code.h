// Code answers (MBPP, HumanEval, user tasks of scorer kind `code`), METHOD.md §5.4.
#pragma once

#include <string>
#include <vector>

namespace t2::tasks {

// The completion body as the reference takes it: the text before the first triple backtick (the
// generation was prefilled with "```python", so the model closes the block itself).
std::string completion_before_fence(const std::string& response);

// For responses that were not prefilled: the content of the first ```python (or bare ```) block,
// else the whole text.
std::string first_code_block(const std::string& text);

// evalplus-style sanitisation (approximation, see docs/tasks.md): keeps imports, function and class
// definitions (with decorators) and simple top-level assignments, drops everything else at top level
// (prints, asserts, `if __name__ == ...` blocks, example calls, prose that is not Python). Statement
// boundaries respect strings, brackets and line continuations. Tabs are kept as written.
std::string sanitize_python(const std::string& code);

// The function under test of an MBPP record: the first `def NAME` of `code` called in `assertion`,
// else the first identifier called in the assertion that is not a builtin; "" when none.
std::string mbpp_entry_point(const std::string& code, const std::string& assertion);

// Top-level `def` names of `code` in order.
std::vector<std::string> defined_functions(const std::string& code);

}  // namespace t2::tasks
