#include "workers/tokenizer-spm.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "core/check.h"
#include "core/files.h"
#include "workers/sentencepiece-shim/spm-shim.h"

namespace t2 {

namespace {

// The shim's functions, resolved once. See spm-shim.h for why sentencepiece is dlopen()ed with
// RTLD_LOCAL | RTLD_DEEPBIND instead of linked: its bundled protobuf clashes with LibTorch's.
struct SpmLibrary {
  int (*abi_version)();
  t2spm_model* (*load)(const char*, size_t, char*, size_t);
  void (*free_model)(t2spm_model*);
  int (*encode)(t2spm_model*, const char*, size_t, int**, size_t*, char*, size_t);
  void (*free_ids)(int*);
  int (*piece_size)(const t2spm_model*);
  const char* (*id_to_piece)(const t2spm_model*, int);
  int (*piece_to_id)(const t2spm_model*, const char*, size_t);
  int (*is_control)(const t2spm_model*, int);
  int (*is_unknown)(const t2spm_model*, int);
  int (*is_byte)(const t2spm_model*, int);
  int (*unk_id)(const t2spm_model*);
  int (*bos_id)(const t2spm_model*);
  int (*eos_id)(const t2spm_model*);
};

std::string exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

const SpmLibrary& spm_library() {
  static SpmLibrary lib;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("T2_SPM_SHIM")) candidates.push_back(env);
    const std::string dir = exe_dir();
    candidates.push_back(dir + "/../lib/libt2_spm_shim.so");
    candidates.push_back(dir + "/libt2_spm_shim.so");
#ifdef T2_SPM_SHIM_BUILD_PATH
    candidates.push_back(T2_SPM_SHIM_BUILD_PATH);
#endif
    void* h = nullptr;
    std::string tried;
    for (const auto& c : candidates) {
      if (::access(c.c_str(), R_OK) != 0) {
        tried += "\n  " + c + " (missing)";
        continue;
      }
      h = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (h) break;
      tried += "\n  " + c + " (" + ::dlerror() + ")";
    }
    if (!h) {
      error = "cannot load the SentencePiece shim libt2_spm_shim.so (set T2_SPM_SHIM to its path); tried:" + tried;
      return;
    }
    auto sym = [&](const char* name) {
      void* p = ::dlsym(h, name);
      if (!p && error.empty()) error = std::string("SentencePiece shim lacks symbol ") + name;
      return p;
    };
    lib.abi_version = reinterpret_cast<int (*)()>(sym("t2spm_abi_version"));
    lib.load = reinterpret_cast<decltype(lib.load)>(sym("t2spm_load"));
    lib.free_model = reinterpret_cast<decltype(lib.free_model)>(sym("t2spm_free"));
    lib.encode = reinterpret_cast<decltype(lib.encode)>(sym("t2spm_encode"));
    lib.free_ids = reinterpret_cast<decltype(lib.free_ids)>(sym("t2spm_free_ids"));
    lib.piece_size = reinterpret_cast<decltype(lib.piece_size)>(sym("t2spm_piece_size"));
    lib.id_to_piece = reinterpret_cast<decltype(lib.id_to_piece)>(sym("t2spm_id_to_piece"));
    lib.piece_to_id = reinterpret_cast<decltype(lib.piece_to_id)>(sym("t2spm_piece_to_id"));
    lib.is_control = reinterpret_cast<decltype(lib.is_control)>(sym("t2spm_is_control"));
    lib.is_unknown = reinterpret_cast<decltype(lib.is_unknown)>(sym("t2spm_is_unknown"));
    lib.is_byte = reinterpret_cast<decltype(lib.is_byte)>(sym("t2spm_is_byte"));
    lib.unk_id = reinterpret_cast<decltype(lib.unk_id)>(sym("t2spm_unk_id"));
    lib.bos_id = reinterpret_cast<decltype(lib.bos_id)>(sym("t2spm_bos_id"));
    lib.eos_id = reinterpret_cast<decltype(lib.eos_id)>(sym("t2spm_eos_id"));
    if (error.empty() && lib.abi_version() != T2SPM_ABI_VERSION)
      error = "SentencePiece shim ABI mismatch (rebuild t2)";
  });
  T2_CHECK_AS(NotAvailable, error.empty(), "{}", error);
  return lib;
}

}  // namespace

// One model loaded inside the shim.
struct SpmModel::Processor {
  t2spm_model* m = nullptr;
  ~Processor() {
    if (m) spm_library().free_model(m);
  }
  bool IsControl(int id) const { return spm_library().is_control(m, id) != 0; }
  bool IsUnknown(int id) const { return spm_library().is_unknown(m, id) != 0; }
  bool IsByte(int id) const { return spm_library().is_byte(m, id) != 0; }
  std::string IdToPiece(int id) const { return spm_library().id_to_piece(m, id); }
  int PieceToId(const std::string& p) const { return spm_library().piece_to_id(m, p.data(), p.size()); }
  int GetPieceSize() const { return spm_library().piece_size(m); }
  int unk_id() const { return spm_library().unk_id(m); }
  int bos_id() const { return spm_library().bos_id(m); }
  int eos_id() const { return spm_library().eos_id(m); }
  // Loads a serialized model; returns "" or the error.
  std::string Load(const std::string& model) {
    char err[512] = {0};
    m = spm_library().load(model.data(), model.size(), err, sizeof err);
    return m ? std::string() : std::string(err[0] ? err : "unknown error");
  }
  std::string Encode(const std::string& text, std::vector<int>* ids) const {
    char err[512] = {0};
    int* out = nullptr;
    size_t n = 0;
    if (spm_library().encode(m, text.data(), text.size(), &out, &n, err, sizeof err) != 0)
      return err[0] ? err : "unknown error";
    ids->assign(out, out + n);
    spm_library().free_ids(out);
    return {};
  }
};

namespace {

// Minimal protobuf wire-format reading, enough to find ModelProto.normalizer_spec (field 3) and its
// add_dummy_prefix (field 3) without the generated protobuf classes (not shipped by Debian).
bool read_varint(std::string_view s, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < s.size(); shift += 7) {
    auto b = static_cast<unsigned char>(s[pos++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

struct Field {
  uint32_t number, wire;
  size_t begin, end;          // the whole field, tag included
  size_t value_begin;         // payload of a length-delimited field
  uint64_t value;             // varint value, or payload length
};

bool next_field(std::string_view s, size_t& pos, Field& f) {
  if (pos >= s.size()) return false;
  f.begin = pos;
  uint64_t tag;
  if (!read_varint(s, pos, tag)) return false;
  f.number = static_cast<uint32_t>(tag >> 3);
  f.wire = static_cast<uint32_t>(tag & 7);
  switch (f.wire) {
    case 0:
      if (!read_varint(s, pos, f.value)) return false;
      break;
    case 1: pos += 8; break;
    case 2:
      if (!read_varint(s, pos, f.value) || f.value > s.size() - pos) return false;
      f.value_begin = pos;
      pos += f.value;
      break;
    case 5: pos += 4; break;
    default: return false;
  }
  if (pos > s.size()) return false;
  f.end = pos;
  return true;
}

void write_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// The serialized model with normalizer_spec.add_dummy_prefix = false (a repeated scalar field is
// legal protobuf: the last value wins). Reports the original setting through `had_prefix`.
std::string without_dummy_prefix(std::string_view model, const std::string& path, bool& had_prefix) {
  std::string out;
  size_t pos = 0;
  Field f{};
  bool found = false;
  had_prefix = true;
  while (pos < model.size()) {
    size_t at = pos;
    T2_CHECK_AS(FormatError, next_field(model, pos, f), "{}: not a SentencePiece model (bad protobuf field at byte {})",
                path, at);
    if (f.number == 3 && f.wire == 2) {
      std::string_view spec = model.substr(f.value_begin, f.value);
      size_t p = 0;
      Field g{};
      while (p < spec.size() && next_field(spec, p, g))
        if (g.number == 3 && g.wire == 0) had_prefix = g.value != 0;
      std::string patched(spec);
      patched += '\x18';  // field 3, varint
      patched += '\x00';
      out += '\x1a';      // field 3, length-delimited
      write_varint(out, patched.size());
      out += patched;
      found = true;
    } else {
      out.append(model.substr(f.begin, f.end - f.begin));
    }
  }
  if (!found) out += std::string("\x1a\x02\x18\x00", 4);
  return out;
}

std::string piece_bytes(const SpmModel::Processor& sp, int id) {
  if (sp.IsControl(id) || sp.IsUnknown(id)) return {};
  const std::string& p = sp.IdToPiece(id);
  if (sp.IsByte(id) && p.size() == 6 && p.compare(0, 3, "<0x") == 0)
    return std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p.compare(i, 3, "\xE2\x96\x81") == 0) {  // U+2581 "▁" stands for a space
      out += ' ';
      i += 2;
    } else {
      out += p[i];
    }
  }
  return out;
}

}  // namespace

bool looks_like_sentencepiece(std::string_view head) {
  // ModelProto starts with field 1 (pieces), length-delimited: tag byte 0x0A.
  return !head.empty() && head[0] == '\x0a';
}

SpmModel::SpmModel(const std::string& path)
    : path_(path),
      with_prefix_(std::make_unique<Processor>()),
      no_prefix_(std::make_unique<Processor>()) {
  std::string model = read_file(path);
  std::string st = with_prefix_->Load(model);
  T2_CHECK_AS(FormatError, st.empty(), "{}: not a SentencePiece model: {}", path, st);
  std::string patched = without_dummy_prefix(model, path, add_dummy_prefix_);
  st = no_prefix_->Load(patched);
  T2_CHECK_AS(FormatError, st.empty(), "{}: SentencePiece model without dummy prefix: {}", path, st);
  int n = with_prefix_->GetPieceSize();
  bytes_.resize(n);
  for (int i = 0; i < n; ++i) bytes_[i] = piece_bytes(*with_prefix_, i);
}

SpmModel::~SpmModel() = default;

void SpmModel::encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<int> ids;
  std::string st = (at_start ? with_prefix_ : no_prefix_)->Encode(std::string(text), &ids);
  T2_CHECK(st.empty(), "{}: SentencePiece encode failed: {}", path_, st);
  out.insert(out.end(), ids.begin(), ids.end());
}

std::string SpmModel::decode(const std::vector<int32_t>& ids, bool at_start) const {
  std::string s;
  for (int32_t id : ids)
    if (id >= 0 && static_cast<size_t>(id) < bytes_.size()) s += bytes_[id];
  // The dummy prefix is removed only at the very start, as SentencePiece and HF's Strip decoder do.
  if (at_start && add_dummy_prefix_ && !s.empty() && s[0] == ' ') s.erase(0, 1);
  return s;
}

std::string SpmModel::token_text(int32_t id) const {
  if (id < 0 || id >= size()) return {};
  return with_prefix_->IdToPiece(id);
}

std::optional<int32_t> SpmModel::piece_id(std::string_view piece) const {
  int id = with_prefix_->PieceToId(std::string(piece));
  if (id == with_prefix_->unk_id() && with_prefix_->IdToPiece(id) != piece) return std::nullopt;
  return id;
}

int32_t SpmModel::size() const { return with_prefix_->GetPieceSize(); }

std::vector<AddedToken> SpmModel::builtin_added_tokens() const {
  std::vector<AddedToken> out;
  for (int i = 0; i < size(); ++i)
    if (with_prefix_->IsControl(i) || with_prefix_->IsUnknown(i))
      out.push_back({i, with_prefix_->IdToPiece(i), true, false, false});
  return out;
}

std::optional<int32_t> SpmModel::bos_id() const {
  int id = with_prefix_->bos_id();
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

std::optional<int32_t> SpmModel::eos_id() const {
  int id = with_prefix_->eos_id();
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

}  // namespace t2
