#include "text/clip_tokenizer.h"

#include <algorithm>
#include <queue>
#include <tuple>

#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "text/byte_unicode.h"
#include "text/clip_normalize.h"
#include "text/tokenizer_files.h"

namespace ls::text {
namespace {

constexpr std::string_view kBos = "<|startoftext|>";
constexpr std::string_view kEos = "<|endoftext|>";
constexpr std::string_view kEow = "</w>";
constexpr int64_t kMaxId = int64_t{1} << 22;      // refuse absurd ids (would mean a huge id table)
constexpr size_t kCacheMaxEntries = 50000;        // cleared when full
constexpr size_t kCacheMaxWordBytes = 256;        // longer words are not cached

std::string shorten(std::string_view s, size_t n = 60) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

// Decode one code point of valid-ish UTF-8 at s[i]; advances i. Ill-formed bytes come back as 0xFFFFFFFF.
char32_t next_code_point(std::string_view s, size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) { ++i; return 0xFFFFFFFF; }
  char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) { ++i; return 0xFFFFFFFF; }
    cp = (cp << 6) | (b & 0x3F);
  }
  i += len;
  return cp;
}

}  // namespace

ClipTokenizer::ClipTokenizer(const std::string& dir) {
  std::string vocab_path = dir + "/vocab.json", merges_path = dir + "/merges.txt";
  std::string vocab = read_text_file(vocab_path);
  std::string merges = read_text_file(merges_path);
  load(vocab, merges, vocab_path, merges_path);
}

ClipTokenizer::ClipTokenizer(std::string_view vocab_json, std::string_view merges_txt, const std::string& vocab_name,
                             const std::string& merges_name) {
  load(vocab_json, merges_txt, vocab_name, merges_name);
}

ClipTokenizer::~ClipTokenizer() = default;
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;

void ClipTokenizer::load(std::string_view vocab_json, std::string_view merges_txt, const std::string& vocab_name,
                         const std::string& merges_name) {
  // ---- vocab.json
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(vocab_json.begin(), vocab_json.end());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", vocab_name, e.what());
  }
  if (!j.is_object()) fail("{}: expected a JSON object mapping token -> id, got a JSON {}", vocab_name, j.type_name());
  if (j.empty()) fail("{}: the vocabulary is empty", vocab_name);
  vocab_.reserve(j.size() * 2);
  int64_t max_id = -1;
  for (const auto& [tok, v] : j.items()) {
    if (!v.is_number_integer()) fail("{}: token '{}': id must be an integer, got {}", vocab_name, shorten(tok), shorten(v.dump()));
    int64_t id = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), kMaxId)) : v.get<int64_t>();
    if (id < 0 || id >= kMaxId) fail("{}: token '{}': id {} out of range [0, {})", vocab_name, shorten(tok), v.dump(), kMaxId);
    if (tok.empty()) fail("{}: id {}: empty token string", vocab_name, id);
    vocab_.emplace(tok, static_cast<int>(id));
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [tok, id] : vocab_) {
    std::string& slot = id_to_token_[static_cast<size_t>(id)];
    if (!slot.empty()) fail("{}: id {} used by two tokens, '{}' and '{}'", vocab_name, id, shorten(slot), shorten(tok));
    slot = tok;
  }
  auto need = [&](const std::string& tok, const char* what) {
    auto it = vocab_.find(tok);
    if (it == vocab_.end()) fail("{}: missing {} '{}'", vocab_name, what, tok);
    return it->second;
  };
  bos_id_ = need(std::string(kBos), "special token");
  eos_id_ = need(std::string(kEos), "special token");
  for (int b = 0; b < 256; ++b) {
    const std::string& sym = byte_to_symbol(static_cast<uint8_t>(b));
    byte_id_[b] = need(sym, "byte symbol");
    byte_eow_id_[b] = need(sym + std::string(kEow), "end-of-word byte symbol");
  }

  // ---- merges.txt
  merges_.reserve(merges_txt.size() / 8);
  int rank = 0;
  size_t line_no = 0;
  for (size_t pos = 0; pos < merges_txt.size();) {
    size_t eol = merges_txt.find('\n', pos);
    if (eol == std::string_view::npos) eol = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.starts_with("#version")) continue;
    size_t sp = line.find(' ');
    std::string_view left = sp == std::string_view::npos ? line : line.substr(0, sp);
    std::string_view right = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    if (left.empty() || right.empty() || right.find(' ') != std::string_view::npos)
      fail("{}: line {}: expected 'left right' (two tokens separated by one space), got '{}'", merges_name, line_no, shorten(line));
    auto find_tok = [&](std::string_view t) {
      auto it = vocab_.find(std::string(t));
      if (it == vocab_.end()) fail("{}: line {}: token '{}' is not in the vocabulary", merges_name, line_no, shorten(t));
      return it->second;
    };
    int l = find_tok(left), r = find_tok(right);
    std::string joined = std::string(left) + std::string(right);
    int m = find_tok(joined);
    merges_[pair_key(l, r)] = Merge{rank++, m};  // a repeated rule keeps its last rank, like the reference
  }
}

const std::string& ClipTokenizer::token(int id) const {
  if (id < 0 || id >= vocab_size()) fail("tokenizer: id {} out of range [0, {})", id, vocab_size());
  return id_to_token_[static_cast<size_t>(id)];
}

std::vector<int> ClipTokenizer::encode(const std::string& text) const {
  std::vector<int> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t b = rest.find(kBos), e = rest.find(kEos);
    size_t at = std::min(b, e);
    if (at == std::string_view::npos) {
      encode_segment(rest, out);
      break;
    }
    encode_segment(rest.substr(0, at), out);
    bool is_bos = at == b;
    out.push_back(is_bos ? bos_id_ : eos_id_);
    rest.remove_prefix(at + (is_bos ? kBos.size() : kEos.size()));
  }
  return out;
}

std::vector<int64_t> ClipTokenizer::encode_padded(const std::string& text, int max_len, int pad_id) const {
  if (max_len < 2) fail("tokenizer: max_len {} too small: need room for BOS and EOS", max_len);
  if (pad_id < -1) fail("tokenizer: pad id {} is negative (use -1 for EOS)", pad_id);
  std::vector<int> toks = encode(text);
  size_t keep = std::min(toks.size(), static_cast<size_t>(max_len - 2));
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(max_len));
  ids.push_back(bos_id_);
  ids.insert(ids.end(), toks.begin(), toks.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_id_);
  ids.resize(static_cast<size_t>(max_len), pad_id == -1 ? eos_id_ : pad_id);
  return ids;
}

void ClipTokenizer::encode_segment(std::string_view text, std::vector<int>& out) const {
  if (text.empty()) return;
  std::string normalized = clip_normalize(text);
  for (std::string_view word : pretok_.split(normalized)) bpe_word(word, out);
}

void ClipTokenizer::bpe_word(std::string_view word, std::vector<int>& out) const {
  bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->ids.find(std::string(word));
    if (it != cache_->ids.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> ids = bpe_uncached(word);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->ids.size() >= kCacheMaxEntries) cache_->ids.clear();
    cache_->ids.emplace(std::string(word), std::move(ids));
  }
}

// Byte-level BPE of one word: symbols start as single bytes ("</w>" on the last), then the adjacent pair
// with the lowest merge rank is merged (leftmost first among equal ranks) until no pair has a rule.
// A min-heap of candidate pairs over a linked list of symbols gives O(n log n) for long words; stale heap
// entries are recognised by re-checking that both symbols are still adjacent with the recorded ids.
std::vector<int> ClipTokenizer::bpe_uncached(std::string_view word) const {
  const size_t n = word.size();
  std::vector<int> id(n), next(n), prev(n);
  for (size_t i = 0; i < n; ++i) {
    auto b = static_cast<unsigned char>(word[i]);
    id[i] = i + 1 == n ? byte_eow_id_[b] : byte_id_[b];
    next[i] = i + 1 < n ? static_cast<int>(i + 1) : -1;
    prev[i] = static_cast<int>(i) - 1;
  }
  using Cand = std::tuple<int, int, int, int>;  // rank, left position, left id, right id
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int p) {
    if (p < 0 || next[p] < 0) return;
    auto it = merges_.find(pair_key(id[p], id[next[p]]));
    if (it != merges_.end()) heap.emplace(it->second.rank, p, id[p], id[next[p]]);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int>(i));
  std::vector<char> alive(n, 1);
  while (!heap.empty()) {
    auto [rank, p, l, r] = heap.top();
    heap.pop();
    if (!alive[p] || id[p] != l || next[p] < 0 || id[next[p]] != r) continue;
    int q = next[p];
    id[p] = merges_.at(pair_key(l, r)).id;
    alive[q] = 0;
    next[p] = next[q];
    if (next[q] >= 0) prev[next[q]] = p;
    push(prev[p]);
    push(p);
  }
  std::vector<int> result;
  for (int p = n ? 0 : -1; p >= 0; p = next[p]) result.push_back(id[p]);
  return result;
}

std::string ClipTokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
  std::string out;
  for (int tid : ids) {
    if (skip_special && (tid == bos_id_ || tid == eos_id_)) continue;
    std::string_view tok = token(tid);
    bool eow = tok.ends_with(kEow);
    if (eow) tok.remove_suffix(kEow.size());
    for (size_t i = 0; i < tok.size();) {
      size_t start = i;
      char32_t cp = next_code_point(tok, i);
      int b = cp == 0xFFFFFFFF ? -1 : symbol_to_byte(cp);
      if (b >= 0) out += static_cast<char>(b);
      else out.append(tok.substr(start, i - start));  // not a byte symbol: keep the text
    }
    if (eow) out += ' ';
  }
  size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  size_t last = out.find_last_not_of(' ');
  return out.substr(first, last - first + 1);
}

std::string ClipTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::vector<int> narrow;
  narrow.reserve(ids.size());
  for (int64_t v : ids) {
    if (v < 0 || v >= vocab_size()) fail("tokenizer: id {} out of range [0, {})", v, vocab_size());
    narrow.push_back(static_cast<int>(v));
  }
  return decode(narrow, skip_special);
}

}  // namespace ls::text
