// `lathe logits`: the full-sequence forward pass of a model folder, for checks against
// references.
#pragma once

namespace lathe::cli {

// argv[1] is "logits".
int logits_command(int argc, char** argv);

}  // namespace lathe::cli
