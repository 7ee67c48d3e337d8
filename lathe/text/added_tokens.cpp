// AddedVocabulary: registration, the leftmost-longest matcher and the splitting rules.
#include "lathe/text/added_tokens.h"

#include <algorithm>

#include "lathe/text/utf8.h"

namespace lathe::text {

void AddedVocabulary::Matcher::clear() {
  nodes_.assign(1, Node{});
  std::fill(std::begin(first_byte_), std::end(first_byte_), false);
}

void AddedVocabulary::Matcher::insert(const std::string& pattern, int32_t id) {
  if (pattern.empty()) return;
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
  int32_t n = 0;
  for (unsigned char c : pattern) {
    int32_t next = -1;
    for (auto& [k, v] : nodes_[n].kids)
      if (k == c) next = v;
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[n].kids.emplace_back(c, next);
      nodes_.emplace_back();
    }
    n = next;
  }
  nodes_[n].value = id;
}

void AddedVocabulary::Matcher::find(std::string_view s,
                                    std::vector<std::tuple<size_t, size_t, int32_t>>& out) const {
  out.clear();
  if (empty()) return;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!first_byte_[static_cast<unsigned char>(s[pos])]) {
      ++pos;
      continue;
    }
    int32_t n = 0, best = -1;
    size_t best_end = 0;
    for (size_t i = pos; i < s.size(); ++i) {
      int32_t next = -1;
      auto c = static_cast<unsigned char>(s[i]);
      for (auto& [k, v] : nodes_[n].kids)
        if (k == c) next = v;
      if (next < 0) break;
      n = next;
      if (nodes_[n].value >= 0) {
        best = nodes_[n].value;
        best_end = i + 1;
      }
    }
    if (best >= 0) {
      out.emplace_back(pos, best_end, best);
      pos = best_end;
    } else {
      ++pos;
    }
  }
}

void AddedVocabulary::add(const std::vector<AddedToken>& tokens, const Model& model,
                          const Normalizer* norm) {
  auto vocab = static_cast<int64_t>(model.vocab_size());
  int64_t next_id = vocab;
  if (!by_id_.empty()) {
    int64_t mx = max_id();
    next_id = (mx >= vocab || vocab == 0) ? mx + 1 : vocab;
  }
  for (const AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    auto known = by_content_.find(t.content);
    if (known != by_content_.end()) {
      const AddedToken& o = by_id_[known->second];
      if (o.single_word == t.single_word && o.lstrip == t.lstrip && o.rstrip == t.rstrip &&
          o.normalized == t.normalized && o.special == t.special)
        continue;
    }
    int32_t id;
    if (known != by_content_.end()) {
      id = known->second;
    } else if (auto m = model.token_to_id(t.content)) {
      id = *m;
    } else {
      id = static_cast<int32_t>(next_id++);
    }
    if (t.normalized && norm) {
      std::string s = t.content;
      norm->normalize(s);
      if (s != t.content) normalized_form_[id] = s;
    }
    by_content_[t.content] = id;
    if (t.special) special_.insert(t.content);
    by_id_[id] = t;
  }
  rebuild();
}

void AddedVocabulary::rebuild() {
  raw_.clear();
  normalized_.clear();
  // Insert in id order so that, like a fresh automaton, equal patterns resolve the same way.
  std::vector<int32_t> ids;
  for (auto& [id, t] : by_id_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (int32_t id : ids) {
    const AddedToken& t = by_id_[id];
    if (t.normalized) {
      auto it = normalized_form_.find(id);
      normalized_.insert(it == normalized_form_.end() ? t.content : it->second, id);
    } else {
      raw_.insert(t.content, id);
    }
  }
}

int32_t AddedVocabulary::max_id() const {
  int32_t m = -1;
  for (auto& [id, t] : by_id_) m = std::max(m, id);
  return m;
}

const std::string* AddedVocabulary::id_to_token(int32_t id) const {
  auto n = normalized_form_.find(id);
  if (n != normalized_form_.end()) return &n->second;
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second.content;
}

std::optional<int32_t> AddedVocabulary::token_to_id(const std::string& content) const {
  auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

namespace {

char32_t last_char(std::string_view s) {
  size_t k = s.size() - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  size_t i = k;
  return next_codepoint(s, i);
}

char32_t first_char(std::string_view s) {
  size_t i = 0;
  return next_codepoint(s, i);
}

}  // namespace

void AddedVocabulary::split(const Piece& piece, const Matcher& m, std::vector<Piece>& out) const {
  const std::string& s = piece.text;
  if (m.empty()) {
    if (!s.empty()) out.push_back(piece);
    return;
  }
  thread_local std::vector<std::tuple<size_t, size_t, int32_t>> found;
  m.find(s, found);
  size_t start_offset = 0;
  auto emit = [&](size_t b, size_t e, int32_t id) {
    if (e > b) out.push_back({s.substr(b, e - b), piece.orig + b, id});
  };
  for (auto [start, stop, id] : found) {
    const AddedToken& t = by_id_.at(id);
    if (t.single_word) {
      bool start_ok = start == 0 || !is_word_char(last_char(std::string_view(s).substr(0, start)));
      bool stop_ok =
          stop == s.size() || !is_word_char(first_char(std::string_view(s).substr(stop)));
      if (!start_ok || !stop_ok) continue;
    }
    if (t.lstrip) {
      size_t b = start;
      while (b > 0) {
        size_t k = b - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t i = k;
        if (!is_whitespace(next_codepoint(s, i))) break;
        b = k;
      }
      start = std::max(b, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t i = stop;
        if (!is_whitespace(next_codepoint(s, i))) break;
        stop = i;
      }
    }
    if (start_offset < start) emit(start_offset, start, -1);
    emit(start, stop, id);
    start_offset = stop;
  }
  if (start_offset < s.size()) emit(start_offset, s.size(), -1);
}

void AddedVocabulary::extract_and_normalize(std::string_view text, const Normalizer* norm,
                                            std::vector<Piece>& out) const {
  out.clear();
  if (text.empty()) return;
  std::vector<Piece> first;
  split(Piece{std::string(text), 0, -1}, raw_, first);
  for (auto& p : first) {
    if (p.token >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    if (norm) norm->normalize(p.text);
    split(p, normalized_, out);
  }
}

}  // namespace lathe::text
