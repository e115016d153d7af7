#include "campaign-fixture.h"

#include <filesystem>
#include <fstream>

#include "tests/support/test-support.h"

namespace t2::test {

CampaignDir::CampaignDir() {
  root_ = make_temp_dir("campaign");
  data_ = root_ + "/data-root";
  for (const char* f : {"data/gsm8k/train.jsonl", "data/gsm8k/test.jsonl", "data/math/math500_test.jsonl",
                        "data/mbpp/sanitized-mbpp.json", "data/humaneval/HumanEval.jsonl.gz",
                        "data/arc/ARC-Easy-Train.jsonl", "data/arc/ARC-Easy-Test.jsonl",
                        "data/arc/ARC-Challenge-Test.jsonl", "data/arc/ARC-Challenge-Train.jsonl", "user.jsonl"}) {
    std::filesystem::path p = std::filesystem::path(data_) / f;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << "{}\n";
  }
}

CampaignDir::~CampaignDir() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::string CampaignDir::write(const std::string& yaml, const std::string& name) const {
  std::string text = yaml;
  for (size_t p; (p = text.find("@DATA@")) != std::string::npos;) text.replace(p, 6, data_);
  std::string path = root_ + "/" + name;
  std::ofstream(path) << text;
  return path;
}

size_t line_count(const std::string& msg) {
  size_t n = 1;
  for (char c : msg) n += c == '\n';
  return n;
}

}  // namespace t2::test
