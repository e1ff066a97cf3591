// The pieces of `lorastack generate` that are plain logic: output name patterns, --xy axes, LoRA Block Weight
// vectors and the block of each UNet parameter.
#include <gtest/gtest.h>

#include "adapters/block_weights.h"
#include "../common/error_of.h"
#include "models/sd1/config.h"
#include "toolbox/name_pattern.h"
#include "toolbox/xy_plot.h"

namespace {

using ls::testing::error_of;
using namespace ls::toolbox;

TEST(NamePattern, FieldsWidthsAndA1111Brackets) {
  std::map<std::string, std::string> v = {{"seed", "42"},          {"n", "7"},       {"prompt", "a red fox, in snow"},
                                          {"model", "sd15"},       {"steps", "20"},  {"cfg", "7.5"},
                                          {"sampler", "euler_a"}, {"lora", "ink+glow"}};
  EXPECT_EQ(NamePattern("out/{seed}-{prompt:9}-{n}.png").render(v), "out/42-a_red_fox-7.png");
  EXPECT_EQ(NamePattern("{n:4}_[seed]_[model_name].webp").render(v), "0007_42_sd15.webp");
  EXPECT_EQ(NamePattern("{prompt}.png").render(v), "a_red_fox,_in_snow.png");
  EXPECT_EQ(NamePattern("{{lit}}[notafield]{cfg}-{sampler}-{lora}.jpg").render(v), "{lit}[notafield]7.5-euler_a-ink+glow.jpg");
  EXPECT_TRUE(NamePattern("a-{seed}.png").per_image());
  EXPECT_TRUE(NamePattern("a-[seed].png").per_image());
  EXPECT_FALSE(NamePattern("a-{prompt}.png").per_image());
  // values never add or leave folders
  v["prompt"] = "../../etc/passwd <x>|y?";
  EXPECT_EQ(NamePattern("o/{prompt}.png").render(v), "o/etcpasswd_xy.png");
  v["prompt"] = "ünïcödé ✓ text";
  EXPECT_EQ(NamePattern("{prompt:5}.png").render(v), "ünïcö.png");
}

TEST(NamePattern, BadPatternsNameTheField) {
  EXPECT_NE(error_of([] { NamePattern("{nope}.png"); }).find("unknown field {nope}; fields: seed, n,"), std::string::npos);
  EXPECT_NE(error_of([] { NamePattern("{seed.png"); }).find("not closed"), std::string::npos);
  EXPECT_NE(error_of([] { NamePattern("{seed:0}.png"); }).find("width '0'"), std::string::npos);
  EXPECT_NE(error_of([] { NamePattern("x}.png"); }).find("without"), std::string::npos);
  EXPECT_NE(error_of([] { NamePattern(""); }).find("empty"), std::string::npos);
}

TEST(NamePattern, FormatsAndSuffix) {
  EXPECT_EQ(image_format_of("a/b.PNG"), "png");
  EXPECT_EQ(image_format_of("b.jpg"), "jpeg");
  EXPECT_EQ(image_format_of("b.JPEG"), "jpeg");
  EXPECT_EQ(image_format_of("{seed}.webp"), "webp");
  EXPECT_NE(error_of([] { image_format_of("x.gif"); }).find("name the output .png, .jpg / .jpeg or .webp"),
            std::string::npos);
  EXPECT_NE(error_of([] { image_format_of("x"); }).find("(no extension)"), std::string::npos);
  EXPECT_EQ(with_index_suffix("out/a.png", 3), "out/a-3.png");
  EXPECT_EQ(with_index_suffix("out.d/a", 0), "out.d/a-0");
}

TEST(XYAxis, ParseKindsValuesAndLabels) {
  XYAxis l = parse_xy_axis("lora:style=0, 0.5,1");
  EXPECT_EQ(l.kind, XYKind::LoraStrength);
  EXPECT_EQ(l.lora, "style");
  EXPECT_EQ(l.values, (std::vector<std::string>{"0", "0.5", "1"}));
  EXPECT_EQ(l.label(1), "style: 0.5");
  XYAxis s = parse_xy_axis("seed=3-5,9");
  EXPECT_EQ(s.values, (std::vector<std::string>{"3", "4", "5", "9"}));
  EXPECT_EQ(s.label(3), "Seed: 9");
  EXPECT_EQ(parse_xy_axis("cfg=5,7.5").label(1), "CFG scale: 7.5");
  EXPECT_EQ(parse_xy_axis("steps=10-11").values.size(), 2u);
  XYAxis p = parse_xy_axis(R"(prompt=red,"blue, green",)");
  EXPECT_EQ(p.values, (std::vector<std::string>{"red", "blue, green", ""}));
  EXPECT_EQ(p.label(2), "(removed)");
}

TEST(XYAxis, BadAxesSayWhatToWrite) {
  EXPECT_NE(error_of([] { parse_xy_axis("color=1,2"); }).find("axes: lora:NAME, seed, cfg"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("seed"); }).find("expected AXIS=V1,V2"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("seed=1,x"); }).find("seed 'x'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("steps=0"); }).find("1…1000"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("cfg=nan"); }).find("finite"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("lora:=1"); }).find("no adapter name"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("prompt=\"a,b"); }).find("not closed"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("seed=1-100"); }).find("more than 64"), std::string::npos);
  EXPECT_NE(error_of([] { parse_xy_axis("seed=5-1"); }).find("backwards"), std::string::npos);
}

TEST(XYAxis, ApplyToRequestAndStack) {
  lorastack::GenerateRequest req;
  req.prompt = "a cat on a cat mat";
  req.negative_prompt = "cat hair";
  std::vector<lorastack::LoraSpec> stack = {{"/l/style.safetensors", 0.2f, 0.3f}, {"/l/other.safetensors", 1, 1}};
  apply_xy_value(parse_xy_axis("lora:style=0,0.7"), 1, req, stack);
  EXPECT_EQ(stack[0].unet_strength, 0.7f);
  EXPECT_EQ(stack[0].te_strength, 0.7f);
  EXPECT_EQ(stack[1].unet_strength, 1.0f);
  apply_xy_value(parse_xy_axis("prompt=cat,dog"), 1, req, stack);
  EXPECT_EQ(req.prompt, "a dog on a dog mat");
  EXPECT_EQ(req.negative_prompt, "dog hair");
  apply_xy_value(parse_xy_axis("seed=1,18446744073709551615"), 1, req, stack);
  EXPECT_EQ(req.seed, 18446744073709551615ull);
  apply_xy_value(parse_xy_axis("sampler=euler,ddim"), 1, req, stack);
  EXPECT_EQ(req.sampler, "ddim");
  EXPECT_NE(error_of([&] { apply_xy_value(parse_xy_axis("prompt=horse,cow"), 0, req, stack); }).find("'horse' is not in"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_xy_value(parse_xy_axis("lora:nope=1"), 0, req, stack); }).find("add it with --lora nope"),
            std::string::npos);
}

TEST(BlockWeights, PresetsAndVectors) {
  using ls::adapters::parse_block_weights;
  const auto& ids = ls::adapters::block_ids26();
  ASSERT_EQ(ids.size(), 26u);
  auto at = [&](const std::vector<float>& v, const std::string& id) {
    return v[static_cast<size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin())];
  };
  // OUTD: 1,0,0,0,0,0,0,0,1,1,1,1,0,0,0,0,0 → BASE and OUT03..OUT06
  auto outd = parse_block_weights("OUTD");
  for (const auto& id : ids) {
    bool on = id == "BASE" || id == "OUT03" || id == "OUT04" || id == "OUT05" || id == "OUT06";
    EXPECT_EQ(at(outd, id), on ? 1.0f : 0.0f) << id;
  }
  auto ind = parse_block_weights("IND");  // BASE, IN05, IN07, IN08
  EXPECT_EQ(at(ind, "IN04"), 0.0f);
  EXPECT_EQ(at(ind, "IN05"), 1.0f);
  EXPECT_EQ(at(ind, "M00"), 0.0f);
  EXPECT_EQ(at(parse_block_weights("ALL0.5"), "OUT11"), 0.5f);
  EXPECT_EQ(at(parse_block_weights("MID"), "M00"), 1.0f);
  EXPECT_EQ(at(parse_block_weights("OUT07"), "OUT07"), 1.0f);
  EXPECT_EQ(at(parse_block_weights("OUT07"), "BASE"), 0.0f);
  // 17 values land on their blocks; the 9 blocks a 17-vector does not name get 0
  auto v17 = parse_block_weights("0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3,1.4,1.5,1.6,1.7");
  EXPECT_FLOAT_EQ(at(v17, "BASE"), 0.1f);
  EXPECT_FLOAT_EQ(at(v17, "IN04"), 0.4f);
  EXPECT_FLOAT_EQ(at(v17, "M00"), 0.8f);
  EXPECT_FLOAT_EQ(at(v17, "OUT03"), 0.9f);
  EXPECT_FLOAT_EQ(at(v17, "OUT11"), 1.7f);
  EXPECT_EQ(at(v17, "IN00"), 0.0f);
  EXPECT_EQ(at(v17, "IN03"), 0.0f);
  EXPECT_EQ(at(v17, "OUT02"), 0.0f);
  std::string s26;
  for (int i = 0; i < 26; ++i) s26 += (i ? "," : "") + std::to_string(i);
  auto v26 = parse_block_weights(s26);
  EXPECT_EQ(at(v26, "IN00"), 1.0f);
  EXPECT_EQ(at(v26, "OUT11"), 25.0f);
  EXPECT_NE(error_of([] { parse_block_weights("OUTX"); }).find("not a preset (NONE, ALL, INS"), std::string::npos);
  EXPECT_NE(error_of([] { parse_block_weights("1,2,3"); }).find("3 numbers; give 17"), std::string::npos);
  EXPECT_NE(error_of([] { parse_block_weights("1,a,1"); }).find("'a' is not a number"), std::string::npos);
}

TEST(BlockWeights, BlockOfEveryKindOfParameter) {
  using ls::adapters::block_of;
  using ls::adapters::Component;
  ls::sd::UNetConfig cfg;  // SD1.5 layout
  EXPECT_EQ(block_of(Component::TextEncoder, "text_model.encoder.layers.0.self_attn.q_proj.weight", cfg), 0);
  EXPECT_EQ(block_of(Component::UNet, "conv_in.weight", cfg), 1);  // IN00
  EXPECT_EQ(block_of(Component::UNet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", cfg), 2);
  EXPECT_EQ(block_of(Component::UNet, "down_blocks.0.downsamplers.0.conv.weight", cfg), 4);  // IN03
  EXPECT_EQ(block_of(Component::UNet, "down_blocks.3.resnets.1.conv1.weight", cfg), 12);     // IN11
  EXPECT_EQ(block_of(Component::UNet, "mid_block.attentions.0.proj_in.weight", cfg), 13);
  EXPECT_EQ(block_of(Component::UNet, "up_blocks.0.resnets.0.conv1.weight", cfg), 14);        // OUT00
  EXPECT_EQ(block_of(Component::UNet, "up_blocks.1.attentions.0.proj_out.weight", cfg), 17);  // OUT03
  EXPECT_EQ(block_of(Component::UNet, "up_blocks.3.attentions.2.proj_out.weight", cfg), 25);  // OUT11
  EXPECT_EQ(block_of(Component::UNet, "time_embedding.linear_1.weight", cfg), -1);
  EXPECT_EQ(block_of(Component::UNet, "conv_out.weight", cfg), -1);
}

}  // namespace
