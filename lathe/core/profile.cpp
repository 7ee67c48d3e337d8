// LATHE_PROFILE: per-primitive host time of evaluation (see profile.h).
#include "lathe/core/profile.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace lathe {

namespace {

struct Table {
  std::mutex mu;
  std::unordered_map<std::string, ProfileEntry> entries;
};

Table& table() {
  static auto* t = new Table();  // lives to exit (read by the atexit report)
  return *t;
}

void report_at_exit() { std::fputs(profile_report().c_str(), stderr); }

}  // namespace

bool profiling() {
  static const bool on = [] {
    const char* e = std::getenv("LATHE_PROFILE");
    const bool enabled = e && *e && std::string(e) != "0";
    if (enabled) std::atexit(report_at_exit);
    return enabled;
  }();
  return on;
}

bool profiling_gpu() {
  static const bool on = [] {
    const char* e = std::getenv("LATHE_PROFILE");
    return profiling() && e && std::string(e) == "gpu";
  }();
  return on;
}

namespace {
std::atomic<void (*)()> flush_hook{nullptr};
void flush_pending() {
  if (auto f = flush_hook.load()) f();
}
}  // namespace

void detail::set_profile_flush(void (*flush)()) { flush_hook.store(flush); }

void detail::profile_add(const char* name, double seconds) {
  Table& t = table();
  std::lock_guard lk(t.mu);
  ProfileEntry& e = t.entries[name];
  if (e.name.empty()) e.name = name;
  e.count++;
  e.seconds += seconds;
}

std::vector<ProfileEntry> profile_entries() {
  flush_pending();
  Table& t = table();
  std::lock_guard lk(t.mu);
  std::vector<ProfileEntry> out;
  for (auto& [k, v] : t.entries) out.push_back(v);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.seconds > b.seconds; });
  return out;
}

void reset_profile() {
  flush_pending();
  Table& t = table();
  std::lock_guard lk(t.mu);
  t.entries.clear();
}

namespace {
std::string table_text(const std::vector<ProfileEntry>& entries) {
  double total = 0;
  uint64_t count = 0;
  for (auto& e : entries) {
    total += e.seconds;
    count += e.count;
  }
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "  %-28s %10s %12s %10s %6s\n", "primitive", "count",
                "total ms", "us each", "share");
  out += line;
  for (auto& e : entries) {
    std::snprintf(line, sizeof line, "  %-28s %10llu %12.3f %10.2f %5.1f%%\n", e.name.c_str(),
                  static_cast<unsigned long long>(e.count), e.seconds * 1e3,
                  e.seconds * 1e6 / static_cast<double>(e.count),
                  total > 0 ? 100.0 * e.seconds / total : 0.0);
    out += line;
  }
  std::snprintf(line, sizeof line, "  %-28s %10llu %12.3f\n", "total",
                static_cast<unsigned long long>(count), total * 1e3);
  out += line;
  return out;
}
}  // namespace

std::string profile_report() {
  std::vector<ProfileEntry> host, gpu;
  for (auto& e : profile_entries()) (e.name.rfind("gpu ", 0) == 0 ? gpu : host).push_back(e);
  std::string out = "lathe profile (host time of evaluation per primitive):\n" + table_text(host);
  if (!gpu.empty()) out += "lathe profile (GPU time per primitive, CUDA events):\n" + table_text(gpu);
  return out;
}

}  // namespace lathe
