#include "workers/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"
#include "workers/tokenizer-json.h"
#include "workers/tokenizer-model.h"
#include "workers/tokenizer-spm.h"
#include "workers/tokenizer-tiktoken.h"

namespace t2 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    throw FormatError(path + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
}

// A token given as "text", {"content": "text", ...} or null (tokenizer_config.json, special_tokens_map.json).
std::optional<std::string> token_field(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw FormatError(path + ": " + key + ": expected a string, {\"content\": ...} or null, got " + it->dump());
}

// The first malformed UTF-8 byte, or npos.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i;
    for (int k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  std::string dir, file;
  std::error_code ec;
  if (fs::is_regular_file(model_dir, ec)) {
    file = model_dir;
    dir = fs::path(model_dir).parent_path().string();
    if (dir.empty()) dir = ".";
  } else if (fs::is_directory(model_dir, ec)) {
    dir = model_dir;
    if (fs::is_regular_file(dir + "/tokenizer.json")) {
      file = dir + "/tokenizer.json";
    } else if (fs::is_regular_file(dir + "/tokenizer.model")) {
      file = dir + "/tokenizer.model";
    } else {
      throw UsageError(model_dir + ": no tokenizer found: expected tokenizer.json (Hugging Face) or "
                       "tokenizer.model (tiktoken or SentencePiece) in this folder");
    }
  } else {
    throw UsageError(model_dir + ": no such file or folder (expected a model folder with a tokenizer)");
  }

  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->source_ = file;
  std::string spm_bos, spm_eos;
  std::optional<int32_t> spm_bos_id, spm_eos_id;
  if (fs::path(file).extension() == ".json") {
    try {
      t->model_ = load_tokenizer_json(file);
    } catch (const NotAvailable&) {
      // A Metaspace/Unigram tokenizer.json (Mistral) comes with the SentencePiece model it was made from.
      if (!fs::is_regular_file(dir + "/tokenizer.model")) throw;
      file = t->source_ = dir + "/tokenizer.model";
    }
  }
  if (!t->model_) {
    std::string head = read_file(file).substr(0, 256);  // small files only reach here twice
    if (looks_like_tiktoken(head)) {
      t->model_ = load_tiktoken(file);
    } else if (looks_like_sentencepiece(head)) {
      auto spm = std::make_unique<SpmModel>(file);
      spm_bos_id = spm->bos_id();
      spm_eos_id = spm->eos_id();
      t->model_ = std::move(spm);
    } else {
      throw FormatError(file + ": neither a tiktoken rank file (\"base64 rank\" lines) nor a SentencePiece "
                        "model (protobuf) nor tokenizer.json");
    }
  }
  t->set_added_tokens(t->model_->builtin_added_tokens());
  // Defaults before the config files: the SentencePiece ids, Llama 3's names for tiktoken.
  if (spm_bos_id) t->bos_id_ = spm_bos_id;
  if (spm_eos_id) t->eos_ids_ = {*spm_eos_id};
  if (t->model_->kind() == "tiktoken") {
    t->bos_id_ = t->token_id("<|begin_of_text|>");
    for (const char* e : {"<|end_of_text|>", "<|eot_id|>"})
      if (auto id = t->token_id(e)) t->eos_ids_.push_back(*id);
  }
  t->read_configs(dir);
  return t;
}

void Tokenizer::set_added_tokens(std::vector<AddedToken> tokens) {
  added_.clear();
  added_by_id_.clear();
  added_by_text_.clear();
  for (auto& a : tokens) {
    if (a.content.empty() || a.id < 0) continue;
    if (auto it = added_by_id_.find(a.id); it != added_by_id_.end()) {
      added_by_text_.erase(added_[it->second].content);
      added_[it->second] = a;  // a later definition of the same id wins (tokenizer_config.json)
      added_by_text_[a.content] = a.id;
      continue;
    }
    added_by_id_[a.id] = added_.size();
    added_by_text_[a.content] = a.id;
    added_.push_back(a);
  }
  added_by_first_byte_.assign(256, {});
  for (size_t i = 0; i < added_.size(); ++i)
    added_by_first_byte_[static_cast<unsigned char>(added_[i].content[0])].push_back(i);
  for (auto& list : added_by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](size_t a, size_t b) { return added_[a].content.size() > added_[b].content.size(); });
}

void Tokenizer::read_configs(const std::string& dir) {
  std::optional<std::string> bos, eos;
  bool bos_set = false, eos_set = false;
  std::string cfg = dir + "/tokenizer_config.json";
  if (fs::is_regular_file(cfg)) {
    config_path_ = cfg;
    json c = read_json(cfg);
    if (!c.is_object()) throw FormatError(cfg + ": expected a JSON object");
    if (c.contains("added_tokens_decoder") && c["added_tokens_decoder"].is_object()) {
      std::vector<AddedToken> tokens = added_;
      for (auto it = c["added_tokens_decoder"].begin(); it != c["added_tokens_decoder"].end(); ++it) {
        std::string key = "added_tokens_decoder[\"" + it.key() + "\"]";
        AddedToken a;
        try {
          size_t used = 0;
          long id = std::stol(it.key(), &used);
          if (used != it.key().size() || id < 0) throw std::invalid_argument("id");
          a.id = static_cast<int32_t>(id);
        } catch (const std::exception&) {
          throw FormatError(cfg + ": " + key + ": the key must be a token id");
        }
        const json& v = it.value();
        if (!v.is_object() || !v.contains("content") || !v["content"].is_string() || v["content"].get<std::string>().empty())
          throw FormatError(cfg + ": " + key + ".content: expected a non-empty string");
        a.content = v["content"].get<std::string>();
        a.special = v.value("special", false);
        a.lstrip = v.value("lstrip", false);
        a.rstrip = v.value("rstrip", false);
        tokens.push_back(a);
      }
      set_added_tokens(std::move(tokens));
    }
    if (c.contains("bos_token")) bos = token_field(c, "bos_token", cfg), bos_set = true;
    if (c.contains("eos_token")) eos = token_field(c, "eos_token", cfg), eos_set = true;
    if (c.contains("add_bos_token")) {
      if (!c["add_bos_token"].is_boolean()) throw FormatError(cfg + ": add_bos_token: expected true or false");
      add_bos_ = c["add_bos_token"].get<bool>();
    }
    if (c.contains("chat_template")) {
      const json& ct = c["chat_template"];
      if (ct.is_string()) {
        chat_template_ = ct.get<std::string>();
      } else if (ct.is_array()) {  // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
        for (const auto& e : ct)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
            chat_template_ = e["template"].get<std::string>();
        if (chat_template_.empty() && !ct.empty() && ct[0].is_object() && ct[0].contains("template") &&
            ct[0]["template"].is_string())
          chat_template_ = ct[0]["template"].get<std::string>();
      } else if (!ct.is_null()) {
        throw FormatError(cfg + ": chat_template: expected a string or a list of {name, template}");
      }
    }
  }
  std::string stm = dir + "/special_tokens_map.json";
  if (fs::is_regular_file(stm)) {
    json s = read_json(stm);
    if (!s.is_object()) throw FormatError(stm + ": expected a JSON object");
    if (!bos_set && s.contains("bos_token")) bos = token_field(s, "bos_token", stm), bos_set = true;
    if (!eos_set && s.contains("eos_token")) eos = token_field(s, "eos_token", stm), eos_set = true;
  }
  auto resolve = [&](const std::string& text, const std::string& what) {
    auto id = token_id(text);
    if (!id) throw FormatError(dir + ": " + what + " '" + text + "' is not a token of " + source_);
    return *id;
  };
  if (bos_set) bos_id_ = bos ? std::optional<int32_t>(resolve(*bos, "bos_token")) : std::nullopt;
  if (eos_set) {
    eos_ids_.clear();
    if (eos) eos_ids_.push_back(resolve(*eos, "eos_token"));
  }
  std::string gen = dir + "/generation_config.json";
  if (fs::is_regular_file(gen)) {
    json g = read_json(gen);
    if (!g.is_object()) throw FormatError(gen + ": expected a JSON object");
    auto check_id = [&](const json& v, const std::string& key) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab_size())
        throw FormatError(gen + ": " + key + ": expected a token id below " + std::to_string(vocab_size()) +
                          ", got " + v.dump());
      return static_cast<int32_t>(v.get<int64_t>());
    };
    if (g.contains("bos_token_id") && !g["bos_token_id"].is_null() && !bos_set)
      bos_id_ = check_id(g["bos_token_id"], "bos_token_id");
    if (g.contains("eos_token_id") && !g["eos_token_id"].is_null()) {
      const json& e = g["eos_token_id"];
      std::vector<int32_t> ids;
      if (e.is_array()) {
        for (size_t i = 0; i < e.size(); ++i) ids.push_back(check_id(e[i], "eos_token_id[" + std::to_string(i) + "]"));
      } else {
        ids.push_back(check_id(e, "eos_token_id"));
      }
      for (int32_t id : ids)  // the generation stop set: union with the tokenizer's EOS
        if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool allow_special) const {
  size_t bad = invalid_utf8_at(text);
  T2_CHECK_AS(UsageError, bad == std::string_view::npos, "text to tokenize is not valid UTF-8 at byte {}", bad);
  std::vector<int32_t> out;
  size_t seg = 0, pos = 0;
  while (pos < text.size()) {
    const AddedToken* hit = nullptr;
    for (size_t i : added_by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& a = added_[i];
      if (!allow_special && a.special) continue;
      if (text.compare(pos, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    size_t end = pos;
    if (hit->lstrip)
      while (end > seg && is_space(text[end - 1])) --end;
    encode_text(text.substr(seg, end - seg), seg == 0, out);
    out.push_back(hit->id);
    pos += hit->content.size();
    if (hit->rstrip)
      while (pos < text.size() && is_space(text[pos])) ++pos;
    seg = pos;
  }
  encode_text(text.substr(seg), seg == 0, out);
  return out;
}

void Tokenizer::encode_text(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  if (!text.empty()) model_->encode(text, at_start, out);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  std::vector<int32_t> run;
  auto flush = [&] {
    if (run.empty()) return;
    out += model_->decode(run, out.empty());
    run.clear();
  };
  const int32_t n = vocab_size();
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    T2_CHECK_AS(UsageError, id >= 0 && id < n, "token id {} (position {}) is outside the vocabulary [0, {})", id,
                i, n);
    auto it = added_by_id_.find(id);
    if (it == added_by_id_.end()) {
      run.push_back(id);
      continue;
    }
    flush();
    const AddedToken& a = added_[it->second];
    if (!(skip_special && a.special)) out += a.content;
  }
  flush();
  return out;
}

std::string Tokenizer::token_text(int32_t id) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return added_[it->second].content;
  T2_CHECK_AS(UsageError, id >= 0 && id < vocab_size(), "token id {} is outside the vocabulary [0, {})", id,
              vocab_size());
  return model_->token_text(id);
}

int32_t Tokenizer::vocab_size() const {
  int32_t n = model_->size();
  for (const auto& a : added_) n = std::max(n, a.id + 1);
  return n;
}

std::string Tokenizer::bos_token() const { return bos_id_ ? token_text(*bos_id_) : std::string(); }
std::string Tokenizer::eos_token() const { return eos_ids_.empty() ? std::string() : token_text(eos_ids_[0]); }

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  if (auto it = added_by_text_.find(std::string(token)); it != added_by_text_.end()) return it->second;
  return model_->piece_id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && added_[it->second].special;
}

std::string Tokenizer::kind() const { return model_->kind(); }

}  // namespace t2
