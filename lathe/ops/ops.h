// Every op constructor, by family.
#pragma once

#include "lathe/ops/conv.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/device.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/fast.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/linalg.h"
#include "lathe/ops/quantized.h"
#include "lathe/ops/random.h"
#include "lathe/ops/reduce.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/sort.h"
