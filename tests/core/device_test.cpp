// Device placement: the default device, explicit copies, refusal to mix
// devices, and (where a GPU is present) GPU memory, streams and readback.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "lathe/lathe.h"

namespace lathe {
namespace {

#define REQUIRE_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no GPU here (or a build without CUDA): skipped"

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Device, DefaultIsCpuAndScopesRestore) {
  DeviceScope cpu(Device::cpu);
  EXPECT_EQ(default_device(), Device::cpu);
  Array a = ones({3});
  EXPECT_EQ(a.device(), Device::cpu);
  EXPECT_EQ(to_device(a, Device::cpu).id(), a.id()) << "a copy to where it already is";
}

TEST(Device, CudaRequestsFailClearlyWithoutAGpu) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  std::string m = message_of([] { set_default_device(Device::cuda); });
  EXPECT_NE(m.find("[set_default_device]"), std::string::npos) << m;
  m = message_of([] { (void)to_device(ones({2}), Device::cuda); });
  EXPECT_NE(m.find("[to_device]"), std::string::npos) << m;
  EXPECT_EQ(default_device(), Device::cpu);
}

TEST(Device, RoundTripIsExactForEveryDtype) {
  REQUIRE_GPU();
  DeviceScope cpu(Device::cpu);
  std::vector<double> v;
  for (int i = 0; i < 1000; ++i) v.push_back(((i * 37) % 101) - 50);
  for (Dtype d : all_dtypes) {
    Array h = array(v, {10, 100}, d);
    Array g = to_device(h, Device::cuda);
    EXPECT_EQ(g.device(), Device::cuda);
    Array back = to_device(g, Device::cpu);
    EXPECT_EQ(back.device(), Device::cpu);
    EXPECT_EQ(back.to_vector<double>(), h.to_vector<double>()) << d.name();
    EXPECT_EQ(g.to_vector<double>(), h.to_vector<double>()) << d.name() << " (readback)";
  }
}

TEST(Device, MixingDevicesIsAnErrorNamingOpAndDevices) {
  REQUIRE_GPU();
  DeviceScope cpu(Device::cpu);
  Array h = ones({4});
  Array g = to_device(ones({4}), Device::cuda);
  std::string m = message_of([&] { (void)add(h, g); });
  EXPECT_NE(m.find("[add]"), std::string::npos) << m;
  EXPECT_NE(m.find("cpu"), std::string::npos) << m;
  EXPECT_NE(m.find("cuda"), std::string::npos) << m;
  m = message_of([&] { (void)where(array<bool>({true, false, true, false}), g, h); });
  EXPECT_NE(m.find("[where]"), std::string::npos) << m;
}

TEST(Device, ScalarsAdoptTheDeviceOfTheOtherOperand) {
  REQUIRE_GPU();
  DeviceScope cpu(Device::cpu);
  Array g = to_device(array<float>({1, 2, 3}), Device::cuda);
  Array r = g * 2.0f + 1;
  EXPECT_EQ(r.device(), Device::cuda);
  EXPECT_EQ(r.dtype(), float32);
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{3, 5, 7}));
}

TEST(Device, CreationFollowsTheDefaultDevice) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  Array a = arange(0.0, 10.0, 1.5, float32);
  Array f = full({2, 3}, 2.5, bfloat16);
  Array d = array<int>({4, 5, 6});
  for (auto* x : {&a, &f, &d}) EXPECT_EQ(x->device(), Device::cuda);
  std::vector<float> want;
  for (double v = 0; v < 10; v += 1.5) want.push_back(static_cast<float>(v));
  EXPECT_EQ(a.to_vector<float>(), want);
  EXPECT_EQ(f.to_vector<float>(), std::vector<float>(6, 2.5f));
  EXPECT_EQ(d.to_vector<int32_t>(), (std::vector<int32_t>{4, 5, 6}));
}

TEST(Device, StridedViewsCopyOnTheGpu) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  const int64_t r = 37, c = 53;
  std::vector<float> v(r * c);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  Array t = contiguous(transpose(array(v, {r, c})));
  Array s = slice(array(v, {r, c}), {1, 2}, {r, c}, {3, 5});
  std::vector<float> got_t = t.to_vector<float>();
  for (int64_t i = 0; i < c; ++i) {
    for (int64_t j = 0; j < r; ++j) ASSERT_EQ(got_t[i * r + j], v[j * c + i]);
  }
  std::vector<float> got_s = s.to_vector<float>();  // a strided readback
  size_t k = 0;
  for (int64_t i = 1; i < r; i += 3) {
    for (int64_t j = 2; j < c; j += 5) ASSERT_EQ(got_s[k++], v[i * c + j]);
  }
  EXPECT_EQ(k, got_s.size());
}

TEST(Device, AsyncEvalReturnsAndReadbackWaits) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  Array x = full({1 << 22}, 1.0, float32);
  for (int i = 0; i < 50; ++i) x = x + 1.0f;
  async_eval(x);
  std::vector<float> got = x.to_vector<float>();
  EXPECT_EQ(got.front(), 51.0f);
  EXPECT_EQ(got.back(), 51.0f);
}

// The decode loop's pattern: the next step is scheduled, then the current id is read. The read
// waits for the current id's kernels only, not for the step queued after it.
TEST(Device, ReadingAnOutputDoesNotWaitForLaterWork) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  Array id = sum(full({1024}, 2.0, float32));
  async_eval(id);
  id.item<float>();  // warm-up: kernels loaded, events created
  Array m = full({2048, 2048}, 0.001, float32);
  keep(m);
  eval(m);
  auto heavy = [&] {
    Array h = m;
    for (int i = 0; i < 200; ++i) h = matmul(h, m);
    return h;
  };
  using Clock = std::chrono::steady_clock;
  // The later work alone: how long it runs on the GPU.
  Array h0 = heavy();
  auto t0 = Clock::now();
  eval(h0);
  const double heavy_s = std::chrono::duration<double>(Clock::now() - t0).count();

  Array current = sum(full({1024}, 3.0, float32));
  async_eval(current);
  Array later = heavy();
  async_eval(later);
  t0 = Clock::now();
  EXPECT_EQ(current.item<float>(), 3072.0f);
  const double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
  synchronize();
  EXPECT_LT(read_s, 0.5 * heavy_s) << "read " << read_s << " s, later work " << heavy_s << " s";
}

TEST(Device, GpuMemoryIsCountedCachedAndLimited) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  eval();
  clear_cache(Device::cuda);
  const size_t cpu_before = active_memory();
  const size_t before = active_memory(Device::cuda);
  Array x = full({1 << 20}, 3.0, float32);
  eval(x);
  EXPECT_GE(active_memory(Device::cuda), before + (size_t(4) << 20));
  EXPECT_GE(peak_memory(Device::cuda), active_memory(Device::cuda));
  EXPECT_LT(active_memory(), cpu_before + (size_t(1) << 20)) << "GPU data is not host memory";
  x.free();
  eval();
  EXPECT_EQ(active_memory(Device::cuda), before);
  EXPECT_GE(cache_memory(Device::cuda), size_t(4) << 20);
  clear_cache(Device::cuda);
  EXPECT_EQ(cache_memory(Device::cuda), 0u);

  size_t old = set_memory_limit(before + (size_t(1) << 20), Device::cuda);
  std::string m = message_of([] { eval(full({1 << 22}, 1.0, float32)); });
  set_memory_limit(old, Device::cuda);
  EXPECT_NE(m.find("[memory]"), std::string::npos) << m;
  EXPECT_NE(m.find("limit"), std::string::npos) << m;
}

TEST(Device, OutOfGpuMemoryThrowsWithTheSizes) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  // Far more than any GPU has: cudaMalloc fails, the cache is freed, the retry fails.
  std::string m = message_of([] { eval(full({int64_t(1) << 40}, 1.0, float32)); });
  EXPECT_NE(m.find("[memory]"), std::string::npos) << m;
  EXPECT_NE(m.find("could not provide"), std::string::npos) << m;
  Array ok = full({4}, 1.0, float32) + 1.0f;  // the GPU is still usable
  EXPECT_EQ(ok.to_vector<float>(), std::vector<float>(4, 2.0f));
}

TEST(Device, ArraysComputedOnOneThreadAreReadOnAnother) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  Array w = full({1 << 16}, 0.5, float32) * 4.0f;
  keep(w);
  async_eval(w);
  std::vector<float> got;
  std::thread t([&] {
    DeviceScope on(Device::cuda);
    Array y = w + 1.0f;  // ordered after w's stream
    got = y.to_vector<float>();
  });
  t.join();
  ASSERT_EQ(got.size(), size_t(1) << 16);
  EXPECT_EQ(got[0], 3.0f);
  EXPECT_EQ(got.back(), 3.0f);
  w.free();
}

// A primitive with only a CPU kernel (every shipped op family has a CUDA one).
class CpuOnly : public Primitive {
 public:
  const char* name() const override { return "cpu_only"; }
  void eval_cpu(const NodeList&, detail::Node& out) override { out.allocate(); }
};

TEST(Device, OpsWithoutACudaKernelSaySo) {
  REQUIRE_GPU();
  DeviceScope gpu(Device::cuda);
  Array x = array<float>({3, 1, 2});
  Array y(x.shape(), x.dtype(), std::make_shared<CpuOnly>(), {x});
  std::string m = message_of([&] { eval(y); });
  EXPECT_NE(m.find("[cpu_only] not implemented on cuda yet"), std::string::npos) << m;
}

}  // namespace
}  // namespace lathe
