#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "lathe/models/model.h"

namespace lathe {

Array LanguageModel::forward_at(const Array&, KVCaches&, const Array&) {
  throw Error("[" + model_type() + ".forward_at] this model does not take positions as data");
}

// Defined in builtin.cpp: registers every architecture lathe ships. Called
// explicitly because static initializers in a static library can be dropped.
void register_builtin_models();

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, ModelFactory>& registry() {
  static std::map<std::string, ModelFactory> r;
  return r;
}
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, register_builtin_models);
}
}  // namespace

void register_model(const std::string& model_type, ModelFactory factory) {
  std::lock_guard lk(registry_mutex());
  registry()[model_type] = std::move(factory);
}

std::vector<std::string> supported_model_types() {
  ensure_builtins();
  std::lock_guard lk(registry_mutex());
  std::vector<std::string> out;
  for (auto& [k, v] : registry()) out.push_back(k);
  return out;
}

std::unique_ptr<LanguageModel> load_model(const std::string& dir, const LoadOptions& opts) {
  ensure_builtins();
  std::string path = dir + "/config.json";
  std::ifstream f(path);
  if (!f) throw Error("[load_model] " + dir + ": no config.json");
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error("[load_model] " + path + ": not valid JSON: " + e.what());
  }
  if (!cfg.is_object() || !cfg.contains("model_type") || !cfg["model_type"].is_string()) {
    throw Error("[load_model] " + path + ": missing string field 'model_type'");
  }
  std::string type = cfg["model_type"].get<std::string>();
  ModelFactory factory;
  {
    std::lock_guard lk(registry_mutex());
    auto it = registry().find(type);
    if (it != registry().end()) factory = it->second;
  }
  if (!factory) {
    std::string list;
    for (auto& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
    throw Error("[load_model] " + path + ": unsupported model_type '" + type +
                "' (supported: " + (list.empty() ? "none" : list) + ")");
  }
  // Arrays the constructors make (rope tables, scales) land on the model's device.
  LoadOptions placed = opts;
  if (!placed.device) placed.device = default_device();
  DeviceScope scope(*placed.device);
  return factory(dir, placed);
}

}  // namespace lathe
