// The grading corpus (tests/jobs/tasks/grading-corpus/*.jsonl): model outputs written the way chat
// models answer — hedges, restated options, checks after the answer, LaTeX variants, code with
// prose and demo calls around it — each with the verdict a careful human grader gives. Every
// verdict must come out of the task's scorer with its default (correct) rules. Each line carries the
// data record fields its family needs, the response and `verdict` ("correct" or "wrong"); `note`
// says what the item tests. Items with `reference_verdict` also state what the reference's rules
// (compat `original`) give, so the compat switches are held to the reference's behaviour too.
// The code problems are t2's own, written in the datasets' record formats: MBPP items use task ids
// 100901-100910 and HumanEval items `Corpus/N`, outside the real datasets' ids, and none is copied
// from ../shared.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/files.h"
#include "jobs/jsonl.h"
#include "jobs/task.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

struct CorpusItem {
  nlohmann::json record;
  std::string id, response, verdict, note;
  std::optional<std::string> reference_verdict;
};

std::vector<CorpusItem> read_corpus(const std::string& family) {
  std::string path = test::source_dir() + "/tests/jobs/tasks/grading-corpus/" + family + ".jsonl";
  std::vector<CorpusItem> out;
  for (auto& r : read_records(path)) {
    CorpusItem it;
    it.record = r.value;
    it.id = r.value.at("id").get<std::string>();
    it.response = r.value.at("response").get<std::string>();
    it.verdict = r.value.at("verdict").get<std::string>();
    it.note = r.value.value("note", "");
    if (r.value.contains("reference_verdict")) it.reference_verdict = r.value["reference_verdict"].get<std::string>();
    EXPECT_TRUE(it.verdict == "correct" || it.verdict == "wrong") << path << ": " << it.id;
    for (const char* k : {"response", "verdict", "note", "reference_verdict"}) it.record.erase(k);
    out.push_back(std::move(it));
  }
  return out;
}

// Scores the corpus of one family: the records (minus the corpus fields) become the task's data
// file, loaded through the task itself; one example per item, in file order.
void check_family(const std::string& family, const std::string& kind, const std::string& role,
                  size_t min_items = 60) {
  auto items = read_corpus(family);
  ASSERT_GE(items.size(), min_items) << family;
  std::string dir = test::make_temp_dir("grading-" + family);
  std::string data;
  for (auto& it : items) data += it.record.dump() + "\n";
  write_file_atomic(dir + "/data.jsonl", data);
  size_t correct = 0, reference_checked = 0;
  for (bool reference : {false, true}) {
    TaskOptions o;
    o.files[role] = dir + "/data.jsonl";
    if (reference) o.compat = {compat::original};
    o.test_seconds = 3.0;
    auto task = make_task(kind, o);
    auto examples = task->load_file(dir + "/data.jsonl");
    ASSERT_EQ(examples.size(), items.size());
    std::vector<std::string> responses;
    for (auto& it : items) responses.push_back(it.response);
    auto verdicts = score_batch(*task, examples, responses, 2);
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& it = items[i];
      std::string got = verdicts[i].correct ? "correct" : "wrong";
      if (!reference) {
        correct += got == "correct";
        EXPECT_EQ(got, it.verdict) << family << " " << it.id << " (" << it.note << "): extracted '"
                                   << verdicts[i].extracted << "', " << verdicts[i].detail;
      } else if (it.reference_verdict) {
        ++reference_checked;
        EXPECT_EQ(got, *it.reference_verdict) << family << " " << it.id << " under compat original (" << it.note
                                              << "): extracted '" << verdicts[i].extracted << "', "
                                              << verdicts[i].detail;
      }
    }
  }
  std::filesystem::remove_all(dir);
  std::cout << family << ": " << items.size() << " items, " << correct << " correct, " << reference_checked
            << " also checked against the reference's rules\n";
}

TEST(GradingCorpus, Gsm8k) { check_family("gsm8k", "gsm8k", "test"); }
TEST(GradingCorpus, Math) { check_family("math", "math", "test"); }
TEST(GradingCorpus, Arc) { check_family("arc", "arc_challenge", "test"); }
TEST(GradingCorpus, CodeMbpp) { check_family("mbpp", "mbpp", "problems", 40); }
TEST(GradingCorpus, CodeHumanEval) { check_family("humaneval", "humaneval", "test", 20); }

TEST(GradingCorpus, CodeFamilyHasSixtyItems) {
  EXPECT_GE(read_corpus("mbpp").size() + read_corpus("humaneval").size(), 60u);
}

}  // namespace
}  // namespace t2::tasks
