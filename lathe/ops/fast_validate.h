// Input checks shared by the fused ops and their slow twins, so that both
// refuse the same inputs with the same "[op] ..." messages.
#pragma once

#include <optional>

#include "lathe/ops/fast.h"

namespace lathe::fast::detail {

// x floating with at least min_ndim dims; weight and bias 1-D of x's last size.
void check_norm(const char* op, const Array& x, int min_ndim, const std::optional<Array>& weight,
                const std::optional<Array>& bias);
// rms_norm's: check_norm's, and the weight may also be [x.shape(-2), x.shape(-1)] (a weight
// per row of the last two axes: per-head norms).
void check_rms_norm(const Array& x, const std::optional<Array>& weight);
void check_group_norm(const Array& x, int num_groups, const std::optional<Array>& weight,
                      const std::optional<Array>& bias);
void check_rope(const Array& x, int dims, std::optional<float> base,
                const std::optional<Array>& freqs);
void check_rope_offset(const Array& x, const Array& offset);
void check_attention(const Array& q, const Array& k, const Array& v,
                     const AttentionOptions& options);

}  // namespace lathe::fast::detail
