// Run-time compilation of generated CUDA C++ with NVRTC, and the caches of the
// kernels it makes: in memory (by source, per device) and on disk (by a hash
// of source, headers, options, GPU architecture and NVRTC version).
#pragma once

#include <cuda.h>

#include <cstddef>
#include <string>
#include <vector>

namespace lathe::cuda {

// A header the generated sources may include, by the name they include it with.
struct RtcHeader {
  const char* name;
  const char* text;
  size_t size;
};
// The device headers embedded into lathe at build time (generated from the
// sources by cmake/embed_text.cmake).
const std::vector<RtcHeader>& rtc_headers();

// The driver API functions lathe uses, reached through the CUDA runtime so that
// lathe needs no link to libcuda. ok is false (with why) when one is missing.
struct Driver {
  CUresult (*get_error_name)(CUresult, const char**) = nullptr;
  CUresult (*ctx_get_current)(CUcontext*) = nullptr;
  CUresult (*module_load_data)(CUmodule*, const void*) = nullptr;
  CUresult (*module_unload)(CUmodule) = nullptr;
  CUresult (*module_get_function)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*launch_kernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                            unsigned, CUstream, void**, void**) = nullptr;
  bool ok = false;
  std::string why;
};
const Driver& driver();
// The name of a driver error.
std::string driver_error(CUresult r);
// Makes the runtime's context of the current device current on this thread
// for the driver API (a thread's first GPU call may be a driver call).
bool ensure_context(std::string& why);

// The kernel `entry` of `source`, compiled for the current device and loaded
// into its context; null, with the reason in `why`, when it could not be
// compiled or loaded. Failures are remembered per source: no retry.
CUfunction rtc_kernel(const std::string& source, const char* entry, std::string& why);

// The counts of lathe::fused_kernel_stats() that the caller of rtc_kernel keeps.
void note_fused_launch();
void note_fused_fallback(const std::string& why);

}  // namespace lathe::cuda
