// GPT-2's byte-level scheme: every byte shown as a printable character, and its pre-tokenizer
// and decoder.
#include <array>

#include "lathe/text/components.h"
#include "lathe/text/regex.h"
#include "lathe/text/utf8.h"

namespace lathe::text {

namespace {

struct ByteTable {
  std::array<std::string, 256> to_char;
  std::array<int, 512> to_byte;
  ByteTable() {
    to_byte.fill(-1);
    std::array<char32_t, 256> cp{};
    std::array<bool, 256> direct{};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) cp[b] = direct[b] ? b : 256 + n++;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = to_utf8(cp[b]);
      to_byte[cp[b]] = b;
    }
  }
};

const ByteTable& table() {
  static const ByteTable t;
  return t;
}

constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    static const Regex re(kGpt2Pattern, "ByteLevel");
    std::vector<Piece> out;
    out.reserve(pieces.size() * 4);
    std::vector<std::pair<size_t, size_t>> m;
    for (auto& p : pieces) {
      if (p.token >= 0) {
        out.push_back(std::move(p));
        continue;
      }
      if (add_prefix_space_ && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, " ");
      size_t first = out.size();
      if (use_regex_) {
        re.find_all(p.text, m);
        // Isolated: matches and the gaps between them are all pieces.
        size_t prev = 0;
        for (auto [b, e] : m) {
          if (prev != b) out.push_back({p.text.substr(prev, b - prev), p.orig + prev, -1});
          out.push_back({p.text.substr(b, e - b), p.orig + b, -1});
          prev = e;
        }
        if (prev != p.text.size()) out.push_back({p.text.substr(prev), p.orig + prev, -1});
      } else if (!p.text.empty()) {
        out.push_back(std::move(p));
      }
      for (size_t k = first; k < out.size(); ++k) {
        std::string mapped;
        mapped.reserve(out[k].text.size() * 2);
        for (unsigned char b : out[k].text) mapped += table().to_char[b];
        out[k].text.swap(mapped);
      }
    }
    pieces.swap(out);
  }

 private:
  bool add_prefix_space_, use_regex_;
};

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (auto& t : tokens) {
      size_t start = bytes.size();
      bool all = true;
      for (size_t i = 0; i < t.size();) {
        char32_t c = next_codepoint(t, i);
        int b = unicode_to_byte(c);
        if (b < 0) {
          all = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!all) {
        bytes.resize(start);
        bytes += t;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return table().to_char[b]; }

int unicode_to_byte(char32_t c) { return c < 512 ? table().to_byte[c] : -1; }

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPre>(add_prefix_space, use_regex);
}

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }

}  // namespace lathe::text
