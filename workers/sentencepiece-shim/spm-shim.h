// C interface of libt2_spm_shim.so, the only code that touches libsentencepiece.
//
// Why a shim: Debian's libsentencepiece.so.0 carries and exports its own protobuf-lite (3.14), while
// LibTorch loads libprotobuf.so.32 (3.21). Linked into one executable, whichever is found first
// wins symbol interposition and the other's start-up code crashes. t2 therefore never links
// libsentencepiece: it dlopen()s this shim with RTLD_LOCAL | RTLD_DEEPBIND when a SentencePiece
// tokenizer is first used, so sentencepiece binds to its own protobuf copy and stays invisible to
// LibTorch. Strings returned by the shim stay valid while the model lives.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define T2SPM_ABI_VERSION 1

typedef struct t2spm_model t2spm_model;

int t2spm_abi_version(void);
// Loads a serialized ModelProto; NULL on failure with a message in err.
t2spm_model* t2spm_load(const char* data, size_t size, char* err, size_t err_size);
void t2spm_free(t2spm_model* m);
// Encodes text; *ids is malloc'ed (free with t2spm_free_ids). Returns 0 on success.
int t2spm_encode(t2spm_model* m, const char* text, size_t size, int** ids, size_t* count, char* err,
                 size_t err_size);
void t2spm_free_ids(int* ids);
int t2spm_piece_size(const t2spm_model* m);
const char* t2spm_id_to_piece(const t2spm_model* m, int id);
int t2spm_piece_to_id(const t2spm_model* m, const char* piece, size_t size);
int t2spm_is_control(const t2spm_model* m, int id);
int t2spm_is_unknown(const t2spm_model* m, int id);
int t2spm_is_byte(const t2spm_model* m, int id);
int t2spm_unk_id(const t2spm_model* m);
int t2spm_bos_id(const t2spm_model* m);
int t2spm_eos_id(const t2spm_model* m);

#ifdef __cplusplus
}
#endif
