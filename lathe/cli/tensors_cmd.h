// `lathe tensors MODEL_DIR`: list every tensor of a model or pipeline folder.
#pragma once

namespace lathe::cli {

int tensors_command(int argc, char** argv);

}  // namespace lathe::cli
