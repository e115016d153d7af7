// One schema for user tasks (jobs/user-task-spec.h): the same keys in a campaign's `kind: user` task
// and in the spec file of `t2 score user --spec`. A spec accepted by one is accepted by the other and
// gives the same task (examples, verdicts); a bad one is refused by both with the same message (the
// text after the key: what is wrong and what was expected).
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "jobs/campaign.h"
#include "jobs/task.h"
#include "tests/jobs/campaign/campaign-fixture.h"

namespace t2 {
namespace {

struct UserTaskSpecs : ::testing::Test {
  test::CampaignDir dir;
  std::string data;

  void SetUp() override {
    data = dir.root() + "/qa.jsonl";
    std::ofstream(data) << R"({"id": "a", "q": "2+2", "ans": "Four", "num": 4, "opts": ["3", "4"], "mc": "4"})" "\n"
                        << R"({"id": "b", "q": "1+2", "ans": "three", "num": 3, "opts": ["3", "4"], "mc": "3"})" "\n";
  }

  // The same keys, as a spec file and as a campaign task (`keys`: YAML lines at the task's level).
  std::string spec_file(const std::string& keys) const {
    return dir.write("files: {test: " + data + "}\n" + keys, "spec.yaml");
  }
  Campaign campaign(const std::string& keys) const {
    std::string indented;
    size_t start = 0;
    while (start < keys.size()) {
      size_t nl = keys.find('\n', start);
      indented += "    " + keys.substr(start, nl - start) + "\n";
      start = nl == std::string::npos ? keys.size() : nl + 1;
    }
    std::string y = "name: u\nmodels: {m: {path: /m}}\ntasks:\n  qa:\n    kind: user\n    data: {test: " + data + "}\n" +
                    indented + "experiments:\n  - {name: e, kind: evaluate, tasks: [qa], methods: [base]}\n";
    return parse_campaign(y, dir.write(y, "c.yaml"));
  }
  std::unique_ptr<tasks::Task> from_file(const std::string& keys) const {
    tasks::TaskOptions o;
    o.user_spec = spec_file(keys);
    return tasks::make_task("user", o);
  }
  std::unique_ptr<tasks::Task> from_campaign(const std::string& keys) const {
    Campaign c = campaign(keys);
    tasks::TaskOptions o;
    o.user_params = c.find_task("qa")->params.dump();
    return tasks::make_task("user", o);
  }

  // "FILE:L:C: <key path>: what; expected" -> "<key>: what; expected" with the task's prefix dropped.
  static std::string after_key(const std::string& line, const std::string& prefix) {
    size_t p = line.find(": " + prefix);
    return p == std::string::npos ? "(no '" + prefix + "' in: " + line + ")" : line.substr(p + 2 + prefix.size());
  }
};

std::string summary(const tasks::Task& t, const std::vector<tasks::Example>& exs) {
  std::string s = std::to_string(t.max_new_tokens()) + "|" + t.chat_template() + "|";
  for (const auto& st : t.stop_strings()) s += st + ",";
  for (const auto& ex : exs) {
    s += "\n" + ex.id + "|" + ex.assistant_prefill + "|" + ex.gold.dump();
    for (const auto& m : ex.messages) s += "|" + m.role + ":" + m.content;
    for (const char* r : {"four", "Four", "answer: three", "it is 4.0", "(B)", "the answer is (A)"}) {
      auto v = t.score(ex, r);
      s += "|" + std::to_string(v.correct) + std::to_string(v.parsed) + v.extracted;
    }
  }
  return s;
}

TEST_F(UserTaskSpecs, AcceptedByBothGivesTheSameTask) {
  const std::vector<std::string> specs = {
      "scorer: exact\nprompt: \"What is {q}?\"\nanswer_field: ans\nid_field: id\n",
      "scorer: exact\nquestion_field: q\nanswer_field: ans\ncase_sensitive: false\nsystem_prompt: Be brief.\n",
      "scorer: exact\nprompt: \"{q}\"\nanswer_field: ans\nextract: \"answer: (\\\\w+)\"\nprefill: \"So\"\n",
      "scorer: numeric\nprompt: \"{q}\"\nanswer_field: num\ntolerance: 0.01\nmax_new_tokens: 64\nstop: [END]\n",
      "scorer: multiple_choice\nprompt: \"{q}\\n{options}\"\nanswer_field: mc\nchoices_field: opts\n"
      "chat_template: code_prompt\n",
      "scorer: regex\nprompt: \"{q}\"\nanswer_field: ans\n",
  };
  for (const auto& keys : specs) {
    SCOPED_TRACE(keys);
    auto a = from_file(keys);
    auto b = from_campaign(keys);
    auto ea = a->load("test");
    auto eb = b->load_file(data);
    ASSERT_EQ(ea.size(), 2u);
    EXPECT_EQ(summary(*a, ea), summary(*b, eb));
  }
  // and the campaign resolves the same defaults the file gets
  EXPECT_EQ(from_file("scorer: exact\nquestion_field: q\nanswer_field: ans\n")->load("test")[0].messages.back().content, "2+2");
}

TEST_F(UserTaskSpecs, RefusedByBothWithTheSameMessage) {
  struct Bad {
    std::string keys, key;
  };
  const std::vector<Bad> bad = {
      {"scorer: fuzzy\n", "scorer"},
      {"prompt: x\n", "scorer"},  // scorer is required
      {"scorer: numeric\ntolerance: -1\n", "tolerance"},
      {"scorer: exact\ncase_sensitive: maybe\n", "case_sensitive"},
      {"scorer: exact\nmax_new_tokens: 0\n", "max_new_tokens"},
      {"scorer: multiple_choice\nanswer_field: mc\n", "choices_field"},
      {"scorer: exact\nextract: \"(\"\n", "extract"},
      {"scorer: exact\nchat_template: llama2\n", "chat_template"},
      {"scorer: exact\nstop: {a: b}\n", "stop"},
      {"scorer: exact\nanswr_field: ans\n", "answr_field"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.keys);
    std::string file_msg, campaign_msg;
    try {
      from_file(b.keys);
      ADD_FAILURE() << "the spec file accepts it";
    } catch (const UsageError& e) {
      file_msg = e.what();
    }
    try {
      campaign(b.keys);
      ADD_FAILURE() << "the campaign accepts it";
    } catch (const UsageError& e) {
      campaign_msg = e.what();
    }
    ASSERT_EQ(test::line_count(file_msg), 1u) << file_msg;
    ASSERT_EQ(test::line_count(campaign_msg), 1u) << campaign_msg;
    std::string f = after_key(file_msg, ""), c = after_key(campaign_msg, "tasks.qa.");
    EXPECT_EQ(f.rfind(b.key, 0), 0u) << file_msg;
    if (b.key == "answr_field") {
      // an unknown key: the same words and suggestion; the lists of valid keys differ by the keys only
      // one of them has (a campaign's kind/split/limit, a file's name/files)
      EXPECT_EQ(f.substr(0, f.find("valid:")), c.substr(0, c.find("valid:"))) << file_msg << "\n" << campaign_msg;
      EXPECT_NE(f.find("did you mean 'answer_field'"), std::string::npos) << f;
    } else {
      EXPECT_EQ(f, c) << file_msg << "\n" << campaign_msg;
    }
  }
}

}  // namespace
}  // namespace t2
