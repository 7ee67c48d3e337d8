// `lathe make-random`: see lathe/models/random_folder.h for the tensors written.
#include "lathe/cli/make_random_cmd.h"

#include <cstdio>
#include <string>

#include "lathe/cli/flags.h"
#include "lathe/core/error.h"
#include "lathe/models/random_folder.h"

namespace lathe::cli {

namespace {

constexpr const char* kUsage =
    "usage: lathe make-random CONFIG_JSON OUT_DIR [--dtype bf16|f16|f32] [--seed S] [--std X]\n"
    "  writes OUT_DIR/config.json and OUT_DIR/model.safetensors with seeded random weights\n"
    "  of the architecture CONFIG_JSON describes (no tokenizer: run with --prompt-ids)\n";

Dtype parse_dtype(const std::string& s) {
  if (s == "bf16" || s == "bfloat16") return bfloat16;
  if (s == "f16" || s == "float16") return float16;
  if (s == "f32" || s == "float32") return float32;
  throw Error("[make-random] --dtype must be bf16, f16 or f32, got '" + s + "'");
}

}  // namespace

int make_random_command(int argc, char** argv) {
  Flags f("make-random", {{"--dtype"}, {"--seed"}, {"--std"}, {"--help", false, "-h"}}, argc, argv,
          2);
  if (f.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (f.positional().size() != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  RandomFolderOptions o;
  if (auto d = f.text("--dtype")) o.dtype = parse_dtype(*d);
  o.seed = static_cast<uint64_t>(f.integer("--seed", 0, INT64_MAX).value_or(0));
  if (auto s = f.number("--std")) {
    if (!(*s > 0 && *s < 10))
      throw Error("[make-random] --std must be in (0, 10), got " + std::to_string(*s));
    o.std = static_cast<float>(*s);
  }
  const std::string& out = f.positional()[1];
  uint64_t bytes = write_random_folder(f.positional()[0], out, o);
  std::fprintf(stderr, "wrote %.1f MiB of random %s weights to %s\n",
               static_cast<double>(bytes) / (1 << 20), o.dtype.name(), out.c_str());
  return 0;
}

}  // namespace lathe::cli
