// Opening model folders and diffusers pipeline folders.
#include "lathe/io/model_folder.h"

#include <filesystem>

#include "lathe/core/error.h"
#include "lathe/io/json_file.h"

namespace lathe::io {

namespace fs = std::filesystem;

namespace {

bool plain_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

ModelFolder ModelFolder::open(const std::string& dir, const std::string& label) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("[model_folder] " + dir + " is not a folder");
  ModelFolder m;
  m.dir_ = dir;
  fs::path d(dir);
  std::string cfg = (d / "config.json").string();
  if (!fs::is_regular_file(cfg, ec)) throw Error("[model_folder] " + dir + ": no config.json");
  m.config_ = read_json_file(cfg, "model_folder");
  if (!m.config_.is_object()) throw Error("[model_folder] " + cfg + ": expected a JSON object");
  std::string gen = (d / "generation_config.json").string();
  if (fs::is_regular_file(gen, ec)) {
    m.generation_config_ = read_json_file(gen, "model_folder");
    if (!m.generation_config_->is_object())
      throw Error("[model_folder] " + gen + ": expected a JSON object");
  }
  m.quant_ = QuantConfig::from_config(m.config_, cfg);
  m.weights_ = WeightStore::open(dir, label);
  return m;
}

bool PipelineFolder::is_pipeline(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "model_index.json", ec);
}

PipelineFolder PipelineFolder::open(const std::string& dir) {
  PipelineFolder p;
  p.dir_ = dir;
  std::string path = (fs::path(dir) / "model_index.json").string();
  p.index_ = read_json_file(path, "pipeline_folder");
  auto bad = [&](const std::string& what) {
    return Error("[pipeline_folder] " + path + ": " + what);
  };
  if (!p.index_.is_object()) throw bad("expected a JSON object");
  if (p.index_.contains("_class_name") && p.index_["_class_name"].is_string())
    p.class_name_ = p.index_["_class_name"].get<std::string>();
  for (const auto& [key, v] : p.index_.items()) {
    if (key.empty() || key[0] == '_') continue;  // _class_name, _diffusers_version, ...
    if (!v.is_array()) continue;                 // scalar pipeline options
    if (v.size() != 2) throw bad("component '" + key + "' must be [library, class name]");
    if (v[0].is_null() && v[1].is_null()) continue;  // an absent optional component
    if (!v[0].is_string() || !v[1].is_string())
      throw bad("component '" + key + "' must be [library, class name]");
    if (!plain_name(key)) throw bad("component '" + key + "' is not a plain folder name");
    fs::path sub = fs::path(dir) / key;
    std::error_code ec;
    if (!fs::is_directory(sub, ec))
      throw bad("component '" + key + "' has no folder " + sub.string());
    PipelineComponent c{key, v[0].get<std::string>(), v[1].get<std::string>(),
                        find_weight_files(sub.string()).has_value()};
    p.components_.push_back(std::move(c));
  }
  return p;
}

const PipelineComponent& PipelineFolder::component(const std::string& name) const {
  for (const auto& c : components_)
    if (c.name == name) return c;
  std::string known;
  for (const auto& c : components_) known += (known.empty() ? "" : ", ") + c.name;
  throw Error("[pipeline_folder] " + dir_ + ": no component '" + name + "' (has " + known + ")");
}

std::string PipelineFolder::component_dir(const std::string& name) const {
  return (fs::path(dir_) / component(name).name).string();
}

ModelFolder PipelineFolder::open_component(const std::string& name) const {
  const auto& c = component(name);
  if (!c.has_weights)
    throw Error("[pipeline_folder] " + dir_ + ": component '" + name + "' (" + c.class_name +
                ") has no weights");
  return ModelFolder::open(component_dir(name), c.name + "/");
}

}  // namespace lathe::io
