// The emoji tokenizer trainer (tools/emoji/tokenizer.mjs, Node.js) against lorastack's CLIP tokenizer:
// a tiny caption folder in build.mjs's kohya layout is trained on, and the result must load unchanged and
// encode as CLIP BPE does (an independent reference implementation of OpenAI's simple_tokenizer bpe() below,
// and three examples worked by hand from the merges).
#include <gtest/gtest.h>

#include "../common/temp_dir.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "text/byte_unicode.h"
#include "text/clip_normalize.h"
#include "text/clip_pretokenize.h"
#include "text/clip_tokenizer.h"
#include "text/tokenizer_files.h"

namespace fs = std::filesystem;
using ls::text::ClipTokenizer;

namespace {

using ls::testing::TempDir;
void write(const fs::path& p, const std::string& s) { ls::testing::write_file(p, s); }

// `node` on PATH, or "" when there is none.
std::string find_node() {
  const char* env = std::getenv("PATH");
  std::stringstream dirs(env ? env : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    fs::path p = fs::path(dir) / "node";
    if (::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p)) return p.string();
  }
  return "";
}

// Captions: one or two per set, as build.mjs writes them (no trailing newline). Word counts (each caption once,
// the character set's 10 repeats not applied): grinning 4, face 4, "," 3, cat 2, omlineart 1, lscat 1, at 1, night 1.
const std::map<std::string, std::string> kCaptions = {
    {"base/1_twemoji/1f600.txt", "grinning face"},
    {"base/1_twemoji/1f431.txt", "cat face"},
    {"style/1_omlineart/1f600.txt", "omlineart, grinning face"},
    {"character/10_lscat/1f638.txt", "lscat cat, grinning"},
    {"lighting/1_night/1f600.txt", "at night, grinning face"},
};
const std::vector<std::string> kCorpusWords = {"grinning", "face", ",", "cat", "omlineart", "lscat", "at", "night"};

// The merges worked by hand (most frequent pair first; ties: smaller left token, then smaller right token):
// "i n" 9 (8 in grinning + omlineart); then at 4: "a c" (a < ac/f/g/in/n/r; c < t</w>), "a t</w>" (cat 2, lscat, at),
// "ac e</w>", "f ace</w>", "g r", "gr in", "grin n", "grinn in", "grinnin g</w>"; "c at</w>" 3; then all at 1 in
// string order: "a r", "ar t</w>", "e art</w>", "g h", "gh t</w>", "i ght</w>", "in eart</w>", "l ineart</w>",
// "l s", "ls cat</w>", "m lineart</w>", "n ight</w>", "o mlineart</w>".
const std::vector<std::string> kMerges = {
    "i n",        "a c",        "a t</w>",     "ac e</w>",    "f ace</w>",     "g r",          "gr in",  "grin n",
    "grinn in",   "grinnin g</w>", "c at</w>", "a r",         "ar t</w>",      "e art</w>",    "g h",    "gh t</w>",
    "i ght</w>",  "in eart</w>", "l ineart</w>", "l s",       "ls cat</w>",    "m lineart</w>", "n ight</w>",
    "o mlineart</w>"};

// Reference CLIP BPE of one word (OpenAI CLIP simple_tokenizer.py bpe(), written independently of
// ClipTokenizer): byte symbols with "</w>" on the last; while an adjacent pair has a rule, take the
// lowest-ranked pair and merge all its occurrences left to right.
std::vector<std::string> reference_bpe(const std::string& word, const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> sym;
  for (unsigned char b : word) sym.push_back(ls::text::byte_to_symbol(b));
  sym.back() += "</w>";
  for (;;) {
    int best = INT_MAX;
    std::pair<std::string, std::string> pair;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = ranks.find({sym[i], sym[i + 1]});
      if (it != ranks.end() && it->second < best) best = it->second, pair = it->first;
    }
    if (best == INT_MAX) return sym;
    std::vector<std::string> next;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == pair.first && sym[i + 1] == pair.second) {
        next.push_back(pair.first + pair.second);
        ++i;
      } else {
        next.push_back(sym[i]);
      }
    }
    sym = std::move(next);
  }
}

class EmojiTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string node = find_node();
    if (node.empty()) return;
    tmp_ = new TempDir();
    for (const auto& [rel, text] : kCaptions) write(tmp_->path / "data" / rel, text);
    write(tmp_->path / "data" / "base.manifest.json", "{}");  // not a caption folder: ignored
    fs::path log = tmp_->path / "tokenizer.log";
    std::string cmd = "'" + node + "' '" + std::string(LS_SOURCE_DIR) + "/tools/emoji/tokenizer.mjs' --data '" +
                      (tmp_->path / "data").string() + "' --out '" + (tmp_->path / "tok").string() + "' > '" +
                      log.string() + "' 2>&1";
    status_ = std::system(cmd.c_str());
    std::ifstream in(log);
    output_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (!tmp_) GTEST_SKIP() << "node is not on PATH";
    ASSERT_EQ(status_, 0) << output_;
    tok_dir_ = (tmp_->path / "tok").string();
    vocab_ = nlohmann::json::parse(ls::text::read_text_file(tok_dir_ + "/vocab.json"));
  }
  int id_of(const std::string& token) const {
    EXPECT_TRUE(vocab_.contains(token)) << token;
    return vocab_.value(token, -1);
  }
  std::vector<int> ids_of(const std::vector<std::string>& tokens) const {
    std::vector<int> ids;
    for (const auto& t : tokens) ids.push_back(id_of(t));
    return ids;
  }

  static inline TempDir* tmp_ = nullptr;
  static inline int status_ = -1;
  static inline std::string output_;
  std::string tok_dir_;
  nlohmann::json vocab_;
};

TEST_F(EmojiTokenizer, FilesInClipLayout) {
  EXPECT_NE(output_.find("5 captions, 8 distinct words (17 in all), 24 merges, vocab size 538"), std::string::npos) << output_;
  std::string merges = ls::text::read_text_file(tok_dir_ + "/merges.txt");
  std::string expected = "#version: 0.2\n";
  for (const auto& m : kMerges) expected += m + "\n";
  EXPECT_EQ(merges, expected);
  ASSERT_EQ(vocab_.size(), 512u + kMerges.size() + 2);
  for (size_t i = 0; i < kMerges.size(); ++i) {
    std::string joined = kMerges[i];
    joined.erase(joined.find(' '), 1);
    EXPECT_EQ(id_of(joined), static_cast<int>(512 + i)) << joined;  // one entry per merge, in merge order
  }
  auto special = nlohmann::json::parse(ls::text::read_text_file(tok_dir_ + "/special_tokens_map.json"));
  EXPECT_EQ(special["pad_token"], "<|endoftext|>");
  auto config = nlohmann::json::parse(ls::text::read_text_file(tok_dir_ + "/tokenizer_config.json"));
  EXPECT_EQ(config["model_max_length"], 77);
  EXPECT_EQ(config["tokenizer_class"], "CLIPTokenizer");
}

TEST_F(EmojiTokenizer, LoadsWithSpecialTokensLast) {
  ClipTokenizer tok(tok_dir_);
  EXPECT_EQ(tok.vocab_size(), 538);
  EXPECT_EQ(tok.num_merges(), kMerges.size());
  EXPECT_EQ(tok.bos_id(), tok.vocab_size() - 2);
  EXPECT_EQ(tok.eos_id(), tok.vocab_size() - 1);
  EXPECT_EQ(tok.token(tok.bos_id()), "<|startoftext|>");
  EXPECT_EQ(tok.token(tok.eos_id()), "<|endoftext|>");
  EXPECT_EQ(tok.encode("<|startoftext|>cat<|endoftext|>"), (std::vector<int>{536, id_of("cat</w>"), 537}));
  std::vector<int64_t> padded = tok.encode_padded("lscat cat, grinning");
  ASSERT_EQ(padded.size(), 77u);
  EXPECT_EQ(padded[0], 536);
  EXPECT_EQ(padded[1], id_of("lscat</w>"));
  EXPECT_EQ(padded[5], 537);
  EXPECT_EQ(padded[76], 537);
}

TEST_F(EmojiTokenizer, EveryCorpusWordIsOneToken) {
  ClipTokenizer tok(tok_dir_);
  for (const auto& w : kCorpusWords) EXPECT_EQ(tok.encode(w), std::vector<int>{id_of(w + "</w>")}) << w;
  ls::text::ClipPreTokenizer pretok;
  for (const auto& [rel, caption] : kCaptions) {
    std::vector<int> expected;  // one id per word of the caption
    for (std::string_view word : pretok.split(caption)) expected.push_back(id_of(std::string(word) + "</w>"));
    EXPECT_EQ(tok.encode(caption), expected) << rel << ": " << caption;
  }
  EXPECT_EQ(tok.encode("Grinning  FACE"), ids_of({"grinning</w>", "face</w>"}));  // normalised first
}

TEST_F(EmojiTokenizer, UnseenWordFallsBackToBytes) {
  ClipTokenizer tok(tok_dir_);
  // No corpus pair occurs in "zebra" (z e, e b, b r, r a</w>), so it stays five byte-level tokens.
  std::vector<int> ids = tok.encode("zebra");
  EXPECT_EQ(ids, ids_of({"z", "e", "b", "r", "a</w>"}));
  EXPECT_EQ(ids[0], 'z' - '!');          // byte symbols keep CLIP's ids 0..255
  EXPECT_EQ(ids[4], 256 + ('a' - '!'));  // and 256..511 with "</w>"
  EXPECT_EQ(tok.decode(ids), "zebra");
  EXPECT_EQ(tok.decode(tok.encode("zebra \xF0\x9F\x98\x80 ünï")), "zebra \xF0\x9F\x98\x80 ünï");  // any UTF-8 survives
}

// Worked by hand from kMerges (ranks 0..23), applying the lowest-ranked rule present each step:
//  "grin":  g r i n</w> -> g r (5) -> gr i n</w>; "i n" (0) needs "n", not "n</w>"; no rule for "gr i"
//           => gr | i | n</w>
//  "Heart-faces!": normalised "heart-faces!", words heart, -, faces, !
//           heart: h e a r t</w> -> a r (11) -> h e ar t</w> -> ar t</w> (12) -> h e art</w> -> e art</w> (13)
//                  -> h eart</w> => h | eart</w>
//           faces: f a c e s</w> -> a c (1) -> f ac e s</w> ("ac e</w>" needs "e</w>") => f | ac | e | s</w>
//           => h | eart</w> | -</w> | f | ac | e | s</w> | !</w>
//  "catnight lineart": catnight: c a t n i g h t</w> -> g h (14) -> gh t</w> (15) -> i ght</w> (16)
//           -> n ight</w> (22) => c | a | t | night</w>  ("a t</w>" needs "t</w>")
//           lineart: l i n e a r t</w> -> i n (0) -> a r (11) -> ar t</w> (12) -> e art</w> (13)
//           -> in eart</w> (17) -> l ineart</w> (18) => lineart</w> (an intermediate merge, not a corpus word)
//           => c | a | t | night</w> | lineart</w>
TEST_F(EmojiTokenizer, MatchesHandWorkedClipBpe) {
  ClipTokenizer tok(tok_dir_);
  EXPECT_EQ(tok.encode("grin"), ids_of({"gr", "i", "n</w>"}));
  EXPECT_EQ(tok.encode("Heart-faces!"), ids_of({"h", "eart</w>", "-</w>", "f", "ac", "e", "s</w>", "!</w>"}));
  EXPECT_EQ(tok.encode("catnight lineart"), ids_of({"c", "a", "t", "night</w>", "lineart</w>"}));
}

TEST_F(EmojiTokenizer, MatchesReferenceBpe) {
  ClipTokenizer tok(tok_dir_);
  std::map<std::pair<std::string, std::string>, int> ranks;
  for (size_t i = 0; i < kMerges.size(); ++i) {
    size_t sp = kMerges[i].find(' ');
    ranks[{kMerges[i].substr(0, sp), kMerges[i].substr(sp + 1)}] = static_cast<int>(i);
  }
  const std::vector<std::string> texts = {
      "grinning face", "grinninggrinning", "ingrin", "faceface", "scat cats", "night-lights at art",
      "omline art lineartist", "lsca ls cat", "ghgh tight", "in inn innin", "naïve café 1f600", "zebra, grin!"};
  ls::text::ClipPreTokenizer pretok;
  for (const auto& text : texts) {
    std::string normalized = ls::text::clip_normalize(text);
    std::vector<int> expected;
    for (std::string_view word : pretok.split(normalized))
      for (const auto& t : reference_bpe(std::string(word), ranks)) expected.push_back(id_of(t));
    EXPECT_EQ(tok.encode(text), expected) << text;
  }
}

}  // namespace
