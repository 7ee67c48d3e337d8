// CPU kernels of Reduce. One accumulator per output element, filled while
// walking the input in its own layout; a contiguous reduced row runs eight
// independent lanes so that the compiler can vectorize it.
#include "lathe/primitives/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "lathe/backend/cpu/simd.h"
#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

namespace {

// One accumulator per output element (std::vector<bool> would not be addressable).
template <typename A>
class AccBuffer {
 public:
  explicit AccBuffer(size_t n) : data_(new A[n]), size_(n) {}
  A* data() { return data_.get(); }
  const A* data() const { return data_.get(); }
  size_t size() const { return size_; }
  A& operator[](size_t i) { return data_[i]; }
  const A& operator[](size_t i) const { return data_[i]; }
  A* begin() { return data_.get(); }
  A* end() { return data_.get() + size_; }

 private:
  std::unique_ptr<A[]> data_;
  size_t size_;
};

template <typename A, typename T>
inline A load(T v) {
  return static_cast<A>(static_cast<compute_t<T>>(v));
}

template <typename A>
constexpr A lowest() {
  if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
  return std::numeric_limits<A>::lowest();
}

template <typename A>
constexpr A highest() {
  if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
  return std::numeric_limits<A>::max();
}

// The selects below keep a NaN once it was seen (numpy propagates NaN).
template <typename A>
inline A nan_max(A acc, A x) {
  if constexpr (std::is_floating_point_v<A>) return (x > acc || std::isnan(x)) ? x : acc;
  return x > acc ? x : acc;
}

template <typename A>
inline A nan_min(A acc, A x) {
  if constexpr (std::is_floating_point_v<A>) return (x < acc || std::isnan(x)) ? x : acc;
  return x < acc ? x : acc;
}

// Which explicit-vector loop a policy has for contiguous float32/bfloat16 rows
// (the others vectorize on their own or are not hot).
enum class Vec { none, max, min, exp_sum };

// Accumulation policies: init, step (fold one element, given the per-output
// centre c), merge (combine two partial results).
template <typename A>
struct SumOp {
  static constexpr Vec kVec = Vec::none;
  static constexpr A init() { return A(0); }
  static A step(A acc, A x, A) { return static_cast<A>(acc + x); }
  static A merge(A a, A b) { return static_cast<A>(a + b); }
};

template <typename A>
struct ProdOp {
  static constexpr Vec kVec = Vec::none;
  static constexpr A init() { return A(1); }
  static A step(A acc, A x, A) { return static_cast<A>(acc * x); }
  static A merge(A a, A b) { return static_cast<A>(a * b); }
};

template <typename A>
struct MaxOp {
  static constexpr Vec kVec = Vec::max;
  static constexpr A init() { return lowest<A>(); }
  static A step(A acc, A x, A) { return nan_max(acc, x); }
  static A merge(A a, A b) { return nan_max(a, b); }
};

template <typename A>
struct MinOp {
  static constexpr Vec kVec = Vec::min;
  static constexpr A init() { return highest<A>(); }
  static A step(A acc, A x, A) { return nan_min(acc, x); }
  static A merge(A a, A b) { return nan_min(a, b); }
};

template <typename A>
struct AllOp {
  static constexpr Vec kVec = Vec::none;
  static constexpr A init() { return A(1); }
  static A step(A acc, A x, A) { return acc && x; }
  static A merge(A a, A b) { return a && b; }
};

template <typename A>
struct AnyOp {
  static constexpr Vec kVec = Vec::none;
  static constexpr A init() { return A(0); }
  static A step(A acc, A x, A) { return acc || x; }
  static A merge(A a, A b) { return a || b; }
};

// Second pass of var: squared deviations from the mean.
template <typename A>
struct SquaredDeviationOp {
  static constexpr Vec kVec = Vec::none;
  static constexpr A init() { return A(0); }
  static A step(A acc, A x, A c) { return acc + (x - c) * (x - c); }
  static A merge(A a, A b) { return a + b; }
};

// Second pass of logsumexp: exponentials shifted by the maximum.
template <typename A>
struct ExpSumOp {
  static constexpr Vec kVec = Vec::exp_sum;
  static constexpr A init() { return A(0); }
  static A step(A acc, A x, A c) { return acc + std::exp(x - c); }
  static A merge(A a, A b) { return a + b; }
};

template <typename Op, typename T>
float vector_row(const T* x, int64_t n, float c) {
  namespace simd = cpu::simd;
  if constexpr (Op::kVec == Vec::max || Op::kVec == Vec::min) {
    return simd::extreme<Op::kVec == Vec::max>(x, n);
  } else {
    const simd::f8 cv = simd::splat(c);
    simd::f8 acc = simd::exp_nonpositive(simd::load(x) - cv);
    int64_t i = 8;
    for (; i + 8 <= n; i += 8) acc += simd::exp_nonpositive(simd::load(x + i) - cv);
    float r = simd::sum_lanes(acc);
    for (; i < n; ++i) r = Op::step(r, load<float>(x[i]), c);
    return r;
  }
}

template <typename Op, typename A, typename T>
A reduce_row(const T* x, int64_t n, int64_t stride, A c) {
  if constexpr (Op::kVec != Vec::none && std::is_same_v<A, float> && cpu::simd::loads_f8<T>) {
    if (stride == 1 && n >= 16) return vector_row<Op>(x, n, c);
  }
  if (stride == 1 && n >= 16) {
    A lane[8];
    for (A& l : lane) l = Op::init();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      for (int j = 0; j < 8; ++j) lane[j] = Op::step(lane[j], load<A>(x[i + j]), c);
    }
    A r = lane[0];
    for (int j = 1; j < 8; ++j) r = Op::merge(r, lane[j]);
    for (; i < n; ++i) r = Op::step(r, load<A>(x[i]), c);
    return r;
  }
  A r = Op::init();
  for (int64_t i = 0; i < n; ++i) r = Op::step(r, load<A>(x[i * stride]), c);
  return r;
}

// Folds every input element into acc[output index]; os holds the output's
// strides over the input's dims (0 on reduced axes).
template <template <typename> class P, typename T, typename A>
void accumulate(const Node& in, const Strides& os, AccBuffer<A>& acc,
                const std::type_identity_t<A>* center) {
  using Op = P<A>;
  std::fill(acc.begin(), acc.end(), Op::init());
  const T* x = in.data<T>();
  cpu::for_each_row<2>(in.shape, {&in.strides, &os}, [&](auto off, int64_t n, auto st) {
    const T* r = x + off[0];
    A* a = acc.data() + off[1];
    const A* c = center ? center + off[1] : nullptr;
    if (st[1] == 0) {
      *a = Op::merge(*a, reduce_row<Op>(r, n, st[0], c ? *c : A(0)));
    } else if (c) {
      for (int64_t i = 0; i < n; ++i) {
        a[i * st[1]] = Op::step(a[i * st[1]], load<A>(r[i * st[0]]), c[i * st[1]]);
      }
    } else if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) a[i] = Op::step(a[i], load<A>(r[i]), A(0));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        a[i * st[1]] = Op::step(a[i * st[1]], load<A>(r[i * st[0]]), A(0));
      }
    }
  });
}

template <typename T, typename A, typename F>
void store(const AccBuffer<A>& acc, Node& out, F f) {
  T* o = out.data<T>();
  for (size_t i = 0; i < acc.size(); ++i) {
    o[i] = static_cast<T>(static_cast<compute_t<T>>(f(acc[i], i)));
  }
}

template <typename T>
void reduce_typed(ReduceOp op, int ddof, const Node& in, const Strides& os, int64_t count,
                  Node& out) {
  using A = compute_t<T>;
  AccBuffer<A> acc(out.size());
  auto same = [](A v, size_t) { return v; };
  constexpr bool is_bool = std::is_same_v<T, bool>;
  constexpr bool is_float = std::is_floating_point_v<A>;
  constexpr bool small_int = std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>;
  switch (op) {
    case ReduceOp::max: accumulate<MaxOp, T>(in, os, acc, nullptr); return store<T>(acc, out, same);
    case ReduceOp::min: accumulate<MinOp, T>(in, os, acc, nullptr); return store<T>(acc, out, same);
    default: break;
  }
  if constexpr (is_bool) {
    if (op == ReduceOp::all || op == ReduceOp::any) {
      if (op == ReduceOp::all) {
        accumulate<AllOp, T>(in, os, acc, nullptr);
      } else {
        accumulate<AnyOp, T>(in, os, acc, nullptr);
      }
      return store<T>(acc, out, same);
    }
  } else if constexpr (!small_int) {
    if (op == ReduceOp::sum) {
      accumulate<SumOp, T>(in, os, acc, nullptr);
      return store<T>(acc, out, same);
    }
    if (op == ReduceOp::prod) {
      accumulate<ProdOp, T>(in, os, acc, nullptr);
      return store<T>(acc, out, same);
    }
    if constexpr (is_float) {
      const A n = static_cast<A>(count);
      if (op == ReduceOp::mean) {
        accumulate<SumOp, T>(in, os, acc, nullptr);
        return store<T>(acc, out, [n](A v, size_t) { return v / n; });
      }
      if (op == ReduceOp::var) {
        accumulate<SumOp, T>(in, os, acc, nullptr);
        for (A& v : acc) v /= n;
        AccBuffer<A> dev(acc.size());
        accumulate<SquaredDeviationOp, T>(in, os, dev, acc.data());
        const A d = static_cast<A>(std::max<int64_t>(count - ddof, 0));
        return store<T>(dev, out, [d](A v, size_t) { return v / d; });
      }
      if (op == ReduceOp::logsumexp) {
        accumulate<MaxOp, T>(in, os, acc, nullptr);
        AccBuffer<A> sums(acc.size());
        accumulate<ExpSumOp, T>(in, os, sums, acc.data());
        return store<T>(acc, out, [&sums](A m, size_t i) {
          return std::isfinite(m) ? m + std::log(sums[i]) : m;
        });
      }
    }
  }
  throw Error(std::string("[") + reduce_name(op) + "] internal error: the kernel has no " +
              in.dtype.name() + " variant");
}

}  // namespace

void Reduce::eval_cpu(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  // Row strides of the kept dims, 0 on the reduced ones.
  Strides os(in.shape.size(), 0);
  int64_t stride = 1, count = 1;
  for (int d = static_cast<int>(in.shape.size()) - 1; d >= 0; --d) {
    if (std::binary_search(axes_.begin(), axes_.end(), d)) {
      count *= in.shape[d];
      continue;
    }
    os[d] = stride;
    stride *= in.shape[d];
  }
  dispatch_dtype(in.dtype,
                 [&](auto t) { reduce_typed<decltype(t)>(op_, ddof_, in, os, count, out); });
}

}  // namespace lathe
