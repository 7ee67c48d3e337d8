// The architectures lathe ships: each model file adds one registration here.
#include "lathe/models/model.h"

namespace lathe {

void register_gemma3_models();
void register_llama_models();
void register_qwen_models();

void register_builtin_models() {
  register_gemma3_models();
  register_llama_models();
  register_qwen_models();
}

}  // namespace lathe
