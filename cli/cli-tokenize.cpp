// t2 tokenize: tokenize text or decode ids with a model folder's tokenizer.
//
//   t2 tokenize DIR --text "Hello world" [--json] [--no-special] [--chat auto|TEMPLATE]
//   t2 tokenize DIR --file prompt.txt [--json]
//   t2 tokenize DIR --decode 9906,1917 [--skip-special] [--json]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "core/check.h"
#include "core/files.h"
#include "core/names.h"
#include "workers/chat-template.h"
#include "workers/tokenizer.h"

namespace t2::cli {

namespace {

struct TokenizeArgs {
  std::string dir, text, file, decode, chat;
  bool json = false, no_special = false, skip_special = false;
  CLI::Option *text_opt = nullptr, *file_opt = nullptr, *decode_opt = nullptr;  // given or not ("" is text)
};

std::vector<int32_t> parse_ids(const std::string& list) {
  std::vector<int32_t> ids;
  size_t pos = 0, item = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string s = list.substr(pos, comma - pos);
    ++item;
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    T2_CHECK_AS(UsageError, !s.empty() && used == s.size() && v >= 0 && v <= INT32_MAX,
                "--decode: item {} '{}' is not a token id (expected comma-separated non-negative integers)", item, s);
    ids.push_back(static_cast<int32_t>(v));
    pos = comma + 1;
  }
  return ids;
}

std::string dump(const nlohmann::json& j) {
  // Tokens can hold part of a UTF-8 sequence: replace such bytes instead of failing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_tokenize(const TokenizeArgs& a) {
  size_t sources = a.text_opt->count() + a.file_opt->count() + a.decode_opt->count();
  T2_CHECK_AS(UsageError, sources == 1, "t2 tokenize: give exactly one of --text, --file or --decode");
  auto tok = Tokenizer::load(a.dir);

  if (a.decode_opt->count()) {
    auto ids = parse_ids(a.decode);
    std::string text = tok->decode(ids, a.skip_special);
    if (a.json) {
      nlohmann::json tokens = nlohmann::json::array();
      for (auto id : ids) tokens.push_back(tok->token_text(id));
      std::cout << dump({{"kind", tok->kind()}, {"ids", ids}, {"tokens", tokens}, {"text", text}}) << "\n";
    } else {
      std::cout << text << "\n";
    }
    return 0;
  }

  std::string text = a.text;
  if (a.file_opt->count()) {
    T2_CHECK_AS(UsageError, path_exists(a.file), "--file {}: no such file", a.file);
    text = read_file(a.file);
  }
  std::vector<int32_t> ids;
  std::string template_name;
  if (!a.chat.empty()) {
    auto tmpl = a.chat == "auto" ? ChatTemplate::for_tokenizer(*tok) : ChatTemplate::by_name(a.chat);
    template_name = tmpl->name();
    ids = encode_chat(*tok, *tmpl, {{"user", text}}, true);
  } else {
    ids = tok->encode(text, !a.no_special);
  }
  if (a.json) {
    nlohmann::json tokens = nlohmann::json::array();
    for (auto id : ids) tokens.push_back(tok->token_text(id));
    nlohmann::json out = {{"kind", tok->kind()}, {"count", ids.size()}, {"ids", ids}, {"tokens", tokens}};
    if (!template_name.empty()) out["chat_template"] = template_name;
    std::cout << dump(out) << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("tokenize", "Tokenize text or decode ids with a model folder's tokenizer");
  auto a = std::make_shared<TokenizeArgs>();
  app->add_option("dir", a->dir, "model folder (tokenizer.json or tokenizer.model), or the tokenizer file")->required();
  auto* text = app->add_option("--text", a->text, "text to tokenize");
  auto* file = app->add_option("--file", a->file, "file whose contents to tokenize");
  auto* decode = app->add_option("--decode", a->decode, "comma-separated token ids to decode, e.g. 9906,1917");
  a->text_opt = text;
  a->file_opt = file;
  a->decode_opt = decode;
  text->excludes(file)->excludes(decode);
  file->excludes(decode);
  app->add_flag("--json", a->json, "print JSON: ids, token strings, count (or the decoded text)");
  app->add_flag("--no-special", a->no_special, "tokenize special-token text as plain text");
  app->add_flag("--skip-special", a->skip_special, "--decode: leave special tokens out");
  app->add_option("--chat", a->chat,
                  "wrap the text as one user turn of a chat template (a name, or 'auto' from tokenizer_config.json) "
                  "and encode it with exactly one BOS; templates: " +
                      join(ChatTemplate::names()));
  return {app, [a]() -> int { return run_tokenize(*a); }};
}

}  // namespace t2::cli
