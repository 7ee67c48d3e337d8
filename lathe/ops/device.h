// Moving arrays between devices. Nothing migrates silently: ops refuse inputs
// on different devices, and to_device is the one explicit copy.
#pragma once

#include "lathe/core/array.h"

namespace lathe {

// A copy of a on `device` (a itself when it is already there). Lazy, like
// every op; reading a GPU array with item()/to_vector() copies it implicitly.
Array to_device(const Array& a, Device device);

}  // namespace lathe
