#include "support/harness.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace lathe::testing {

namespace {

Device requested_device() {
  const char* d = std::getenv("LATHE_TEST_DEVICE");
  if (!d || std::string(d).empty() || std::string(d) == "cpu") return Device::cpu;
  if (std::string(d) == "cuda") return Device::cuda;
  std::fprintf(stderr, "LATHE_TEST_DEVICE=%s: expected cpu or cuda\n", d);
  std::abort();
}

// Places the main test thread on the requested device, or skips every test
// when it asks for a GPU that is not there.
class DeviceEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (requested_device() != Device::cuda) return;
    if (!cuda_available()) {
      GTEST_SKIP() << "LATHE_TEST_DEVICE=cuda, but no GPU is available (or lathe was built "
                      "without the CUDA backend): skipping";
    }
    set_default_device(Device::cuda);
  }
};

[[maybe_unused]] ::testing::Environment* const device_environment =
    ::testing::AddGlobalTestEnvironment(new DeviceEnvironment);

}  // namespace

Device test_device() { return requested_device(); }

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::transposed: return "transposed";
    case Layout::strided: return "strided";
    case Layout::offset: return "offset";
  }
  return "?";
}

Host round_to(const Host& h, Dtype dtype) {
  Host r = h;
  std::vector<char> tmp(h.size() * dtype.size());
  convert_elements(h.data.data(), float64, tmp.data(), dtype, h.size());
  convert_elements(tmp.data(), dtype, r.data.data(), float64, h.size());
  return r;
}

Host random_host(const Shape& shape, Dtype dtype, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  Host h{shape, std::vector<double>(shape_size(shape))};
  if (dtype == bool_) {
    std::bernoulli_distribution d(0.5);
    for (auto& v : h.data) v = d(rng);
    return h;
  }
  if (dtype.is_integral()) {
    int64_t a = static_cast<int64_t>(std::ceil(lo)), b = static_cast<int64_t>(std::floor(hi));
    if (dtype.kind() == DtypeKind::unsigned_int) a = std::max<int64_t>(a, 0);
    if (b < a) b = a;
    std::uniform_int_distribution<int64_t> d(a, b);
    for (auto& v : h.data) v = static_cast<double>(d(rng));
    return h;
  }
  std::uniform_real_distribution<double> d(lo, hi);
  for (auto& v : h.data) v = d(rng);
  return round_to(h, dtype);
}

Array make_array(const Host& h, Dtype dtype, Layout layout) {
  const Shape& s = h.shape;
  int nd = static_cast<int>(s.size());
  if (layout == Layout::contiguous || nd == 0) return array(h.data, s, dtype);
  if (layout == Layout::transposed) {
    if (nd < 2) return array(h.data, s, dtype);
    // Store with the last two axes swapped, then transpose back.
    Shape ts = s;
    std::swap(ts[nd - 1], ts[nd - 2]);
    int64_t r = s[nd - 2], c = s[nd - 1];
    int64_t batch = static_cast<int64_t>(h.size()) / std::max<int64_t>(r * c, 1);
    std::vector<double> t(h.size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < c; ++j) t[b * r * c + j * r + i] = h.data[b * r * c + i * c + j];
    return swapaxes(array(t, ts, dtype), -1, -2);
  }
  if (layout == Layout::strided) {
    Shape big = s;
    big[nd - 1] *= 2;
    std::vector<double> t(shape_size(big), -777.0);
    int64_t c = s[nd - 1];
    size_t rows = c ? h.size() / c : 0;
    for (size_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < c; ++j) t[i * 2 * c + 2 * j] = h.data[i * c + j];
    Shape start(nd, 0), stop = big, steps(nd, 1);
    steps[nd - 1] = 2;
    return slice(array(t, big, dtype), start, stop, steps);
  }
  // offset: one extra leading row of junk.
  Shape big = s;
  big[0] += 1;
  size_t row = s[0] ? h.size() / s[0] : 0;
  std::vector<double> t(row, -555.0);
  t.insert(t.end(), h.data.begin(), h.data.end());
  Shape start(nd, 0);
  start[0] = 1;
  return slice(array(t, big, dtype), start, big);
}

Host to_host(Array a) {
  Host h;
  h.shape = a.shape();
  h.data = a.to_vector<double>();
  return h;
}

Tol default_tol(Dtype dtype) {
  if (dtype == float64) return {1e-12, 1e-12};
  if (dtype == float32) return {2e-6, 1e-6};
  if (dtype == float16) return {2e-3, 1e-3};
  if (dtype == bfloat16) return {1.6e-2, 1e-2};
  return {0, 0};
}

::testing::AssertionResult close(const Host& got, const Host& want, Tol tol) {
  if (got.shape != want.shape) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape) << " != expected " << shape_str(want.shape);
  }
  size_t bad = 0;
  std::ostringstream msg;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], w = want[i];
    bool ok;
    if (std::isnan(w)) {
      ok = std::isnan(g);
    } else if (std::isinf(w)) {
      ok = g == w;
    } else {
      ok = std::abs(g - w) <= tol.atol + tol.rtol * std::abs(w);
    }
    if (!ok) {
      if (bad < 5) msg << "\n  [" << i << "] got " << g << ", expected " << w;
      ++bad;
    }
  }
  if (bad) {
    return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ (rtol "
                                         << tol.rtol << ", atol " << tol.atol << "):" << msg.str();
  }
  return ::testing::AssertionSuccess();
}

Host map(const Host& a, const std::function<double(double)>& f) {
  Host r = a;
  for (auto& v : r.data) v = f(v);
  return r;
}

Host zip(const Host& a, const Host& b, const std::function<double(double, double)>& f) {
  size_t n = std::max(a.shape.size(), b.shape.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.shape.size() ? 1 : a.shape[i - (n - a.shape.size())];
    int64_t db = i < n - b.shape.size() ? 1 : b.shape[i - (n - b.shape.size())];
    out[i] = std::max(da, db);
  }
  Host r{out, std::vector<double>(shape_size(out))};
  Strides os = row_strides(out);
  auto index_of = [&](const Host& h, size_t flat) {
    size_t off = 0, mul = 1;
    for (int d = static_cast<int>(n) - 1; d >= 0; --d) {
      int64_t coord = (flat / os[d]) % out[d];
      int hd = d - static_cast<int>(n - h.shape.size());
      if (hd >= 0) {
        int64_t dim = h.shape[hd];
        off += (dim == 1 ? 0 : coord) * mul;
        mul *= dim;
      }
    }
    return off;
  };
  for (size_t i = 0; i < r.size(); ++i) r[i] = f(a[index_of(a, i)], b[index_of(b, i)]);
  return r;
}

}  // namespace lathe::testing
