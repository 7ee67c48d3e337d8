// Model folders by name, loaded on demand and unloaded by keep-alive and least-recent use.
#include "lathe/server/model_pool.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "lathe/core/error.h"
#include "lathe/core/transforms.h"
#include "lathe/engine/session.h"
#include "lathe/io/json_file.h"
#include "lathe/io/weight_store.h"
#include "lathe/models/tensor_parallel.h"
#include "lathe/server/errors.h"

namespace lathe::server {

namespace fs = std::filesystem;

struct ModelPool::Entry {
  std::string name, dir;
  std::mutex load_mutex;  // one load at a time per model
  std::shared_ptr<LoadedModel> model;
  int users = 0;
  Clock::time_point last_used;
  KeepAlive keep_alive;
};

namespace {

[[noreturn]] void bad_duration(const std::string& what) {
  bad_request("keep_alive " + what +
              " is not a duration (seconds as a number, or a string like \"5m\", \"30s\", "
              "\"1h30m\", \"0\"; negative: forever)");
}

KeepAlive from_seconds(double s) {
  if (s < 0) return {{}, true};
  return {std::chrono::nanoseconds(static_cast<int64_t>(std::min(s, 1e9) * 1e9)), false};
}

// Go's time.ParseDuration: [-+]? (number unit)+, units ns us µs ms s m h; "0" alone.
std::optional<double> parse_go_duration(const std::string& t) {
  size_t i = 0;
  bool neg = false;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) neg = t[i++] == '-';
  if (t.substr(i) == "0") return 0.0;
  if (i == t.size()) return std::nullopt;
  double total = 0;
  while (i < t.size()) {
    size_t start = i;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double v;
    try {
      size_t used = 0;
      v = std::stod(t.substr(start, i - start), &used);
      if (used != i - start) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
    static const std::pair<const char*, double> units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"ms", 1e-3},
        {"s", 1},     {"m", 60},    {"h", 3600}};
    bool found = false;
    for (auto [u, scale] : units) {
      std::string us(u);
      if (t.compare(i, us.size(), us) == 0 && !(us == "m" && i + 1 < t.size() && t[i + 1] == 's')) {
        total += v * scale;
        i += us.size();
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  return neg ? -total : total;
}

uint64_t fnv1a(uint64_t h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

int max_context_of(const nlohmann::json& config) {
  for (const nlohmann::json* c :
       {&config, config.contains("text_config") ? &config["text_config"] : nullptr}) {
    if (!c || !c->is_object()) continue;
    auto it = c->find("max_position_embeddings");
    if (it != c->end() && it->is_number_integer() && it->get<int64_t>() > 0)
      return static_cast<int>(std::min<int64_t>(it->get<int64_t>(), INT32_MAX));
  }
  return 0;
}

std::string model_type_of(const nlohmann::json& config) {
  if (config.contains("model_type") && config["model_type"].is_string())
    return config["model_type"].get<std::string>();
  return "";
}

// `full`: also the listing's figures (file sizes, digest, parameter count from the headers).
std::optional<ModelFiles> describe(const std::string& name, const fs::path& dir, bool full) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec)) return std::nullopt;
  ModelFiles m;
  m.name = name;
  m.dir = dir.string();
  try {
    m.config = io::read_json_file((dir / "config.json").string(), "serve");
  } catch (const Error&) {
    m.config = nlohmann::json::object();
  }
  m.model_type = model_type_of(m.config);
  m.max_context = max_context_of(m.config);
  if (!full) return m;
  std::vector<std::pair<std::string, fs::directory_entry>> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) files.emplace_back(e.path().filename(), e);
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.first < b.first; });
  uint64_t h = 14695981039346656037ull;
  auto newest = fs::file_time_type::min();
  for (const auto& [fname, e] : files) {
    if (!e.is_regular_file(ec)) continue;
    uint64_t size = e.file_size(ec);
    auto t = e.last_write_time(ec);
    newest = std::max(newest, t);
    if (fname.size() > 12 && fname.ends_with(".safetensors")) m.size_bytes += size;
    h = fnv1a(h, fname + ":" + std::to_string(size) + ":" +
                     std::to_string(t.time_since_epoch().count()) + ";");
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  m.digest = hex;
  m.modified =
      std::chrono::time_point_cast<Clock::duration>(std::chrono::file_clock::to_sys(newest));
  try {
    for (const auto& t : io::WeightStore::open(m.dir).infos()) {
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      m.parameter_count += n;
    }
  } catch (const Error&) {
    m.parameter_count = 0;  // a folder whose weights do not open is still listed
  }
  return m;
}

std::shared_ptr<LoadedModel> load(const ModelFiles& files, const LoadOptions& opts, int tp) {
  auto m = std::make_shared<LoadedModel>();
  m->files = files;
  m->model = load_parallel_model(files.dir, opts, tp);
  auto w = m->model->weights();
  keep(w);
  // Computed now, on this thread: other threads only ever read finished weights.
  eval(w);
  for (const auto& a : w) m->weight_bytes += a.nbytes();
  std::error_code ec;
  if (fs::exists(fs::path(files.dir) / "tokenizer.json", ec) ||
      fs::exists(fs::path(files.dir) / "vocab.json", ec)) {
    m->tokenizer = text::Tokenizer::from_dir(files.dir);
    m->chat_template = chat_template_of(files.dir);
  }
  m->defaults = sampler_defaults(files.dir);
  return m;
}

}  // namespace

KeepAlive parse_keep_alive(const nlohmann::json& v) {
  if (v.is_number()) return from_seconds(v.get<double>());
  if (v.is_string()) return parse_keep_alive(v.get<std::string>());
  bad_duration(v.dump());
}

KeepAlive parse_keep_alive(const std::string& text) {
  if (auto d = parse_go_duration(text)) return from_seconds(*d);
  // Plain seconds as a string ("300"), as OLLAMA_KEEP_ALIVE accepts.
  try {
    size_t used = 0;
    double s = std::stod(text, &used);
    if (used == text.size() && std::isfinite(s)) return from_seconds(s);
  } catch (...) {
  }
  bad_duration("\"" + text + "\"");
}

ModelPool::ModelPool(std::string models_dir, PoolOptions options)
    : dir_(std::move(models_dir)), options_(std::move(options)) {
  if (options_.max_loaded < 1)
    throw Error("[serve] max_loaded must be at least 1, got " +
                std::to_string(options_.max_loaded));
  reaper_ = std::thread([this] { reaper(); });
}

ModelPool::~ModelPool() {
  std::vector<std::shared_ptr<LoadedModel>> drop;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (auto& [name, e] : entries_) drop.push_back(std::move(e->model));
  }
  cv_.notify_all();
  reaper_.join();
}

std::vector<ModelFiles> ModelPool::list() const {
  std::vector<ModelFiles> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (!e.is_directory(ec)) continue;
    if (auto m = describe(e.path().filename().string(), e.path(), true))
      out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

std::optional<ModelFiles> ModelPool::find(const std::string& name, bool full) const {
  std::string n = name;
  if (n.ends_with(":latest")) n.resize(n.size() - 7);
  // A name is one folder: no separators, no "." or "..".
  if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos ||
      n.find('\\') != std::string::npos || n.find('\0') != std::string::npos)
    return std::nullopt;
  return describe(n, fs::path(dir_) / n, full);
}

ModelPool::Lease ModelPool::acquire(const std::string& name, std::optional<KeepAlive> keep_alive) {
  auto files = find(name, true);
  if (!files) throw RequestError(404, "model '" + name + "' not found");
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lk(mu_);
    auto& e = entries_[files->name];
    if (!e) {
      e = std::make_shared<Entry>();
      e->name = files->name;
      e->dir = files->dir;
    }
    entry = e;
    ++entry->users;
  }
  // From here the entry is pinned; a failure must unpin it.
  struct Unpin {
    ModelPool* pool;
    Entry* entry;
    bool armed = true;
    ~Unpin() {
      if (!armed) return;
      std::lock_guard lk(pool->mu_);
      --entry->users;
    }
  } unpin{this, entry.get()};
  std::lock_guard load_lock(entry->load_mutex);
  std::shared_ptr<LoadedModel> model;
  {
    std::lock_guard lk(mu_);
    model = entry->model;
  }
  double load_s = 0;
  if (!model) {
    std::vector<std::shared_ptr<LoadedModel>> drop;
    {
      // Make room first, so that two models are not resident beyond the limit needlessly.
      std::lock_guard lk(mu_);
      drop = collect_locked(entry.get());
    }
    drop.clear();
    auto t0 = std::chrono::steady_clock::now();
    model = load(*files, options_.load, options_.tp);
    load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard lk(mu_);
    entry->model = model;
  }
  unpin.armed = false;
  return Lease(this, entry, model, keep_alive, load_s);
}

void ModelPool::release(Entry& entry, std::optional<KeepAlive> keep_alive) {
  std::vector<std::shared_ptr<LoadedModel>> drop;
  {
    std::lock_guard lk(mu_);
    --entry.users;
    entry.last_used = Clock::now();
    entry.keep_alive = keep_alive.value_or(options_.keep_alive);
    drop = collect_locked(nullptr);
  }
  cv_.notify_all();
}

bool ModelPool::unload(const std::string& name) {
  std::string n = name.ends_with(":latest") ? name.substr(0, name.size() - 7) : name;
  std::shared_ptr<LoadedModel> drop;
  std::lock_guard lk(mu_);
  auto it = entries_.find(n);
  if (it == entries_.end() || !it->second->model) return false;
  auto& e = *it->second;
  e.keep_alive = {};
  if (e.users == 0) drop = std::move(e.model);
  return true;
}

std::vector<std::shared_ptr<LoadedModel>> ModelPool::collect_locked(const Entry* loading) {
  std::vector<std::shared_ptr<LoadedModel>> drop;
  const auto now = Clock::now();
  size_t loaded = 0;
  for (auto& [name, e] : entries_) {
    if (!e->model) continue;
    if (e->users == 0 && !e->keep_alive.forever && now >= e->last_used + e->keep_alive.duration) {
      drop.push_back(std::move(e->model));
      continue;
    }
    ++loaded;
  }
  // The model being loaded counts as one more.
  const size_t limit = static_cast<size_t>(options_.max_loaded) - (loading ? 1 : 0);
  while (loaded > limit) {
    Entry* lru = nullptr;
    for (auto& [name, e] : entries_)
      if (e->model && e->users == 0 && e.get() != loading &&
          (!lru || e->last_used < lru->last_used))
        lru = e.get();
    if (!lru) break;  // all in use: over the limit until one is released
    drop.push_back(std::move(lru->model));
    --loaded;
  }
  return drop;
}

void ModelPool::reaper() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto drop = collect_locked(nullptr);
    if (!drop.empty()) {
      lk.unlock();
      drop.clear();
      lk.lock();
      continue;
    }
    cv_.wait_for(lk, std::chrono::milliseconds(200));
  }
}

std::vector<ModelPool::Running> ModelPool::running() const {
  std::vector<Running> out;
  std::lock_guard lk(mu_);
  for (const auto& [name, e] : entries_) {
    if (!e->model) continue;
    Running r;
    r.files = e->model->files;
    r.weight_bytes = e->model->weight_bytes;
    r.users = e->users;
    if (e->users == 0 && !e->keep_alive.forever)
      r.expires_at =
          e->last_used + std::chrono::duration_cast<Clock::duration>(e->keep_alive.duration);
    out.push_back(std::move(r));
  }
  return out;
}

size_t ModelPool::loaded_count() const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& [name, e] : entries_) n += e->model != nullptr;
  return n;
}

ModelPool::Lease::Lease(ModelPool* pool, std::shared_ptr<Entry> entry,
                        std::shared_ptr<LoadedModel> model, std::optional<KeepAlive> keep_alive,
                        double load_seconds)
    : pool_(pool),
      entry_(std::move(entry)),
      model_(std::move(model)),
      keep_alive_(keep_alive),
      load_seconds_(load_seconds) {}

ModelPool::Lease::Lease(Lease&& o) noexcept
    : pool_(o.pool_),
      entry_(std::move(o.entry_)),
      model_(std::move(o.model_)),
      keep_alive_(o.keep_alive_),
      load_seconds_(o.load_seconds_) {
  o.pool_ = nullptr;
}

ModelPool::Lease::~Lease() {
  // The model goes before the pin: an unload decided in release() must not find it still here.
  model_.reset();
  if (pool_) pool_->release(*entry_, keep_alive_);
}

}  // namespace lathe::server
