// One test per defect the fuzzers (or their review) found, each with the input that showed it
// (tests/fuzz/README.md lists them). Every case must end in a one-line ls::Error or a correct result.
#include "../common/error_of.h"
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <zlib.h>

#include "image/image.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "models/sd1/init.h"
#include "models/sd1/loader.h"
#include "runtime/error.h"

using ls::testing::error_of;

namespace {

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

std::string scratch(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / "lorastack-test-fuzz";
  std::filesystem::create_directories(d);
  return (d / name).string();
}
std::string write(const std::string& name, const std::string& bytes) {
  std::string p = scratch(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

/// safetensors bytes: 8-byte length + `header` as given (no padding) + `data`.
std::string safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}
ls::io::TensorFile parse(const std::string& bytes) {
  auto owner = std::make_shared<std::string>(bytes);
  return ls::io::parse_safetensors(owner->data(), owner->size(), owner, "t.safetensors");
}

// fuzz_pickle: a 19-digit text INT overflowed int64 while being parsed (UBSan: signed overflow).
TEST(FuzzRegressions, PickleTextIntOverflow) {
  auto load = [](const std::string& s) {
    ls::io::Unpickler up(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "p.pkl");
    return up.load()->i;
  };
  EXPECT_EQ(error_of([&] { load("I9999999999999999999\n."); }),
            "p.pkl: pickle byte 0: integer '9999999999999999999' out of range");
  EXPECT_TRUE(has(error_of([&] { load("L-9223372036854775809\n."); }), "out of range"));
  EXPECT_EQ(load("I9223372036854775807\n."), INT64_MAX);
  EXPECT_EQ(load("L-9223372036854775808\n."), INT64_MIN);
}

// Review of the overlap check: an empty tensor sorted between two overlapping ones hid the overlap.
TEST(FuzzRegressions, SafetensorsOverlapBehindEmptyTensor) {
  std::string hdr = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                    R"("b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                    R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  EXPECT_EQ(error_of([&] { parse(safetensors(hdr, std::string(16, '\0'))); }),
            "t.safetensors: tensors 'a' and 'c' overlap in the data area");
}

// fuzz_lora_keys: an unpadded header put F32 data at an odd address (UBSan: misaligned load in the
// adapter NaN check); such tensors are now copied to aligned storage.
TEST(FuzzRegressions, SafetensorsUnalignedDataIsCopied) {
  std::string hdr = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";  // 55 bytes: data at offset 63
  ASSERT_NE((8 + hdr.size()) % 4, 0u);
  float v[2] = {1.5f, -2.0f};
  auto f = parse(safetensors(hdr, std::string(reinterpret_cast<const char*>(v), 8)));
  const auto& t = f.get("x");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 4, 0u);
  EXPECT_EQ(t.data<float>()[0], 1.5f);
  EXPECT_EQ(t.data<float>()[1], -2.0f);
}

// fuzz_yaml_config: a yaml whose nodes have other kinds than expected threw YAML::BadSubscript.
TEST(FuzzRegressions, YamlWrongNodeKinds) {
  for (const char* text : {"just a scalar\n", "- a\n- b\n", "model: 3\n", "model:\n  params: [1, 2]\n"}) {
    std::string p = write("kinds.yaml", text);
    std::string msg = error_of([&] { ls::sd::configs_from_yaml(p); });
    EXPECT_TRUE(has(msg, p)) << text << " → " << msg;
  }
}

// fuzz_yaml_config: a float beyond the int range in a diffusers config.json was cast to int by nlohmann
// (UBSan: 1.68889e+29 is outside the range of representable values of type 'int').
TEST(FuzzRegressions, JsonConfigFloatOutOfIntRange) {
  std::string dir = scratch("float-config");
  std::filesystem::remove_all(dir);
  ls::sd::write_initialized_model(ls::sd::preset_configs(ls::sd::InitArch::Tiny), 1, dir);
  auto with_unet = [&](const std::string& field) {
    std::ifstream in(dir + "/unet/config.json");
    std::string cfg((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir + "/unet/config.json") << cfg.substr(0, cfg.rfind('}')) << ", " << field << "}";  // last wins
  };
  with_unet("\"layers_per_block\": 1.68889e+29");
  std::string msg = error_of([&] { ls::sd::load_model(dir); });
  EXPECT_TRUE(has(msg, "'layers_per_block' has value 1.68889e+29 of the wrong type or out of range")) << msg;
  std::filesystem::remove_all(dir);
  ls::sd::write_initialized_model(ls::sd::preset_configs(ls::sd::InitArch::Tiny), 1, dir);
  with_unet("\"block_out_channels\": [32, 64.5]");
  msg = error_of([&] { ls::sd::load_model(dir); });
  EXPECT_TRUE(has(msg, "'block_out_channels'")) << msg;
}

// fuzz_yaml_config: sizes multiplied or shifted before any range check (UBSan: signed overflow in
// model_channels × channel_mult, shift by 32 for a 33-entry channel_mult); zero heads.
TEST(FuzzRegressions, YamlSizesAreBounded) {
  auto with_unet = [](const std::string& unet) {
    return "model:\n  params:\n    unet_config:\n      params: {" + unet +
           "}\n    first_stage_config:\n      params:\n        ddconfig: {ch: 32}\n";
  };
  std::string p = write("sizes.yaml", with_unet("model_channels: 2000000000, channel_mult: [4], num_heads: 8"));
  EXPECT_TRUE(has(error_of([&] { ls::sd::configs_from_yaml(p); }), "model_channels = 2000000000 is outside 1..65536"));
  p = write("sizes.yaml", with_unet("model_channels: 32, channel_mult: [1,1,1,1,1,1,1,1,1], num_heads: 8"));
  EXPECT_TRUE(has(error_of([&] { ls::sd::configs_from_yaml(p); }), "length of channel_mult = 9 is outside 1..8"));
  p = write("sizes.yaml", with_unet("model_channels: 32, channel_mult: [1, 2], num_head_channels: 64"));
  EXPECT_TRUE(has(error_of([&] { ls::sd::configs_from_yaml(p); }), "attention heads = 0 is outside"));
  p = write("sizes.yaml", with_unet("model_channels: 32, channel_mult: [1], num_heads: 8, num_res_blocks: 1000000000"));
  EXPECT_TRUE(has(error_of([&] { ls::sd::configs_from_yaml(p); }), "layers_per_block = 1000000000 is outside 1..64"));
}

// fuzz_lora_keys, fuzz_prompt_tags: messages quoting untrusted names (a tensor key, a prompt tag) with a
// line break spanned several lines. ls::Error now keeps every message on one line, bounded in length.
TEST(FuzzRegressions, ErrorMessagesStayOneLine) {
  std::string hdr = "{\"evil\\nkey\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}";
  EXPECT_EQ(error_of([&] { parse(safetensors(hdr, std::string(4, '\0'))); }),
            "t.safetensors: tensor 'evil\\nkey': dtype F32 × shape [2] needs 8 bytes but data_offsets span 4");
  std::string prompt = "a <lora:x:1\r\n2> b";
  std::string msg = error_of([&] { lorastack::extract_lora_tags(prompt); });
  EXPECT_TRUE(has(msg, "prompt tag <") && has(msg, "1\\r\\n2") && has(msg, "is not a number")) << msg;
  EXPECT_EQ(ls::Error(std::string(10000, 'x')).what(), std::string(ls::Error::kMaxMessage, 'x') + "...");
  EXPECT_STREQ(ls::Error("a\x01\tb\x7f").what(), "a?\tb?");
}

// Review of fuzz_prompt_tags: a front end extracts tags (and resolves each name on disk) before the
// Engine's prompt and stack limits apply, so extract_lora_tags applies them itself.
TEST(FuzzRegressions, PromptTagLimits) {
  std::string many;
  for (int i = 0; i < 65; ++i) many += "<lora:a:1>";
  EXPECT_EQ(error_of([&] { lorastack::extract_lora_tags(many); }), "prompt has 65 LoRA tags, more than the adapter stack limit of 64");
  std::string huge(100000, 'x');
  EXPECT_EQ(error_of([&] { lorastack::extract_lora_tags(huge); }), "prompt of 100000 bytes: longer than the limit of 65536 bytes");
}

// fuzz_png (2.4 GB peak memory): a 70-byte PNG whose header claims 16384x16384 made read_png allocate the
// 805 MB pixel buffer before reading any data. The header is now checked against what the file can hold.
TEST(FuzzRegressions, PngHeaderClaimsMoreThanTheFileHolds) {
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string out;
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((data.size() >> s) & 0xff));
    std::string body = type + data;
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    out += body;
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((crc >> s) & 0xff));
    return out;
  };
  const std::string ihdr("\x00\x00\x40\x00\x00\x00\x40\x00\x08\x02\x00\x00\x00", 13);  // 16384², RGB8
  const std::string idat("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);  // zlib of one zero byte
  std::string p = write("claim.png", std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) +
                                         chunk("IEND", ""));
  EXPECT_TRUE(has(error_of([&] { ls::image::read_png(p); }), "claims a 16384x16384 image (805322752 bytes of pixel data)"));
  // fuzz_png (out-of-memory): a zTXt chunk whose length field claims 1.5 GB; libpng only warns "chunk data is
  // too large" and then allocates it. Its allocator is now bounded, so this is a plain read error.
  const std::string small_ihdr("\x00\x00\x00\x02\x00\x00\x00\x02\x08\x02\x00\x00\x00", 13);
  p = write("ztxt.png", std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", small_ihdr) +
                            std::string("\x5d\x00\x00\x11zTXtk\x00\x00xyz", 14));
  EXPECT_TRUE(has(error_of([&] { ls::image::read_png(p); }), p + ": PNG read failed"));
}

}  // namespace
