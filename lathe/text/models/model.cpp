// Chooses the model implementation from tokenizer.json's "model" object.
#include "lathe/text/components.h"

namespace lathe::text {

std::unique_ptr<Model> make_bpe(const Json& j, const JsonPath& at);
std::unique_ptr<Model> make_wordpiece(const Json& j, const JsonPath& at);
std::unique_ptr<Model> make_unigram(const Json& j, const JsonPath& at);

std::unique_ptr<Model> make_model(const Json& j, const JsonPath& at) {
  if (!j.is_object()) at.fail("expected an object, got " + std::string(j.type_name()));
  std::string type;
  if (j.contains("type")) {
    type = get_string(j, at, "type");
  } else if (j.contains("merges")) {
    type = "BPE";  // files written before models were tagged
  } else if (j.contains("vocab") && j["vocab"].is_array()) {
    type = "Unigram";
  } else if (j.contains("continuing_subword_prefix")) {
    type = "WordPiece";
  } else {
    (at / "type").fail("missing, and the model kind cannot be inferred");
  }
  if (type == "BPE") return make_bpe(j, at);
  if (type == "WordPiece") return make_wordpiece(j, at);
  if (type == "Unigram") return make_unigram(j, at);
  (at / "type").fail("unsupported model type '" + type + "'");
}

}  // namespace lathe::text
