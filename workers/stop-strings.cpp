#include "workers/stop-strings.h"

#include <algorithm>

namespace t2 {

size_t find_stop(const std::string& text, const std::vector<std::string>& stops, size_t from) {
  size_t cut = std::string::npos;
  for (const auto& s : stops) {
    if (s.empty()) continue;
    size_t at = text.find(s, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  return cut;
}

StopStringScanner::StopStringScanner(const std::vector<std::string>& stops, const Detokenizer& detok)
    : stops_(stops), detok_(detok) {
  for (const auto& s : stops) max_stop_ = std::max(max_stop_, s.size());
}

bool StopStringScanner::push(const std::vector<int32_t>& ids) {
  if (max_stop_ == 0) return false;
  const size_t before = text_.size();
  std::string now = detok_(std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(prefix_), ids.end()));
  if (now.size() >= window_text_.size() && now.compare(0, window_text_.size(), window_text_) == 0) {
    text_.append(now, window_text_.size(), std::string::npos);
  } else {  // a decoder whose window decode is not a suffix of the whole: decode everything
    text_ = detok_(ids);
  }
  // next window: the ids of this step's window after the emitted text, i.e. [read_, end)
  prefix_ = read_;
  read_ = ids.size();
  window_text_ = detok_(std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(prefix_), ids.end()));
  // only text that ends in the new bytes can hold a new match
  const size_t from = before >= max_stop_ ? before - max_stop_ + 1 : 0;
  if (find_stop(text_, stops_, std::min(from, text_.size())) == std::string::npos) return false;
  // confirm on the full decode: the same decision and cut as decoding the whole answer
  std::string full = detok_(ids);
  const size_t cut = find_stop(full, stops_);
  if (cut == std::string::npos) return false;
  cut_ = full.substr(0, cut);
  return true;
}

size_t answer_token_count(const std::vector<int32_t>& ids, const std::string& kept, const Detokenizer& detok) {
  // from the end: the stop string is usually one to three tokens
  for (size_t j = ids.size(); j > 0; --j) {
    const std::string t = detok(std::vector<int32_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(j)));
    if (t.size() <= kept.size() && kept.compare(0, t.size(), t) == 0) return j;
  }
  return 0;
}

}  // namespace t2
