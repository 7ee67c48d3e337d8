// Device graphs: the GPU work of computing one array, recorded once and
// replayed (CUDA graphs). A decode step whose shapes and buffers stay the same
// from one token to the next (LanguageModel::forward_at) costs one launch
// instead of hundreds of kernel launches.
#pragma once

#include <memory>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

namespace detail {
struct RecordedWork;  // the backend's recording (backend/device.h)
}

class DeviceGraph {
 public:
  // Computes `output` (built from `inputs` and kept arrays such as weights and
  // caches) while recording its GPU work; the work is not run yet: replay() runs
  // it. Inputs are computed, kept, contiguous GPU arrays; the recording reads
  // their buffers, so replay() copies new values into them. Every buffer the
  // work allocates belongs to the graph while it lives. Waits for the thread's
  // earlier work first. Throws lathe::Error when the work cannot be recorded (no
  // GPU, a host read or a large host copy inside it, arrays on the CPU).
  DeviceGraph(const std::vector<Array>& inputs, const Array& output);

  // A lazy array: writes `inputs` (the recorded inputs' shapes and dtypes) into
  // the recorded input buffers, replays the work and copies the output out.
  // Replays run in the order they are evaluated on this thread's stream.
  Array replay(const std::vector<Array>& inputs) const;

  // GPU kernels and memory copies in the recording, and the bytes it holds.
  size_t nodes() const;
  size_t held_bytes() const;

 private:
  std::shared_ptr<detail::RecordedWork> work_;
  std::vector<Array> inputs_;
  Array output_;
};

}  // namespace lathe
