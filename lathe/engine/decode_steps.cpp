// Decode steps replayed from a device graph (decode_steps.h).
#include "lathe/engine/decode_steps.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "lathe/backend/device.h"
#include "lathe/core/transforms.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/device.h"
#include "lathe/ops/shape.h"

namespace lathe {

bool decode_graphs_enabled() {
  const char* v = std::getenv("LATHE_CUDA_GRAPH");
  return !(v && std::strcmp(v, "0") == 0);
}

DecodeSteps::DecodeSteps(LanguageModel& model, KVCaches& caches, bool graphs)
    : model_(model), caches_(caches), graphs_(graphs && decode_graphs_enabled()) {}

Array DecodeSteps::operator()(const Array& tokens) {
  const bool on_gpu = graphs_ && tokens.device() == Device::cuda && tokens.ndim() == 2 &&
                      tokens.shape(1) == 1 && !caches_.empty();
  if (!on_gpu) return model_.forward(tokens, caches_);
  const int offset = caches_[0]->offset();
  if (graph_ && offset < valid_until_) {
    Array logits = graph_->replay({tokens, to_device(Array(offset), Device::cuda)});
    for (auto& c : caches_) c->advance(1);
    ++replayed_;
    return logits;
  }
  graph_.reset();
  const int limit = model_.replayable_until(caches_);
  if (offset >= limit) return model_.forward(tokens, caches_);
  return record(tokens, limit);
}

Array DecodeSteps::record(const Array& tokens, int limit) {
  const int offset = caches_[0]->offset();
  // eval() below frees what is not kept: the caller's tokens must outlive it (until the replay
  // node holds them).
  Array held = tokens;
  const bool was_kept = held.node().kept.load();
  keep(held);
  // The recorded inputs: buffers of their own that every replay writes.
  Array token_in = to_device(zeros(tokens.shape(), tokens.dtype()), Device::cuda);
  Array position_in = to_device(Array(offset), Device::cuda);
  keep(token_in, position_in);
  eval(token_in, position_in);
  std::vector<const Buffer*> before;
  for (const Array& a : cache_state(caches_)) before.push_back(a.node().buffer.get());
  try {
    graph_.emplace(std::vector<Array>{token_in, position_in},
                   model_.forward_at(token_in, caches_, position_in));
  } catch (const Error& e) {
    throw Error(std::string("[generate] recording the decode step as a CUDA graph failed (set "
                            "LATHE_CUDA_GRAPH=0 to decode without graphs): ") +
                e.what());
  }
  // The recording must write the caches' own buffers, in place.
  std::vector<Array> after = cache_state(caches_);
  for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
    if (after[i].node().buffer.get() != before[i]) {
      graph_.reset();
      throw Error(
          "[generate] the recorded decode step did not update the KV cache in place (set "
          "LATHE_CUDA_GRAPH=0 to decode without graphs)");
    }
  }
  valid_until_ = limit;
  ++recorded_;
  // forward_at counted this step in the caches already; the first replay computes it.
  Array logits = graph_->replay({held, position_in});
  if (!was_kept) held.free();
  return logits;
}

}  // namespace lathe
