// The architectures lathe ships: each model file adds one registration here.
#include "lathe/models/model.h"

namespace lathe {

void register_builtin_models() {}

}  // namespace lathe
