// `lathe run`: generate text from a model folder.
#pragma once

namespace lathe::cli {

// argv[1] is "run".
int run_command(int argc, char** argv);

}  // namespace lathe::cli
