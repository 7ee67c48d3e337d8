// Tensor parallelism behind the LanguageModel interface: N ranks, each a
// thread holding its slices of the weights and of the KV caches, joined by
// a communicator group; forward() fans out to every rank and returns rank
// 0's logits. `lathe run|logits --tp N` use it.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lathe/distributed/communicator.h"
#include "lathe/models/model.h"

namespace lathe {

class TensorParallelModel : public LanguageModel {
 public:
  // Loads `dir` as `ranks` ranks (in parallel, each reading and computing only
  // its slices, on its own thread),
  // connected by communicators of `kind` (distributed::make_communicator).
  // The split rules are nn::head_part's and check_tensor_parallel's; a model
  // that does not split is a lathe::Error("[tp] ...").
  TensorParallelModel(const std::string& dir, const LoadOptions& opts, int ranks,
                      const std::string& kind = "local");
  ~TensorParallelModel() override;

  // Schedules every rank's forward pass (each rank evaluates its whole step,
  // logits included, so that all ranks meet at the same collectives) and
  // returns a handle to rank 0's logits. Lazy tokens are scheduled on this
  // thread first, without an eval (this thread's arrays are left alone).
  // Calls from several threads are taken one at a time.
  Array forward(const Array& tokens, KVCaches& caches) override;
  // One cache per layer standing for the ranks' caches of that layer; only
  // this model's forward() can update them.
  KVCaches make_caches(int batch, int max_tokens) const override;
  // Every rank's weights.
  std::vector<Array> weights() const override;
  int vocab_size() const override;
  const std::string& model_type() const override;
  int ranks() const { return static_cast<int>(ranks_.size()); }

  // Runs fn(rank, rank's model) on each rank's thread and waits; rethrows the
  // first failure. For inspection (a rank's live arrays, its memory).
  void on_each_rank(const std::function<void(int, LanguageModel&)>& fn);

 private:
  struct Rank;
  struct Failure;
  // Waits for the posted jobs; when some fail, rethrows the first (and, if
  // others went on to schedule collectives, stops the group first).
  void wait_all(std::vector<std::future<void>>& jobs, const char* what);

  distributed::CommunicatorGroup comms_;
  std::shared_ptr<Failure> failure_;
  std::vector<std::unique_ptr<Rank>> ranks_;
  std::mutex step_mu_;
};

// load_model(dir, opts) for ranks == 1, else a local TensorParallelModel with
// every rank's weights kept.
std::unique_ptr<LanguageModel> load_parallel_model(const std::string& dir, const LoadOptions& opts,
                                                   int ranks);

}  // namespace lathe
