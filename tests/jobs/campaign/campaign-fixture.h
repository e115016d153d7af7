// Shared by the campaign tests: a throw-away data root holding empty files at every default data
// path (the loader only checks that files exist), and campaign files written into a temp folder.
#pragma once

#include <string>
#include <vector>

namespace t2::test {

class CampaignDir {
 public:
  CampaignDir();
  ~CampaignDir();
  const std::string& root() const { return root_; }
  const std::string& data() const { return data_; }
  // Writes `yaml` (with every "@DATA@" replaced by the data root) to root/<name> and returns the path.
  std::string write(const std::string& yaml, const std::string& name = "campaign.yaml") const;

 private:
  std::string root_, data_;
};

// Number of lines of a message (1 for a single problem).
size_t line_count(const std::string& msg);

}  // namespace t2::test
