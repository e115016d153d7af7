#include "workers/chat-template.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"
#include "core/names.h"
#include "workers/chat-template-json.h"
#include "workers/tokenizer.h"

namespace t2 {

namespace {

// Length of the whitespace code point at s[i] (Python's str.isspace set), 0 when none.
size_t space_len(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  auto at = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
  if (c == 0xC2 && (at(1) == 0x85 || at(1) == 0xA0)) return 2;
  if (c == 0xE1 && at(1) == 0x9A && at(2) == 0x80) return 3;  // U+1680
  if (c == 0xE2 && at(1) == 0x80 && ((at(2) >= 0x80 && at(2) <= 0x8A) || at(2) == 0xA8 || at(2) == 0xA9 || at(2) == 0xAF))
    return 3;                                                   // U+2000-200A, 2028, 2029, 202F
  if (c == 0xE2 && at(1) == 0x81 && at(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && at(1) == 0x80 && at(2) == 0x80) return 3;  // U+3000
  return 0;
}

// End of the last non-whitespace code point at or after `from` (scanning forward keeps multi-byte
// code points whole).
size_t content_end(const std::string& s, size_t from) {
  size_t end = from, i = from;
  while (i < s.size()) {
    if (size_t n = space_len(s, i)) {
      i += n;
      continue;
    }
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    end = i;
  }
  return end;
}

const char* const kQwenSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

[[noreturn]] void reject(const std::string& tmpl, const std::string& why) {
  throw UsageError("chat template '" + tmpl + "': " + why);
}

// Llama 3 Instruct (METHOD "plain"), optionally with the CoT prefill in the generation prompt.
class Llama3Template : public ChatTemplate {
 public:
  explicit Llama3Template(bool cot) : cot_(cot) {}
  std::string name() const override { return cot_ ? "llama3_cot" : "llama3"; }
  std::string render(const std::vector<ChatMessage>& messages, bool gen, const std::string& prefill) const override {
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i == 0) out += "<|begin_of_text|>";
      out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
             strip_whitespace(messages[i].content) + "<|eot_id|>";
    }
    if (gen) {
      out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      if (cot_) out += "Let's think step by step";
    }
    return out + prefill;
  }

 private:
  bool cot_;
};

// Llama 3.1 Instruct without tools (date_string defaults to "26 Jul 2024" as in the template).
class Llama31Template : public ChatTemplate {
 public:
  std::string name() const override { return "llama3.1"; }
  std::string render(const std::vector<ChatMessage>& messages, bool gen, const std::string& prefill) const override {
    size_t first = 0;
    std::string system;
    if (!messages.empty() && messages[0].role == "system") {
      system = strip_whitespace(messages[0].content);
      first = 1;
    }
    std::string out = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n";
    out += "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + system + "<|eot_id|>";
    for (size_t i = first; i < messages.size(); ++i) {
      const auto& m = messages[i];
      if (m.role == "tool" || m.role == "ipython")
        out += "<|start_header_id|>ipython<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      else
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + strip_whitespace(m.content) + "<|eot_id|>";
    }
    if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out + prefill;
  }
};

// Qwen2.5 ChatML without tools; `default_system` adds Qwen's system prompt when none is given.
class ChatmlTemplate : public ChatTemplate {
 public:
  explicit ChatmlTemplate(bool default_system) : default_system_(default_system) {}
  std::string name() const override { return default_system_ ? "chatml" : "chatml_plain"; }
  std::string render(const std::vector<ChatMessage>& m, bool gen, const std::string& prefill) const override {
    std::string out;
    bool has_system = !m.empty() && m[0].role == "system";
    if (has_system)
      out += "<|im_start|>system\n" + m[0].content + "<|im_end|>\n";
    else if (default_system_)
      out += std::string("<|im_start|>system\n") + kQwenSystem + "<|im_end|>\n";
    for (size_t i = has_system ? 1 : 0; i < m.size(); ++i) {
      const std::string& role = m[i].role;
      if (role == "user" || role == "system" || role == "assistant") {
        out += "<|im_start|>" + role + "\n" + m[i].content + "<|im_end|>\n";
      } else if (role == "tool") {  // consecutive tool results share one user turn
        if (i == 0 || m[i - 1].role != "tool") out += "<|im_start|>user";
        out += "\n<tool_response>\n" + m[i].content + "\n</tool_response>";
        if (i + 1 == m.size() || m[i + 1].role != "tool") out += "<|im_end|>\n";
      } else {
        reject(name(), "message " + std::to_string(i) + ": unknown role '" + role + "' (system, user, assistant, tool)");
      }
    }
    if (gen) out += "<|im_start|>assistant\n";
    return out + prefill;
  }

 private:
  bool default_system_;
};

// Mistral v3 [INST] as mistral-common's v3 instruct tokenizer (chat_template.v3_spm.jinja has the same
// layout): system messages are merged into the last user turn, consecutive same-role turns are
// joined, tools are listed before the last user turn, tool calls and results are JSON written as
// Python's json.dumps (arguments and results parsed first, as mistral-common does).
class MistralTemplate : public ChatTemplate {
 public:
  std::string name() const override { return "mistral"; }
  std::string render(const std::vector<ChatMessage>& messages, bool, const std::string& prefill) const override {
    return impl(messages, "", prefill);
  }
  std::string render_with_tools(const std::vector<ChatMessage>& messages, const std::string& tools_json, bool,
                                const std::string& prefill) const override {
    std::string available;
    if (!tools_json.empty()) {
      nlohmann::ordered_json tools;
      try {
        tools = nlohmann::ordered_json::parse(tools_json);
      } catch (const nlohmann::json::parse_error& e) {
        reject(name(), "tools: not valid JSON at byte " + std::to_string(e.byte));
      }
      if (!tools.is_array()) reject(name(), "tools: expected a JSON array");
      if (!tools.empty()) available = "[AVAILABLE_TOOLS] " + python_json_dumps(tools) + "[/AVAILABLE_TOOLS]";
    }
    return impl(messages, available, prefill);
  }

 private:
  std::string impl(const std::vector<ChatMessage>& messages, const std::string& available_tools,
                   const std::string& prefill) const {
    std::vector<std::string> system_parts;
    std::vector<ChatMessage> turns;
    for (size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      if (m.role == "system") {
        system_parts.push_back(m.content);
        continue;
      }
      if (m.role != "user" && m.role != "assistant" && m.role != "tool")
        reject(name(), "message " + std::to_string(i) + ": role '" + m.role +
                           "' is not supported (system, user, assistant, tool)");
      if (!turns.empty() && turns.back().role == m.role && m.role != "tool") {
        auto& t = turns.back();
        if (!m.content.empty()) t.content += (t.content.empty() ? "" : "\n\n") + m.content;
        t.tool_calls.insert(t.tool_calls.end(), m.tool_calls.begin(), m.tool_calls.end());
      } else {
        turns.push_back(m);
      }
    }
    std::string system;
    for (size_t i = 0; i < system_parts.size(); ++i) system += (i ? "\n\n" : "") + system_parts[i];
    if (!turns.empty() && turns[0].role != "user")
      reject(name(), "the conversation must start with a user message, got " + turns[0].role);
    size_t last_user = 0;
    for (size_t i = 0; i < turns.size(); ++i) {
      if (turns[i].role == "user") last_user = i;
      if (i > 0 && turns[i - 1].role == "user" && turns[i].role == "tool")
        reject(name(), "unexpected role 'tool' after role 'user'");
    }
    std::string out = "<s>";
    bool add_space = false, prev_tool = false;
    for (size_t i = 0; i < turns.size(); ++i) {
      const ChatMessage& t = turns[i];
      if (t.role == "user") {
        if (i == last_user) out += available_tools;
        out += "[INST] ";
        if (i == last_user && !system.empty()) out += system + "\n\n";
        out += t.content + "[/INST]";
        add_space = i + 1 < turns.size();
        prev_tool = false;
      } else if (t.role == "assistant") {
        if (!t.content.empty() && !t.tool_calls.empty())
          reject(name(), "an assistant message cannot have both content and tool calls");
        if (!t.content.empty()) {
          if (add_space) out += " ";
          out += t.content;
        } else if (!t.tool_calls.empty()) {
          out += "[TOOL_CALLS] [";
          for (size_t k = 0; k < t.tool_calls.size(); ++k) {
            const ChatToolCall& c = t.tool_calls[k];
            if (c.id.size() != 9) reject(name(), "tool call ids must have 9 characters, got '" + c.id + "'");
            nlohmann::ordered_json call;
            call["name"] = c.name;
            try {
              call["arguments"] = nlohmann::ordered_json::parse(c.arguments_json.empty() ? "{}" : c.arguments_json);
            } catch (const nlohmann::json::parse_error& e) {
              reject(name(), "tool call '" + c.name + "': arguments are not valid JSON at byte " + std::to_string(e.byte));
            }
            call["id"] = c.id;
            out += (k ? ", " : "") + python_json_dumps(call);
          }
          out += "]";
        } else {
          reject(name(), "assistant messages must have content or tool calls");
        }
        add_space = false;
        out += "</s>";
        prev_tool = false;
      } else {  // tool
        if (add_space && !prev_tool) out += " ";
        add_space = false;
        if (t.tool_call_id.size() != 9)
          reject(name(), "tool messages need a tool_call_id of 9 characters, got '" + t.tool_call_id + "'");
        nlohmann::ordered_json result;
        result["content"] = nlohmann::ordered_json::parse(t.content, nullptr, /*allow_exceptions=*/false);
        if (result["content"].is_discarded()) result["content"] = t.content;  // not JSON: kept as a string
        result["call_id"] = t.tool_call_id;
        out += "[TOOL_RESULTS] " + python_json_dumps(result) + "[/TOOL_RESULTS]";
        prev_tool = add_space = true;
      }
    }
    return out + prefill;  // v3 has no generation prompt: the prompt ends with [/INST]
  }
};

// METHOD.md §5 CODE_PROMPT (MBPP / HumanEval, both models), no BOS in the text.
class CodePromptTemplate : public ChatTemplate {
 public:
  std::string name() const override { return "code_prompt"; }
  std::string render(const std::vector<ChatMessage>& messages, bool gen, const std::string& prefill) const override {
    size_t first = 0;
    std::string out;
    if (!messages.empty() && messages[0].role == "system") {
      out = strip_whitespace(messages[0].content) + "\n\n";
      first = 1;
    }
    for (size_t i = first; i < messages.size(); ++i) {
      const auto& m = messages[i];
      bool user_turn = (i - first) % 2 == 0;
      if ((m.role == "user") != user_turn)
        reject(name(), "conversation roles must alternate user/assistant/user/assistant/... (message " +
                           std::to_string(i) + " is " + m.role + ")");
      if (m.role == "user")
        out += "@@ Instruction:\n" + strip_whitespace(m.content) + "\n\n";
      else if (m.role == "assistant")
        out += "@@ Response:\n" + strip_whitespace(m.content);
      if (i + 1 == messages.size() && m.role == "user" && gen) out += "@@ Response:";
    }
    return out + prefill;
  }
};

struct Entry {
  const char* name;
  const char* canonical;
};
const Entry kNames[] = {{"llama3", "llama3"},     {"llama3_plain", "llama3"},   {"llama3_cot", "llama3_cot"},
                        {"llama3.1", "llama3.1"}, {"mistral", "mistral"},       {"mistral_v3", "mistral"},
                        {"chatml", "chatml"},     {"qwen2.5", "chatml"},        {"chatml_plain", "chatml_plain"},
                        {"code_prompt", "code_prompt"}};

bool has(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

}  // namespace

std::string strip_whitespace(const std::string& s) {
  size_t b = 0;
  while (b < s.size()) {
    size_t n = space_len(s, b);
    if (!n) break;
    b += n;
  }
  size_t e = content_end(s, b);
  return s.substr(b, e - b);
}

std::string ChatTemplate::render_with_tools(const std::vector<ChatMessage>& messages, const std::string& tools_json,
                                            bool add_generation_prompt, const std::string& assistant_prefill) const {
  std::string t = strip_whitespace(tools_json);
  if (!t.empty() && t != "[]") throw NotAvailable("chat template '" + name() + "' does not render tool definitions in t2");
  return render(messages, add_generation_prompt, assistant_prefill);
}

std::vector<std::string> ChatTemplate::names() {
  return {"llama3", "llama3_cot", "llama3.1", "mistral", "chatml", "chatml_plain", "code_prompt"};
}

std::unique_ptr<ChatTemplate> ChatTemplate::by_name(const std::string& name) {
  std::string c;
  for (const auto& e : kNames)
    if (name == e.name) c = e.canonical;
  if (c == "llama3") return std::make_unique<Llama3Template>(false);
  if (c == "llama3_cot") return std::make_unique<Llama3Template>(true);
  if (c == "llama3.1") return std::make_unique<Llama31Template>();
  if (c == "mistral") return std::make_unique<MistralTemplate>();
  if (c == "chatml") return std::make_unique<ChatmlTemplate>(true);
  if (c == "chatml_plain") return std::make_unique<ChatmlTemplate>(false);
  if (c == "code_prompt") return std::make_unique<CodePromptTemplate>();
  std::vector<std::string> all;
  for (const auto& e : kNames) all.push_back(e.name);
  throw UsageError("unknown chat template '" + name + "': " + suggest(name, all));
}

std::string ChatTemplate::detect_name(const std::string& j) {
  // By structure: the markers each family's template writes, not a hash of the source.
  if (has(j, "<|start_header_id|>") && has(j, "<|end_header_id|>") && has(j, "<|eot_id|>"))
    return has(j, "Cutting Knowledge Date") ? "llama3.1" : "llama3";
  if (has(j, "<|im_start|>") && has(j, "<|im_end|>"))
    return has(j, kQwenSystem) ? "chatml" : "chatml_plain";
  // v3 writes "[INST] " + content + "[/INST]"; v1/v2 put a space before [/INST] (not supported).
  if (has(j, "[INST]") && has(j, "[/INST]") && !has(j, " [/INST]")) return "mistral";
  return "";
}

std::unique_ptr<ChatTemplate> ChatTemplate::detect(const std::string& tokenizer_config_json) {
  nlohmann::json c;
  try {
    c = nlohmann::json::parse(tokenizer_config_json);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError("tokenizer_config.json: not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  if (!c.is_object() || !c.contains("chat_template")) return nullptr;
  std::string src;
  const auto& ct = c["chat_template"];
  if (ct.is_string()) {
    src = ct.get<std::string>();
  } else if (ct.is_array()) {
    for (const auto& e : ct)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
        src = e["template"].get<std::string>();
  }
  std::string n = detect_name(src);
  return n.empty() ? nullptr : by_name(n);
}

std::unique_ptr<ChatTemplate> ChatTemplate::for_tokenizer(const Tokenizer& tok) {
  const std::string& src = tok.chat_template_source();
  std::string where = tok.tokenizer_config_path().empty() ? tok.source() : tok.tokenizer_config_path();
  if (src.empty()) {
    // Without a config: Mistral's own tokenizer.model speaks only its v3 format.
    if (tok.kind() == "sentencepiece" && tok.token_id("[INST]") && tok.token_id("[/INST]")) return by_name("mistral");
    // Meta's tiktoken file: the dialog format of Meta's own ChatFormat is the Llama 3 one.
    if (tok.kind() == "tiktoken" && tok.token_id("<|start_header_id|>") && tok.token_id("<|eot_id|>"))
      return by_name("llama3");
    throw UsageError(where + ": no chat_template; name one of: " + join(names()));
  }
  std::string n = detect_name(src);
  if (n.empty()) throw UsageError(where + ": chat_template is not one t2 recognises; name one of: " + join(names()));
  return by_name(n);
}

std::vector<int32_t> encode_chat(const Tokenizer& tok, const ChatTemplate& tmpl,
                                 const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 const std::string& assistant_prefill) {
  std::vector<int32_t> ids = tok.encode(tmpl.render(messages, add_generation_prompt, assistant_prefill), true);
  if (tok.add_bos() && (ids.empty() || ids[0] != *tok.bos_id())) ids.insert(ids.begin(), *tok.bos_id());
  return ids;
}

}  // namespace t2
