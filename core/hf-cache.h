// Models given by Hugging Face id, found offline in the local Hugging Face cache exactly as
// huggingface_hub lays it out; nothing is ever downloaded. docs/ecosystem.md#models-by-id
//
//   <cache>/models--<org>--<name>/refs/<revision>      a text file holding the commit hash
//   <cache>/models--<org>--<name>/snapshots/<commit>/  the files, symlinks into ../../blobs/
//   <cache>/models--<org>--<name>/blobs/<etag>         the contents
//
// <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (huggingface_hub's constants.py). A revision is a branch or tag (a file
// under refs/, "main" by default) or a full 40-hex commit hash (a snapshot folder).
//
//   ModelLocation m = resolve_model("meta-llama/Meta-Llama-3-8B-Instruct");   // or a folder
//   Model::load(m.dir, ...);   m.commit is the snapshot hash to record in the run
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace t2 {

// Where the environment variables come from (the process environment by default; tests pass a map).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env_lookup();

// The cache folder huggingface_hub would use under `env`.
std::string hf_cache_dir(const EnvLookup& env = process_env_lookup());

// True for "org/name" or "name" made of letters, digits, '-', '_', '.' (no "..", no leading '.' or
// '-'), the shape of a Hub repo id. Folders are tried first, so a relative folder always wins.
bool is_hf_repo_id(const std::string& s);

// "models--org--name" for "org/name".
std::string hf_repo_folder(const std::string& repo_id);

struct ModelLocation {
  std::string dir;        // the folder to load: the given folder, or the snapshot folder of the id
  std::string repo_id;    // empty for a plain folder
  std::string revision;   // the revision asked for ("main" by default); empty for a folder
  std::string commit;     // the snapshot hash the revision resolved to; empty for a folder
  std::string cache_dir;  // the cache searched; empty for a folder
  std::string problem;    // why nothing was found (every place looked at, how to fetch); empty on success
  bool found() const { return problem.empty(); }
  bool from_cache() const { return !repo_id.empty(); }
};

// Finds `path_or_id` as a model folder (holding config.json), else as a Hub id in the cache at
// `revision` ("" = main). Never throws for a miss: `problem` says what was looked at, on one line,
// and how to fetch the model (`huggingface-cli download ID [--revision R]`).
ModelLocation find_model(const std::string& path_or_id, const std::string& revision = "",
                         const EnvLookup& env = process_env_lookup());

// find_model, throwing UsageError "<what>: <problem>" (exit 2) on a miss.
ModelLocation resolve_model(const std::string& path_or_id, const std::string& revision = "",
                            const std::string& what = "model", const EnvLookup& env = process_env_lookup());

}  // namespace t2
