// The models a server offers: every model folder under one directory, by folder name, loaded on
// first use, at most N at once (least recently used unloaded first), unloaded after keep-alive.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lathe/engine/sampler.h"
#include "lathe/models/model.h"
#include "lathe/text/tokenizer.h"

namespace lathe::server {

using Clock = std::chrono::system_clock;

// How long an idle model stays loaded.
struct KeepAlive {
  std::chrono::nanoseconds duration{0};
  bool forever = false;
};

// Ollama's keep_alive: a number of seconds, or a duration string ("5m", "1h30m", "30s",
// "250ms", "0"); negative means forever. Anything else is a RequestError (400).
KeepAlive parse_keep_alive(const nlohmann::json& value);
KeepAlive parse_keep_alive(const std::string& text);

// A model folder as listed (nothing loaded).
struct ModelFiles {
  std::string name, dir;
  std::string model_type;
  uint64_t size_bytes = 0;      // its weight files
  int64_t parameter_count = 0;  // elements of every stored tensor
  Clock::time_point modified;   // the newest of its files
  int max_context = 0;          // max_position_embeddings, 0 when the config has none
  std::string digest;           // FNV-1a of the file names, sizes and times (not of contents)
  nlohmann::json config;        // config.json
};

struct LoadedModel {
  ModelFiles files;
  std::unique_ptr<LanguageModel> model;
  std::optional<text::Tokenizer> tokenizer;
  std::optional<std::string> chat_template;
  SamplerConfig defaults;
  size_t weight_bytes = 0;
  // forward() builds a graph and may update model state (dynamic rope); concurrent requests
  // build their graphs one at a time and evaluate them in parallel.
  std::mutex forward_mutex;
};

struct PoolOptions {
  int max_loaded = 3;
  KeepAlive keep_alive{std::chrono::minutes(5), false};
  LoadOptions load;
  int tp = 1;  // tensor-parallel ranks per model (TensorParallelModel when > 1)
};

class ModelPool {
  struct Entry;

 public:
  ModelPool(std::string models_dir, PoolOptions options);
  ~ModelPool();
  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;

  // Every folder with a config.json, sorted by name.
  std::vector<ModelFiles> list() const;
  // The folder of `name` ("name:latest" also names it), or nothing. Without `full` only the
  // config is read (name, dir, config, model_type, max_context), as a request's check needs.
  std::optional<ModelFiles> find(const std::string& name, bool full = false) const;

  // A loaded model in use: it is not unloaded while a lease holds it.
  class Lease {
   public:
    Lease(ModelPool* pool, std::shared_ptr<Entry> entry, std::shared_ptr<LoadedModel> model,
          std::optional<KeepAlive> keep_alive, double load_seconds);
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    LoadedModel& operator*() const { return *model_; }
    LoadedModel* operator->() const { return model_.get(); }
    double load_seconds() const { return load_seconds_; }

   private:
    ModelPool* pool_;
    std::shared_ptr<Entry> entry_;
    std::shared_ptr<LoadedModel> model_;
    std::optional<KeepAlive> keep_alive_;
    double load_seconds_;
  };

  // Loads the model on the calling thread when it is not loaded. An unknown name is a
  // RequestError (404); a folder that fails to load throws lathe::Error. keep_alive: how long
  // it stays loaded once idle (unset: the pool's).
  Lease acquire(const std::string& name, std::optional<KeepAlive> keep_alive = std::nullopt);
  // Unloads `name` now if it is loaded and idle (else when its last lease ends). False when it
  // was not loaded.
  bool unload(const std::string& name);

  struct Running {
    ModelFiles files;
    size_t weight_bytes = 0;
    std::optional<Clock::time_point> expires_at;  // unset: in use, or kept forever
    int users = 0;
  };
  std::vector<Running> running() const;
  size_t loaded_count() const;

 private:
  void release(Entry& entry, std::optional<KeepAlive> keep_alive);
  // Unloads idle models past their keep-alive, and the least recently used idle ones while
  // more than max_loaded are loaded. Called with mu_ held; returns what to destroy unlocked.
  std::vector<std::shared_ptr<LoadedModel>> collect_locked(const Entry* keep);
  void reaper();

  std::string dir_;
  PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::thread reaper_;
};

}  // namespace lathe::server
