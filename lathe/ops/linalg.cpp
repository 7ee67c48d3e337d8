#include "lathe/ops/linalg.h"

#include <memory>

#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/linalg.h"

namespace lathe {

namespace {

// Both operands as matrices (1-D promoted), in the common dtype, plus the
// shape of the product before and after removing the promoted dimensions.
struct Operands {
  Array a, b;
  Shape out;       // batch + [M, N]
  Shape user_out;  // out without the dimensions added for 1-D operands
  Dtype dtype;
};

Shape leading(const Shape& s, size_t drop) { return Shape(s.begin(), s.end() - drop); }

Operands matrix_operands(const char* op, const Array& a, const Array& b,
                         bool broadcast_batch = true) {
  a.check_valid(op);
  b.check_valid(op);
  if (a.ndim() == 0 || b.ndim() == 0) {
    op_error(op, "needs arrays of at least 1 dimension, got shapes " + shape_str(a.shape()) +
                     " and " + shape_str(b.shape()) + " (use multiply for scalars)");
  }
  Dtype t = result_type(a, b);
  if (!t.is_floating()) {
    op_error(op, std::string("supports floating-point arrays only, got ") + a.dtype().name() +
                     " and " + b.dtype().name() + "; cast with astype first");
  }
  Array a2 = a.ndim() == 1 ? reshape(a, {1, a.shape(0)}) : a;
  Array b2 = b.ndim() == 1 ? reshape(b, {b.shape(0), 1}) : b;
  int64_t k_a = a2.shape(-1), k_b = b2.shape(-2);
  if (k_a != k_b) {
    op_error(op, "inner dimensions differ: a has shape " + shape_str(a.shape()) +
                     " (K=" + std::to_string(k_a) + ") and b has shape " + shape_str(b.shape()) +
                     " (K=" + std::to_string(k_b) + ")");
  }
  Shape ba = leading(a2.shape(), 2), bb = leading(b2.shape(), 2);
  if (!broadcast_batch) bb.clear();  // gather_mm pairs matrices by index instead
  size_t n = std::max(ba.size(), bb.size());
  Shape batch(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - ba.size() ? 1 : ba[i - (n - ba.size())];
    int64_t db = i < n - bb.size() ? 1 : bb[i - (n - bb.size())];
    if (da != db && da != 1 && db != 1) {
      op_error(op, "batch dimensions of shapes " + shape_str(a.shape()) + " and " +
                       shape_str(b.shape()) + " cannot be broadcast");
    }
    batch[i] = da == 1 ? db : da;
  }
  Shape out = batch;
  out.push_back(a2.shape(-2));
  out.push_back(b2.shape(-1));
  Shape user = batch;
  if (a.ndim() > 1) user.push_back(a2.shape(-2));
  if (b.ndim() > 1) user.push_back(b2.shape(-1));
  return {astype(a2, t), astype(b2, t), std::move(out), std::move(user), t};
}

Array finish(Array r, const Shape& user_out) {
  return r.shape() == user_out ? r : reshape(r, user_out);
}

// Flat batch indices for gather_mm: the given ones as uint32, or every matrix in order.
Array batch_indices(const char* op, const char* which, const std::optional<Array>& idx,
                    const Array& m) {
  if (idx) {
    idx->check_valid(op);
    if (!idx->dtype().is_integral()) {
      op_error(op, std::string(which) + " must be an integer array, got " + idx->dtype().name());
    }
    return astype(*idx, uint32);
  }
  Shape batch = leading(m.shape(), 2);
  return reshape(arange(static_cast<int64_t>(shape_size(batch)), uint32), batch);
}

}  // namespace

Array matmul(const Array& a, const Array& b) {
  Operands o = matrix_operands("matmul", a, b);
  Array r(o.out, o.dtype, std::make_shared<Matmul>(), {o.a, o.b});
  return finish(r, o.user_out);
}

Array addmm(const Array& c, const Array& a, const Array& b, float alpha, float beta) {
  Operands o = matrix_operands("addmm", a, b);
  c.check_valid("addmm");
  Shape cb = broadcast_shapes("addmm", c.shape(), o.user_out);
  if (cb != o.user_out) {
    op_error("addmm", "c of shape " + shape_str(c.shape()) +
                          " does not broadcast to the product's shape " + shape_str(o.user_out));
  }
  Dtype t = promote_types(o.dtype, c.node().weak_scalar ? o.dtype : c.dtype());
  if (!t.is_floating()) t = o.dtype;
  Array c2 = astype(c, t);
  if (o.user_out != o.out) c2 = reshape(broadcast_to(c2, o.user_out), o.out);
  Array r(o.out, t, std::make_shared<AddMM>(alpha, beta), {c2, astype(o.a, t), astype(o.b, t)});
  return finish(r, o.user_out);
}

Array gather_mm(const Array& a, const Array& b, const std::optional<Array>& lhs_indices,
                const std::optional<Array>& rhs_indices) {
  Operands o = matrix_operands("gather_mm", a, b, false);
  Array li = batch_indices("gather_mm", "lhs_indices", lhs_indices, o.a);
  Array ri = batch_indices("gather_mm", "rhs_indices", rhs_indices, o.b);
  Shape out = broadcast_shapes("gather_mm", li.shape(), ri.shape());
  Shape user = out;
  int64_t m = o.out[o.out.size() - 2], n = o.out.back();
  out.push_back(m);
  out.push_back(n);
  if (a.ndim() > 1) user.push_back(m);
  if (b.ndim() > 1) user.push_back(n);
  Array r(out, o.dtype, std::make_shared<GatherMM>(), {o.a, o.b, li, ri});
  return finish(r, user);
}

}  // namespace lathe
