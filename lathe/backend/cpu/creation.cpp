// CPU kernels of the creation primitives.
#include "lathe/primitives/creation.h"

namespace lathe {

void Full::eval_cpu(const NodeList&, detail::Node& out) {
  out.allocate();
  dispatch_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    T v;
    convert_elements(&value_, float64, &v, out.dtype, 1);
    T* p = out.data<T>();
    size_t n = out.size();
    for (size_t i = 0; i < n; ++i) p[i] = v;
  });
}

void Arange::eval_cpu(const NodeList&, detail::Node& out) {
  out.allocate();
  size_t n = out.size();
  std::vector<double> tmp(n);
  for (size_t i = 0; i < n; ++i) tmp[i] = start_ + double(i) * step_;
  convert_elements(tmp.data(), float64, out.raw(), out.dtype, n);
}

}  // namespace lathe
