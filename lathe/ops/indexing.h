// Indexing ops: gathering by integer index arrays and their scattering twins.
// Indices may have any integer dtype; negative indices count from the end as
// in numpy; an index outside [-n, n) makes eval() throw lathe::Error naming
// the op and the index (values are only known when the kernel runs).
#pragma once

#include "lathe/core/array.h"

namespace lathe {

// numpy.take: out has shape a.shape[:axis] + indices.shape + a.shape[axis+1:].
Array take(const Array& a, const Array& indices, int axis);
// take over the flattened array: out has indices' shape.
Array take(const Array& a, const Array& indices);
// Embedding lookup: rows of `table` (axis 0) for ids of any shape, giving
// ids.shape + table.shape[1:]. Contiguous rows are copied with one memcpy each.
Array gather(const Array& table, const Array& ids);

// numpy.take_along_axis: indices has a's rank; it broadcasts with a on the
// other axes and picks along `axis` (e.g. with argsort's output).
Array take_along_axis(const Array& a, const Array& indices, int axis);
// numpy.put_along_axis as a new array: indices has a's rank and, off `axis`,
// dims of 1 or a's; values broadcast to indices' (broadcast) shape.
Array put_along_axis(const Array& a, const Array& indices, const Array& values, int axis);

// The inverse of take: a copy of a with a[.., indices[j], ..] = updates[.., j, ..],
// updates broadcast to a.shape[:axis] + indices.shape + a.shape[axis+1:].
// With duplicate indices, one of the writes wins.
Array scatter(const Array& a, const Array& indices, const Array& updates, int axis);
// As scatter, but accumulates: duplicate indices all add (e.g. MoE expert
// outputs summed back into token rows).
Array scatter_add(const Array& a, const Array& indices, const Array& updates, int axis);

}  // namespace lathe
