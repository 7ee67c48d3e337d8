// Tensor parallelism as the layers see it: which rank of how many a model is,
// how a Linear's weight is split across the ranks, and the communicator that
// joins their partial results. One rank (the default) is the whole model.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "lathe/distributed/communicator.h"

namespace lathe::nn {

struct Shard {
  int rank = 0;
  int size = 1;
  std::shared_ptr<distributed::Communicator> comm;  // set when size > 1

  // The shard of comm's rank.
  static Shard of(std::shared_ptr<distributed::Communicator> comm);
  bool split() const { return size > 1; }
  // This rank's [begin, end) of n items cut into near-even runs of whole
  // granules (n must be a multiple of granule); the first ranks get the spare
  // granules.
  std::pair<int64_t, int64_t> part(int64_t n, int64_t granule = 1) const;
  // This rank's [begin, end) of n items in runs of ceil(n / size), the last
  // rank's shorter, so that gathered parts padded to that length end with
  // all the padding. Throws when a rank would get nothing.
  std::pair<int64_t, int64_t> padded_part(int64_t n) const;
  // The sum of every rank's x (x itself with one rank).
  Array all_reduce(const Array& x) const;
  // Every rank's x [..., k] (k <= ceil(n / size), as padded_part gives)
  // joined along the last axis into [..., n] (x itself with one rank).
  Array gather_parts(const Array& x, int64_t n) const;
};

// How a Linear's [out, in] weight is split across ranks (Megatron-LM's names:
// a column of W^T is an output feature).
struct LinearSplit {
  enum class Kind { whole, columns, gathered_columns, rows };
  Kind kind = Kind::whole;
  int64_t begin = 0, end = 0;  // the features of the split axis this rank holds
  Shard shard;                 // rows: sums the partial products; gathered: joins y

  // Output features [begin, end): y holds only those (and their bias).
  static LinearSplit columns(int64_t begin, int64_t end);
  // Output features split by Shard::padded_part of out_features, y gathered
  // whole on every rank (a vocabulary-split output head).
  static LinearSplit gathered_columns(const Shard& shard, int64_t out_features);
  // Input features [begin, end): x holds only those; the ranks' partial
  // products are summed, then the whole bias is added once.
  static LinearSplit rows(const Shard& shard, int64_t begin, int64_t end);
};

}  // namespace lathe::nn
