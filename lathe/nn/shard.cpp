// Splitting arithmetic of tensor-parallel ranks.
#include "lathe/nn/shard.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "lathe/core/error.h"
#include "lathe/ops/shape.h"

namespace lathe::nn {

Shard Shard::of(std::shared_ptr<distributed::Communicator> comm) {
  if (!comm) throw Error("[tp] a shard needs a communicator");
  Shard s;
  s.rank = comm->rank();
  s.size = comm->size();
  s.comm = std::move(comm);
  return s;
}

std::pair<int64_t, int64_t> Shard::part(int64_t n, int64_t granule) const {
  if (granule < 1 || n % granule != 0) {
    throw Error("[tp] " + std::to_string(n) + " items do not split into granules of " +
                std::to_string(granule));
  }
  const int64_t units = n / granule, base = units / size, spare = units % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, spare);
  const int64_t end = begin + base + (rank < spare ? 1 : 0);
  return {begin * granule, end * granule};
}

std::pair<int64_t, int64_t> Shard::padded_part(int64_t n) const {
  const int64_t chunk = (n + size - 1) / size;
  if (chunk * (size - 1) >= n) {
    throw Error("[tp] " + std::to_string(n) + " rows are too few to split across " +
                std::to_string(size) + " ranks");
  }
  return {rank * chunk, std::min(n, (rank + 1) * chunk)};
}

Array Shard::all_reduce(const Array& x) const {
  if (!split()) return x;
  return comm->all_reduce_sum(x);
}

Array Shard::gather_parts(const Array& x, int64_t n) const {
  if (!split()) return x;
  const int64_t chunk = (n + size - 1) / size;
  const int last = x.ndim() - 1;
  Array padded = x;
  if (x.shape(last) < chunk) {
    std::vector<std::pair<int64_t, int64_t>> widths(static_cast<size_t>(x.ndim()), {0, 0});
    widths.back().second = chunk - x.shape(last);
    padded = pad(x, widths);
  }
  Array all = comm->all_gather(padded, last);
  return all.shape(last) == n ? all : slice_axis(all, last, 0, n);
}

LinearSplit LinearSplit::columns(int64_t begin, int64_t end) {
  LinearSplit s;
  s.kind = Kind::columns;
  s.begin = begin;
  s.end = end;
  return s;
}

LinearSplit LinearSplit::gathered_columns(const Shard& shard, int64_t out_features) {
  LinearSplit s;
  if (!shard.split()) return s;
  s.kind = Kind::gathered_columns;
  std::tie(s.begin, s.end) = shard.padded_part(out_features);
  s.shard = shard;
  return s;
}

LinearSplit LinearSplit::rows(const Shard& shard, int64_t begin, int64_t end) {
  LinearSplit s;
  s.kind = Kind::rows;
  s.begin = begin;
  s.end = end;
  s.shard = shard;
  return s;
}

}  // namespace lathe::nn
