// An opt-in host-side profile of evaluation: with LATHE_PROFILE=1 in the environment, every
// primitive's evaluation (kernel launch on the GPU, the computation itself on the CPU) is
// timed on the host and counted per primitive name; the table is printed on stderr at exit.
// It answers "where does a decode step's host time go" without a profiler.
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
// Entries sorted by time, largest first; reset_profile() starts over.
std::vector<ProfileEntry> profile_entries();
void reset_profile();
// The table profile_entries() holds, one line per primitive.
std::string profile_report();

namespace detail {
void profile_add(const char* name, double seconds);
}  // namespace detail

}  // namespace lathe
