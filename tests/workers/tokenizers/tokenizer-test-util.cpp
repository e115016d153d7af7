#include "tests/workers/tokenizers/tokenizer-test-util.h"

#include <filesystem>
#include <sstream>

#include "core/files.h"
#include "tests/support/test-support.h"

namespace t2::test {

std::vector<TokenizerVector> read_tokenizer_vectors(const std::string& base) {
  const std::string marker = "\n__ggml_vocab_test__\n";
  std::string inp = read_file(base + ".inp"), out = read_file(base + ".out");
  std::vector<std::string> texts;
  size_t pos = 0;
  while (pos < inp.size()) {
    size_t m = inp.find(marker, pos);
    if (m == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, m - pos));
    pos = m + marker.size();
  }
  std::vector<TokenizerVector> v;
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= texts.size()) throw std::runtime_error(base + ".out has more lines than .inp has cases");
    TokenizerVector tv{texts[i++], {}};
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) tv.ids.push_back(id);
    v.push_back(std::move(tv));
  }
  if (i != texts.size()) throw std::runtime_error(base + ": .inp and .out case counts differ");
  return v;
}

bool run_ok(const std::vector<std::string>& argv) {
  SubprocessOptions o;
  o.timeout = Seconds(120);
  auto r = run_subprocess(argv, o);
  if (!r.ok()) ADD_FAILURE() << argv[0] << ": " << r.describe() << "\n" << r.err;
  return r.ok();
}

std::string make_hf_model_dir(const std::string& data_dir, const std::string& family,
                              const std::string& merges_form) {
  std::string src = data_dir + "/tokenizers/" + family;
  std::string dir = make_temp_dir("tok-" + family);
  bool llama = family == "llama3";
  run_ok({python3(), source_dir() + "/scripts/make-tokenizer-json", "--family", family, "--vocab",
          src + (llama ? "/encoder.json" : "/vocab.json"), "--merges", src + (llama ? "/vocab.bpe" : "/merges.txt"),
          "--config", src + "/tokenizer_config.json", "--merges-form", merges_form, "--out", dir + "/tokenizer.json"});
  std::filesystem::create_symlink(src + "/tokenizer_config.json", dir + "/tokenizer_config.json");
  return dir;
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace t2::test
