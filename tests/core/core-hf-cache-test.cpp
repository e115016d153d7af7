// core/hf-cache: a Hugging Face cache laid out as huggingface_hub writes it (blobs named by their
// hash, snapshot files as relative symlinks into blobs/, refs/<revision> holding the commit), with
// two revisions; every way of naming a model, and every miss with the places it names.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/files.h"
#include "core/hf-cache.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;

namespace {

const std::string kCommitA = "0123456789abcdef0123456789abcdef01234567";
const std::string kCommitB = "fedcba9876543210fedcba9876543210fedcba98";

t2::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// One snapshot: each file a blob (named by a fake etag) and a relative link to it.
void add_snapshot(const std::string& repo, const std::string& commit, const std::map<std::string, std::string>& files) {
  t2::make_dirs(repo + "/blobs");
  t2::make_dirs(repo + "/snapshots/" + commit);
  for (const auto& [name, text] : files) {
    const std::string etag = std::to_string(std::hash<std::string>{}(commit + name + text));
    t2::write_file_atomic(repo + "/blobs/" + etag, text);
    fs::create_symlink("../../blobs/" + etag, repo + "/snapshots/" + commit + "/" + name);
  }
}

struct Cache {
  std::string root, hub, repo;
  Cache() {
    root = t2::test::make_temp_dir("hf-cache");
    hub = root + "/hub";
    repo = hub + "/models--org--tiny-model";
    add_snapshot(repo, kCommitA, {{"config.json", "{\"a\": 1}"}, {"model.safetensors", "A"}});
    add_snapshot(repo, kCommitB, {{"config.json", "{\"b\": 2}"}, {"model.safetensors", "B"}});
    t2::make_dirs(repo + "/refs");
    t2::write_file_atomic(repo + "/refs/main", kCommitA);  // huggingface_hub writes no newline
    t2::write_file_atomic(repo + "/refs/v2", kCommitB + "\n");
  }
  ~Cache() { fs::remove_all(root); }
};

}  // namespace

TEST(HfCache, CacheDirFollowsHuggingfaceHubPrecedence) {
  EXPECT_EQ(t2::hf_cache_dir(env_of({{"HF_HUB_CACHE", "/c"}, {"HF_HOME", "/h"}, {"HOME", "/u"}})), "/c");
  EXPECT_EQ(t2::hf_cache_dir(env_of({{"HF_HOME", "/h"}, {"HOME", "/u"}})), "/h/hub");
  EXPECT_EQ(t2::hf_cache_dir(env_of({{"XDG_CACHE_HOME", "/x"}, {"HOME", "/u"}})), "/x/huggingface/hub");
  EXPECT_EQ(t2::hf_cache_dir(env_of({{"HOME", "/u"}})), "/u/.cache/huggingface/hub");
  EXPECT_EQ(t2::hf_cache_dir(env_of({{"HF_HUB_CACHE", ""}, {"HOME", "/u"}})), "/u/.cache/huggingface/hub");
}

TEST(HfCache, RepoIdsAndFolderNames) {
  EXPECT_TRUE(t2::is_hf_repo_id("meta-llama/Meta-Llama-3-8B-Instruct"));
  EXPECT_TRUE(t2::is_hf_repo_id("gpt2"));
  EXPECT_TRUE(t2::is_hf_repo_id("Qwen/Qwen2.5-0.5B"));
  EXPECT_FALSE(t2::is_hf_repo_id("/models/llama"));
  EXPECT_FALSE(t2::is_hf_repo_id("./llama"));
  EXPECT_FALSE(t2::is_hf_repo_id("a/b/c"));
  EXPECT_FALSE(t2::is_hf_repo_id("org/../x"));
  EXPECT_EQ(t2::hf_repo_folder("meta-llama/Meta-Llama-3-8B-Instruct"), "models--meta-llama--Meta-Llama-3-8B-Instruct");
  EXPECT_EQ(t2::hf_repo_folder("gpt2"), "models--gpt2");
}

TEST(HfCache, ResolvesMainBranchTagAndCommit) {
  Cache c;
  auto env = env_of({{"HF_HUB_CACHE", c.hub}});
  auto main = t2::find_model("org/tiny-model", "", env);
  ASSERT_TRUE(main.found()) << main.problem;
  EXPECT_EQ(main.dir, c.repo + "/snapshots/" + kCommitA);
  EXPECT_EQ(main.commit, kCommitA);
  EXPECT_EQ(main.revision, "main");
  EXPECT_EQ(main.repo_id, "org/tiny-model");
  EXPECT_EQ(t2::read_file(main.dir + "/config.json"), "{\"a\": 1}");  // through the link into blobs/

  auto v2 = t2::find_model("org/tiny-model", "v2", env);
  ASSERT_TRUE(v2.found()) << v2.problem;
  EXPECT_EQ(v2.commit, kCommitB);
  EXPECT_EQ(t2::read_file(v2.dir + "/model.safetensors"), "B");

  auto pinned = t2::find_model("org/tiny-model", kCommitB, env);  // a commit needs no ref
  ASSERT_TRUE(pinned.found()) << pinned.problem;
  EXPECT_EQ(pinned.dir, v2.dir);

  // HF_HOME/hub is the same cache.
  auto home = t2::find_model("org/tiny-model", "", env_of({{"HF_HOME", c.root}}));
  ASSERT_TRUE(home.found()) << home.problem;
  EXPECT_EQ(home.commit, kCommitA);
}

TEST(HfCache, AFolderWinsAndTakesNoRevision) {
  Cache c;
  auto env = env_of({{"HF_HUB_CACHE", c.hub}});
  auto f = t2::find_model(c.repo + "/snapshots/" + kCommitA, "", env);
  ASSERT_TRUE(f.found());
  EXPECT_FALSE(f.from_cache());
  EXPECT_TRUE(f.commit.empty());
  auto r = t2::find_model(c.repo, "v2", env);
  EXPECT_FALSE(r.found());
  EXPECT_NE(r.problem.find("applies only to a Hugging Face id"), std::string::npos) << r.problem;
}

TEST(HfCache, MissesNameEveryPlaceAndHowToFetch) {
  Cache c;
  auto env = env_of({{"HF_HUB_CACHE", c.hub}});
  auto miss = t2::find_model("org/other", "", env);
  ASSERT_FALSE(miss.found());
  EXPECT_NE(miss.problem.find("./org/other (no such folder)"), std::string::npos) << miss.problem;
  EXPECT_NE(miss.problem.find(c.hub + "/models--org--other/refs/main (model not in the cache)"), std::string::npos)
      << miss.problem;
  EXPECT_NE(miss.problem.find("huggingface-cli download org/other`"), std::string::npos) << miss.problem;

  auto ref = t2::find_model("org/tiny-model", "v3", env);
  ASSERT_FALSE(ref.found());
  EXPECT_NE(ref.problem.find(c.repo + "/refs/v3 (no such ref)"), std::string::npos) << ref.problem;
  EXPECT_NE(ref.problem.find("huggingface-cli download org/tiny-model --revision v3"), std::string::npos)
      << ref.problem;

  // A ref whose snapshot is gone, and a snapshot whose blob is gone (an interrupted download).
  t2::write_file_atomic(c.repo + "/refs/gone", std::string(40, 'a'));
  auto gone = t2::find_model("org/tiny-model", "gone", env);
  ASSERT_FALSE(gone.found());
  EXPECT_NE(gone.problem.find("/snapshots/" + std::string(40, 'a') + " (no such snapshot)"), std::string::npos)
      << gone.problem;
  for (auto& e : fs::directory_iterator(c.repo + "/blobs"))
    if (t2::read_file(e.path().string()) == "{\"b\": 2}") fs::remove(e.path());
  auto torn = t2::find_model("org/tiny-model", "v2", env);
  ASSERT_FALSE(torn.found());
  EXPECT_NE(torn.problem.find("a link to a missing blob"), std::string::npos) << torn.problem;

  try {
    t2::resolve_model("org/other", "", "models.x.path", env);
    FAIL();
  } catch (const t2::UsageError& e) {
    EXPECT_EQ(e.code(), t2::ExitCode::usage_error);
    EXPECT_EQ(std::string(e.what()).rfind("models.x.path: ", 0), 0u) << e.what();
  }
}
