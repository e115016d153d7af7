#include "workers/sentencepiece-shim/spm-shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct t2spm_model {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {
void set_err(char* err, size_t n, const std::string& msg) {
  if (!err || n == 0) return;
  std::strncpy(err, msg.c_str(), n - 1);
  err[n - 1] = '\0';
}
}  // namespace

extern "C" {

int t2spm_abi_version(void) { return T2SPM_ABI_VERSION; }

t2spm_model* t2spm_load(const char* data, size_t size, char* err, size_t err_size) {
  auto* m = new (std::nothrow) t2spm_model;
  if (!m) return set_err(err, err_size, "out of memory"), nullptr;
  try {
    auto st = m->sp.LoadFromSerializedProto(std::string(data, size));
    if (!st.ok()) {
      set_err(err, err_size, st.ToString());
      delete m;
      return nullptr;
    }
  } catch (const std::exception& e) {
    set_err(err, err_size, e.what());
    delete m;
    return nullptr;
  }
  return m;
}

void t2spm_free(t2spm_model* m) { delete m; }

int t2spm_encode(t2spm_model* m, const char* text, size_t size, int** ids, size_t* count, char* err,
                 size_t err_size) {
  try {
    std::vector<int> out;
    auto st = m->sp.Encode(std::string(text, size), &out);
    if (!st.ok()) return set_err(err, err_size, st.ToString()), 1;
    *count = out.size();
    *ids = static_cast<int*>(std::malloc(sizeof(int) * (out.empty() ? 1 : out.size())));
    if (!*ids) return set_err(err, err_size, "out of memory"), 1;
    if (!out.empty()) std::memcpy(*ids, out.data(), sizeof(int) * out.size());
    return 0;
  } catch (const std::exception& e) {
    set_err(err, err_size, e.what());
    return 1;
  }
}

void t2spm_free_ids(int* ids) { std::free(ids); }
int t2spm_piece_size(const t2spm_model* m) { return m->sp.GetPieceSize(); }
const char* t2spm_id_to_piece(const t2spm_model* m, int id) { return m->sp.IdToPiece(id).c_str(); }
int t2spm_piece_to_id(const t2spm_model* m, const char* piece, size_t size) {
  return m->sp.PieceToId(std::string(piece, size));
}
int t2spm_is_control(const t2spm_model* m, int id) { return m->sp.IsControl(id); }
int t2spm_is_unknown(const t2spm_model* m, int id) { return m->sp.IsUnknown(id); }
int t2spm_is_byte(const t2spm_model* m, int id) { return m->sp.IsByte(id); }
int t2spm_unk_id(const t2spm_model* m) { return m->sp.unk_id(); }
int t2spm_bos_id(const t2spm_model* m) { return m->sp.bos_id(); }
int t2spm_eos_id(const t2spm_model* m) { return m->sp.eos_id(); }

}  // extern "C"
