// CPU kernels of the random primitives: each element is computed from the
// threefry block of its index (lathe/primitives/random.h documents the mapping).
#include "lathe/primitives/random.h"

#include <cmath>
#include <limits>
#include <vector>

#include "lathe/backend/cpu/strided.h"
#include "lathe/primitives/threefry.h"

namespace lathe {

using detail::Node;
using random_detail::block;
using random_detail::Word2;

namespace {

Word2 read_key(const Node& k) {
  const uint32_t* p = k.data<uint32_t>();
  return {p[0], p[k.strides[0]]};
}

uint64_t word64(Word2 y) { return (uint64_t(y[0]) << 32) | y[1]; }

// Uniform in the open interval (0, 1) with 53 random bits.
double open_unit(Word2 y) { return (double(word64(y) >> 11) + 0.5) * 0x1p-53; }

// t > 0 with Phi(-t) = p for p in (0, 0.5]: a closed-form estimate of erfinv
// (Winitzki 2008, relative error ~2e-3) refined by Halley steps on the erfc
// form, which keeps full relative precision deep in the tail.
double upper_quantile(double p) {
  // Phi(-t) = p  <=>  erf(t / sqrt2) = 1 - 2p =: y; 1 - y^2 = 4p(1 - p) without cancellation.
  const double a = 0.147;
  const double l = std::log(4.0 * p * (1.0 - p));
  const double c = 2.0 / (M_PI * a) + 0.5 * l;
  double t = M_SQRT2 * std::sqrt(std::max(0.0, std::sqrt(c * c - l / a) - c));
  for (int it = 0; it < 4; ++it) {
    double f = 0.5 * std::erfc(t * M_SQRT1_2) - p;                 // h(t)
    double phi = std::exp(-0.5 * t * t) * 0.39894228040143267794;  // -h'(t)
    // Halley: h'' = t * phi.
    double step = f / (0.5 * f * t - phi);
    t -= step;
    if (std::abs(step) <= 1e-16 * std::max(1.0, t)) break;
  }
  return t;
}

// Phi^-1(u) for u in (0, 1).
double normal_quantile(double u) {
  return u < 0.5 ? -upper_quantile(u) : upper_quantile(1.0 - u);  // 1 - u is exact here
}

template <typename T>
T step_down(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::nextafter(x, -std::numeric_limits<T>::infinity());
  } else {  // float16_t / bfloat16_t: sign-magnitude bit patterns
    uint16_t b = x.bits;
    if ((b & 0x7fffu) == 0) {
      b = 0x8001u;
    } else if (b & 0x8000u) {
      ++b;
    } else {
      --b;
    }
    return T::from_bits(b);
  }
}

// The number of significant bits of dtype T's [0, 1) grid.
template <typename T>
constexpr int unit_bits() {
  if constexpr (std::is_same_v<T, double>) return 53;
  if constexpr (std::is_same_v<T, float>) return 24;
  if constexpr (std::is_same_v<T, float16_t>) return 11;
  return 8;  // bfloat16
}

template <typename T>
void fill_uniform(Word2 key, T* o, size_t n, double low, double high) {
  // The largest T below high: rounding low + (high - low) * u may reach high.
  T top = T(high);
  while (double(top) >= high) top = step_down(top);
  const double span = high - low;
  for (size_t i = 0; i < n; ++i) {
    Word2 y = block(key, i);
    double u;
    if constexpr (unit_bits<T>() == 53) {
      u = double(word64(y) >> 11) * 0x1p-53;
    } else {
      u = std::ldexp(double((y[0] ^ y[1]) >> (32 - unit_bits<T>())), -unit_bits<T>());
    }
    T v = T(low + span * u);
    o[i] = double(v) >= high ? top : v;
  }
}

template <typename T, typename F>
void fill_float(Word2 key, T* o, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) o[i] = T(f(open_unit(block(key, i))));
}

template <typename T>
void fill_randint(Word2 key, T* o, size_t n, int64_t low, int64_t high) {
  const uint64_t span = uint64_t(high) - uint64_t(low);
  for (size_t i = 0; i < n; ++i) {
    uint64_t w = word64(block(key, i));
    uint64_t off = static_cast<uint64_t>((static_cast<unsigned __int128>(w) * span) >> 64);
    o[i] = static_cast<T>(static_cast<int64_t>(uint64_t(low) + off));
  }
}

}  // namespace

void RandomDraw::eval_cpu(const NodeList& in, Node& out) {
  const Word2 key = read_key(*in[0]);
  out.allocate();
  const size_t n = out.size();
  switch (kind_) {
    case RandomKind::bits:
      if (out.dtype == uint8) {
        uint8_t* o = out.data<uint8_t>();
        for (size_t i = 0; i < n; ++i) {
          Word2 y = block(key, i);
          o[i] = static_cast<uint8_t>(y[0] ^ y[1]);
        }
      } else {
        uint32_t* o = out.data<uint32_t>();
        for (size_t i = 0; i < n; ++i) {
          Word2 y = block(key, i);
          o[i] = y[0] ^ y[1];
        }
      }
      return;
    case RandomKind::split: {
      uint32_t* o = out.data<uint32_t>();
      for (size_t i = 0; i < n / 2; ++i) {
        Word2 y = block(key, i);
        o[2 * i] = y[0];
        o[2 * i + 1] = y[1];
      }
      return;
    }
    case RandomKind::randint:
      dispatch_dtype(out.dtype, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          fill_randint(key, out.data<T>(), n, ilow_, ihigh_);
        } else {
          throw Error(std::string("[randint] unsupported dtype ") + out.dtype.name());
        }
      });
      return;
    default: break;
  }
  dispatch_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_floating_point_v<compute_t<T>>) {
      throw Error(std::string("[") + name() + "] unsupported dtype " + out.dtype.name());
    } else {
      T* o = out.data<T>();
      if (kind_ == RandomKind::uniform) {
        fill_uniform(key, o, n, a_, b_);
      } else if (kind_ == RandomKind::normal) {
        const double loc = a_, scale = b_;
        fill_float(key, o, n, [&](double u) { return loc + scale * normal_quantile(u); });
      } else {
        fill_float(key, o, n, [](double u) { return -std::log(-std::log(u)); });
      }
    }
  });
}

void Categorical::eval_cpu(const NodeList& in, Node& out) {
  const Node& logits = *in[0];
  const Word2 key = read_key(*in[1]);
  out.allocate();
  // Logits as contiguous float64 in their own layout.
  std::vector<char> raw(logits.nbytes());
  cpu::gather_contiguous(logits, raw.data());
  std::vector<double> x(logits.size());
  convert_elements(raw.data(), logits.dtype, x.data(), float64, x.size());

  const int64_t v = logits.shape[axis_];
  int64_t inner = 1;
  for (size_t d = axis_ + 1; d < logits.shape.size(); ++d) inner *= logits.shape[d];
  const int64_t rows = v ? static_cast<int64_t>(x.size()) / v : 0;
  const int64_t samples = num_samples_ > 0 ? num_samples_ : 1;
  int32_t* o = out.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = x.data() + (r / inner) * v * inner + (r % inner);  // class j at j * inner
    for (int64_t s = 0; s < samples; ++s) {
      const uint64_t base = static_cast<uint64_t>((r * samples + s) * v);
      double best = -std::numeric_limits<double>::infinity();
      int32_t arg = 0;
      for (int64_t j = 0; j < v; ++j) {
        double score = row[j * inner] - std::log(-std::log(open_unit(block(key, base + j))));
        if (score > best) {
          best = score;
          arg = static_cast<int32_t>(j);
        }
      }
      o[r * samples + s] = arg;
    }
  }
}

}  // namespace lathe
