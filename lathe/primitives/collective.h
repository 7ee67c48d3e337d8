// Primitives of the collectives between ranks that are threads of one
// process (distributed::LocalGroup), and adopt(), which hands an array from
// one thread's graph to another's.
#pragma once

#include <memory>
#include <string>

#include "lathe/core/primitive.h"
#include "lathe/distributed/local_group.h"

namespace lathe {

// Collective #seq of `rank` in `group`; its eval waits for every rank's part.
class LocalCollective : public Primitive {
 public:
  LocalCollective(std::shared_ptr<distributed::LocalGroup> group, int rank, uint64_t seq)
      : group_(std::move(group)), rank_(rank), seq_(seq) {}
  // Two collectives never compute the same thing: each is one rendezvous.
  bool equivalent(const Primitive&) const override { return false; }

 protected:
  // Deposits x's elements and returns every rank's, rank order.
  distributed::Contributions exchange(const detail::Node& x);
  std::string where() const;

  std::shared_ptr<distributed::LocalGroup> group_;
  int rank_;
  uint64_t seq_;
};

class AllReduceSum : public LocalCollective {
 public:
  using LocalCollective::LocalCollective;
  const char* name() const override { return "all_reduce_sum"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  std::string describe() const override { return "all_reduce_sum(" + where() + ")"; }
};

// Every rank's part joined along axis_.
class AllGather : public LocalCollective {
 public:
  AllGather(std::shared_ptr<distributed::LocalGroup> group, int rank, uint64_t seq, int axis)
      : LocalCollective(std::move(group), rank, seq), axis_(axis) {}
  const char* name() const override { return "all_gather"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  std::string describe() const override {
    return "all_gather(" + where() + ", axis=" + std::to_string(axis_) + ")";
  }

 private:
  int axis_;
};

// A view of an array another thread computes.
class Adopt : public Primitive {
 public:
  const char* name() const override { return "adopt"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
};

}  // namespace lathe
