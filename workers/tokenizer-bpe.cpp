#include "workers/tokenizer-bpe.h"

#include <queue>

#include "core/check.h"
#include "workers/tokenizer-byte-level.h"
#include "workers/tokenizer-nfc.h"

namespace t2 {

namespace {
constexpr size_t kCacheMax = 1u << 18;      // pieces; the cache is dropped when full
constexpr size_t kCacheMaxPiece = 256;      // longer pieces are not cached

uint64_t pair_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}
}  // namespace

BpeModel::BpeModel(std::vector<std::optional<std::string>> tokens, BpeOptions opt)
    : tokens_(std::move(tokens)), opt_(std::move(opt)) {
  id_of_.reserve(tokens_.size() * 2);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!tokens_[i]) continue;
    auto [it, inserted] = id_of_.emplace(*tokens_[i], static_cast<int32_t>(i));
    T2_CHECK_AS(FormatError, inserted, "{}: ids {} and {} are the same token '{}'", opt_.origin, it->second,
                i, byte_level::encode(*tokens_[i]));
  }
  for (int b = 0; b < 256; ++b) {
    auto it = id_of_.find(std::string(1, static_cast<char>(b)));
    T2_CHECK_AS(FormatError, it != id_of_.end(),
                "{}: the vocabulary has no token for byte 0x{:02X} ('{}'); byte-level BPE needs all 256",
                opt_.origin, b, byte_level::byte_to_text(static_cast<unsigned char>(b)));
    byte_id_[b] = it->second;
  }
  if (!opt_.pattern.empty()) regex_ = std::make_unique<SplitRegex>(opt_.pattern, opt_.origin);
}

bool BpeModel::add_merge(const std::string& left, const std::string& right, int32_t rank) {
  auto l = id_of_.find(left), r = id_of_.find(right), m = id_of_.find(left + right);
  if (l == id_of_.end() || r == id_of_.end() || m == id_of_.end()) return false;
  merges_.emplace(pair_key(l->second, r->second), std::make_pair(rank, m->second));  // first rank wins
  return true;
}

void BpeModel::derive_merges_from_ranks() {
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (!tokens_[id] || tokens_[id]->size() < 2) continue;
    const std::string& t = *tokens_[id];
    for (size_t k = 1; k < t.size(); ++k) {
      auto l = id_of_.find(t.substr(0, k));
      if (l == id_of_.end()) continue;
      auto r = id_of_.find(t.substr(k));
      if (r == id_of_.end()) continue;
      merges_.emplace(pair_key(l->second, r->second),
                      std::make_pair(static_cast<int32_t>(id), static_cast<int32_t>(id)));
    }
  }
}

std::optional<int32_t> BpeModel::id_of_bytes(std::string_view bytes) const {
  auto it = id_of_.find(std::string(bytes));
  if (it == id_of_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string buf;
  if (opt_.nfc && !nfc_is_trivially_normal(text)) {
    buf = nfc_normalize(text);
    text = buf;
  }
  if (opt_.add_prefix_space && at_start && text.front() != ' ') {
    buf = " " + std::string(text);
    text = buf;
  }
  if (!regex_) {
    encode_piece(text, out);
    return;
  }
  std::vector<std::string_view> pieces;
  regex_->split(text, opt_.keep_gaps, pieces);
  for (auto p : pieces) encode_piece(p, out);
}

void BpeModel::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (opt_.ignore_merges) {
    if (auto it = id_of_.find(std::string(piece)); it != id_of_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (piece.size() == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (piece.size() > kCacheMaxPiece) {
    bpe(piece, out);
    return;
  }
  std::string key(piece);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  bpe(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.size() >= kCacheMax) cache_.clear();
  cache_.emplace(std::move(key), std::move(ids));
}

void BpeModel::bpe(std::string_view piece, std::vector<int32_t>& out) const {
  const int n = static_cast<int>(piece.size());
  std::vector<int32_t> id(n);
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    id[i] = byte_id_[static_cast<unsigned char>(piece[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Cand {
    int32_t rank;
    int left;
    int32_t left_id, right_id, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> queue;
  auto push = [&](int l) {
    if (l < 0 || next[l] < 0) return;
    auto it = merges_.find(pair_key(id[l], id[next[l]]));
    if (it != merges_.end()) queue.push({it->second.first, l, id[l], id[next[l]], it->second.second});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    Cand c = queue.top();
    queue.pop();
    int r = next[c.left];
    // Stale entries: a side was merged since (ids only grow, so equal ids mean unchanged symbols).
    if (r < 0 || id[c.left] != c.left_id || id[r] != c.right_id) continue;
    id[c.left] = c.merged;
    next[c.left] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.left;
    id[r] = -1;
    push(prev[c.left]);
    push(c.left);
  }
  for (int i = 0; i >= 0; i = next[i]) out.push_back(id[i]);
}

std::string BpeModel::decode(const std::vector<int32_t>& ids, bool) const {
  std::string s;
  for (int32_t i : ids)
    if (i >= 0 && static_cast<size_t>(i) < tokens_.size() && tokens_[i]) s += *tokens_[i];
  return s;
}

std::string BpeModel::token_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !tokens_[id]) return {};
  return byte_level::encode(*tokens_[id]);
}

std::optional<int32_t> BpeModel::piece_id(std::string_view piece) const {
  auto bytes = byte_level::decode(piece);
  if (!bytes) return std::nullopt;
  return id_of_bytes(*bytes);
}

}  // namespace t2
