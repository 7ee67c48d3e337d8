// `lathe make-random CONFIG_JSON OUT_DIR [--dtype bf16|f16|f32] [--seed S] [--std X]`:
// a random-weight model folder of any supported config (benchmarks, tests).
#pragma once

namespace lathe::cli {

int make_random_command(int argc, char** argv);

}  // namespace lathe::cli
