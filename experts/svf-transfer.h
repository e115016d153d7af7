// Cross-model transfer of SVF experts (paper Tables 5 and 9): z vectors trained on model A applied to
// model B whose adapted matrices have the same names and ranks (e.g. Llama3-8B -> Mistral-7B: same
// hidden size, same projections). Entry i of a matrix's z scales B's i-th singular component:
//
//   sigma_order: ordered    z as trained (A's largest singular direction's scale goes to B's largest)
//   sigma_order: shuffled   z permuted within each matrix by a seeded permutation (the paper's
//                           control); the same seed gives the same permutation, every matrix of rank
//                           > 1 is really permuted (an identity draw is redrawn)
//
// Transfer is allowed only when asked for (`transfer_from: A`, which must name the expert's base model
// by name or hash) and is recorded in the result (method "<method>+transfer", the config text gains
// transfer_from, sigma_order and transfer_seed, base_model/base_model_hash become B's). Different
// matrix sets or ranks are refused with a UsageError naming the first difference. Torch-free (public).
#pragma once

#include <cstdint>
#include <string>

#include "experts/expert-file.h"

namespace t2 {

enum class SigmaOrder { ordered, shuffled };
SigmaOrder parse_sigma_order(const std::string& s);  // "ordered" | "shuffled"; UsageError naming sigma_order
const char* sigma_order_name(SigmaOrder o);

struct TransferSpec {
  std::string transfer_from;   // the campaign's transfer_from: model A's name or decomposition hash
  SigmaOrder order = SigmaOrder::ordered;
  uint64_t seed = 0;
};

// `path` names the expert in messages. target_layout/hash/model: model B's z layout, decomposition
// hash and name.
Expert expert_transfer(const Expert& e, const std::string& path, const ZLayout& target_layout,
                       const std::string& target_hash, const std::string& target_model, const TransferSpec& spec);

}  // namespace t2
