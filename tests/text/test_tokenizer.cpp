// ClipTokenizer against the transformers reference cases (refsuite/tokenizer/cases.json) and robustness checks.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "text/clip_normalize.h"
#include "text/clip_tokenizer.h"

using ls::text::ClipTokenizer;

namespace {

const std::string kClipDir = std::string(LS_SHARED_DIR) + "/refsuite/tokenizer/clip";

const ClipTokenizer& clip_tok() {
  static const ClipTokenizer tok(kClipDir);
  return tok;
}

std::vector<int> with_bos_eos(const ClipTokenizer& t, const std::vector<int>& ids) {
  std::vector<int> v{t.bos_id()};
  v.insert(v.end(), ids.begin(), ids.end());
  v.push_back(t.eos_id());
  return v;
}

}  // namespace

TEST(ClipTokenizer, LoadsQuickly) {
  auto t0 = std::chrono::steady_clock::now();
  ClipTokenizer tok(kClipDir);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("ClipTokenizer construction: %.3f s\n", s);
  EXPECT_LT(s, 2.0);  // ~0.1 s normally; loose bound for a loaded shared machine
  EXPECT_EQ(tok.vocab_size(), 49408);
  EXPECT_EQ(tok.num_merges(), 48894u);
  EXPECT_EQ(tok.bos_id(), 49406);
  EXPECT_EQ(tok.eos_id(), 49407);
  EXPECT_EQ(tok.token(320), "a</w>");
}

TEST(ClipTokenizer, PhotoOfACat) {
  auto ids = clip_tok().encode_padded("a photo of a cat", 77);
  std::vector<int64_t> head(ids.begin(), ids.begin() + 7);
  EXPECT_EQ(head, (std::vector<int64_t>{49406, 320, 1125, 539, 320, 2368, 49407}));
  ASSERT_EQ(ids.size(), 77u);
  for (size_t i = 7; i < 77; ++i) EXPECT_EQ(ids[i], 49407);
}

TEST(ClipTokenizer, ReferenceCases) {
  std::ifstream f(std::string(LS_SHARED_DIR) + "/refsuite/tokenizer/cases.json");
  ASSERT_TRUE(f) << "cases.json missing";
  nlohmann::json doc = nlohmann::json::parse(f);
  const auto& tok = clip_tok();
  ASSERT_EQ(doc["bos_id"].get<int>(), tok.bos_id());
  ASSERT_EQ(doc["eos_id"].get<int>(), tok.eos_id());
  int n = 0;
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    std::string text = c["text"].get<std::string>();
    EXPECT_EQ(with_bos_eos(tok, tok.encode(text)), c["ids_full"].get<std::vector<int>>());
    EXPECT_EQ(tok.encode_padded(text, 77), c["ids_77"].get<std::vector<int64_t>>());
    // the token strings too, for a readable diff when something is off
    std::vector<std::string> pieces;
    for (int id : with_bos_eos(tok, tok.encode(text))) pieces.push_back(tok.token(id));
    EXPECT_EQ(pieces, c["tokens_full"].get<std::vector<std::string>>());
    ++n;
  }
  EXPECT_GE(n, 40);
}

TEST(ClipTokenizer, PaddingAndTruncation) {
  const auto& tok = clip_tok();
  auto sd2 = tok.encode_padded("a cat", 77, 0);
  ASSERT_EQ(sd2.size(), 77u);
  EXPECT_EQ(sd2[0], 49406);
  EXPECT_EQ(sd2[3], 49407);
  for (size_t i = 4; i < 77; ++i) EXPECT_EQ(sd2[i], 0);
  EXPECT_EQ(tok.encode_padded("a cat", 2), (std::vector<int64_t>{49406, 49407}));
  EXPECT_EQ(tok.encode_padded("a cat", 3), (std::vector<int64_t>{49406, 320, 49407}));
  EXPECT_THROW(tok.encode_padded("a cat", 1), ls::Error);
  EXPECT_THROW(tok.encode_padded("a cat", 77, -5), ls::Error);
  auto empty = tok.encode_padded("", 77);
  EXPECT_EQ(empty[0], 49406);
  EXPECT_EQ(empty[1], 49407);
}

TEST(ClipTokenizer, SpecialTokenText) {
  const auto& tok = clip_tok();
  EXPECT_EQ(tok.encode("<|endoftext|>"), std::vector<int>{49407});
  EXPECT_EQ(tok.encode("a<|startoftext|>b"), (std::vector<int>{tok.encode("a")[0], 49406, tok.encode("b")[0]}));
  // Not the exact special token: lower-cased text, then ByteLevel's GPT-2 split makes "<|", "endoftext", "|>"
  // (inferred from the reference pipeline; not among the recorded cases).
  EXPECT_EQ(tok.encode("<|ENDOFTEXT|>"), tok.encode("<| endoftext |>"));
  // the CLIP pattern first takes "<|endoftext|>" whole, so "!" stays a word of its own
  EXPECT_EQ(tok.encode("<|ENDOFTEXT|>!"), tok.encode("<| endoftext |> !"));
}

TEST(ClipTokenizer, NormalisationDetails) {
  const auto& tok = clip_tok();
  // NFC: decomposed e + U+0301 == precomposed U+00E9
  EXPECT_EQ(tok.encode("cafe\xcc\x81"), tok.encode("caf\xc3\xa9"));
  // whitespace: NBSP, ideographic space, line separator collapse; ZWSP (U+200B) is not whitespace
  EXPECT_EQ(tok.encode("a\xc2\xa0\xe3\x80\x80\xe2\x80\xa8 cat"), tok.encode("a cat"));
  EXPECT_NE(tok.encode("a\xe2\x80\x8b" "cat"), tok.encode("a cat"));
  // per-character lower-casing, no final-sigma rule: "ΟΔΟΣ" -> "οδοσ"
  EXPECT_EQ(ls::text::clip_normalize("\xce\x9f\xce\x94\xce\x9f\xce\xa3"), "\xce\xbf\xce\xb4\xce\xbf\xcf\x83");
  EXPECT_EQ(ls::text::clip_normalize("  A\tB \n"), " a b ");
}

TEST(ClipTokenizer, InvalidUtf8BecomesReplacementChar) {
  const auto& tok = clip_tok();
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(tok.encode("a\xff" "b"), tok.encode("a" + fffd + "b"));
  EXPECT_EQ(tok.encode("cat\xc3"), tok.encode("cat" + fffd));               // truncated sequence
  EXPECT_EQ(tok.encode(std::string("x\xc0\xaf" "y")), tok.encode("x" + fffd + fffd + "y"));  // overlong
  EXPECT_EQ(ls::text::clip_normalize("\xed\xa0\x80"), fffd + fffd + fffd);  // encoded surrogate
  EXPECT_EQ(tok.encode(std::string("a\0b", 3)).size(), 3u);                 // NUL is just a character
}

TEST(ClipTokenizer, NeverCrashesOnLongOrRandomInput) {
  const auto& tok = clip_tok();
  std::mt19937 rng(1234);
  const std::vector<std::string> parts = {"cat ", "A", "é", "日本", "😀", ",", "  ", "\t", "1", "'s", "\xff", "<|endoftext|>"};
  std::string prompt;
  while (prompt.size() < 10000) prompt += parts[rng() % parts.size()];
  auto t0 = std::chrono::steady_clock::now();
  auto ids = tok.encode(prompt);
  EXPECT_GT(ids.size(), 1000u);
  EXPECT_EQ(tok.encode_padded(prompt, 77).size(), 77u);
  std::string one_word(10000, 'q');  // a single 10k-letter word
  EXPECT_FALSE(tok.encode(one_word).empty());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 2.0);
  for (int trial = 0; trial < 300; ++trial) {
    std::string junk(rng() % 64, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng() & 0xFF);
    EXPECT_NO_THROW({
      auto v = tok.encode(junk);
      (void)tok.decode(v);
    });
  }
}

TEST(ClipTokenizer, DecodeRoundTrip) {
  const auto& tok = clip_tok();
  // Like CLIP's decode, every word end ("</w>") becomes a space, so punctuation and digits come back spaced.
  EXPECT_EQ(tok.decode(tok.encode("a photo of a cat")), "a photo of a cat");
  EXPECT_EQ(tok.decode(tok.encode("Hello, world! How's it going?")), "hello , world ! how 's it going ?");
  EXPECT_EQ(tok.decode(tok.encode("café naïve 日本語 😀 1,000")), "café naïve 日本語 😀 1 , 0 0 0");
  auto padded = tok.encode_padded("a cat", 77);
  EXPECT_EQ(tok.decode(padded), "a cat");
  EXPECT_EQ(tok.decode(std::vector<int>{49406, 320, 49407}, false), "<|startoftext|>a <|endoftext|>");
  EXPECT_THROW(tok.decode(std::vector<int>{49408}), ls::Error);
  EXPECT_THROW(tok.decode(std::vector<int64_t>{-1}), ls::Error);
}

TEST(ClipTokenizer, ThreadSafeEncode) {
  const auto& tok = clip_tok();
  const std::string text = "an astronaut riding a horse on mars, highly detailed, 8k";
  auto expect = tok.encode(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ok[t] += tok.encode(text + " w" + std::to_string(i)).size() > expect.size();
    });
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 50);
}
