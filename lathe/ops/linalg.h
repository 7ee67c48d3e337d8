// Matrix products: numpy-style batched matmul, addmm and gather_mm (MLX semantics).
#pragma once

#include <optional>

#include "lathe/core/array.h"

namespace lathe {

// a [..., M, K] @ b [..., K, N] -> [batch..., M, N] with the batch dims
// broadcast. A 1-D a is a row vector, a 1-D b a column vector, and the added
// dimension is removed from the result (numpy). Float dtypes only: float16 and
// bfloat16 accumulate in float32.
Array matmul(const Array& a, const Array& b);

// alpha * (a @ b) + beta * c, with c broadcastable to the product's shape.
Array addmm(const Array& c, const Array& a, const Array& b, float alpha = 1.0f, float beta = 1.0f);

// For a [A1..AS, M, K] and b [B1..BT, K, N]: out[i] = a[lhs[i]] @ b[rhs[i]], where
// the indices are flat indices into the batch dims of a and b, broadcast
// together; out has shape broadcast(lhs, rhs) + [M, N]. A missing index array
// means every batch matrix in order (arange reshaped to the batch dims).
// An index out of range makes the evaluation throw.
Array gather_mm(const Array& a, const Array& b,
                const std::optional<Array>& lhs_indices = std::nullopt,
                const std::optional<Array>& rhs_indices = std::nullopt);

}  // namespace lathe
