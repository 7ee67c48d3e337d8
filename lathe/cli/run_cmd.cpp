// `lathe run MODEL_DIR -p PROMPT`: renders the folder's chat template (unless --raw),
// generates with the sampler flags, streams the text to stdout and the figures to stderr.
#include "lathe/cli/run_cmd.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lathe/cli/flags.h"
#include "lathe/cli/model_options.h"
#include "lathe/core/error.h"
#include "lathe/core/memory.h"
#include "lathe/engine/generate.h"
#include "lathe/engine/session.h"
#include "lathe/text/chat_template.h"

namespace lathe::cli {

namespace {

const char* kUsage =
    "usage: lathe run MODEL_DIR [-p PROMPT | --prompt-ids 1,2,3] [options]\n"
    "  Generates a continuation of PROMPT, streaming the text to stdout and timings to stderr.\n"
    "  Without -p or --prompt-ids: an interactive chat when stdin is a terminal (the KV cache\n"
    "  is kept between turns), else the whole of stdin is the prompt.\n"
    "  -p, --prompt TEXT        the prompt (the user message when a chat template is used)\n"
    "  --prompt-ids 1,2,3       token ids instead of text (works without tokenizer files)\n"
    "  --chat | --raw           use the folder's chat template (default when it has one) | "
    "send the prompt as is\n"
    "  --system TEXT            a system message (chat template only)\n"
    "  --interactive            multi-turn chat, one message per line of stdin\n"
    "  --max-tokens N           tokens to generate at most (default 256)\n"
    "  --temperature T          0 is greedy; defaults follow generation_config.json, greedy "
    "without one\n"
    "  --top-k K  --top-p P  --min-p M\n"
    "  --repeat-penalty R  --presence-penalty X  --frequency-penalty X\n"
    "  --seed S                 reproducible sampling\n"
    "  --stop STR               stop before STR (repeatable; STR is not printed)\n"
    "  --ignore-eos             keep generating past end-of-sequence tokens\n"
    "  --ctx N                  KV-cache positions (default: prompt + max tokens; chat: 4096)\n"
    "  --prefill-chunk N        prompt tokens per forward pass (default 2048)\n"
    "  --device cpu|cuda  --dtype bf16|f16|f32\n"
    "  --tp N                   split the model across N tensor-parallel ranks (threads on the "
    "CPU)\n"
    "  --json                   after the text, print one JSON object with ids, text and "
    "figures\n"
    "  --stats | --no-stats     timing and memory figures on stderr (default: on)\n";

std::vector<FlagSpec> run_specs() {
  std::vector<FlagSpec> s = model_flag_specs();
  for (const char* v : {"--prompt-ids", "--system", "--max-tokens", "--temperature", "--top-k",
                        "--top-p", "--min-p", "--repeat-penalty", "--presence-penalty",
                        "--frequency-penalty", "--seed", "--stop", "--ctx", "--prefill-chunk"})
    s.push_back({v});
  s.push_back({"--prompt", true, "-p"});
  for (const char* b :
       {"--chat", "--raw", "--ignore-eos", "--json", "--stats", "--no-stats", "--interactive"})
    s.push_back({b, false});
  return s;
}

[[noreturn]] void fail(const std::string& msg) { throw Error("[run] " + msg); }

// The cache size of an interactive chat without --ctx.
constexpr int kChatContext = 4096;

// The sampler flags over `c` (the folder's defaults).
SamplerConfig sampler_config(const Flags& f, SamplerConfig c) {
  if (auto v = f.number("--temperature")) c.temperature = *v;
  if (auto v = f.integer("--top-k", 0, INT32_MAX)) c.top_k = static_cast<int>(*v);
  if (auto v = f.number("--top-p")) c.top_p = *v;
  if (auto v = f.number("--min-p")) c.min_p = *v;
  if (auto v = f.number("--repeat-penalty")) c.repetition_penalty = *v;
  if (auto v = f.number("--presence-penalty")) c.presence_penalty = *v;
  if (auto v = f.number("--frequency-penalty")) c.frequency_penalty = *v;
  if (auto v = f.integer("--seed", 0, INT64_MAX)) c.seed = static_cast<uint64_t>(*v);
  validate(c);
  return c;
}

nlohmann::ordered_json first_messages(const std::optional<std::string>& system) {
  auto m = nlohmann::ordered_json::array();
  if (system) m.push_back({{"role", "system"}, {"content", *system}});
  return m;
}

std::string read_stdin() {
  if (isatty(STDIN_FILENO))
    std::fprintf(stderr, "lathe run: reading the prompt from stdin (end with Ctrl-D)\n");
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

// Peak resident set of the process (mapped weights included), in bytes.
size_t peak_rss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<size_t>(u.ru_maxrss) * 1024;
}

void print_stats(const GenerationResult& r, size_t peak) {
  const double mib = 1024.0 * 1024.0;
  std::fprintf(stderr,
               "\nprompt: %d tokens (%d cached), %.1f tok/s | generated: %d tokens, %.1f tok/s | "
               "time to first token: %.3f s | peak memory: %.1f MiB arrays, %.1f MiB resident\n",
               r.prompt_tokens, r.reused_tokens,
               r.timings.prefill_tokens_per_s(r.prompt_tokens - r.reused_tokens),
               r.generated_tokens, r.timings.decode_tokens_per_s(r.generated_tokens),
               r.timings.ttft_s, static_cast<double>(peak) / mib,
               static_cast<double>(peak_rss()) / mib);
}

// What follows the streamed text: the ids when there is no text, the --json object, stats.
void report(const Flags& f, const GenerationResult& r, bool has_tokenizer, size_t peak) {
  if (!has_tokenizer) std::printf("%s", nlohmann::json(r.ids).dump().c_str());
  if (!r.text.empty() || !has_tokenizer) std::printf("\n");
  if (f.has("--json")) {
    nlohmann::json j;
    j["ids"] = r.ids;
    j["text"] = r.text;
    j["finish_reason"] = r.finish_reason;
    j["prompt_tokens"] = r.prompt_tokens;
    j["reused_tokens"] = r.reused_tokens;
    j["generated_tokens"] = r.generated_tokens;
    j["prefill_tok_s"] = r.timings.prefill_tokens_per_s(r.prompt_tokens - r.reused_tokens);
    j["gen_tok_s"] = r.timings.decode_tokens_per_s(r.generated_tokens);
    j["ttft_s"] = r.timings.ttft_s;
    j["peak_memory_bytes"] = peak;
    j["peak_rss_bytes"] = peak_rss();
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  std::fflush(stdout);
  if (!f.has("--no-stats")) print_stats(r, peak);
}

// Multi-turn chat on stdin, one user message per line, keeping the KV cache between turns
// (with a chat template the whole conversation is re-rendered and only its new tail is
// prefilled). Without a template every line is a prompt of its own. "/reset" starts over,
// "/exit" or end of input ends.
int chat_loop(const Flags& f, LanguageModel& model, const text::Tokenizer& tok,
              const std::optional<std::string>& chat_template, GenerateOptions o) {
  const bool tty = isatty(STDIN_FILENO);
  const int context = o.context_length > 0 ? o.context_length : kChatContext;
  Generator g(model, &tok, context);
  auto messages = first_messages(f.text("--system"));
  if (tty)
    std::fprintf(stderr, "lathe chat (%d positions): /reset starts over, /exit or Ctrl-D ends\n",
                 context);
  std::string line;
  while (true) {
    if (tty) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages = first_messages(f.text("--system"));
      g.reset();
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    try {
      auto ids =
          chat_template ? chat_prompt_ids(*chat_template, tok, messages) : tok.encode(line, true);
      if (ids.empty()) fail("the prompt is empty (it encodes to no tokens)");
      reset_peak_memory();
      GenerationResult r = g.generate(ids, o);
      report(f, r, true, peak_memory());
      messages.push_back({{"role", "assistant"}, {"content", r.text}});
    } catch (const Error& e) {
      // A turn that cannot run (e.g. past the context) is dropped; the chat goes on.
      std::fprintf(stderr, "lathe: %s\n", e.what());
      messages.erase(messages.end() - 1);
    }
  }
  return 0;
}

}  // namespace

int run_command(int argc, char** argv) {
  Flags f("run", run_specs(), argc, argv, 2);
  if (f.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // Every flag is checked before anything is loaded.
  if (f.has("--chat") && f.has("--raw")) fail("--chat and --raw exclude each other");
  if (f.has("--stats") && f.has("--no-stats")) fail("--stats and --no-stats exclude each other");
  if (f.has("--prompt") && f.has("--prompt-ids")) fail("-p and --prompt-ids exclude each other");
  if (f.has("--interactive") && (f.has("--prompt") || f.has("--prompt-ids")))
    fail("--interactive reads the conversation from stdin; it excludes -p and --prompt-ids");
  if (f.has("--system") && f.has("--raw")) fail("--system needs the chat template (not --raw)");
  GenerateOptions o;
  o.max_tokens = static_cast<int>(f.integer("--max-tokens", 0, INT32_MAX).value_or(256));
  o.stop_strings = f.all("--stop");
  o.ignore_eos = f.has("--ignore-eos");
  o.context_length = static_cast<int>(f.integer("--ctx", 1, INT32_MAX).value_or(0));
  o.prefill_chunk = static_cast<int>(f.integer("--prefill-chunk", 1, INT32_MAX).value_or(2048));
  std::vector<int32_t> ids;
  if (auto t = f.text("--prompt-ids")) ids = parse_id_list("run", "--prompt-ids", *t);
  o.sampler = sampler_config(f, SamplerConfig{});
  validate(o);
  ModelChoice choice = model_choice(f);
  o.sampler = sampler_config(f, sampler_defaults(choice.dir));

  auto tokenizer = load_tokenizer(choice.dir);
  if (!tokenizer) {
    if (!f.has("--prompt-ids"))
      fail("'" + choice.dir +
           "' has no tokenizer (tokenizer.json); pass token ids with "
           "--prompt-ids");
    if (!o.stop_strings.empty())
      fail("--stop needs a tokenizer, and '" + choice.dir + "' has none");
    if (f.has("--chat")) fail("--chat needs a tokenizer, and '" + choice.dir + "' has none");
    if (f.has("--interactive"))
      fail("--interactive needs a tokenizer, and '" + choice.dir + "' has none");
  }
  std::optional<std::string> chat_template;
  if (!f.has("--raw") && tokenizer) {
    chat_template = chat_template_of(choice.dir);
    // --chat on a folder without a template names what is missing.
    if (!chat_template && f.has("--chat")) chat_template = find_chat_template(choice.dir);
  }
  const bool chat = chat_template.has_value();
  if (f.has("--system") && !chat) fail("--system needs a chat template, and the folder has none");
  const bool interactive = f.has("--interactive") ||
                           (!f.has("--prompt") && !f.has("--prompt-ids") && isatty(STDIN_FILENO));
  o.on_text = [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  if (interactive) {
    auto model = load_kept(choice);
    return chat_loop(f, *model, *tokenizer, chat_template, o);
  }
  if (!f.has("--prompt-ids")) {
    std::string prompt = f.has("--prompt") ? *f.text("--prompt") : read_stdin();
    if (chat) {
      auto messages = first_messages(f.text("--system"));
      messages.push_back({{"role", "user"}, {"content", prompt}});
      ids = chat_prompt_ids(*chat_template, *tokenizer, messages);
    } else {
      ids = tokenizer->encode(prompt, true);
    }
  }
  if (ids.empty()) fail("the prompt is empty (it encodes to no tokens)");

  auto model = load_kept(choice);
  reset_peak_memory();
  GenerationResult r = tokenizer ? generate(*model, *tokenizer, ids, o) : generate(*model, ids, o);
  report(f, r, tokenizer.has_value(), peak_memory());
  return 0;
}

}  // namespace lathe::cli
