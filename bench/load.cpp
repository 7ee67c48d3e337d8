// Load speed: a 2 GiB random-weight model folder read from the page cache by
// `cat > /dev/null` against lathe loading every tensor into memory (evaluate
// each array and touch every 4 KiB page). Usage: bench_load [folder] [GiB].
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "lathe/io/model_folder.h"
#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"

namespace fs = std::filesystem;
using namespace lathe;

namespace {

constexpr int64_t kRows = 4096, kCols = 4096;  // one bfloat16 tensor: 32 MiB
constexpr int kTensorsPerShard = 16;           // 512 MiB shards

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void write_folder(const std::string& dir, int shards) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json") << "{\"model_type\": \"bench\"}";
  std::vector<uint16_t> host(kRows * kCols);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  std::string index = "{\"weight_map\": {";
  for (int s = 0; s < shards; ++s) {
    char file[64];
    std::snprintf(file, sizeof(file), "model-%05d-of-%05d.safetensors", s + 1, shards);
    std::map<std::string, Array> tensors;
    for (int t = 0; t < kTensorsPerShard; ++t) {
      for (auto& v : host) {  // xorshift64: random bits, kept finite as bfloat16
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v = static_cast<uint16_t>((x & 0x3fff) | 0x3c00);
      }
      std::string name = "model.layers." + std::to_string(s * kTensorsPerShard + t) + ".weight";
      tensors.emplace(name, array_from(host.data(), bfloat16, {kRows, kCols}, bfloat16));
      index += std::string(s || t ? ", " : "") + "\"" + name + "\": \"" + file + "\"";
    }
    io::save_safetensors(dir + "/" + file, tensors);
  }
  std::ofstream(dir + "/model.safetensors.index.json") << index << "}}";
}

uint64_t folder_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") n += e.file_size();
  return n;
}

double time_cat(const std::string& dir) {
  std::string cmd = "cat " + dir + "/*.safetensors > /dev/null";
  auto t0 = std::chrono::steady_clock::now();
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "cat failed\n");
  return seconds_since(t0);
}

// copy=false: evaluate and touch one byte per 4 KiB page (the arrays view the
// mapping); copy=true: also copy every tensor into private memory, as a
// loader without zero-copy would.
double time_lathe(const std::string& dir, bool copy, uint64_t* checksum) {
  auto t0 = std::chrono::steady_clock::now();
  auto store = io::WeightStore::open(dir);
  uint64_t sum = 0;
  std::vector<uint8_t> dst;
  for (const auto& name : store.names()) {
    Array a = store.get(name);
    eval(a);
    const auto* p = static_cast<const uint8_t*>(a.node().raw());
    size_t n = a.nbytes();
    if (copy) {
      dst.resize(n);
      std::memcpy(dst.data(), p, n);
      p = dst.data();
    }
    for (size_t i = 0; i < n; i += 4096) sum += p[i];
  }
  *checksum = sum;
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/lathe_load_bench";
  int gib = argc > 2 ? std::atoi(argv[2]) : 2;
  int shards = gib * 2;
  uint64_t want = uint64_t(shards) * kTensorsPerShard * kRows * kCols * 2;
  if (!fs::exists(dir + "/model.safetensors.index.json") || folder_bytes(dir) < want) {
    std::printf("writing %d GiB into %s ...\n", gib, dir.c_str());
    write_folder(dir, shards);
  }
  double bytes = static_cast<double>(folder_bytes(dir));
  time_cat(dir);  // warm-up: the whole folder in the page cache
  double best_cat = 1e9, best_touch = 1e9, best_copy = 1e9;
  uint64_t c1 = 0, c2 = 0;
  for (int rep = 0; rep < 5; ++rep) {
    best_cat = std::min(best_cat, time_cat(dir));
    best_touch = std::min(best_touch, time_lathe(dir, false, &c1));
    best_copy = std::min(best_copy, time_lathe(dir, true, &c2));
  }
  if (c1 != c2)
    std::fprintf(stderr, "checksums differ: %llu vs %llu\n", (unsigned long long)c1,
                 (unsigned long long)c2);
  double gb = bytes / 1e9;
  std::printf("folder: %.3f GB of safetensors (checksum %llu)\n", gb, (unsigned long long)c1);
  std::printf("cat > /dev/null           : %.3f s  %6.2f GB/s\n", best_cat, gb / best_cat);
  std::printf("lathe load + touch pages  : %.3f s  %6.2f GB/s  (%.0f%% of cat)\n", best_touch,
              gb / best_touch, 100.0 * best_cat / best_touch);
  std::printf("lathe load + private copy : %.3f s  %6.2f GB/s  (%.0f%% of cat)\n", best_copy,
              gb / best_copy, 100.0 * best_cat / best_copy);
  std::printf("(best of 5 each, after one warm-up cat)\n");
  return 0;
}
