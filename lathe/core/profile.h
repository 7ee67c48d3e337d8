// An opt-in host-side profile of evaluation: with LATHE_PROFILE=1 in the environment, every
// primitive's evaluation (kernel launch on the GPU, the computation itself on the CPU) is
// timed on the host and counted per primitive name; the table is printed on stderr at exit.
// It answers "where does a decode step's host time go" without a profiler.
// With LATHE_PROFILE=gpu, every primitive run on the GPU is also bracketed by CUDA events on
// its stream: "gpu NAME" entries hold the device time between them (its kernels), and
// "gpu idle" the time the stream sat between one primitive's end and the next one's start
// (launch latency and host starvation). Events cost the host about a microsecond each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lathe {

struct ProfileEntry {
  std::string name;
  uint64_t count = 0;
  double seconds = 0;
};

// Whether LATHE_PROFILE is set (read once).
bool profiling();
// Whether LATHE_PROFILE=gpu (implies profiling()).
bool profiling_gpu();
// Seconds spent running evaluation tasks (walking the graph, launching kernels) on all
// threads since the process started; always counted (two clock reads a task). Against the
// wall clock of a decode loop it tells whether the host's launching is the bottleneck.
double task_seconds();
// Entries sorted by time, largest first; reset_profile() starts over.
std::vector<ProfileEntry> profile_entries();
void reset_profile();
// The table profile_entries() holds, one line per primitive.
std::string profile_report();

namespace detail {
void profile_add(const char* name, double seconds);
// Called before the table is read (the CUDA backend resolves its pending events there).
void set_profile_flush(void (*flush)());
}  // namespace detail

}  // namespace lathe
