// The rank threads of a tensor-parallel model, their caches, and the
// failure path: a rank whose step fails stops the group, so that no other
// rank waits for it forever.
#include "lathe/models/tensor_parallel.h"

#include "lathe/core/scheduler.h"
#include "lathe/core/transforms.h"
#include "lathe/distributed/worker_thread.h"

namespace lathe {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error("[tp] " + msg); }

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown error";
  }
}

// The ranks' caches, shared by the per-layer handles make_caches returns.
struct RankCaches {
  const void* owner = nullptr;
  std::vector<KVCaches> ranks;
};

// Layer `layer` of every rank, as one KVCache for the generation loop: its
// offset, the arrays to keep and reset() cover all ranks.
class ShardedKVCache : public KVCache {
 public:
  ShardedKVCache(std::shared_ptr<RankCaches> set, int layer)
      : set_(std::move(set)), layer_(static_cast<size_t>(layer)) {}
  std::pair<Array, Array> update(const Array&, const Array&) override {
    fail(
        "the caches of a tensor-parallel model are updated by its ranks; pass them to its forward");
  }
  int offset() const override { return set_->ranks[0][layer_]->offset(); }
  std::vector<Array> state() const override {
    std::vector<Array> out;
    for (const auto& r : set_->ranks) {
      auto s = r[layer_]->state();
      out.insert(out.end(), s.begin(), s.end());
    }
    return out;
  }
  void reset() override {
    for (auto& r : set_->ranks) r[layer_]->reset();
  }
  const std::shared_ptr<RankCaches>& set() const { return set_; }

 private:
  std::shared_ptr<RankCaches> set_;
  size_t layer_;
};

}  // namespace

struct TensorParallelModel::Failure {
  std::mutex mu;
  std::optional<std::string> reason;
};

struct TensorParallelModel::Rank {
  int index = 0;
  distributed::WorkerThread watcher;  // waits for each step; a failure stops the group
  distributed::WorkerThread thread;   // builds and schedules this rank's graphs
  std::unique_ptr<LanguageModel> model;
  std::optional<Array> last_logits;

  ~Rank() {
    // Pending steps finish (or fail and stop the group) before the weights go,
    // and the rank's arrays are dropped on the thread that tracks them.
    thread
        .post([this] {
          synchronize();
          last_logits.reset();
          model.reset();
        })
        .wait();
  }
};

TensorParallelModel::TensorParallelModel(const std::string& dir, const LoadOptions& opts, int ranks,
                                         const std::string& kind)
    : failure_(std::make_shared<Failure>()) {
  if (ranks < 1) fail("the number of ranks must be >= 1, got " + std::to_string(ranks));
  if (opts.shard.split()) fail("LoadOptions::shard must be left unset: each rank gets its own");
  comms_ = distributed::make_communicator(kind, ranks);
  std::vector<std::future<void>> jobs;
  for (int r = 0; r < ranks; ++r) {
    ranks_.push_back(std::make_unique<Rank>());
    Rank& rank = *ranks_.back();
    rank.index = r;
    LoadOptions o = opts;
    o.shard = nn::Shard::of(comms_[static_cast<size_t>(r)]);
    jobs.push_back(rank.thread.post([&rank, dir, o] {
      rank.model = load_model(dir, o);
      // Each rank reads its slices now, on its own thread.
      auto w = rank.model->weights();
      keep(w);
      eval(w);
    }));
  }
  wait_all(jobs, "loading");
}

TensorParallelModel::~TensorParallelModel() = default;

void TensorParallelModel::wait_all(std::vector<std::future<void>>& jobs, const char* what) {
  std::vector<std::exception_ptr> errors;
  for (auto& j : jobs) {
    try {
      j.get();
    } catch (...) {
      errors.push_back(std::current_exception());
    }
  }
  if (errors.empty()) return;
  if (errors.size() < jobs.size()) {
    // Some ranks scheduled collectives the failed ones never will.
    const std::string reason =
        std::string("a rank failed while ") + what + ": " + what_of(errors[0]);
    {
      std::lock_guard lk(failure_->mu);
      if (!failure_->reason) failure_->reason = reason;
    }
    comms_[0]->abort(reason);
  }
  std::rethrow_exception(errors[0]);
}

Array TensorParallelModel::forward(const Array& tokens, KVCaches& caches) {
  // Steps reach every rank in one order, whichever threads call forward.
  std::lock_guard step_lock(step_mu_);
  {
    std::lock_guard lk(failure_->mu);
    if (failure_->reason) {
      fail("the ranks stopped after a failure (" + *failure_->reason + "); load the model again");
    }
  }
  tokens.check_valid("forward");
  std::shared_ptr<RankCaches> set;
  for (const auto& c : caches) {
    auto* sharded = dynamic_cast<const ShardedKVCache*>(c.get());
    if (!sharded || sharded->set()->owner != this || (set && sharded->set() != set)) {
      fail("forward needs the caches of this model's make_caches");
    }
    set = sharded->set();
  }
  if (!set) fail("forward needs the caches of this model's make_caches, got none");
  // The ranks' graphs read the tokens: they must be this thread's work, not theirs.
  if (tokens.node().status.load() == detail::Status::lazy) eval_nodes({tokens.node_ptr()}, false);
  std::vector<std::future<void>> jobs;
  for (auto& rp : ranks_) {
    Rank& rank = *rp;
    KVCaches& own = set->ranks[static_cast<size_t>(rank.index)];
    jobs.push_back(rank.thread.post([&rank, &own, tokens, failure = failure_, comm = comms_[0]] {
      if (rank.last_logits) rank.last_logits->free();
      rank.last_logits.reset();
      Array logits = rank.model->forward(tokens, own);
      std::vector<Array> outputs = cache_state(own);
      keep(outputs);
      outputs.push_back(logits);
      async_eval(outputs);
      rank.last_logits = logits;
      rank.watcher.post([node = logits.node_ptr(), index = rank.index, failure, comm] {
        try {
          node->wait();
        } catch (const std::exception& e) {
          const std::string reason = "rank " + std::to_string(index) + " failed: " + e.what();
          {
            std::lock_guard lk(failure->mu);
            if (!failure->reason) failure->reason = reason;
          }
          comm->abort(reason);
        }
      });
    }));
  }
  wait_all(jobs, "building its step");
  const Array& logits = *ranks_[0]->last_logits;
  // Back to lazy already: the step failed (a rank stopped the group); say why.
  if (logits.node().status.load() == detail::Status::lazy) logits.node().wait();
  return distributed::adopt(logits);
}

KVCaches TensorParallelModel::make_caches(int batch, int max_tokens) const {
  auto set = std::make_shared<RankCaches>();
  set->owner = this;
  for (const auto& r : ranks_) {
    KVCaches own;
    r->thread.post([&] { own = r->model->make_caches(batch, max_tokens); }).get();
    set->ranks.push_back(std::move(own));
  }
  KVCaches out;
  for (size_t i = 0; i < set->ranks[0].size(); ++i) {
    out.push_back(std::make_unique<ShardedKVCache>(set, static_cast<int>(i)));
  }
  return out;
}

std::vector<Array> TensorParallelModel::weights() const {
  std::vector<Array> out;
  for (const auto& r : ranks_) {
    auto w = r->model->weights();
    out.insert(out.end(), w.begin(), w.end());
  }
  return out;
}

int TensorParallelModel::vocab_size() const { return ranks_[0]->model->vocab_size(); }

const std::string& TensorParallelModel::model_type() const {
  return ranks_[0]->model->model_type();
}

void TensorParallelModel::on_each_rank(const std::function<void(int, LanguageModel&)>& fn) {
  std::vector<std::future<void>> jobs;
  for (auto& rp : ranks_) {
    Rank& rank = *rp;
    jobs.push_back(rank.thread.post([&rank, &fn] { fn(rank.index, *rank.model); }));
  }
  std::exception_ptr first;
  for (auto& j : jobs) {
    try {
      j.get();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

std::unique_ptr<LanguageModel> load_parallel_model(const std::string& dir, const LoadOptions& opts,
                                                   int ranks) {
  if (ranks == 1) {
    auto model = load_model(dir, opts);
    keep(model->weights());
    return model;
  }
  return std::make_unique<TensorParallelModel>(dir, opts, ranks);
}

}  // namespace lathe
