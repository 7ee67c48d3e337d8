// Tokenizer: the encode pipeline (added tokens, normalizer, pre-tokenizer, model,
// post-processor) and decoding.
#include "lathe/text/tokenizer.h"

#include <fstream>
#include <sstream>

#include "lathe/core/error.h"
#include "lathe/text/tokenizer_impl.h"
#include "lathe/text/utf8.h"

namespace lathe::text {

void Tokenizer::Impl::encode(std::string_view text, bool add_special_tokens,
                             std::vector<int32_t>& out) const {
  size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw Error("[tokenizer] encode: input is not valid UTF-8 at byte " + std::to_string(bad));
  std::vector<Piece> pieces;
  added.extract_and_normalize(text, normalizer.get(), pieces);
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
  out.clear();
  for (auto& p : pieces) {
    if (p.token >= 0) {
      out.push_back(p.token);
    } else {
      model->tokenize(p.text, out);
    }
  }
  if (override_specials) {
    if (!add_special_tokens) return;
    if (special.add_bos && special.bos_id) out.insert(out.begin(), *special.bos_id);
    if (special.add_eos && !special.eos_ids.empty()) out.push_back(special.eos_ids[0]);
    return;
  }
  if (post_processor) post_processor->process(out, add_special_tokens);
}

const std::string* Tokenizer::Impl::id_to_token(int32_t id) const {
  if (const std::string* t = added.id_to_token(id)) return t;
  return model->id_to_token(id);
}

std::string Tokenizer::Impl::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string* t = id_to_token(id);
    if (!t) continue;
    if (skip_special_tokens && added.is_special(*t)) continue;
    tokens.push_back(*t);
  }
  std::string out;
  if (decoder) {
    decoder->decode_chain(tokens);
    for (auto& t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
  }
  return out;
}

Tokenizer Tokenizer::from_json(const std::string& json, const std::string& name) {
  return Tokenizer(parse_tokenizer_json(json, name));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("[tokenizer] cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str(), path);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> out;
  impl_->encode(text, add_special_tokens, out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens);
}

std::optional<int32_t> Tokenizer::token_to_id(const std::string& token) const {
  if (auto id = impl_->added.token_to_id(token)) return id;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const std::string* t = impl_->id_to_token(id);
  if (!t) return std::nullopt;
  return *t;
}

bool Tokenizer::is_special_id(int32_t id) const {
  const std::string* t = impl_->id_to_token(id);
  return t && impl_->added.is_special(*t);
}

size_t Tokenizer::vocab_size() const {
  size_t n = impl_->model->vocab_size();
  int32_t m = impl_->added.max_id();
  return m >= 0 && static_cast<size_t>(m) + 1 > n ? static_cast<size_t>(m) + 1 : n;
}

const SpecialTokens& Tokenizer::special_tokens() const { return impl_->special; }

}  // namespace lathe::text
