// Post-processors: the special tokens put around a single encoded sequence.
#include <sstream>

#include "lathe/text/components.h"

namespace lathe::text {

namespace {

// Adds fixed ids before and after the sequence (Template, Bert and Roberta all reduce to this
// for a single sequence).
class Surround : public PostProcessor {
 public:
  Surround(std::vector<int32_t> prefix, std::vector<int32_t> suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  void process(std::vector<int32_t>& ids, bool add_special_tokens) const override {
    if (!add_special_tokens) return;
    ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
    ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  }
  void special_ids(std::vector<int32_t>& prefix, std::vector<int32_t>& suffix) const override {
    prefix.insert(prefix.end(), prefix_.begin(), prefix_.end());
    suffix.insert(suffix.begin(), suffix_.begin(), suffix_.end());
  }

 private:
  std::vector<int32_t> prefix_, suffix_;
};

class Identity : public PostProcessor {
 public:
  void process(std::vector<int32_t>&, bool) const override {}
  void special_ids(std::vector<int32_t>&, std::vector<int32_t>&) const override {}
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> parts)
      : parts_(std::move(parts)) {}
  void process(std::vector<int32_t>& ids, bool add_special_tokens) const override {
    for (auto& p : parts_) p->process(ids, add_special_tokens);
  }
  void special_ids(std::vector<int32_t>& prefix, std::vector<int32_t>& suffix) const override {
    for (auto& p : parts_) p->special_ids(prefix, suffix);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

int32_t pair_id(const Json& j, const JsonPath& at, const char* key) {
  const Json& v = require(j, at, key);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer() ||
      v[1].get<int64_t>() < 0 || v[1].get<int64_t>() > INT32_MAX)
    (at / key).fail("expected [token, id]");
  return static_cast<int32_t>(v[1].get<int64_t>());
}

// The special token names of a template, in order, split around the $A sequence.
void template_names(const Json& single, const JsonPath& at, std::vector<std::string>& before,
                    std::vector<std::string>& after) {
  bool seen_seq = false;
  auto add = [&](const std::string& name) { (seen_seq ? after : before).push_back(name); };
  if (single.is_string()) {
    std::istringstream in(single.get<std::string>());
    std::string word;
    while (in >> word) {
      std::string name =
          word.substr(0, word.rfind(':') == std::string::npos ? word.size() : word.rfind(':'));
      if (name == "$" || name == "$A" || name == "$B" || name == "$0" || name == "$1") {
        seen_seq = true;
      } else {
        add(name);
      }
    }
    return;
  }
  if (!single.is_array()) at.fail("expected an array of template pieces");
  for (size_t i = 0; i < single.size(); ++i) {
    const Json& p = single[i];
    if (p.is_object() && p.contains("Sequence")) {
      seen_seq = true;
    } else if (p.is_object() && p.contains("SpecialToken") && p["SpecialToken"].is_object() &&
               p["SpecialToken"].contains("id") && p["SpecialToken"]["id"].is_string()) {
      add(p["SpecialToken"]["id"].get<std::string>());
    } else {
      at[i].fail("expected {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}");
    }
  }
}

std::unique_ptr<PostProcessor> make_template(const Json& j, const JsonPath& at) {
  std::vector<std::string> before, after;
  template_names(require(j, at, "single"), at / "single", before, after);
  const Json& specials = require(j, at, "special_tokens");
  if (!specials.is_object()) (at / "special_tokens").fail("expected an object");
  auto ids_of = [&](const std::vector<std::string>& names) {
    std::vector<int32_t> ids;
    for (auto& n : names) {
      if (!specials.contains(n))
        (at / "special_tokens").fail("no entry for template token '" + n + "'");
      const Json& e = specials[n];
      JsonPath here = at / "special_tokens" / n;
      const Json& list = require(e, here, "ids");
      if (!list.is_array()) (here / "ids").fail("expected an array");
      for (auto& id : list) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
          (here / "ids").fail("expected non-negative 32-bit ids");
        ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
      }
    }
    return ids;
  };
  return std::make_unique<Surround>(ids_of(before), ids_of(after));
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const JsonPath& at) {
  if (j.is_null()) return nullptr;
  std::string type = get_type(j, at);
  if (type == "TemplateProcessing") return make_template(j, at);
  if (type == "BertProcessing" || type == "RobertaProcessing")
    return std::make_unique<Surround>(std::vector<int32_t>{pair_id(j, at, "cls")},
                                      std::vector<int32_t>{pair_id(j, at, "sep")});
  if (type == "ByteLevel") return std::make_unique<Identity>();
  if (type == "Sequence") {
    const Json& list = require(j, at, "processors");
    if (!list.is_array()) (at / "processors").fail("expected an array");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], (at / "processors")[i]);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceProcessor>(std::move(parts));
  }
  (at / "type").fail("unsupported post_processor type '" + type + "'");
}

}  // namespace lathe::text
