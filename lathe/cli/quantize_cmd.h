// `lathe quantize SRC DST --bits B --group-size G`: an MLX-community-format copy.
#pragma once

namespace lathe::cli {

int quantize_command(int argc, char** argv);

}  // namespace lathe::cli
