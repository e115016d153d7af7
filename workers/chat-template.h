// Built-in chat templates: the prompt formats of the supported model families and the task templates
// of the Transformer² reference (METHOD.md §5), written in C++ (no Jinja engine) and checked against
// the families' own templates.
//
//   name          what                                                        BOS in text
//   llama3        Llama 3 Instruct = METHOD "plain" (alias llama3_plain)        yes
//   llama3_cot    llama3 whose generation prompt ends "Let's think step by step"  yes
//   llama3.1      Llama 3.1 Instruct (system header with the knowledge dates)    yes
//   mistral       Mistral v3 [INST] (mistral-common v3, alias mistral_v3)        yes
//   chatml        Qwen2.5 ChatML, default system prompt when none (alias qwen2.5)  no (Qwen has none)
//   chatml_plain  ChatML without a default system prompt                         no
//   code_prompt   METHOD CODE_PROMPT: "@@ Instruction:" / "@@ Response:"          no
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace t2 {

class Tokenizer;

// A function call made by an assistant turn (Mistral v3 [TOOL_CALLS]).
struct ChatToolCall {
  std::string id;              // 9 characters for Mistral v3
  std::string name;
  std::string arguments_json;  // the arguments object as JSON text
};

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" (llama3.1, chatml, mistral: also "tool")
  std::string content;
  std::vector<ChatToolCall> tool_calls;  // assistant turns that call tools (mistral)
  std::string tool_call_id;              // "tool" turns: the call this result answers (mistral)
};

class ChatTemplate {
 public:
  virtual ~ChatTemplate() = default;

  // The prompt text with special tokens written as text. add_generation_prompt appends the template's
  // assistant header; assistant_prefill is appended verbatim after it (the reference's prefill).
  // Throws UsageError for conversations the template rejects (wrong role order, empty content).
  virtual std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true,
                             const std::string& assistant_prefill = "") const = 0;
  virtual std::string name() const = 0;
  // As render(), with tool definitions (a JSON array of {"type": "function", "function": {...}}).
  // Only `mistral` renders tools ([AVAILABLE_TOOLS], [TOOL_CALLS], [TOOL_RESULTS] as mistral-common
  // v3 does); the others throw NotAvailable when tools_json is not empty.
  virtual std::string render_with_tools(const std::vector<ChatMessage>& messages, const std::string& tools_json,
                                        bool add_generation_prompt = true,
                                        const std::string& assistant_prefill = "") const;

  // By name or alias (table above); UsageError with "did you mean" and the valid names otherwise.
  static std::unique_ptr<ChatTemplate> by_name(const std::string& name);
  static std::vector<std::string> names();  // canonical names

  // The built-in template whose structure a Jinja chat template has (Llama 3 / 3.1 Instruct,
  // Mistral v3, Qwen2.5/ChatML); "" when none is recognised.
  static std::string detect_name(const std::string& jinja_source);
  // Same from the contents of a tokenizer_config.json ("chat_template", string or list); nullptr
  // when it has none or it is not recognised. FormatError when the JSON is malformed.
  static std::unique_ptr<ChatTemplate> detect(const std::string& tokenizer_config_json);
  // The template of a tokenizer's folder; UsageError naming tokenizer_config.json when it cannot
  // be recognised (then the campaign must name one).
  static std::unique_ptr<ChatTemplate> for_tokenizer(const Tokenizer& tok);
};

// Token ids of a chat with exactly one BOS at the start when the tokenizer's model uses one:
// templates that write the BOS text get it as the special token, the others get it prepended, and
// no second BOS is ever added (the reference likely doubled it for Llama 3, METHOD.md §4.2).
std::vector<int32_t> encode_chat(const Tokenizer& tok, const ChatTemplate& tmpl,
                                 const std::vector<ChatMessage>& messages, bool add_generation_prompt = true,
                                 const std::string& assistant_prefill = "");

// Python str.strip() / Jinja trim: removes Unicode whitespace at both ends.
std::string strip_whitespace(const std::string& s);

}  // namespace t2
