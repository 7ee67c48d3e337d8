// Byte-pair encoding: merges applied by rank with a heap, byte fallback, unknown fusing and a
// word cache.
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "lathe/core/error.h"
#include "lathe/text/components.h"
#include "lathe/text/utf8.h"
#include "lathe/text/word_cache.h"

namespace lathe::text {

namespace {

struct MergeInfo {
  int32_t rank;
  int32_t new_id;
};

class Bpe : public Model {
 public:
  Bpe(std::unordered_map<std::string, int32_t> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, const JsonPath& at)
      : vocab_(std::move(vocab)) {
    for (auto& [tok, id] : vocab_) vocab_r_[id] = tok;
    merges_src_ = merges;
    at_ = std::make_unique<JsonPath>(at);
  }

  // Options arrive after construction; the merge map depends on continuing_subword_prefix.
  void finish(std::optional<std::string> unk, std::optional<std::string> prefix,
              std::optional<std::string> suffix, bool fuse_unk, bool byte_fallback,
              bool ignore_merges) {
    unk_ = std::move(unk);
    prefix_ = std::move(prefix);
    suffix_ = std::move(suffix);
    fuse_unk_ = fuse_unk;
    byte_fallback_ = byte_fallback;
    ignore_merges_ = ignore_merges;
    size_t prefix_len = prefix_ ? prefix_->size() : 0;
    for (size_t r = 0; r < merges_src_.size(); ++r) {
      auto& [a, b] = merges_src_[r];
      JsonPath here = (*at_ / "merges")[r];
      auto ia = vocab_.find(a), ib = vocab_.find(b);
      if (ia == vocab_.end()) here.fail("merge token '" + a + "' is not in the vocabulary");
      if (ib == vocab_.end()) here.fail("merge token '" + b + "' is not in the vocabulary");
      std::string merged = a + (b.size() >= prefix_len ? b.substr(prefix_len) : std::string());
      auto im = vocab_.find(merged);
      if (im == vocab_.end()) here.fail("merged token '" + merged + "' is not in the vocabulary");
      merges_[key(ia->second, ib->second)] = {static_cast<int32_t>(r), im->second};
    }
    merges_src_.clear();
    merges_src_.shrink_to_fit();
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto it = vocab_.find(name);
      byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }
    if (unk_) {
      auto it = vocab_.find(*unk_);
      unk_id_ = it == vocab_.end() ? -1 : it->second;
    }
  }

  void tokenize(const std::string& word, std::vector<int32_t>& out) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      auto it = vocab_.find(word);
      if (it != vocab_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    if (cache_.lookup(word, out)) return;
    size_t first = out.size();
    merge_word(word, out);
    cache_.store(word, out, first);
  }

  std::optional<int32_t> token_to_id(const std::string& t) const override {
    auto it = vocab_.find(t);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* id_to_token(int32_t id) const override {
    auto it = vocab_r_.find(id);
    return it == vocab_r_.end() ? nullptr : &it->second;
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  struct Symbol {
    int32_t id;
    int32_t prev, next;
    size_t len;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    // Heap order: lowest rank first, then leftmost position.
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };

  int32_t unk_id_or_throw() const {
    if (unk_id_ < 0)
      throw Error("[tokenizer] BPE unk_token '" + *unk_ + "' is not in the vocabulary");
    return unk_id_;
  }

  void merge_word(const std::string& w, std::vector<int32_t>& out) const {
    std::vector<Symbol> syms;
    syms.reserve(w.size());
    auto add = [&](int32_t id, size_t len) {
      int32_t n = static_cast<int32_t>(syms.size());
      syms.push_back({id, n - 1, -1, len});
      if (n > 0) syms[n - 1].next = n;
    };
    int32_t unk_id = -1;
    size_t unk_len = 0;
    std::string s;
    for (size_t i = 0; i < w.size();) {
      size_t b = i;
      next_codepoint(w, i);
      bool is_first = b == 0, is_last = i >= w.size();
      s.assign(w, b, i - b);
      size_t byte_len = s.size();
      if (!is_first && prefix_) s.insert(0, *prefix_);
      if (is_last && suffix_) s += *suffix_;
      auto it = vocab_.find(s);
      if (it != vocab_.end()) {
        if (unk_id >= 0) {
          add(unk_id, unk_len);
          unk_id = -1;
        }
        add(it->second, byte_len);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char c : s) all = all && byte_ids_[c] >= 0;
        if (all) {
          for (unsigned char c : s) add(byte_ids_[c], 1);
          continue;
        }
      }
      if (!unk_) continue;
      if (unk_id >= 0 && fuse_unk_) {
        unk_len += byte_len;
      } else {
        if (unk_id >= 0) add(unk_id, unk_len);
        unk_id = unk_id_or_throw();
        unk_len = byte_len;
      }
    }
    if (unk_id >= 0) add(unk_id, unk_len);

    std::vector<Candidate> heap;
    heap.reserve(syms.size());
    auto push = [&](int32_t pos) {
      int32_t nx = syms[pos].next;
      if (nx < 0) return;
      auto it = merges_.find(key(syms[pos].id, syms[nx].id));
      if (it == merges_.end()) return;
      heap.push_back({it->second.rank, pos, it->second.new_id});
      std::push_heap(heap.begin(), heap.end());
    };
    for (int32_t p = 0; p + 1 < static_cast<int32_t>(syms.size()); ++p) push(p);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end());
      Candidate top = heap.back();
      heap.pop_back();
      Symbol& cur = syms[top.pos];
      if (cur.len == 0 || cur.next < 0) continue;
      Symbol& right = syms[cur.next];
      auto it = merges_.find(key(cur.id, right.id));
      if (it == merges_.end() || it->second.new_id != top.new_id) continue;
      cur.id = top.new_id;
      cur.len += right.len;
      right.len = 0;
      cur.next = right.next;
      if (cur.next >= 0) syms[cur.next].prev = top.pos;
      if (cur.prev >= 0) push(cur.prev);
      push(top.pos);
    }
    for (auto& sym : syms)
      if (sym.len) out.push_back(sym.id);
  }

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<int32_t, std::string> vocab_r_;
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::vector<std::pair<std::string, std::string>> merges_src_;
  std::unique_ptr<JsonPath> at_;
  std::optional<std::string> unk_, prefix_, suffix_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::array<int32_t, 256> byte_ids_{};
  WordCache cache_;
};

std::optional<std::string> opt_string(const Json& j, const JsonPath& at, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_string()) (at / key).fail("expected a string or null");
  return j[key].get<std::string>();
}

std::unordered_map<std::string, int32_t> read_vocab(const Json& v, const JsonPath& at) {
  if (!v.is_object()) at.fail("expected an object of token: id");
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX)
      (at / it.key()).fail("expected a non-negative 32-bit id");
    vocab[it.key()] = static_cast<int32_t>(it.value().get<int64_t>());
  }
  return vocab;
}

bool split_merge_line(const std::string& line, std::pair<std::string, std::string>& out) {
  size_t sp = line.find(' ');
  if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos) return false;
  out = {line.substr(0, sp), line.substr(sp + 1)};
  return true;
}

}  // namespace

std::unique_ptr<Model> make_bpe(const Json& j, const JsonPath& at) {
  auto vocab = read_vocab(require(j, at, "vocab"), at / "vocab");
  const Json& m = require(j, at, "merges");
  if (!m.is_array()) (at / "merges").fail("expected an array");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    const Json& e = m[i];
    std::pair<std::string, std::string> pr;
    if (e.is_string()) {
      if (!split_merge_line(e.get<std::string>(), pr))
        (at / "merges")[i].fail("expected \"a b\" with exactly one space");
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      pr = {e[0].get<std::string>(), e[1].get<std::string>()};
    } else {
      (at / "merges")[i].fail("expected \"a b\" or [\"a\", \"b\"]");
    }
    merges.push_back(std::move(pr));
  }
  auto bpe = std::make_unique<Bpe>(std::move(vocab), merges, at);
  bpe->finish(opt_string(j, at, "unk_token"), opt_string(j, at, "continuing_subword_prefix"),
              opt_string(j, at, "end_of_word_suffix"), get_bool_or(j, at, "fuse_unk", false),
              get_bool_or(j, at, "byte_fallback", false),
              get_bool_or(j, at, "ignore_merges", false));
  return bpe;
}

std::unique_ptr<Model> make_bpe_from_files(const std::string& vocab_path,
                                           const std::string& merges_path) {
  std::ifstream vf(vocab_path);
  if (!vf) throw Error("[tokenizer] cannot open " + vocab_path);
  Json vj = Json::parse(vf, nullptr, false);
  if (vj.is_discarded()) throw Error("[tokenizer] " + vocab_path + ": invalid JSON");
  auto vocab = read_vocab(vj, JsonPath(vocab_path, ""));
  std::ifstream mf(merges_path);
  if (!mf) throw Error("[tokenizer] cannot open " + merges_path);
  std::vector<std::pair<std::string, std::string>> merges;
  std::string line;
  size_t lineno = 0;
  while (std::getline(mf, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    std::pair<std::string, std::string> pr;
    if (!split_merge_line(line, pr))
      throw Error("[tokenizer] " + merges_path + ": line " + std::to_string(lineno) +
                  ": expected \"a b\" with exactly one space");
    merges.push_back(std::move(pr));
  }
  auto bpe = std::make_unique<Bpe>(std::move(vocab), merges, JsonPath(merges_path, ""));
  bpe->finish(std::nullopt, std::nullopt, std::nullopt, false, false, false);
  return bpe;
}

}  // namespace lathe::text
