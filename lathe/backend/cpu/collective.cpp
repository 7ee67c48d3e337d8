// CPU side of the local collectives: every rank copies its part out, meets
// the others at the group's rendezvous, then sums or joins all parts in rank
// order, so every rank computes bit-identical results.
#include "lathe/primitives/collective.h"

#include <cstring>

#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

distributed::Contributions LocalCollective::exchange(const Node& x) {
  auto part = std::make_shared<distributed::Contribution>();
  part->op = name();
  part->shape = x.shape;
  part->dtype = x.dtype;
  part->bytes.resize(x.nbytes());
  if (x.nbytes() > 0) {
    if (x.contiguous) {
      std::memcpy(part->bytes.data(), x.raw(), x.nbytes());
    } else {
      cpu::gather_contiguous(x, part->bytes.data());
    }
  }
  return group_->exchange(rank_, seq_, std::move(part));
}

std::string LocalCollective::where() const {
  return "rank " + std::to_string(rank_) + " of " + std::to_string(group_->size()) + ", #" +
         std::to_string(seq_);
}

namespace {

template <typename Acc>
void sum_parts(const distributed::Contributions& parts, Node& out) {
  const size_t n = out.size();
  const Dtype acc_dtype = dtype_of<Acc>::value;
  std::vector<Acc> acc(n, Acc(0)), tmp(n);
  for (const auto& p : parts) {
    convert_elements(p->bytes.data(), p->dtype, tmp.data(), acc_dtype, n);
    for (size_t i = 0; i < n; ++i) acc[i] += tmp[i];
  }
  convert_elements(acc.data(), acc_dtype, out.raw(), out.dtype, n);
}

}  // namespace

void AllReduceSum::eval_cpu(const NodeList& in, Node& out) {
  distributed::Contributions parts = exchange(*in[0]);
  out.allocate();
  if (out.size() == 0) return;
  if (out.dtype == float64) {
    sum_parts<double>(parts, out);
  } else {
    sum_parts<float>(parts, out);
  }
}

void AllGather::eval_cpu(const NodeList& in, Node& out) {
  distributed::Contributions parts = exchange(*in[0]);
  out.allocate();
  if (out.size() == 0) return;
  const Shape& part_shape = in[0]->shape;
  size_t outer = 1, inner = out.dtype.size();
  for (int d = 0; d < axis_; ++d) outer *= static_cast<size_t>(part_shape[d]);
  for (size_t d = static_cast<size_t>(axis_); d < part_shape.size(); ++d) {
    inner *= static_cast<size_t>(part_shape[d]);
  }
  char* dst = static_cast<char*>(out.raw());
  for (size_t o = 0; o < outer; ++o) {
    for (const auto& p : parts) {
      std::memcpy(dst, p->bytes.data() + o * inner, inner);
      dst += inner;
    }
  }
}

void Adopt::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.share(x, x.strides, x.offset, x.data_size);
}

}  // namespace lathe
