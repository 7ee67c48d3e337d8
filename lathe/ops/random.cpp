// Random op constructors and the process-wide global key.
#include "lathe/ops/random.h"

#include <climits>
#include <memory>
#include <mutex>
#include <random>

#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/random.h"
#include "lathe/primitives/threefry.h"

namespace lathe::random {

namespace {

using random_detail::Word2;

// The global key: a base key and how many subkeys were taken from it.
struct GlobalKey {
  std::mutex mu;
  Word2 base;
  uint64_t taken = 0;
  GlobalKey() {
    std::random_device rd;
    uint64_t s = (uint64_t(rd()) << 32) | rd();
    base = {static_cast<uint32_t>(s >> 32), static_cast<uint32_t>(s)};
  }
};

GlobalKey& global_key() {
  static GlobalKey g;
  return g;
}

void check_key(const char* op, const Array& key) {
  key.check_valid(op);
  if (key.dtype() != uint32 || key.shape() != Shape{2}) {
    op_error(op, std::string("a key is a uint32 array of shape [2], got ") + key.dtype().name() +
                     " " + shape_str(key.shape()));
  }
}

void check_shape(const char* op, const Shape& shape) {
  for (int64_t d : shape) {
    if (d < 0) op_error(op, "negative dimension in shape " + shape_str(shape));
  }
}

void check_floating(const char* op, Dtype dtype) {
  if (!dtype.is_floating()) {
    op_error(op, std::string("needs a floating-point dtype, got ") + dtype.name());
  }
}

Array draw(const char* op, RandomKind kind, const Shape& shape, Dtype dtype, const Array& key,
           double a = 0.0, double b = 0.0) {
  check_key(op, key);
  check_shape(op, shape);
  return Array(shape, dtype, std::make_shared<RandomDraw>(kind, a, b), {key});
}

}  // namespace

Array key(uint64_t seed) {
  return array<uint32_t>({static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed)}, {2});
}

Array split(const Array& key, int num) {
  if (num < 1) op_error("split", "num must be at least 1, got " + std::to_string(num));
  return draw("split", RandomKind::split, {num, 2}, uint32, key);
}

Array key_at(const Array& keys, int64_t i) {
  keys.check_valid("key_at");
  if (keys.dtype() != uint32 || keys.ndim() != 2 || keys.shape(1) != 2) {
    op_error("key_at", std::string("keys must be a uint32 array of shape [n, 2], got ") +
                           keys.dtype().name() + " " + shape_str(keys.shape()));
  }
  int64_t n = keys.shape(0);
  if (i < -n || i >= n) {
    op_error("key_at",
             "index " + std::to_string(i) + " is out of range for " + std::to_string(n) + " keys");
  }
  if (i < 0) i += n;
  return reshape(slice_axis(keys, 0, i, i + 1), {2});
}

void seed(uint64_t s) {
  GlobalKey& g = global_key();
  std::lock_guard lk(g.mu);
  g.base = {static_cast<uint32_t>(s >> 32), static_cast<uint32_t>(s)};
  g.taken = 0;
}

Array next_key() {
  GlobalKey& g = global_key();
  Word2 k;
  {
    std::lock_guard lk(g.mu);
    k = random_detail::block(g.base, g.taken++);
  }
  return array<uint32_t>({k[0], k[1]}, {2});
}

Array bits(const Shape& shape, int width, const Array& key) {
  if (width != 1 && width != 4) {
    op_error("bits", "width must be 1 (uint8) or 4 (uint32) bytes, got " + std::to_string(width));
  }
  return draw("bits", RandomKind::bits, shape, width == 1 ? uint8 : uint32, key);
}
Array bits(const Shape& shape, int width) { return bits(shape, width, next_key()); }

Array uniform(const Shape& shape, Dtype dtype, const Array& key, double low, double high) {
  check_floating("uniform", dtype);
  if (!(low < high)) {
    op_error("uniform", "needs low < high, got low " + std::to_string(low) + " and high " +
                            std::to_string(high));
  }
  return draw("uniform", RandomKind::uniform, shape, dtype, key, low, high);
}
Array uniform(const Shape& shape, Dtype dtype, double low, double high) {
  return uniform(shape, dtype, next_key(), low, high);
}

Array normal(const Shape& shape, Dtype dtype, const Array& key, double loc, double scale) {
  check_floating("normal", dtype);
  return draw("normal", RandomKind::normal, shape, dtype, key, loc, scale);
}
Array normal(const Shape& shape, Dtype dtype, double loc, double scale) {
  return normal(shape, dtype, next_key(), loc, scale);
}

Array gumbel(const Shape& shape, Dtype dtype, const Array& key) {
  check_floating("gumbel", dtype);
  return draw("gumbel", RandomKind::gumbel, shape, dtype, key);
}
Array gumbel(const Shape& shape, Dtype dtype) { return gumbel(shape, dtype, next_key()); }

Array randint(int64_t low, int64_t high, const Shape& shape, Dtype dtype, const Array& key) {
  if (!dtype.is_integral()) {
    op_error("randint", std::string("needs an integer dtype, got ") + dtype.name());
  }
  if (low >= high) {
    op_error("randint", "needs low < high, got low " + std::to_string(low) + " and high " +
                            std::to_string(high));
  }
  // Both ends must be representable: the range is [low, high - 1].
  int64_t lo_min = 0, hi_max = 0;
  switch (dtype.val) {
    case Dtype::Val::uint8: hi_max = 255; break;
    case Dtype::Val::uint32: hi_max = 4294967295LL; break;
    case Dtype::Val::int8:
      lo_min = -128;
      hi_max = 127;
      break;
    case Dtype::Val::int32:
      lo_min = INT32_MIN;
      hi_max = INT32_MAX;
      break;
    default:
      lo_min = INT64_MIN;
      hi_max = INT64_MAX;
      break;
  }
  if (low < lo_min || high - 1 > hi_max) {
    op_error("randint", "range [" + std::to_string(low) + ", " + std::to_string(high) +
                            ") does not fit in " + dtype.name());
  }
  check_key("randint", key);
  check_shape("randint", shape);
  return Array(shape, dtype, std::make_shared<RandomDraw>(RandomKind::randint, 0.0, 0.0, low, high),
               {key});
}
Array randint(int64_t low, int64_t high, const Shape& shape, Dtype dtype) {
  return randint(low, high, shape, dtype, next_key());
}

Array bernoulli(const Array& p, const Shape& shape, const Array& key) {
  p.check_valid("bernoulli");
  check_key("bernoulli", key);
  if (!p.dtype().is_floating() && !p.node().weak_scalar) {
    op_error("bernoulli", std::string("p must be floating, got ") + p.dtype().name());
  }
  Shape b = broadcast_shapes("bernoulli", p.shape(), shape);
  if (b != shape) {
    op_error("bernoulli",
             "p of shape " + shape_str(p.shape()) + " does not broadcast to " + shape_str(shape));
  }
  Dtype dt = p.dtype() == float64 ? float64 : float32;
  return less(uniform(shape, dt, key), astype(p, dt));
}
Array bernoulli(const Array& p, const Shape& shape) { return bernoulli(p, shape, next_key()); }

Array categorical(const Array& logits, int axis, const Array& key, std::optional<int> num_samples) {
  logits.check_valid("categorical");
  check_key("categorical", key);
  require_floating("categorical", logits);
  if (logits.ndim() == 0) op_error("categorical", "logits must have at least one dimension");
  int ax = normalize_axis("categorical", axis, logits.ndim());
  if (logits.shape(ax) == 0) op_error("categorical", "cannot sample from zero classes");
  if (num_samples && *num_samples < 1) {
    op_error("categorical", "num_samples must be at least 1, got " + std::to_string(*num_samples));
  }
  Shape out = logits.shape();
  out.erase(out.begin() + ax);
  if (num_samples) out.push_back(*num_samples);
  return Array(std::move(out), int32,
               std::make_shared<Categorical>(ax, num_samples ? *num_samples : 0), {logits, key});
}
Array categorical(const Array& logits, int axis) {
  return categorical(logits, axis, next_key(), std::nullopt);
}
Array categorical(const Array& logits, int axis, int num_samples) {
  return categorical(logits, axis, next_key(), num_samples);
}

}  // namespace lathe::random
