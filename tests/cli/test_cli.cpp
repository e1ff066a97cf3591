// `lorastack` as a user runs it: the built binary (LS_CLI_PATH) on the tiny refsuite model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "image/grid.h"
#include "image/image.h"
#include "image/text.h"
#include "cli_run.h"
#include "io/safetensors.h"

namespace {

using namespace cli_test;

TEST(Cli, HelpIsCompleteWithExamples) {
  for (std::string sub : {"", "generate", "model init", "model info", "lora inspect", "lora convert",
                                 "lora resize", "lora extract", "lora merge", "models list", "serve", "train"}) {
    Result r = run(sub + " --help");
    EXPECT_EQ(r.rc, 0) << sub;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << sub;
    EXPECT_NE(r.out.find("Example"), std::string::npos) << sub << ": no examples in the help footer";
  }
  Result g = run("generate --help");
  for (const char* opt : {"--batch-count", "--xy", "--font", "--quality", "{prompt:20}", "lbw=", "OUTD", "webp"})
    EXPECT_NE(g.out.find(opt), std::string::npos) << opt;
  EXPECT_NE(run("lora merge --help").out.find("OUTALL"), std::string::npos);
}

TEST(Cli, BadInputGivesOneLineSayingWhatToDo) {
  const std::string m = kGen + " -p x";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "give a command: generate, model, lora, models"},
      {"lora", "give a command: inspect, convert"},
      {"generate -p x", "--model is required (see 'lorastack generate --help')"},
      {m + " --bogus", "unknown option '--bogus' (see 'lorastack generate --help')"},
      {m + " --batch-count 0", "--batch-count"},
      {m + " -o out.gif", "name the output .png, .jpg / .jpeg or .webp"},
      {m + " -o '{nope}.png'", "unknown field {nope}; fields: seed"},
      {m + " --xy color=1,2", "unknown axis 'color'; axes: lora:NAME, seed"},
      {m + " --xy seed=1 --xy seed=2 --xy seed=3", "a grid has two axes"},
      {m + " --xy seed=1,2 --batch-count 2", "use a seed axis instead"},
      {m + " --xy 'prompt=horse,cow'", "'horse' is not in the prompt"},
      {m + " --lora lora_a_kohya:1:lbw=FOO --lora-dir " + kAdapters, "not a preset (NONE, ALL"},
      {m + " --lora nothing --lora-dir " + kAdapters, "adapter 'nothing': no such file"},
      {"lora merge --lora " + kLora + " -o x.safetensors", "give --model M"},
      {"lora inspect /nonexistent.safetensors", "/nonexistent.safetensors"},
  };
  for (const auto& [args, want] : cases) {
    Result r = run(args);
    EXPECT_NE(r.rc, 0) << args;
    std::string all = r.out + r.err;
    EXPECT_EQ(lines(all).size(), 1u) << args << "\n" << all;
    EXPECT_NE(all.find(want), std::string::npos) << args << "\n" << all;
  }
}

TEST(Cli, BatchCountNamesImagesBySeed) {
  std::string d = dir_for("batch");
  Result r = run(kGen + " -p 'a red fox' --seed 7 --batch-count 3 -o '" + d + "/{seed}-{n:2}.png'");
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(lines(r.out), (std::vector<std::string>{d + "/7-00.png", d + "/8-01.png", d + "/9-02.png"}));
  for (int i = 0; i < 3; ++i) {
    std::string p = parameters_of(lines(r.out)[i]);
    EXPECT_NE(p.find(fmt::format("Seed: {},", 7 + i)), std::string::npos) << p;
    EXPECT_EQ(p.find("Batch"), std::string::npos) << p;
  }
  // the same seed alone gives the same picture as that image of the batch
  Result one = run(kGen + " -p 'a red fox' --seed 8 -o " + d + "/single.png");
  ASSERT_EQ(one.rc, 0) << one.err;
  EXPECT_EQ(ls::image::read_image(d + "/single.png").rgb, ls::image::read_image(d + "/8-01.png").rgb);
}

TEST(Cli, BatchSizeTimesCountWithoutFieldsNumbersTheFiles) {
  // batch k starts at seed + 2k; --rng cuda (A1111's per-image generators) gives image j of a batch seed + j,
  // the CPU generator (one draw per batch, ComfyUI) leaves every image of a batch at the batch's seed
  for (const std::string rng : {"cuda", "cpu"}) {
    std::string d = dir_for("batch2-" + rng);
    Result r = run(kGen + " -p 'a red fox' --seed 10 -b 2 --batch-count 2 --rng " + rng + " -o " + d + "/img.png");
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(lines(r.out).size(), 4u);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(lines(r.out)[i], fmt::format("{}/img-{}.png", d, i));
      std::string p = parameters_of(lines(r.out)[i]);
      EXPECT_NE(p.find(fmt::format("Seed: {},", rng == "cuda" ? 10 + i : 10 + i / 2 * 2)), std::string::npos) << p;
      EXPECT_NE(p.find(fmt::format("Batch size: 2, Batch pos: {}", i % 2)), std::string::npos) << p;
    }
    if (rng == "cuda") {  // image 3 is the picture seed 13 gives alone (up to batched-BLAS rounding)
      Result one = run(kGen + " -p 'a red fox' --seed 13 --rng cuda -o " + d + "/single.png");
      ASSERT_EQ(one.rc, 0) << one.err;
      auto a = ls::image::read_image(d + "/single.png").rgb, b = ls::image::read_image(d + "/img-3.png").rgb;
      ASSERT_EQ(a.size(), b.size());
      int worst = 0;
      for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(int(a[k]) - int(b[k])));
      EXPECT_LE(worst, 2);
    }
  }
}

TEST(Cli, PatternFieldsAndFolders) {
  std::string d = dir_for("pattern");
  Result r = run(kGen + " -p 'a red fox <lora:lora_a_kohya:0.5>' --lora-dir " + kAdapters + " --seed 5 -o '" + d +
              "/new/[seed]_{prompt:6}_{model}_{steps}_{lora}.png'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, d + "/new/5_a_red_tiny-sd1_3_lora_a_kohya.png\n");
  EXPECT_TRUE(std::filesystem::exists(d + "/new/5_a_red_tiny-sd1_3_lora_a_kohya.png"));
}

TEST(Cli, JpegAndWebpCarryParametersWithLoraHashes) {
  std::string d = dir_for("formats");
  for (std::string ext : {"jpg", "webp", "png"}) {
    Result r = run(kGen + " -p 'a red fox' --lora " + kLora + ":0.7 -o " + d + "/x." + ext);
    ASSERT_EQ(r.rc, 0) << r.err;
    std::string p = parameters_of(d + "/x." + ext);
    // the --lora adapter is written into the prompt as A1111 writes its tags
    EXPECT_NE(p.find("a red fox <lora:lora_a_kohya:0.7>\nSteps: 3, Sampler: Euler"), std::string::npos)
        << ext << ": " << p;
    EXPECT_NE(p.find("Lora hashes: \"lora_a_kohya: 3d2b3c2180ef\""), std::string::npos) << ext << ": " << p;
    ls::image::Image im = ls::image::read_image(d + "/x." + ext);
    EXPECT_EQ(im.width, 64);
  }
  const std::string head = slurp(d + "/x.jpg").substr(0, 3), riff = slurp(d + "/x.webp").substr(0, 4);
  EXPECT_EQ(head, "\xff\xd8\xff");
  EXPECT_EQ(riff, "RIFF");
}

TEST(Cli, BlockWeightsAtGenerateTime) {
  std::string d = dir_for("lbw");
  auto gen = [&](const std::string& lora, const std::string& name, const std::string& prompt = "a red fox") {
    Result r = run(kGen + " -p '" + prompt + "' --seed 3 " + lora + " -o " + d + "/" + name);
    EXPECT_EQ(r.rc, 0) << r.err;
    return ls::image::read_image(d + "/" + name).rgb;
  };
  auto plain = gen("", "plain.png");
  auto full = gen("--lora " + kLora + ":1", "full.png");
  ASSERT_NE(plain, full);  // the adapter changes the picture
  EXPECT_EQ(gen("--lora " + kLora + ":1:lbw=NONE", "none.png"), plain);  // every block at 0: the base model
  EXPECT_EQ(gen("--lora " + kLora + ":1:lbw=ALL", "all.png"), full);
  auto outd = gen("--lora '" + kLora + ":1:lbw=1,0,0,0,0,0,0,0,1,1,1,1,0,0,0,0,0'", "outd-vector.png");
  EXPECT_EQ(gen("--lora " + kLora + ":1:lbw=OUTD", "outd.png"), outd);  // the preset is that vector
  EXPECT_NE(outd, full);
  // the prompt tag form: the tag is skipped by the tokenizer, so lbw=NONE draws the base model's picture
  EXPECT_EQ(gen("--lora-dir " + kAdapters, "tag.png", "a red fox <lora:lora_a_kohya:1:lbw=NONE>"), plain);
  EXPECT_EQ(gen("--lora-dir " + kAdapters, "tag-outd.png", "a red fox <lora:lora_a_kohya:1:lbw=OUTD>"), outd);
}

TEST(Cli, XYGridOfStrengthsAndSeeds) {
  std::string d = dir_for("xy");
  Result r = run(kGen + " -p 'a red fox' --lora-dir " + kAdapters +
              " --xy 'lora:lora_a_kohya=0,0.5,1' --xy 'seed=1,2' -o " + d + "/grid.png");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, d + "/grid.png\n");
  ls::image::Image g = ls::image::read_image(d + "/grid.png");
  std::vector<ls::image::Image> cells(6, ls::image::Image{64, 64, std::vector<uint8_t>(64 * 64 * 3)});
  std::vector<std::string> cols = {"lora_a_kohya: 0", "lora_a_kohya: 0.5", "lora_a_kohya: 1"}, rows = {"Seed: 1", "Seed: 2"};
  auto L = ls::image::grid_layout(cells, 3, cols, rows, ls::image::label_font_path());
  ASSERT_EQ(g.width, L.width());
  ASSERT_EQ(g.height, L.height());
  EXPECT_EQ(g.width, L.label_width + 3 * 64);
  EXPECT_EQ(g.height, L.label_height + 2 * 64);
  // cell (strength 0.5, seed 2) is the image a plain run with those settings makes
  Result one = run(kGen + " -p 'a red fox' --lora " + kLora + ":0.5 --seed 2 -o " + d + "/one.png");
  ASSERT_EQ(one.rc, 0) << one.err;
  ls::image::Image im = ls::image::read_image(d + "/one.png");
  int diff = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64 * 3; ++x)
      diff += im.rgb[static_cast<size_t>(y) * 64 * 3 + x] !=
              g.rgb[(static_cast<size_t>(L.label_height + 64 + y) * g.width + L.label_width + 64) * 3 + x];
  EXPECT_EQ(diff, 0);
  EXPECT_NE(parameters_of(d + "/grid.png").find("Seed: 1,"), std::string::npos);  // the first cell's settings
  // one axis: a row without row labels
  Result row = run(kGen + " -p 'a red fox' --xy 'prompt=fox,cat' -o " + d + "/row.png");
  ASSERT_EQ(row.rc, 0) << row.err;
  auto R = ls::image::grid_layout({cells[0], cells[1]}, 2, {"fox", "cat"}, {}, ls::image::label_font_path());
  EXPECT_EQ(ls::image::read_image(d + "/row.png").width, R.width());
  EXPECT_EQ(R.label_width, 0);
}

TEST(Cli, XYWithoutTheFontFailsBeforeRendering) {
  std::string d = dir_for("xyfont");
  Result r = run(kGen + " -p x --xy seed=1,2 -o " + d + "/g.png", "LORASTACK_FONT=/nonexistent/font.ttf");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("fonts-dejavu-core"), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.out + r.err).size(), 1u) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d + "/g.png"));
}

TEST(Cli, LoraMergeWithBlockWeights) {
  // merging lbw=OUTD into the checkpoint equals baking it into one adapter (--concat) and merging that
  std::string d = dir_for("merge");
  std::string base = kRef + "model/tiny-sd1.safetensors";
  ASSERT_EQ(run("lora merge -m " + base + " --lora " + kLora + ":0.8:lbw=OUTD --dtype fp32 -o " + d + "/a.safetensors").rc, 0);
  ASSERT_EQ(run("lora merge --lora " + kLora + ":0.8:lbw=OUTD --concat -o " + d + "/outd.safetensors").rc, 0);
  ASSERT_EQ(run("lora merge -m " + base + " --lora " + d + "/outd.safetensors --dtype fp32 -o " + d + "/b.safetensors").rc, 0);
  auto a = ls::io::read_safetensors(d + "/a.safetensors"), b = ls::io::read_safetensors(d + "/b.safetensors");
  auto plain = ls::io::read_safetensors(base);
  int changed = 0;
  for (const auto& [k, t] : a.tensors) {
    ls::Tensor x = t.to(ls::DType::F32), y = b.get(k).to(ls::DType::F32), z = plain.get(k).to(ls::DType::F32);
    double worst = 0, moved = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      worst = std::max(worst, std::abs(double(x.f32()[i]) - y.f32()[i]));
      moved = std::max(moved, std::abs(double(x.f32()[i]) - z.f32()[i]));
    }
    EXPECT_LT(worst, 1e-5) << k;
    changed += moved > 0;
    // OUTD touches the text encoder (BASE) and output_blocks 3-6 only
    if (moved > 0 && k.rfind("model.diffusion_model.", 0) == 0) {
      EXPECT_TRUE(k.find("output_blocks.3.") != std::string::npos || k.find("output_blocks.4.") != std::string::npos ||
                  k.find("output_blocks.5.") != std::string::npos || k.find("output_blocks.6.") != std::string::npos)
          << k;
    }
  }
  EXPECT_GT(changed, 12);
}

TEST(Cli, InspectJsonIsComplete) {
  Result r = run("lora inspect --json " + kLora);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"path", "file_size", "format", "algorithms", "family", "family_source", "fits", "groups",
                        "modules", "unet_modules", "te_modules", "unknown_keys", "metadata", "trigger_phrase", "top_tags",
                        "sha256", "autov2", "addnet_hash", "short_hash", "sshs_model_hash", "sshs_legacy_hash"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["short_hash"], "3d2b3c2180ef");
  EXPECT_EQ(j["sshs_legacy_hash"]["computed"], "e3b0c442");
  Result t = run("lora inspect " + kLora);
  EXPECT_NE(t.out.find("sshs_legacy_hash:"), std::string::npos);
}

}  // namespace
