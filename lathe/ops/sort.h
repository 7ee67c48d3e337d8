// Sorting along one axis: sort, argsort, partition, argpartition, topk.
// NaN orders after every number (numpy), so it sorts last and counts as the
// largest value in topk. Indices are uint32.
#pragma once

#include <cstdint>

#include "lathe/core/array.h"

namespace lathe {

// Ascending; argsort is stable (equal elements keep their order).
Array sort(const Array& a, int axis = -1);
Array argsort(const Array& a, int axis = -1);

// Rearranges each line so that the element at kth is the one a full sort would
// put there, nothing before it is greater and nothing after it is smaller; the
// order within each side is unspecified. Negative kth counts from the end.
Array partition(const Array& a, int64_t kth, int axis = -1);
Array argpartition(const Array& a, int64_t kth, int axis = -1);

// The k largest values along axis (0 <= k <= axis size), sorted descending;
// equal values keep their original order, so topk_indices is deterministic.
// The result has size k along axis.
Array topk(const Array& a, int64_t k, int axis = -1);
Array topk_indices(const Array& a, int64_t k, int axis = -1);

}  // namespace lathe
