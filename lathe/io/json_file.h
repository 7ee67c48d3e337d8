// Reading a JSON file (config.json, an index, model_index.json) with errors
// that name the file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace lathe::io {

// Parses the file; a missing, unreadable, oversized (> 256 MiB) or invalid
// file is a lathe::Error "[op] PATH: what is wrong".
nlohmann::json read_json_file(const std::string& path, const std::string& op);

// Writes `j` indented by 4 with sorted keys, as mlx-lm writes config.json
// (atomically: a temporary file renamed over the target).
void write_json_file(const std::string& path, const nlohmann::json& j, const std::string& op);

}  // namespace lathe::io
