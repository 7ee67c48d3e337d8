// `lathe tokenize` and `lathe detokenize`.
#pragma once

namespace lathe::cli {

int tokenize_command(int argc, char** argv);
int detokenize_command(int argc, char** argv);

}  // namespace lathe::cli
