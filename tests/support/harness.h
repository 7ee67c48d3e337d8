// The op harness: inputs with known float64 values in several memory layouts,
// readback as float64, and closeness checks with per-dtype tolerances.
// The same cases are meant to run on every backend present.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lathe/lathe.h"

namespace lathe::testing {

// Logical values of an array, row-major, in float64.
struct Host {
  Shape shape;
  std::vector<double> data;
  size_t size() const { return data.size(); }
  double& operator[](size_t i) { return data[i]; }
  double operator[](size_t i) const { return data[i]; }
};

// How an input array is laid out in memory; its logical values are the same.
enum class Layout {
  contiguous,  // row-major
  transposed,  // a transpose of a row-major array (last two axes swapped in memory)
  strided,     // a step-2 slice of a larger array along the last axis
  offset,      // a slice starting one row in
};
const char* layout_name(Layout l);
inline constexpr Layout all_layouts[] = {Layout::contiguous, Layout::transposed, Layout::strided,
                                         Layout::offset};

// Random values exactly representable in dtype (so references see what lathe sees).
Host random_host(const Shape& shape, Dtype dtype, uint64_t seed, double lo = -2.0, double hi = 2.0);
// Rounds every value to what dtype can hold.
Host round_to(const Host& h, Dtype dtype);
// An array of dtype with h's values in the given layout.
Array make_array(const Host& h, Dtype dtype, Layout layout = Layout::contiguous);
// Evaluates and reads the array as float64.
Host to_host(Array a);

struct Tol {
  double rtol;
  double atol;
};
// Default tolerances for results computed in dtype from exact inputs.
Tol default_tol(Dtype dtype);

// Checks shapes equal and |got - want| <= atol + rtol * |want| everywhere
// (NaN matches NaN, infinities match exactly). Reports the first mismatches.
::testing::AssertionResult close(const Host& got, const Host& want, Tol tol);

// Elementwise reference helpers: apply f to every element.
Host map(const Host& a, const std::function<double(double)>& f);
// numpy broadcasting of two hosts.
Host zip(const Host& a, const Host& b, const std::function<double(double, double)>& f);

// The device the tests run on: cpu, or cuda when LATHE_TEST_DEVICE=cuda (then
// it is every test thread's default device, so inputs and creation ops land on
// the GPU and results come back through the explicit readback of to_vector).
Device test_device();

inline constexpr Dtype float_dtypes[] = {float16, bfloat16, float32, float64};
inline constexpr Dtype int_dtypes[] = {uint8, uint32, int8, int32, int64};

}  // namespace lathe::testing
