// Tokenizer file discovery, malformed files and the byte-level-only tokenizer.
#include "../common/error_of.h"
#include <gtest/gtest.h>

#include "../common/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "runtime/error.h"
#include "text/clip_tokenizer.h"
#include "text/tokenizer_files.h"

using ls::testing::error_of;

namespace fs = std::filesystem;
using ls::text::ClipTokenizer;

namespace {

const std::string kClipDir = std::string(LS_SHARED_DIR) + "/refsuite/tokenizer/clip";

// A fresh temporary folder, removed at the end of the test.
using ls::testing::TempDir;
void write(const fs::path& p, const std::string& s) { ls::testing::write_file(p, s); }

void make_byte_tokenizer(const fs::path& dir) { ls::text::write_byte_tokenizer(dir.string()); }

// Sets an environment variable for the scope, restoring the old value after.
struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  EnvGuard(const std::string& n, const std::string& v) : name(n) {
    if (const char* o = std::getenv(n.c_str())) old = o;
    ::setenv(n.c_str(), v.c_str(), 1);
  }
  ~EnvGuard() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};


std::string byte_vocab_json() {
  TempDir d;
  make_byte_tokenizer(d.path);
  return ls::text::read_text_file((d.path / "vocab.json").string());
}

}  // namespace

TEST(ByteTokenizer, WritesAndRoundTrips) {
  TempDir d;
  make_byte_tokenizer(d.path / "tok");
  ClipTokenizer tok((d.path / "tok").string());
  EXPECT_EQ(tok.vocab_size(), 514);
  EXPECT_EQ(tok.num_merges(), 0u);
  EXPECT_EQ(tok.bos_id(), 512);
  EXPECT_EQ(tok.eos_id(), 513);
  const std::string text = "hello, world! caf\xc3\xa9 \xf0\x9f\x98\x80 1,000";
  auto ids = tok.encode(text);
  EXPECT_EQ(ids.size(), 26u);  // one id per byte ("hello"=5 ","=1 "world"=5 "!"=1 "café"=5 emoji=4 "1,000"=5)
  EXPECT_EQ(tok.decode(ids), "hello , world ! caf\xc3\xa9 \xf0\x9f\x98\x80 1 , 0 0 0");  // "</w>" reads as a space
  EXPECT_EQ(tok.decode(tok.encode("Hello   World")), "hello world");
  auto padded = tok.encode_padded("hi", 8);
  EXPECT_EQ(padded, (std::vector<int64_t>{512, tok.encode("h")[0] - 256, tok.encode("i")[0], 513, 513, 513, 513, 513}));
  ClipTokenizer moved = std::move(tok);  // movable (e.g. into a pipeline struct)
  EXPECT_EQ(moved.decode(moved.encode("Hello   World")), "hello world");
  tok = std::move(moved);
  // ids 0..511 are the same symbols as in CLIP ViT-L/14
  ClipTokenizer clip(kClipDir);
  for (int i = 0; i < 512; ++i) ASSERT_EQ(tok.token(i), clip.token(i)) << "id " << i;
}

TEST(TokenizerDiscovery, ExplicitDirWins) {
  TempDir d;
  make_byte_tokenizer(d.path / "mine");
  EXPECT_EQ(ls::text::find_tokenizer_dir("", (d.path / "mine").string()), (d.path / "mine").string());
  std::string msg = error_of([&] { ls::text::find_tokenizer_dir(kClipDir, (d.path / "none").string()); });
  EXPECT_NE(msg.find((d.path / "none").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("vocab.json and merges.txt"), std::string::npos) << msg;
}

TEST(TokenizerDiscovery, SearchOrder) {
  TempDir d;
  EnvGuard data("LORASTACK_DATA", (d.path / "data").string());
  EnvGuard home("HOME", (d.path / "home").string());
  // diffusers-style folder
  make_byte_tokenizer(d.path / "model" / "tokenizer");
  EXPECT_EQ(ls::text::find_tokenizer_dir((d.path / "model").string(), ""), (d.path / "model" / "tokenizer").string());
  // single file: <stem>.tokenizer beats tokenizer/ next to it
  write(d.path / "ckpts" / "sd15.safetensors", "x");
  make_byte_tokenizer(d.path / "ckpts" / "tokenizer");
  std::string file = (d.path / "ckpts" / "sd15.safetensors").string();
  EXPECT_EQ(ls::text::find_tokenizer_dir(file, ""), (d.path / "ckpts" / "tokenizer").string());
  make_byte_tokenizer(d.path / "ckpts" / "sd15.tokenizer");
  EXPECT_EQ(ls::text::find_tokenizer_dir(file, ""), (d.path / "ckpts" / "sd15.tokenizer").string());
  // LORASTACK_DATA, then ~/.local/share
  make_byte_tokenizer(d.path / "home" / ".local/share/lorastack/tokenizer/clip");
  EXPECT_EQ(ls::text::find_tokenizer_dir("", ""), (d.path / "home" / ".local/share/lorastack/tokenizer/clip").string());
  make_byte_tokenizer(d.path / "data" / "tokenizer" / "clip");
  EXPECT_EQ(ls::text::find_tokenizer_dir("", ""), (d.path / "data" / "tokenizer" / "clip").string());
  // a folder with only one of the two files does not count
  write(d.path / "half" / "tokenizer" / "vocab.json", "{}");
  EXPECT_EQ(ls::text::find_tokenizer_dir((d.path / "half").string(), ""), (d.path / "data" / "tokenizer" / "clip").string());
}

TEST(TokenizerDiscovery, ErrorListsEveryPlace) {
  if (fs::exists("/usr/local/share/lorastack/tokenizer/clip/vocab.json") ||
      fs::exists("/usr/share/lorastack/tokenizer/clip/vocab.json"))
    GTEST_SKIP() << "a system-wide tokenizer is installed";
  TempDir d;
  EnvGuard data("LORASTACK_DATA", (d.path / "data").string());
  EnvGuard home("HOME", (d.path / "home").string());
  write(d.path / "m" / "model.ckpt", "x");
  std::string msg = error_of([&] { ls::text::find_tokenizer_dir((d.path / "m" / "model.ckpt").string(), ""); });
  for (const fs::path& p : {d.path / "m" / "model.tokenizer", d.path / "m" / "tokenizer", d.path / "data" / "tokenizer" / "clip",
                            d.path / "home" / ".local/share/lorastack/tokenizer/clip",
                            fs::path("/usr/local/share/lorastack/tokenizer/clip"), fs::path("/usr/share/lorastack/tokenizer/clip")})
    EXPECT_NE(msg.find(p.string()), std::string::npos) << p << " missing from: " << msg;
  EXPECT_NE(msg.find("put vocab.json and merges.txt (the CLIP BPE files, e.g. from the SD1.5 tokenizer/ folder) in one of "
                     "them or pass --tokenizer DIR"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one-line message";
  // folder model: <model>/tokenizer is listed
  msg = error_of([&] { ls::text::find_tokenizer_dir((d.path / "m").string(), ""); });
  EXPECT_NE(msg.find((d.path / "m" / "tokenizer").string()), std::string::npos) << msg;
}

TEST(TokenizerFiles, MalformedVocab) {
  const std::string merges = "#version: 0.2\n";
  auto err = [&](const std::string& vocab) {
    return error_of([&] { ClipTokenizer(vocab, merges, "v.json", "m.txt"); });
  };
  nlohmann::json good = nlohmann::json::parse(byte_vocab_json());
  EXPECT_EQ(err(good.dump()), "");
  EXPECT_NE(err("{\"a\": 1,").find("v.json: not valid JSON"), std::string::npos);
  EXPECT_NE(err("[1, 2]").find("v.json: expected a JSON object"), std::string::npos);
  EXPECT_NE(err("{}").find("v.json: the vocabulary is empty"), std::string::npos);
  for (const char* bad : {"\"7\"", "1.5", "true", "null", "[1]"}) {
    nlohmann::json v = good;
    v["zzz"] = nlohmann::json::parse(bad);
    EXPECT_NE(err(v.dump()).find("v.json: token 'zzz': id must be an integer"), std::string::npos) << bad;
  }
  for (const char* bad : {"-1", "99999999999", "18446744073709551615"}) {
    nlohmann::json v = good;
    v["zzz"] = nlohmann::json::parse(bad);
    EXPECT_NE(err(v.dump()).find("out of range"), std::string::npos) << bad;
  }
  {
    nlohmann::json v = good;
    v["zzz"] = 5;
    EXPECT_NE(err(v.dump()).find("v.json: id 5 used by two tokens"), std::string::npos) << err(v.dump());
  }
  {
    nlohmann::json v = good;
    v.erase("<|endoftext|>");
    EXPECT_NE(err(v.dump()).find("v.json: missing special token '<|endoftext|>'"), std::string::npos);
    v = good;
    v.erase("a</w>");
    EXPECT_NE(err(v.dump()).find("v.json: missing end-of-word byte symbol 'a</w>'"), std::string::npos);
  }
}

TEST(TokenizerFiles, MalformedMerges) {
  nlohmann::json vocab = nlohmann::json::parse(byte_vocab_json());
  vocab["ab"] = 600;
  const std::string v = vocab.dump();
  auto err = [&](const std::string& merges) { return error_of([&] { ClipTokenizer(v, merges, "v.json", "m.txt"); }); };
  EXPECT_EQ(err("#version: 0.2\na b\n"), "");
  EXPECT_EQ(err("a b\r\n\r\n"), "");  // no version line, CRLF, blank lines: accepted
  EXPECT_EQ(err(""), "");
  EXPECT_NE(err("#version: 0.2\na b\nab\n").find("m.txt: line 3: expected 'left right'"), std::string::npos) << err("#version: 0.2\na b\nab\n");
  EXPECT_NE(err("#version: 0.2\na b c\n").find("m.txt: line 2: expected 'left right'"), std::string::npos);
  EXPECT_NE(err("a  b\n").find("m.txt: line 1"), std::string::npos);
  EXPECT_NE(err("#version: 0.2\na c\n").find("m.txt: line 2: token 'ac' is not in the vocabulary"), std::string::npos);
  EXPECT_NE(err("#version: 0.2\nxyz b\n").find("m.txt: line 2: token 'xyz' is not in the vocabulary"), std::string::npos);
  // the rule is used
  ClipTokenizer tok(v, "#version: 0.2\na b\n", "v.json", "m.txt");
  // ids: 'a' = 64, 'b' = 65, 'b</w>' = 321, 'c</w>' = 322 (CLIP's byte order)
  EXPECT_EQ(tok.encode("abab"), (std::vector<int>{600, 64, 321}));
  EXPECT_EQ(tok.encode("ab"), (std::vector<int>{64, 321}));  // "b" carries </w>: "a" + "b</w>" has no rule
  EXPECT_EQ(tok.encode("abc"), (std::vector<int>{600, 322}));
}

TEST(TokenizerFiles, MissingAndOversizedFiles) {
  TempDir d;
  std::string msg = error_of([&] { ClipTokenizer((d.path / "nowhere").string()); });
  EXPECT_NE(msg.find("vocab.json: cannot open"), std::string::npos) << msg;
  make_byte_tokenizer(d.path / "big");
  fs::resize_file(d.path / "big" / "vocab.json", (size_t{64} << 20) + 1);  // sparse on most file systems
  msg = error_of([&] { ClipTokenizer((d.path / "big").string()); });
  EXPECT_NE(msg.find("more than the 67108864 bytes allowed"), std::string::npos) << msg;
  fs::create_directories(d.path / "dirs" / "vocab.json");
  msg = error_of([&] { ls::text::read_text_file((d.path / "dirs" / "vocab.json").string()); });
  EXPECT_NE(msg.find("is a folder"), std::string::npos) << msg;
}
