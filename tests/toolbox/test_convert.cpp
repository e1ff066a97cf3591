// lora convert: kohya → PEFT equals diffusers' own file; round trips are bit-exact.
#include <gtest/gtest.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "adapters/adapter_file.h"
#include "adapters/math.h"
#include "io/safetensors.h"
#include "toolbox/convert.h"

namespace {

const std::string kShared = LS_SHARED_DIR;
const std::string kA = kShared + "/refsuite/adapters/lora_a/";

void expect_bit_equal(const ls::io::TensorFile& a, const ls::io::TensorFile& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [k, t] : a.tensors) {
    ASSERT_TRUE(b.has(k)) << k;
    const ls::Tensor& u = b.get(k);
    EXPECT_EQ(t.dtype(), u.dtype()) << k;
    EXPECT_EQ(t.shape(), u.shape()) << k;
    ASSERT_EQ(t.nbytes(), u.nbytes()) << k;
    EXPECT_EQ(std::memcmp(t.raw(), u.raw(), t.nbytes()), 0) << k;
  }
}

TEST(Convert, KohyaToPeftEqualsDiffusersFile) {
  std::string out = ::testing::TempDir() + "/a_peft.safetensors";
  auto rep = ls::toolbox::convert_adapter(kA + "lora_a_kohya.safetensors", ls::toolbox::LoraLayout::PEFT, out);
  EXPECT_EQ(rep.modules, 140);
  auto mine = ls::io::read_safetensors(out);
  auto ref = ls::io::read_safetensors(kA + "pytorch_lora_weights.safetensors");
  ASSERT_EQ(mine.tensors.size(), ref.tensors.size());
  for (const auto& [k, t] : ref.tensors) {
    ASSERT_TRUE(mine.has(k)) << k;
    ls::Tensor x = mine.get(k).to(ls::DType::F32), y = t.to(ls::DType::F32);
    ASSERT_EQ(x.shape(), y.shape()) << k;
    EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.nbytes()), 0) << k;
  }
  auto j = nlohmann::json::parse(mine.metadata.at("lora_adapter_metadata"));
  EXPECT_EQ(j["unet.r"], 4);
  EXPECT_EQ(j["unet.lora_alpha"], 8.0);
  EXPECT_EQ(j["text_encoder.r"], 4);
  EXPECT_EQ(j["text_encoder.lora_alpha"], 8.0);
  EXPECT_TRUE(j["unet.alpha_pattern"].empty());
  EXPECT_EQ(mine.metadata.at("format"), "pt");
  // Our reader takes the alphas back from the metadata.
  auto af = ls::adapters::read_adapter(out);
  for (const auto& m : af.modules) EXPECT_TRUE(m.has_alpha && m.alpha == 8.0f) << m.key;
}

TEST(Convert, RoundTripsAreBitExact) {
  std::string dir = ::testing::TempDir();
  for (std::string src : {kA + "lora_a_kohya.safetensors", kShared + "/refsuite/adapters/locon_b/locon_b_kohya.safetensors"}) {
    ls::toolbox::convert_adapter(src, ls::toolbox::LoraLayout::PEFT, dir + "/rt_peft.safetensors");
    ls::toolbox::convert_adapter(dir + "/rt_peft.safetensors", ls::toolbox::LoraLayout::Kohya, dir + "/rt_kohya.safetensors");
    auto a = ls::io::read_safetensors(src), b = ls::io::read_safetensors(dir + "/rt_kohya.safetensors");
    expect_bit_equal(a, b);
    for (const auto& [k, v] : a.metadata) EXPECT_EQ(b.metadata[k], v) << k;
  }
  // PEFT → kohya → PEFT, and the old-diffusers real-world file → kohya keeps every delta.
  ls::toolbox::convert_adapter(kA + "pytorch_lora_weights_te_text_model_prefix.safetensors", ls::toolbox::LoraLayout::Kohya,
                               dir + "/p_kohya.safetensors");
  ls::toolbox::convert_adapter(dir + "/p_kohya.safetensors", ls::toolbox::LoraLayout::PEFT, dir + "/p_peft.safetensors");
  expect_bit_equal(ls::io::read_safetensors(kA + "pytorch_lora_weights.safetensors"),
                   ls::io::read_safetensors(dir + "/p_peft.safetensors"));
  std::string pk = kShared + "/realworld/sd15-pokemon-lora.safetensors";
  ls::toolbox::convert_adapter(pk, ls::toolbox::LoraLayout::Kohya, dir + "/pk.safetensors");
  auto orig = ls::adapters::read_adapter(pk), conv = ls::adapters::read_adapter(dir + "/pk.safetensors");
  ASSERT_EQ(orig.modules.size(), conv.modules.size());
  std::map<std::string, ls::Tensor> deltas;
  for (const auto& m : conv.modules) {
    ls::Shape s = {m.get(ls::adapters::Part::Up).dim(0), m.get(ls::adapters::Part::Down).dim(1)};
    deltas[m.key] = ls::adapters::raw_weight_delta(m, s);
  }
  for (const auto& m : orig.modules) {
    std::string k = m.key;  // unet.down_blocks.0....to_k → lora_unet_down_blocks_0_..._to_k
    for (char& c : k) c = c == '.' ? '_' : c;
    k = "lora_" + k;
    ASSERT_TRUE(deltas.count(k)) << k;
    ls::Shape s = {m.get(ls::adapters::Part::Up).dim(0), m.get(ls::adapters::Part::Down).dim(1)};
    ls::Tensor d = ls::adapters::raw_weight_delta(m, s);
    EXPECT_EQ(std::memcmp(d.raw(), deltas[k].raw(), d.nbytes()), 0) << k;
  }
}

TEST(Convert, RefusesWhatItCannotHold) {
  std::string dir = ::testing::TempDir();
  EXPECT_THROW(ls::toolbox::convert_adapter(kShared + "/refsuite/adapters/loha_c/loha_c_lycoris.safetensors",
                                            ls::toolbox::LoraLayout::PEFT, dir + "/x.safetensors"),
               std::runtime_error);
  EXPECT_THROW(ls::toolbox::convert_adapter(kShared + "/refsuite/adapters/dora_d/pytorch_lora_weights.safetensors",
                                            ls::toolbox::LoraLayout::Kohya, dir + "/x.safetensors"),
               std::runtime_error);
  EXPECT_THROW(ls::toolbox::parse_layout("comfy"), std::runtime_error);
}

}  // namespace
