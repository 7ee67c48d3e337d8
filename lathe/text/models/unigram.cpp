// Unigram language model: the Viterbi best segmentation over vocabulary pieces.
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "lathe/core/error.h"
#include "lathe/text/components.h"
#include "lathe/text/utf8.h"
#include "lathe/text/word_cache.h"

namespace lathe::text {

namespace {

constexpr double kUnkPenalty = 10.0;

class Unigram : public Model {
 public:
  Unigram(std::vector<std::pair<std::string, double>> pieces, int64_t unk_id, bool byte_fallback)
      : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    min_score_ = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < pieces_.size(); ++i) {
      ids_[pieces_[i].first] = static_cast<int32_t>(i);
      max_len_ = std::max(max_len_, pieces_[i].first.size());
      min_score_ = std::min(min_score_, pieces_[i].second);
    }
  }

  void tokenize(const std::string& s, std::vector<int32_t>& out) const override {
    if (s.empty() || cache_.lookup(s, out)) return;
    size_t first = out.size();
    viterbi(s, out);
    cache_.store(s, out, first);
  }

 private:
  void viterbi(const std::string& s, std::vector<int32_t>& out) const {
    struct Node {
      int32_t id = 0;
      double score = 0;
      int64_t start = -1;
    };
    const double unk_score = min_score_ - kUnkPenalty;
    std::vector<Node> best(s.size() + 1);
    std::string key;
    for (size_t at = 0; at < s.size();) {
      double base = best[at].score;
      size_t mblen = utf8_len(static_cast<unsigned char>(s[at]));
      bool single = false;
      // Every vocabulary piece that is a prefix of s[at:], shortest first.
      for (size_t end = at + mblen; end <= s.size() && end - at <= max_len_;) {
        key.assign(s, at, end - at);
        auto it = ids_.find(key);
        if (it != ids_.end()) {
          double cand = base + pieces_[it->second].second;
          Node& n = best[end];
          if (n.start < 0 || cand > n.score) n = {it->second, cand, static_cast<int64_t>(at)};
          if (end - at == mblen) single = true;
        }
        if (end == s.size()) break;
        end += utf8_len(static_cast<unsigned char>(s[end]));
      }
      if (!single) {
        if (unk_id_ < 0) throw Error("[tokenizer] Unigram has no unk_id for an unknown piece");
        Node& n = best[at + mblen];
        double cand = base + unk_score;
        if (n.start < 0 || cand > n.score)
          n = {static_cast<int32_t>(unk_id_), cand, static_cast<int64_t>(at)};
      }
      at += mblen;
    }
    // Walk back, fusing consecutive unknown pieces into one string.
    std::vector<std::string> strs;
    std::string unk_run;
    bool in_unk = false;
    for (size_t end = s.size(); end > 0;) {
      const Node& n = best[end];
      size_t start = static_cast<size_t>(n.start);
      if (n.id == unk_id_) {
        unk_run.insert(0, s, start, end - start);
        in_unk = true;
      } else {
        if (in_unk) {
          strs.push_back(std::move(unk_run));
          unk_run.clear();
          in_unk = false;
        }
        strs.push_back(s.substr(start, end - start));
      }
      end = start;
    }
    if (in_unk) strs.push_back(std::move(unk_run));
    for (size_t k = strs.size(); k-- > 0;) {
      const std::string& t = strs[k];
      auto it = ids_.find(t);
      if (it != ids_.end()) {
        out.push_back(it->second);
        continue;
      }
      if (byte_fallback_) {
        std::vector<int32_t> bytes;
        for (unsigned char c : t) {
          char name[8];
          std::snprintf(name, sizeof(name), "<0x%02X>", c);
          auto b = ids_.find(name);
          if (b == ids_.end()) break;
          bytes.push_back(b->second);
        }
        if (bytes.size() == t.size()) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      if (unk_id_ < 0) throw Error("[tokenizer] Unigram has no unk_id for an unknown piece");
      out.push_back(static_cast<int32_t>(unk_id_));
    }
  }

 public:
  std::optional<int32_t> token_to_id(const std::string& t) const override {
    auto it = ids_.find(t);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return nullptr;
    return &pieces_[id].first;
  }
  size_t vocab_size() const override { return pieces_.size(); }

 private:
  std::vector<std::pair<std::string, double>> pieces_;
  std::unordered_map<std::string, int32_t> ids_;
  int64_t unk_id_;
  bool byte_fallback_;
  double min_score_;
  size_t max_len_ = 0;
  WordCache cache_;
};

}  // namespace

std::unique_ptr<Model> make_unigram(const Json& j, const JsonPath& at) {
  const Json& v = require(j, at, "vocab");
  if (!v.is_array()) (at / "vocab").fail("expected an array of [piece, score]");
  std::vector<std::pair<std::string, double>> pieces;
  pieces.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const Json& e = v[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
      (at / "vocab")[i].fail("expected [piece, score]");
    pieces.emplace_back(e[0].get<std::string>(), e[1].get<double>());
  }
  int64_t unk = -1;
  if (j.contains("unk_id") && !j["unk_id"].is_null()) {
    unk = get_int(j, at, "unk_id");
    if (pieces.empty()) (at / "vocab").fail("empty vocabulary with an unk_id");
    if (unk < 0 || unk >= static_cast<int64_t>(pieces.size()))
      (at / "unk_id").fail("out of range for a vocabulary of " + std::to_string(pieces.size()));
  }
  return std::make_unique<Unigram>(std::move(pieces), unk,
                                   get_bool_or(j, at, "byte_fallback", false));
}

}  // namespace lathe::text
