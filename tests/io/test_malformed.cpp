// Malformed safetensors files: every defect gives a one-line ls::Error naming the file (and key).
#include <gtest/gtest.h>

#include <string>

#include "io/safetensors.h"
#include "io/weights.h"
#include "test_util.h"

using namespace ls;
using ls::test::throws_with;

namespace {

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// A safetensors file with header `json` and `data_bytes` zero bytes of data.
std::string make_st(const std::string& json, size_t data_bytes) {
  return u64le(json.size()) + json + std::string(data_bytes, '\0');
}

std::string write(const std::string& name, const std::string& bytes) {
  std::string p = ls::test::temp_file(name);
  ls::test::write_bytes(p, bytes);
  return p;
}

}  // namespace

TEST(Malformed, ValidReferenceFileParses) {
  std::string p = write("ok.safetensors",
                        make_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})", 8));
  auto f = io::read_safetensors(p);
  EXPECT_EQ(f.get("a").shape(), (Shape{2}));
  EXPECT_EQ(f.metadata.at("k"), "v");
}

TEST(Malformed, Truncated) {
  std::string full = make_st(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
  std::string p = write("trunc.safetensors", full.substr(0, full.size() - 5));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "'a'", "outside the data area"}));
  std::string q = write("tiny.safetensors", "abc");
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(q); }, {q, "shorter than the 8-byte header length"}));
}

TEST(Malformed, HeaderLengthBeyondFile) {
  std::string p = write("hdr_beyond.safetensors", u64le(1000) + "{}");
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "header length 1000", "past the end"}));
}

TEST(Malformed, HundredMegabyteHeaderClaim) {
  std::string p = write("hdr_huge.safetensors", u64le(100ull * 1000 * 1000 + 1) + "{}");
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "exceeds"}));
}

TEST(Malformed, OverlappingOffsets) {
  std::string p = write("overlap.safetensors",
                        make_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "'a'", "'b'", "overlap"}));
}

TEST(Malformed, OutOfRangeOffsets) {
  std::string p = write("range.safetensors", make_st(R"({"a":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}})", 16));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "'a'", "[0, 1000]", "outside the data area"}));
  std::string q = write("reversed.safetensors", make_st(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 16));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(q); }, {q, "'a'", "[8, 4]"}));
}

TEST(Malformed, DtypeShapeMismatch) {
  std::string p = write("mismatch.safetensors", make_st(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "'a'", "F32", "[3]", "needs 12 bytes"}));
  std::string q = write("dtype.safetensors", make_st(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(q); }, {q, "'a'", "Q4"}));
}

TEST(Malformed, DuplicateNames) {
  std::string p = write("dup.safetensors",
                        make_st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "'a'", "twice"}));
}

TEST(Malformed, BadJsonAndDeepNesting) {
  std::string p = write("json.safetensors", make_st("{\"a\":\n{", 0));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(p); }, {p, "not valid JSON"}));
  std::string q = write("deep.safetensors", make_st(std::string(50, '[') + std::string(50, ']'), 0));
  EXPECT_TRUE(throws_with([&] { io::read_safetensors(q); }, {q, "deeper"}));
}

TEST(Malformed, DispatcherRejectsUnknownContent) {
  std::string p = write("garbage.bin", "hello world, not weights");
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "not a safetensors file"}));
  std::string q = write("empty.ckpt", "");
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(q); }, {q, "empty"}));
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint("/no/such/file.ckpt"); }, {"/no/such/file.ckpt", "cannot open"}));
}
