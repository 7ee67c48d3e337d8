// The whole public API of lathe.
#pragma once

#include "lathe/backend/device.h"
#include "lathe/core/array.h"
#include "lathe/core/compile.h"
#include "lathe/core/dtype.h"
#include "lathe/core/error.h"
#include "lathe/core/memory.h"
#include "lathe/core/profile.h"
#include "lathe/core/transforms.h"
#include "lathe/ops/ops.h"
