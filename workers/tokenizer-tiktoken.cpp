#include "workers/tokenizer-tiktoken.h"

#include <array>

#include "core/check.h"
#include "core/files.h"

namespace t2 {

namespace {

constexpr int kLlama3SpecialCount = 256;

std::optional<std::string> base64_decode(std::string_view s) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(abc[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '=') {
      if (i + 2 < s.size()) return std::nullopt;
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;
    int v = table[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// Llama 3.1's names for ids base+0 .. base+255 (tokenizer_config.json overrides them when present).
std::vector<AddedToken> llama3_special_tokens(int32_t base) {
  std::vector<std::string> names = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                                    "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                                    "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
                                    "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};
  for (int i = 3; names.size() < kLlama3SpecialCount; ++i)
    names.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  std::vector<AddedToken> out;
  for (int i = 0; i < kLlama3SpecialCount; ++i) out.push_back({base + i, names[i], true, false, false});
  return out;
}

}  // namespace

bool looks_like_tiktoken(std::string_view head) {
  size_t nl = head.find('\n');
  std::string_view line = head.substr(0, nl);
  size_t sp = line.rfind(' ');
  if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size()) return false;
  for (size_t i = sp + 1; i < line.size(); ++i)
    if (line[i] < '0' || line[i] > '9') return false;
  return base64_decode(line.substr(0, sp)).has_value();
}

std::unique_ptr<BpeModel> load_tiktoken(const std::string& path) {
  std::string text = read_file(path);
  std::vector<std::optional<std::string>> tokens;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    size_t sp = line.rfind(' ');
    auto bytes = sp == std::string_view::npos ? std::nullopt : base64_decode(line.substr(0, sp));
    long rank = -1;
    if (bytes && sp + 1 < line.size() && line.size() - sp - 1 <= 9) {
      rank = 0;
      for (size_t i = sp + 1; i < line.size(); ++i) {
        if (line[i] < '0' || line[i] > '9') {
          rank = -1;
          break;
        }
        rank = rank * 10 + (line[i] - '0');
      }
    }
    T2_CHECK_AS(FormatError, rank >= 0, "{}:{}: expected \"<base64 token bytes> <rank>\", got \"{}\"", path,
                line_no, std::string(line.substr(0, 80)));
    auto r = static_cast<size_t>(rank);
    if (tokens.size() <= r) tokens.resize(r + 1);
    T2_CHECK_AS(FormatError, !tokens[r], "{}:{}: rank {} appears twice", path, line_no, rank);
    tokens[r] = std::move(*bytes);
  }
  T2_CHECK_AS(FormatError, !tokens.empty(), "{}: no ranks in the file", path);
  auto base = static_cast<int32_t>(tokens.size());
  BpeOptions opt;
  opt.kind = "tiktoken";
  opt.origin = path;
  opt.pattern = kLlama3Pattern;
  opt.ignore_merges = true;  // tiktoken looks a whole piece up before merging
  auto bpe = std::make_unique<BpeModel>(std::move(tokens), opt);
  bpe->derive_merges_from_ranks();
  bpe->set_added(llama3_special_tokens(base));
  return bpe;
}

}  // namespace t2
