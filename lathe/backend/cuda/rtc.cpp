// NVRTC compilation of generated kernels, loaded with the driver API
// (cuModuleLoadData, reached through the runtime), cached in memory per device
// and on disk. A disk cache file holds its full key (so a hash collision or a
// stale file is seen) and a checksum of the image; one that does not verify or
// load is rebuilt and replaced, and files are written to a temporary name and
// renamed into place.
#include "lathe/backend/cuda/rtc.h"

#include <cuda_runtime.h>
#include <nvrtc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include "lathe/backend/device.h"

namespace lathe {

namespace cuda {

namespace {

namespace fs = std::filesystem;

struct Counters {
  std::mutex mu;
  FusedKernelStats stats;
};
Counters& counters() {
  static auto* c = new Counters();  // lives to exit
  return *c;
}

template <typename F>
void count(F&& f) {
  std::lock_guard lk(counters().mu);
  f(counters().stats);
}

uint64_t fnv1a(const char* p, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex16(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

// The embedded headers are part of every disk-cache key: a lathe built with
// other op definitions must not load this one's kernels.
uint64_t headers_hash() {
  static const uint64_t h = [] {
    uint64_t acc = 0xcbf29ce484222325ull;
    for (const RtcHeader& hd : rtc_headers()) {
      acc = fnv1a(hd.name, std::strlen(hd.name) + 1, acc);
      acc = fnv1a(hd.text, hd.size, acc);
    }
    return acc;
  }();
  return h;
}

std::string nvrtc_version() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

// $LATHE_KERNEL_CACHE (a folder; "off" or "0" turns the disk cache off), else
// $XDG_CACHE_HOME/lathe/kernels, else ~/.cache/lathe/kernels.
const std::optional<fs::path>& cache_dir() {
  static const std::optional<fs::path> dir = []() -> std::optional<fs::path> {
    if (const char* env = std::getenv("LATHE_KERNEL_CACHE"); env && *env) {
      std::string v = env;
      if (v == "off" || v == "0") return std::nullopt;
      return fs::path(v);
    }
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
      return fs::path(xdg) / "lathe" / "kernels";
    }
    if (const char* home = std::getenv("HOME"); home && *home) {
      return fs::path(home) / ".cache" / "lathe" / "kernels";
    }
    return std::nullopt;
  }();
  return dir;
}

// File layout: magic, key size, image size, image checksum (u64 each, host
// order), then the key and the image.
constexpr char kMagic[8] = {'L', 'A', 'T', 'H', 'E', 'K', 'C', '1'};
constexpr size_t kHeaderBytes = sizeof(kMagic) + 3 * sizeof(uint64_t);
constexpr uint64_t kMaxImageBytes = 64ull << 20;

enum class Read { missing, ok, corrupt };

Read read_cache(const fs::path& file, const std::string& key, std::string& image) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return fs::exists(file, ec) ? Read::corrupt : Read::missing;
  std::ifstream in(file, std::ios::binary);
  if (!in) return Read::missing;
  if (size < kHeaderBytes || size > kHeaderBytes + key.size() + kMaxImageBytes) {
    return Read::corrupt;
  }
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) return Read::corrupt;
  uint64_t key_size = 0, image_size = 0, checksum = 0;
  std::memcpy(&key_size, bytes.data() + 8, 8);
  std::memcpy(&image_size, bytes.data() + 16, 8);
  std::memcpy(&checksum, bytes.data() + 24, 8);
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0 || key_size != key.size() ||
      image_size == 0 || kHeaderBytes + key_size + image_size != size) {
    return Read::corrupt;
  }
  if (bytes.compare(kHeaderBytes, key_size, key) != 0) return Read::corrupt;
  const char* img = bytes.data() + kHeaderBytes + key_size;
  if (fnv1a(img, image_size) != checksum) return Read::corrupt;
  image.assign(img, image_size);
  return Read::ok;
}

bool write_cache(const fs::path& file, const std::string& key, const std::string& image) {
  static std::atomic<uint64_t> serial{0};
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const fs::path tmp =
      file.parent_path() / ("." + file.filename().string() + ".tmp." + std::to_string(::getpid()) +
                            "." + std::to_string(serial.fetch_add(1)));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    const uint64_t sizes[3] = {key.size(), image.size(), fnv1a(image.data(), image.size())};
    out.write(kMagic, sizeof(kMagic));
    out.write(reinterpret_cast<const char*>(sizes), sizeof(sizes));
    out.write(key.data(), static_cast<std::streamsize>(key.size()));
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      return false;
    }
  }
  fs::rename(tmp, file, ec);  // atomic: readers see the old file or the whole new one
  if (ec) {
    fs::remove(tmp, ec);
    return false;
  }
  return true;
}

// The compile target: machine code for the device's architecture when this
// NVRTC knows it, else PTX of the newest one it knows below (the driver
// finishes that). Empty when there is none.
std::string target_option(int arch, bool& machine_code) {
  int n = 0;
  if (nvrtcGetNumSupportedArchs(&n) != NVRTC_SUCCESS || n <= 0) return "";
  std::vector<int> archs(n);
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS) return "";
  int best = 0;
  for (int a : archs) {
    if (a == arch) {
      machine_code = true;
      return "--gpu-architecture=sm_" + std::to_string(arch);
    }
    if (a < arch && a > best) best = a;
  }
  machine_code = false;
  return best ? "--gpu-architecture=compute_" + std::to_string(best) : "";
}

constexpr const char* kStdOption = "-std=c++20";
// No FMA contraction: each fused instruction rounds as the unfused kernel's does.
constexpr const char* kFmadOption = "--fmad=false";

bool compile(const std::string& source, const std::string& target, bool machine_code,
             std::string& image, std::string& why) {
  const auto& headers = rtc_headers();
  std::vector<const char*> texts, names;
  for (const RtcHeader& h : headers) {
    texts.push_back(h.text);
    names.push_back(h.name);
  }
  nvrtcProgram prog = nullptr;
  nvrtcResult r = nvrtcCreateProgram(&prog, source.c_str(), "lathe_fused.cu",
                                     static_cast<int>(headers.size()), texts.data(), names.data());
  if (r != NVRTC_SUCCESS) {
    why = std::string("nvrtcCreateProgram: ") + nvrtcGetErrorString(r);
    return false;
  }
  const char* opts[] = {target.c_str(), kStdOption, kFmadOption};
  r = nvrtcCompileProgram(prog, 3, opts);
  bool ok = r == NVRTC_SUCCESS;
  if (!ok) {
    size_t log_size = 0;
    std::string log;
    if (nvrtcGetProgramLogSize(prog, &log_size) == NVRTC_SUCCESS && log_size > 1) {
      log.resize(log_size);
      nvrtcGetProgramLog(prog, log.data());
      log.resize(log_size - 1);
    }
    why = std::string("NVRTC: ") + nvrtcGetErrorString(r) + ": " + log.substr(0, 2000);
  } else {
    size_t size = 0;
    r = machine_code ? nvrtcGetCUBINSize(prog, &size) : nvrtcGetPTXSize(prog, &size);
    if (r == NVRTC_SUCCESS && size > 0) {
      image.resize(size);
      r = machine_code ? nvrtcGetCUBIN(prog, image.data()) : nvrtcGetPTX(prog, image.data());
    }
    ok = r == NVRTC_SUCCESS && size > 0;
    if (!ok) why = std::string("NVRTC: no image: ") + nvrtcGetErrorString(r);
  }
  nvrtcDestroyProgram(&prog);
  return ok;
}

CUfunction load(const std::string& image, const char* entry, std::string& why) {
  const Driver& d = driver();
  CUmodule module = nullptr;
  CUresult r = d.module_load_data(&module, image.data());
  if (r != CUDA_SUCCESS) {
    why = "cuModuleLoadData: " + driver_error(r);
    return nullptr;
  }
  CUfunction fn = nullptr;
  r = d.module_get_function(&fn, module, entry);
  if (r != CUDA_SUCCESS) {
    why = "cuModuleGetFunction: " + driver_error(r);
    d.module_unload(module);
    return nullptr;
  }
  return fn;  // the module stays loaded for the life of the process
}

CUfunction build(int device, const std::string& source, const char* entry, std::string& why) {
  if (!ensure_context(why)) return nullptr;
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    cudaGetLastError();
    why = "cannot read the device's compute capability";
    return nullptr;
  }
  const int arch = major * 10 + minor;
  if (arch < 80) {
    why = "run-time compiled kernels need sm_80 or newer (this device is sm_" +
          std::to_string(arch) + ")";
    return nullptr;
  }
  bool machine_code = false;
  const std::string target = target_option(arch, machine_code);
  if (target.empty()) {
    why = "NVRTC " + nvrtc_version() + " has no target for sm_" + std::to_string(arch);
    return nullptr;
  }
  const std::string key = std::string("lathe run-time kernel v1\nnvrtc ") + nvrtc_version() +
                          "\noptions " + target + " " + kStdOption + " " + kFmadOption +
                          "\nheaders " + hex16(headers_hash()) + "\nentry " + entry + "\n" + source;
  std::optional<fs::path> file;
  if (cache_dir()) file = *cache_dir() / (hex16(fnv1a(key.data(), key.size())) + ".kernel");

  std::string image;
  if (file) {
    switch (read_cache(*file, key, image)) {
      case Read::ok: {
        std::string load_why;
        if (CUfunction fn = load(image, entry, load_why)) {
          count([](FusedKernelStats& s) { ++s.disk_hits; });
          return fn;
        }
        count([](FusedKernelStats& s) { ++s.disk_rejected; });
        break;
      }
      case Read::corrupt: count([](FusedKernelStats& s) { ++s.disk_rejected; }); break;
      case Read::missing: break;
    }
  }
  image.clear();
  const auto t0 = std::chrono::steady_clock::now();
  const bool compiled = compile(source, target, machine_code, image, why);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  count([&](FusedKernelStats& s) {
    ++s.compiles;
    s.compile_seconds += seconds;
  });
  if (!compiled) return nullptr;
  CUfunction fn = load(image, entry, why);
  if (fn && file && write_cache(*file, key, image)) {
    count([](FusedKernelStats& s) { ++s.disk_writes; });
  }
  return fn;
}

}  // namespace

const Driver& driver() {
  static const Driver d = [] {
    Driver r;
    auto get = [&](const char* name, auto& fn) {
      void* p = nullptr;
      cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
      if (cudaGetDriverEntryPointByVersion(name, &p, CUDA_VERSION, cudaEnableDefault, &status) !=
              cudaSuccess ||
          status != cudaDriverEntryPointSuccess || !p) {
        cudaGetLastError();
        if (r.why.empty()) r.why = std::string("the CUDA driver has no ") + name;
        return false;
      }
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
      return true;
    };
    r.ok = get("cuGetErrorName", r.get_error_name) & get("cuCtxGetCurrent", r.ctx_get_current) &
           get("cuModuleLoadData", r.module_load_data) & get("cuModuleUnload", r.module_unload) &
           get("cuModuleGetFunction", r.module_get_function) &
           get("cuLaunchKernel", r.launch_kernel);
    return r;
  }();
  return d;
}

bool ensure_context(std::string& why) {
  const Driver& d = driver();
  if (!d.ok) {
    why = d.why;
    return false;
  }
  CUcontext ctx = nullptr;
  if (d.ctx_get_current(&ctx) == CUDA_SUCCESS && ctx) return true;
  cudaFree(nullptr);  // the runtime makes its primary context current
  if (d.ctx_get_current(&ctx) == CUDA_SUCCESS && ctx) return true;
  why = "no current CUDA context";
  return false;
}

std::string driver_error(CUresult r) {
  const char* s = nullptr;
  if (driver().get_error_name) driver().get_error_name(r, &s);
  return s ? s : "driver error " + std::to_string(static_cast<int>(r));
}

CUfunction rtc_kernel(const std::string& source, const char* entry, std::string& why) {
  struct Entry {
    CUfunction fn;
    std::string why;
  };
  static std::mutex mu;
  static auto* table = new std::unordered_map<std::string, Entry>();  // lives to exit
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    why = "no current CUDA device";
    return nullptr;
  }
  std::string key = std::to_string(device) + "\n" + entry + "\n" + source;
  std::lock_guard lk(mu);
  auto it = table->find(key);
  if (it == table->end()) {
    Entry e;
    e.fn = build(device, source, entry, e.why);
    it = table->emplace(std::move(key), std::move(e)).first;  // a failure is remembered too
  }
  why = it->second.why;
  return it->second.fn;
}

void note_fused_launch() {
  count([](FusedKernelStats& s) { ++s.launches; });
}

void note_fused_fallback(const std::string& why) {
  count([&](FusedKernelStats& s) {
    ++s.fallbacks;
    s.last_failure = why;
  });
}

}  // namespace cuda

FusedKernelStats fused_kernel_stats() {
  std::lock_guard lk(cuda::counters().mu);
  return cuda::counters().stats;
}

}  // namespace lathe
