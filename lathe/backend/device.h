// The backend seam: which devices this build of lathe can run on.
#pragma once

namespace lathe {

// True when lathe was built with the CUDA backend and a GPU is present.
bool cuda_available();

}  // namespace lathe
