// Errors found by kernels, reported on the host at the next synchronization. A kernel that
// meets a bad value (an index out of range) records the first one in host-mapped memory and
// carries on with a safe substitute; the next wait on the GPU (eval, a read, synchronize)
// throws lathe::Error naming the op and the value. No kernel launch waits for the GPU to
// check its inputs, so the host can run ahead of the device.
#pragma once

#include <cstdint>

namespace lathe::cuda {

struct DeviceError {
  int flag;  // 0: none; 1: set (first writer wins)
  int op;    // index into the host's table of op names (op_code)
  long long value;
  long long bound;
  int axis;
};

#ifdef __CUDACC__
// Kernels: records an index out of range for `axis` of size `bound` (the first report wins).
__device__ inline void report_index_error(DeviceError* err, int op, long long value,
                                          long long bound, int axis) {
  if (atomicCAS(&err->flag, 0, 1) == 0) {
    err->op = op;
    err->value = value;
    err->bound = bound;
    err->axis = axis;
  }
}
#endif

// The mapped record, as the device sees it.
DeviceError* device_error_record();
// A small integer naming `op` in the record (op names are static strings).
int op_code(const char* op);
// Throws the recorded error, if any, and clears it. Call after a synchronization.
void raise_device_errors();

}  // namespace lathe::cuda
