// Convolutions, channels-last as MLX: inputs [N, spatial..., C_in], weights
// [C_out, kernel..., C_in / groups], outputs [N, spatial..., C_out].
#pragma once

#include <array>
#include <utility>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// out[n, o, co] = sum_{k, c} x[n, o * stride - padding + k * dilation, g * C_in/groups + c]
//                 * w[co, k, c]   (g: the group of co; positions outside x read zero)
Array conv1d(const Array& x, const Array& w, int stride = 1, int padding = 0, int dilation = 1,
             int groups = 1);
Array conv2d(const Array& x, const Array& w, std::pair<int, int> stride = {1, 1},
             std::pair<int, int> padding = {0, 0}, std::pair<int, int> dilation = {1, 1},
             int groups = 1);
Array conv3d(const Array& x, const Array& w, std::array<int, 3> stride = {1, 1, 1},
             std::array<int, 3> padding = {0, 0, 0}, std::array<int, 3> dilation = {1, 1, 1},
             int groups = 1);
// Any number (1-3) of spatial dimensions, with separate low and high padding
// (e.g. the (0, 1) padding of a stride-2 VAE downsampler).
Array conv_general(const Array& x, const Array& w, std::vector<int> stride,
                   std::vector<int> padding_lo, std::vector<int> padding_hi,
                   std::vector<int> dilation, int groups = 1);

// The adjoint of conv with the same parameters (the gradient of conv with
// respect to its input), in scatter form:
//   out[n, i * stride - padding + k * dilation, co] += x[n, i, g * C_in/groups + c] * w[co, k, c]
// Output length (L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1.
// w is [C_out, kernel..., C_in / groups] as MLX's conv_transpose.
Array conv_transpose1d(const Array& x, const Array& w, int stride = 1, int padding = 0,
                       int dilation = 1, int output_padding = 0, int groups = 1);
Array conv_transpose2d(const Array& x, const Array& w, std::pair<int, int> stride = {1, 1},
                       std::pair<int, int> padding = {0, 0}, std::pair<int, int> dilation = {1, 1},
                       std::pair<int, int> output_padding = {0, 0}, int groups = 1);
Array conv_transpose3d(const Array& x, const Array& w, std::array<int, 3> stride = {1, 1, 1},
                       std::array<int, 3> padding = {0, 0, 0},
                       std::array<int, 3> dilation = {1, 1, 1},
                       std::array<int, 3> output_padding = {0, 0, 0}, int groups = 1);

// Nearest-neighbour upsampling of x [N, spatial..., C] by an integer factor per
// spatial dimension (one factor applies to all): out[n, i * s + r, c] = x[n, i, c].
Array upsample_nearest(const Array& x, std::vector<int> scale);

}  // namespace lathe
