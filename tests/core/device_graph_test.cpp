// DeviceGraph: one evaluation's GPU work recorded and replayed with new inputs,
// against values computed on the host; what cannot be recorded is refused.
#include <gtest/gtest.h>

#include <optional>

#include "lathe/core/device_graph.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

bool have_gpu() { return cuda_available(); }

TEST(DeviceGraph, ReplaysWithNewInputsAndAKeptWeight) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  eval();
  DeviceScope gpu(Device::cuda);
  Array w = to_device(array(std::vector<float>{1, 2, 3, 4}, {4}), Device::cuda);
  Array x = to_device(array(std::vector<float>{0, 0, 0, 0}, {4}), Device::cuda);
  Array s = to_device(Array(1.0f), Device::cuda);
  keep(w, x, s);
  eval(w, x, s);
  // y = sum((x + w) * s) + 2, through several kernels and a host scalar.
  DeviceGraph g({x, s}, sum((x + w) * s) + Array(2.0f));
  EXPECT_GT(g.nodes(), 2u);
  for (int step = 0; step < 5; ++step) {
    const float v = static_cast<float>(step);
    Array nx = to_device(array(std::vector<float>{v, v, v, v}, {4}), Device::cuda);
    Array ns = to_device(Array(0.5f * (step + 1)), Device::cuda);
    Array y = g.replay({nx, ns});
    keep(y);
    // Between replays, other work allocates and frees: the graph's buffers stay its own.
    Array noise = ones({1024}, float32) * 3.0f;
    eval(noise);
    const float want = (4 * v + 10) * 0.5f * (step + 1) + 2;
    EXPECT_FLOAT_EQ(y.item<float>(), want) << "step " << step;
  }
}

TEST(DeviceGraph, RefusesWhatItCannotRecord) {
  // Inputs on the host.
  std::optional<Array> host_made, big_made;
  {
    DeviceScope cpu(Device::cpu);
    host_made = zeros({2}, float32);
    big_made = zeros({1000}, float32);
  }
  Array host = *host_made, big = *big_made;
  keep(host, big);
  eval(host, big);
  EXPECT_THROW(DeviceGraph({host}, host + 1.0f), Error);
  if (!have_gpu()) return;
  DeviceScope gpu(Device::cuda);
  Array x = to_device(zeros({2}, float32), Device::cuda);
  keep(x);
  eval(x);
  // An input not computed yet, and an output already computed.
  Array lazy = x * 2.0f;
  EXPECT_THROW(DeviceGraph({lazy}, lazy + 1.0f), Error);
  EXPECT_THROW(DeviceGraph({x}, x), Error);
  // A large host-to-GPU copy inside the work (its source could change between replays).
  try {
    DeviceGraph g({x}, sum(x) + sum(to_device(big, Device::cuda)));
    ADD_FAILURE() << "a 4000-byte host copy was recorded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("to_device"), std::string::npos) << e.what();
  }
  // The stream still works after a refused recording.
  EXPECT_FLOAT_EQ(sum(x + 1.0f).item<float>(), 2.0f);
}

}  // namespace
}  // namespace lathe::testing
