// What `lathe run` and `lathe logits` share: the model folder, --device and --dtype, checked
// before anything is loaded, and loading the model and its tokenizer.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "lathe/cli/flags.h"
#include "lathe/models/model.h"
#include "lathe/text/tokenizer.h"

namespace lathe::cli {

struct ModelChoice {
  std::string dir;
  LoadOptions load;
  int tp = 1;  // tensor-parallel ranks
};

// Flags every model command accepts.
std::vector<FlagSpec> model_flag_specs();

// --device (cpu, or cuda when this build has it) and --dtype (bf16, f16, f32; default: the
// checkpoint's).
LoadOptions load_options(const Flags& flags);

// --tp: tensor-parallel ranks, an integer from 1 (the default) to 1024; whether the model
// splits that way is checked when it loads.
int tensor_parallel_ranks(const Flags& flags);

// The single positional MODEL_DIR (must be an existing folder), --device (cpu, or cuda when
// this build has it), --dtype (bf16, f16, f32; default: the checkpoint's) and --tp (ranks, an
// integer >= 1; whether the model splits that way is checked when it loads).
ModelChoice model_choice(const Flags& flags);

// Loads the model (tensor-parallel with --tp > 1) and keep()s its weights.
std::unique_ptr<LanguageModel> load_kept(const ModelChoice& choice);

// The folder's tokenizer, or nothing when it has no tokenizer files.
std::optional<text::Tokenizer> load_tokenizer(const std::string& dir);

}  // namespace lathe::cli
