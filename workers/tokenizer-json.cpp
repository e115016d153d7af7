#include "workers/tokenizer-json.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"
#include "workers/tokenizer-byte-level.h"

namespace t2 {

namespace {

using nlohmann::json;

struct Reader {
  std::string path;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw FormatError(path + ": " + key + ": " + what);
  }
  const json& get(const json& obj, const std::string& key, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(where.empty() ? key : where + "." + key, "missing");
    return *it;
  }
  std::string str(const json& v, const std::string& key) const {
    if (!v.is_string()) fail(key, "expected a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  bool flag(const json& obj, const std::string& key, bool dflt, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) fail(where + "." + key, "expected true or false, got " + it->dump());
    return it->get<bool>();
  }
  std::string bytes_of(const std::string& text, const std::string& key) const {
    auto b = byte_level::decode(text);
    if (!b) fail(key, "'" + text + "' is not byte-level text (GPT-2 byte symbols)");
    return *b;
  }
};

// Escapes a literal for PCRE2 (Split patterns given as {"String": ...}).
std::string quote_regex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

struct PreTokenizer {
  std::string pattern;
  bool keep_gaps = true;
  bool byte_level = false;
  bool add_prefix_space = false;
};

void read_pre_tokenizer(const Reader& r, const json& p, const std::string& key, PreTokenizer& pt) {
  if (p.is_null()) return;
  if (!p.is_object()) r.fail(key, "expected an object");
  std::string type = r.str(r.get(p, "type", key), key + ".type");
  if (type == "Sequence") {
    const json& list = r.get(p, "pretokenizers", key);
    if (!list.is_array()) r.fail(key + ".pretokenizers", "expected an array");
    for (size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(r, list[i], key + ".pretokenizers[" + std::to_string(i) + "]", pt);
  } else if (type == "Split") {
    if (!pt.pattern.empty()) throw NotAvailable(r.path + ": " + key + ": a second Split pre-tokenizer is not supported");
    const json& pat = r.get(p, "pattern", key);
    if (pat.contains("Regex")) {
      pt.pattern = r.str(pat["Regex"], key + ".pattern.Regex");
    } else if (pat.contains("String")) {
      pt.pattern = quote_regex(r.str(pat["String"], key + ".pattern.String"));
    } else {
      r.fail(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }
    std::string behavior = p.contains("behavior") ? r.str(p["behavior"], key + ".behavior") : "Isolated";
    if (behavior == "Isolated") {
      pt.keep_gaps = true;
    } else if (behavior == "Removed") {
      pt.keep_gaps = false;
    } else {
      throw NotAvailable(r.path + ": " + key + ".behavior: '" + behavior +
                         "' is not supported (supported: Isolated, Removed)");
    }
    if (r.flag(p, "invert", false, key))
      throw NotAvailable(r.path + ": " + key + ".invert: true is not supported");
  } else if (type == "ByteLevel") {
    pt.byte_level = true;
    pt.add_prefix_space = r.flag(p, "add_prefix_space", false, key);
    if (r.flag(p, "use_regex", true, key)) {
      if (!pt.pattern.empty()) throw NotAvailable(r.path + ": " + key + ": ByteLevel use_regex after a Split is not supported");
      pt.pattern = kGpt2Pattern;
    }
  } else {
    throw NotAvailable(r.path + ": " + key + ".type: pre-tokenizer '" + type +
                       "' is not supported (supported: Sequence, Split, ByteLevel)");
  }
}

bool read_normalizer(const Reader& r, const json& n, const std::string& key) {
  if (n.is_null()) return false;
  if (!n.is_object()) r.fail(key, "expected an object or null");
  std::string type = r.str(r.get(n, "type", key), key + ".type");
  if (type == "NFC") return true;
  if (type == "Sequence") {
    const json& list = r.get(n, "normalizers", key);
    if (!list.is_array()) r.fail(key + ".normalizers", "expected an array");
    bool nfc = false;
    for (size_t i = 0; i < list.size(); ++i)
      nfc = read_normalizer(r, list[i], key + ".normalizers[" + std::to_string(i) + "]") || nfc;
    return nfc;
  }
  throw NotAvailable(r.path + ": " + key + ".type: normalizer '" + type + "' is not supported (supported: NFC)");
}

}  // namespace

std::unique_ptr<BpeModel> load_tokenizer_json(const std::string& path) {
  Reader r{path};
  json root;
  try {
    root = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    throw FormatError(path + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  if (!root.is_object()) r.fail("(top level)", "expected an object");

  const json& model = r.get(root, "model", "");
  if (!model.is_object()) r.fail("model", "expected an object");
  std::string type = model.contains("type") ? r.str(model["type"], "model.type") : "BPE";
  if (type != "BPE")
    throw NotAvailable(path + ": model.type '" + type + "' is not supported (supported: BPE)");

  PreTokenizer pt;
  if (root.contains("pre_tokenizer")) read_pre_tokenizer(r, root["pre_tokenizer"], "pre_tokenizer", pt);
  bool decoder_byte_level = root.contains("decoder") && root["decoder"].is_object() &&
                            root["decoder"].value("type", "") == "ByteLevel";
  if (!pt.byte_level && !decoder_byte_level)
    throw NotAvailable(path + ": pre_tokenizer: no ByteLevel step; only byte-level BPE tokenizer.json is "
                       "supported (SentencePiece-style models: use their tokenizer.model)");
  if (r.flag(model, "byte_fallback", false, "model"))
    throw NotAvailable(path + ": model.byte_fallback: true is not supported (byte-level BPE only)");

  BpeOptions opt;
  opt.origin = path;
  opt.pattern = pt.pattern;
  opt.keep_gaps = pt.keep_gaps;
  opt.add_prefix_space = pt.add_prefix_space;
  opt.ignore_merges = r.flag(model, "ignore_merges", false, "model");
  opt.nfc = root.contains("normalizer") && read_normalizer(r, root["normalizer"], "normalizer");

  const json& vocab = r.get(model, "vocab", "model");
  if (!vocab.is_object()) r.fail("model.vocab", "expected an object {token: id}");
  std::vector<std::optional<std::string>> tokens;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    std::string key = "model.vocab[\"" + it.key() + "\"]";
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > (1 << 30))
      r.fail(key, "expected a non-negative integer id, got " + it.value().dump());
    auto id = static_cast<size_t>(it.value().get<int64_t>());
    if (tokens.size() <= id) tokens.resize(id + 1);
    if (tokens[id]) r.fail(key, "id " + std::to_string(id) + " is used twice");
    tokens[id] = r.bytes_of(it.key(), key);
  }

  std::vector<AddedToken> added;
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const json& list = root["added_tokens"];
    if (!list.is_array()) r.fail("added_tokens", "expected an array");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string key = "added_tokens[" + std::to_string(i) + "]";
      const json& t = list[i];
      if (!t.is_object()) r.fail(key, "expected an object");
      AddedToken a;
      const json& id = r.get(t, "id", key);
      if (!id.is_number_integer() || id.get<int64_t>() < 0) r.fail(key + ".id", "expected a non-negative integer");
      a.id = static_cast<int32_t>(id.get<int64_t>());
      a.content = r.str(r.get(t, "content", key), key + ".content");
      if (a.content.empty()) r.fail(key + ".content", "empty");
      a.special = r.flag(t, "special", false, key);
      a.lstrip = r.flag(t, "lstrip", false, key);
      a.rstrip = r.flag(t, "rstrip", false, key);
      added.push_back(a);
    }
  }

  auto bpe = std::make_unique<BpeModel>(std::move(tokens), opt);
  const json& merges = r.get(model, "merges", "model");
  if (!merges.is_array()) r.fail("model.merges", "expected an array");
  for (size_t i = 0; i < merges.size(); ++i) {
    std::string key = "model.merges[" + std::to_string(i) + "]";
    const json& m = merges[i];
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() || s.find(' ', sp + 1) != std::string::npos)
        r.fail(key, "expected \"left right\" (two tokens, one space), got \"" + s + "\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      r.fail(key, "expected \"left right\" or [\"left\", \"right\"], got " + m.dump());
    }
    std::string ab = r.bytes_of(a, key), bb = r.bytes_of(b, key);
    if (!bpe->add_merge(ab, bb, static_cast<int32_t>(i))) {
      std::string missing = !bpe->id_of_bytes(ab) ? a : !bpe->id_of_bytes(bb) ? b : a + b;
      r.fail(key, "'" + missing + "' of merge \"" + a + " " + b + "\" is not in model.vocab");
    }
  }
  bpe->set_added(std::move(added));
  return bpe;
}

}  // namespace t2
