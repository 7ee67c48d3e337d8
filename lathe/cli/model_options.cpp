// Model folder, device and dtype flags.
#include "lathe/cli/model_options.h"

#include <filesystem>

#include "lathe/backend/device.h"
#include "lathe/core/error.h"
#include "lathe/core/transforms.h"
#include "lathe/models/tensor_parallel.h"

namespace lathe::cli {

std::vector<FlagSpec> model_flag_specs() {
  return {{"--device"}, {"--dtype"}, {"--tp"}, {"--help", false, "-h"}};
}

LoadOptions load_options(const Flags& flags) {
  const std::string& cmd = flags.command();
  LoadOptions load;
  std::string device = flags.text("--device").value_or("cpu");
  if (device == "cuda") {
    if (!cuda_available())
      throw Error("[" + cmd +
                  "] --device cuda: this lathe was built without CUDA or no GPU is "
                  "present (rebuild with the cuda preset on a machine with an NVIDIA GPU)");
    load.device = Device::cuda;
  } else if (device == "cpu") {
    load.device = Device::cpu;
  } else {
    throw Error("[" + cmd + "] unknown device '" + device + "' (expected cpu or cuda)");
  }
  if (auto d = flags.text("--dtype")) {
    if (*d == "bf16" || *d == "bfloat16") {
      load.dtype = bfloat16;
    } else if (*d == "f16" || *d == "float16") {
      load.dtype = float16;
    } else if (*d == "f32" || *d == "float32") {
      load.dtype = float32;
    } else {
      throw Error("[" + cmd + "] unknown dtype '" + *d + "' (expected bf16, f16 or f32)");
    }
  }
  return load;
}

int tensor_parallel_ranks(const Flags& flags) {
  auto tp = flags.text("--tp");
  if (!tp) return 1;
  try {
    return static_cast<int>(*flags.integer("--tp", 1, 1024));
  } catch (const Error&) {
    throw Error("[" + flags.command() +
                "] --tp must be a whole number of ranks from 1 to 1024, got '" + *tp + "'");
  }
}

ModelChoice model_choice(const Flags& flags) {
  const std::string& cmd = flags.command();
  const auto& pos = flags.positional();
  if (pos.empty())
    throw Error("[" + cmd + "] missing the model folder (lathe " + cmd + " MODEL_DIR ...)");
  if (pos.size() > 1) throw Error("[" + cmd + "] unexpected argument '" + pos[1] + "'");
  ModelChoice c;
  c.dir = pos[0];
  c.load = load_options(flags);
  c.tp = tensor_parallel_ranks(flags);
  std::error_code ec;
  if (!std::filesystem::exists(c.dir, ec))
    throw Error("[" + cmd + "] model folder '" + c.dir + "' does not exist");
  if (!std::filesystem::is_directory(c.dir, ec))
    throw Error("[" + cmd + "] '" + c.dir + "' is not a folder (expected a model folder)");
  return c;
}

std::unique_ptr<LanguageModel> load_kept(const ModelChoice& choice) {
  return load_parallel_model(choice.dir, choice.load, choice.tp);
}

std::optional<text::Tokenizer> load_tokenizer(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "tokenizer.json", ec) &&
      !fs::exists(fs::path(dir) / "vocab.json", ec))
    return std::nullopt;
  return text::Tokenizer::from_dir(dir);
}

}  // namespace lathe::cli
