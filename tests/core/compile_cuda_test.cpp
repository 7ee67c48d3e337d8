// compile() on cuda: the generated source of a fused region (no GPU needed),
// and the disk cache of compiled kernels across processes: a second process
// loads what the first compiled, and a corrupted cache file is rebuilt.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/harness.h"

#ifdef LATHE_HAS_CUDA
#include "lathe/backend/cuda/fused_source.h"
#include "lathe/primitives/elementwise.h"
#endif

namespace lathe::testing {
namespace {

namespace fs = std::filesystem;

#ifdef LATHE_HAS_CUDA

using Access = cuda::FusedVariant::Access;

// x * c + y over float32, c a constant of value 0.5f.
FusedProgram scale_add() {
  FusedProgram p;
  p.input_dtypes = {float32, float32, float32};
  p.input_regs = {0, 1, 2};
  p.input_values = {std::nullopt, uint64_t{0x3f000000}, std::nullopt};
  p.num_regs = 4;
  FusedOp mul{
      FusedOp::Kind::binary, static_cast<int>(BinaryOp::multiply), float32, float32, {0, 1, -1}, 3};
  FusedOp add{
      FusedOp::Kind::binary, static_cast<int>(BinaryOp::add), float32, float32, {3, 2, -1}, 1};
  p.ops = {mul, add};
  p.result = 1;
  return p;
}

TEST(CompileCuda, SourceBuildsInConstantsAndWalksEachLayout) {
  FusedProgram p = scale_add();
  cuda::FusedVariant dense{{Access::streamed, Access::constant, Access::uniform}, 0, 4, false};
  std::optional<std::string> src = cuda::fused_source(p, float32, dense);
  ASSERT_TRUE(src.has_value());
  EXPECT_NE(src->find("from_bits<float>(0x3f000000ull)"), std::string::npos) << *src;
  EXPECT_NE(src->find("const void* in[2]"), std::string::npos) << *src;  // no pointer for c
  EXPECT_NE(src->find("uint4"), std::string::npos) << *src;              // 4 floats a load
  EXPECT_NE(src->find("#include \"lathe/backend/cuda/elementwise_ops.cuh\""), std::string::npos);

  cuda::FusedVariant strided{{Access::streamed, Access::constant, Access::streamed}, 3, 1, false};
  src = cuda::fused_source(p, float32, strided);
  ASSERT_TRUE(src.has_value());
  EXPECT_NE(src->find("long strides[2][3]"), std::string::npos) << *src;
  EXPECT_NE(src->find("unsigned int rem"), std::string::npos) << *src;
  strided.wide_index = true;
  EXPECT_NE(cuda::fused_source(p, float32, strided)->find("unsigned long rem"), std::string::npos);
}

TEST(CompileCuda, SourceRefusesWhatTheUnfusedKernelsReject) {
  FusedProgram p = scale_add();
  cuda::FusedVariant v{{Access::streamed, Access::constant, Access::streamed}, 0, 1, false};
  // A result dtype other than the program's.
  EXPECT_FALSE(cuda::fused_source(p, float16, v).has_value());
  // bitwise_and of floats throws unfused: no fused source either.
  FusedProgram bad = p;
  bad.ops[1].code = static_cast<int>(BinaryOp::bitwise_and);
  EXPECT_FALSE(cuda::fused_source(bad, float32, v).has_value());
  // sqrt of an integer dtype.
  FusedProgram ints;
  ints.input_dtypes = {int32};
  ints.input_regs = {0};
  ints.input_values = {std::nullopt};
  ints.num_regs = 2;
  ints.ops = {
      FusedOp{FusedOp::Kind::unary, static_cast<int>(UnaryOp::sqrt), int32, int32, {0, -1, -1}, 1}};
  ints.result = 1;
  EXPECT_FALSE(cuda::fused_source(ints, int32, {{Access::streamed}, 0, 1, false}).has_value());
  // A constant without its value.
  FusedProgram unknown = p;
  unknown.input_values[1].reset();
  EXPECT_FALSE(cuda::fused_source(unknown, float32, v).has_value());
  // A register read before it is written.
  FusedProgram early = p;
  early.ops[0].args[0] = 3;
  EXPECT_FALSE(cuda::fused_source(early, float32, v).has_value());
}

#endif  // LATHE_HAS_CUDA

// The child process of the disk-cache test: runs one fused chain, checks it
// against float64, and writes the kernel-cache counts to $LATHE_TEST_KC_OUT.
TEST(CompileCuda, DiskCacheChild) {
  const char* out = std::getenv("LATHE_TEST_KC_OUT");
  if (!out) GTEST_SKIP() << "run by CompileCuda.DiskCacheAcrossProcesses";
  auto cf = compile([](const std::vector<Array>& in) {
    return std::vector<Array>{exp(in[0] * 0.8125f) - in[0] * 0.3125f};
  });
  Host x = random_host({1000}, float32, 77, -2, 2);
  Host got = to_host(cf({make_array(x, float32)})[0]);
  Host want = map(x, [](double v) { return std::exp(v * 0.8125) - v * 0.3125; });
  EXPECT_TRUE(close(got, want, {1e-5, 1e-6}));
  FusedKernelStats s = fused_kernel_stats();
  std::ofstream(out) << s.launches << " " << s.fallbacks << " " << s.compiles << " " << s.disk_hits
                     << " " << s.disk_writes << " " << s.disk_rejected << "\n"
                     << s.last_failure << "\n";
}

struct ChildCounts {
  int status = -1;
  size_t launches = 0, fallbacks = 0, compiles = 0, disk_hits = 0, disk_writes = 0,
         disk_rejected = 0;
  std::string failure;
};

ChildCounts run_child(const fs::path& cache, const fs::path& out) {
  std::string self = fs::read_symlink("/proc/self/exe").string();
  std::string cmd = "LATHE_TEST_DEVICE=cuda LATHE_KERNEL_CACHE='" + cache.string() +
                    "' LATHE_TEST_KC_OUT='" + out.string() + "' '" + self +
                    "' --gtest_filter=CompileCuda.DiskCacheChild >/dev/null 2>&1";
  ChildCounts c;
  int rc = std::system(cmd.c_str());
  c.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in(out);
  in >> c.launches >> c.fallbacks >> c.compiles >> c.disk_hits >> c.disk_writes >> c.disk_rejected;
  in.ignore();
  std::getline(in, c.failure);
  return c;
}

std::vector<fs::path> cache_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  return files;
}

TEST(CompileCuda, DiskCacheAcrossProcesses) {
  if (test_device() != Device::cuda) GTEST_SKIP() << "needs LATHE_TEST_DEVICE=cuda";
  const fs::path dir = fs::temp_directory_path() / ("lathe-kc-test-" + std::to_string(::getpid()));
  const fs::path out = dir.string() + ".counts";
  fs::remove_all(dir);

  // A cold cache: compiled, written.
  ChildCounts first = run_child(dir, out);
  ASSERT_EQ(first.status, 0);
  EXPECT_EQ(first.launches, 1u) << first.failure;
  EXPECT_EQ(first.fallbacks, 0u) << first.failure;
  EXPECT_EQ(first.compiles, 1u);
  EXPECT_EQ(first.disk_hits, 0u);
  EXPECT_EQ(first.disk_writes, 1u);
  std::vector<fs::path> files = cache_files(dir);
  ASSERT_EQ(files.size(), 1u);  // the kernel, and no temporary left behind
  const fs::path file = files[0];

  // Warm: loaded from disk, nothing compiled.
  ChildCounts second = run_child(dir, out);
  ASSERT_EQ(second.status, 0);
  EXPECT_EQ(second.compiles, 0u);
  EXPECT_EQ(second.disk_hits, 1u);
  EXPECT_EQ(second.launches, 1u);

  // Corruptions: a flipped byte in the image, a truncated file, garbage. Each
  // is detected, rebuilt and replaced; the result stays right (the child checks).
  const auto size = fs::file_size(file);
  for (int kind = 0; kind < 3; ++kind) {
    if (kind == 0) {
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(size - 100));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x5a);
      f.seekp(static_cast<std::streamoff>(size - 100));
      f.write(&c, 1);
    } else if (kind == 1) {
      fs::resize_file(file, size / 2);
    } else {
      std::ofstream(file, std::ios::binary | std::ios::trunc) << "not a kernel";
    }
    ChildCounts c = run_child(dir, out);
    ASSERT_EQ(c.status, 0) << "corruption " << kind;
    EXPECT_EQ(c.disk_rejected, 1u) << "corruption " << kind;
    EXPECT_EQ(c.compiles, 1u) << "corruption " << kind;
    EXPECT_EQ(c.disk_writes, 1u) << "corruption " << kind;
    EXPECT_EQ(c.launches, 1u) << "corruption " << kind;
    EXPECT_EQ(fs::file_size(file), size) << "corruption " << kind;
    EXPECT_EQ(cache_files(dir).size(), 1u);
  }
  ChildCounts last = run_child(dir, out);
  EXPECT_EQ(last.disk_hits, 1u);
  EXPECT_EQ(last.compiles, 0u);
  fs::remove_all(dir);
  fs::remove(out);
}

}  // namespace
}  // namespace lathe::testing
