#include "lathe/ops/util.h"

#include <algorithm>

namespace lathe {

void op_error(const char* op, const std::string& msg) {
  throw Error(std::string("[") + op + "] " + msg);
}

int normalize_axis(const char* op, int axis, int ndim) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) {
    op_error(op, "axis " + std::to_string(axis) + " is out of range for an array of " +
                     std::to_string(ndim) + " dimension" + (ndim == 1 ? "" : "s"));
  }
  return a;
}

std::vector<int> normalize_axes(const char* op, const std::vector<int>& axes, int ndim,
                                bool empty_means_all) {
  std::vector<int> out;
  if (axes.empty() && empty_means_all) {
    for (int i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int a : axes) out.push_back(normalize_axis(op, a, ndim));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) op_error(op, "repeated axis");
  return out;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      op_error(op, "shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Dtype result_type(const Array& a, const Array& b) {
  bool wa = a.node().weak_scalar, wb = b.node().weak_scalar;
  Dtype da = a.dtype(), db = b.dtype();
  if (wa != wb) {
    Dtype strong = wa ? db : da, weak = wa ? da : db;
    // A weak scalar adopts the array's dtype unless it needs a wider kind (1.5 * int -> float).
    if (weak.kind() == DtypeKind::floating && !strong.is_floating()) return float32;
    return strong;
  }
  return promote_types(da, db);
}

void require_floating(const char* op, const Array& a) {
  if (!a.dtype().is_floating()) {
    op_error(op, std::string("expected a floating-point array, got ") + a.dtype().name());
  }
}

}  // namespace lathe
