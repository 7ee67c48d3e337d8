// Decode steps of the generation loop: on a CUDA GPU, the model's step with its
// position as data (LanguageModel::forward_at) is recorded once as a device
// graph and replayed for every later token; elsewhere, or when the model or its
// caches cannot (replayable_until() == 0), the plain forward.
#pragma once

#include <optional>

#include "lathe/core/device_graph.h"
#include "lathe/models/model.h"

namespace lathe {

class DecodeSteps {
 public:
  // Graphs are used when `graphs` is set, the model lives on a CUDA GPU, and
  // LATHE_CUDA_GRAPH is not 0.
  DecodeSteps(LanguageModel& model, KVCaches& caches, bool graphs = true);
  // Logits [B, 1, vocab] of `tokens` [B, 1] (on the model's device) at the
  // caches' offset, appending it to the caches.
  Array operator()(const Array& tokens);
  // Steps replayed from a graph so far, and graphs recorded.
  int replayed() const { return replayed_; }
  int recorded() const { return recorded_; }

 private:
  Array record(const Array& tokens, int limit);

  LanguageModel& model_;
  KVCaches& caches_;
  bool graphs_;
  std::optional<DeviceGraph> graph_;
  int valid_until_ = 0;  // the graph replays while the caches' offset is below this
  int replayed_ = 0, recorded_ = 0;
};

// Whether graphs are on for this process (LATHE_CUDA_GRAPH unset or not 0).
bool decode_graphs_enabled();

}  // namespace lathe
