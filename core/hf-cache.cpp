#include "core/hf-cache.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/error.h"

namespace fs = std::filesystem;

namespace t2 {

namespace {

std::optional<std::string> non_empty(const EnvLookup& env, const std::string& name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

bool is_commit_hash(const std::string& s) {
  static const std::regex hex("[0-9a-f]{40}");
  return std::regex_match(s, hex);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string fetch_hint(const std::string& id, const std::string& revision, const std::string& cache) {
  std::string cmd = "huggingface-cli download " + id;
  if (revision != "main") cmd += " --revision " + revision;
  return fmt::format("fetch it with `{}` (or `hf download` with the same arguments) on a machine with network, "
                     "into this cache (HF_HUB_CACHE={}), or give a model folder",
                     cmd, cache);
}

}  // namespace

EnvLookup process_env_lookup() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string hf_cache_dir(const EnvLookup& env) {
  if (auto v = non_empty(env, "HF_HUB_CACHE")) return *v;
  if (auto v = non_empty(env, "HUGGINGFACE_HUB_CACHE")) return *v;  // the older name, still honoured
  if (auto v = non_empty(env, "HF_HOME")) return *v + "/hub";
  if (auto v = non_empty(env, "XDG_CACHE_HOME")) return *v + "/huggingface/hub";
  auto home = non_empty(env, "HOME");
  return (home ? *home : std::string("~")) + "/.cache/huggingface/hub";
}

bool is_hf_repo_id(const std::string& s) {
  static const std::regex id("[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?");
  return std::regex_match(s, id) && s.find("..") == std::string::npos && s.size() <= 96;
}

std::string hf_repo_folder(const std::string& repo_id) {
  std::string out = "models--";
  for (char c : repo_id) {
    if (c == '/')
      out += "--";
    else
      out += c;
  }
  return out;
}

ModelLocation find_model(const std::string& path_or_id, const std::string& revision_in, const EnvLookup& env) {
  ModelLocation loc;
  std::error_code ec;
  if (fs::is_directory(path_or_id, ec)) {
    if (!revision_in.empty()) {
      loc.problem = fmt::format("'{}' is a model folder; revision '{}' applies only to a Hugging Face id", path_or_id,
                                revision_in);
      return loc;
    }
    loc.dir = path_or_id;
    return loc;
  }
  if (!is_hf_repo_id(path_or_id)) {
    loc.problem = fmt::format("model folder '{}' does not exist; expected a Hugging Face model folder or a Hub id "
                              "(org/name) in the local cache",
                              path_or_id);
    return loc;
  }
  const std::string revision = revision_in.empty() ? "main" : revision_in;
  const std::string cache = hf_cache_dir(env);
  const std::string repo = cache + "/" + hf_repo_folder(path_or_id);
  loc.repo_id = path_or_id;
  loc.revision = revision;
  loc.cache_dir = cache;
  std::vector<std::string> looked{fmt::format("./{} (no such folder)", path_or_id)};

  std::string commit;
  const std::string ref = repo + "/refs/" + revision;
  if (fs::is_regular_file(ref, ec)) {
    std::ifstream f(ref);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    commit = trim(text);
    if (!is_commit_hash(commit)) {
      looked.push_back(fmt::format("{} (holds '{}', not a commit hash)", ref, commit.substr(0, 60)));
      commit.clear();
    }
  } else if (is_commit_hash(revision)) {
    commit = revision;  // a pinned commit: its snapshot folder, refs are not needed
  } else {
    looked.push_back(fmt::format("{} ({})", ref, fs::is_directory(repo, ec) ? "no such ref" : "model not in the cache"));
  }
  if (!commit.empty()) {
    const std::string snap = repo + "/snapshots/" + commit;
    const std::string config = snap + "/config.json";
    if (!fs::is_directory(snap, ec)) {
      looked.push_back(fmt::format("{} (no such snapshot)", snap));
    } else if (!fs::exists(config, ec)) {
      const bool dangling = fs::is_symlink(config, ec);
      looked.push_back(fmt::format("{} ({})", config,
                                   dangling ? "a link to a missing blob: an interrupted download" : "missing"));
    } else {
      loc.dir = snap;
      loc.commit = commit;
      return loc;
    }
  }
  std::string where;
  for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
  loc.problem = fmt::format("'{}' (revision {}) is neither a model folder nor in the Hugging Face cache {}; looked at "
                            "{}; nothing is downloaded: {}",
                            path_or_id, revision, cache, where, fetch_hint(path_or_id, revision, cache));
  return loc;
}

ModelLocation resolve_model(const std::string& path_or_id, const std::string& revision, const std::string& what,
                            const EnvLookup& env) {
  ModelLocation loc = find_model(path_or_id, revision, env);
  if (!loc.found()) throw UsageError(what + ": " + loc.problem);
  return loc;
}

}  // namespace t2
