// lora inspect: every refsuite adapter and the real-world file; hashes checked against sha256sum.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "io/safetensors.h"
#include "toolbox/inspect.h"

namespace {

const std::string kShared = LS_SHARED_DIR;

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  return out.substr(0, 64);
}

uint64_t header_len(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char b[8] = {};
  f.read(reinterpret_cast<char*>(b), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  return n;
}

const std::vector<std::string> kFiles = {
    "refsuite/adapters/lora_a/lora_a_kohya.safetensors",
    "refsuite/adapters/lora_a/pytorch_lora_weights.safetensors",
    "refsuite/adapters/lora_a/pytorch_lora_weights_te_text_model_prefix.safetensors",
    "refsuite/adapters/locon_b/locon_b_kohya.safetensors",
    "refsuite/adapters/loha_c/loha_c_lycoris.safetensors",
    "refsuite/adapters/lokr_c/lokr_c_lycoris.safetensors",
    "refsuite/adapters/dora_d/pytorch_lora_weights.safetensors",
    "refsuite/adapters/dora_d/dora_d_lycoris.safetensors",
    "refsuite/adapters/diff_e/diff_e_kohya.safetensors",
    "realworld/sd15-pokemon-lora.safetensors",
};

TEST(Inspect, HashesMatchSha256sum) {
  for (const std::string& rel : kFiles) {
    std::string path = kShared + "/" + rel;
    auto r = ls::toolbox::inspect_adapter(path);
    std::string sum = run("sha256sum '" + path + "'");
    EXPECT_EQ(r.sha256, sum) << rel;
    std::string tail = run(fmt::format("tail -c +{} '{}' | sha256sum", header_len(path) + 9, path));
    EXPECT_EQ(r.addnet_hash, tail) << rel;
    EXPECT_EQ(r.short_hash, tail.substr(0, 12)) << rel;
    std::string av2 = sum.substr(0, 10);
    for (char& c : av2) c = static_cast<char>(toupper(c));
    EXPECT_EQ(r.autov2, av2) << rel;
    EXPECT_EQ(r.kohya_hash_status, "absent") << rel;  // none of these files carries sshs_model_hash
    // Files written by safetensors are in its canonical order: the kohya hash equals the addnet hash.
    EXPECT_EQ(r.kohya_hash_computed, r.addnet_hash) << rel;
    EXPECT_FALSE(ls::toolbox::inspect_text(r).empty());
    EXPECT_EQ(ls::toolbox::inspect_json(r)["sha256"], sum);
  }
}

TEST(Inspect, LoraAKohya) {
  auto r = ls::toolbox::inspect_adapter(kShared + "/refsuite/adapters/lora_a/lora_a_kohya.safetensors");
  EXPECT_EQ(r.format, "kohya");
  EXPECT_EQ(r.family, "SD1.x");
  EXPECT_EQ(r.family_source, "ss_base_model_version=sd_v1");
  EXPECT_EQ(r.modules, 140);
  EXPECT_EQ(r.unet_modules, 128);
  EXPECT_EQ(r.te_modules, 12);
  EXPECT_EQ(r.algorithms.at("lora"), 140);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].name, "te attn");
  EXPECT_EQ(r.groups[0].rank_alpha.at("rank 4, alpha 8"), 12);
  EXPECT_EQ(r.groups[1].name, "unet attn");
  EXPECT_EQ(r.groups[1].rank_alpha.at("rank 4, alpha 8"), 128);
  ASSERT_EQ(r.fits.size(), 2u);
  EXPECT_EQ(r.fits[0].names_matched, 140);  // SD1 names
  EXPECT_EQ(r.fits[0].shapes_fit, 0);       // the tiny model's widths, not SD1.5's
  EXPECT_EQ(r.metadata.at("ss_network_dim"), "4");
}

TEST(Inspect, LoconAndLycoris) {
  auto b = ls::toolbox::inspect_adapter(kShared + "/refsuite/adapters/locon_b/locon_b_kohya.safetensors");
  EXPECT_EQ(b.modules, 236 + 18);
  EXPECT_GT(b.algorithms.at("locon"), 0);
  bool conv = false;
  for (auto& g : b.groups)
    if (g.name == "unet conv") conv = g.rank_alpha.at("rank 4, alpha 2") > 0;
  EXPECT_TRUE(conv);
  auto c = ls::toolbox::inspect_adapter(kShared + "/refsuite/adapters/loha_c/loha_c_lycoris.safetensors");
  EXPECT_EQ(c.format, "lycoris");
  EXPECT_EQ(c.algorithms.at("loha"), 162);
  auto d = ls::toolbox::inspect_adapter(kShared + "/refsuite/adapters/dora_d/pytorch_lora_weights.safetensors");
  EXPECT_GT(d.algorithms.at("dora"), 0);
}

TEST(Inspect, RealWorldPokemon) {
  auto r = ls::toolbox::inspect_adapter(kShared + "/realworld/sd15-pokemon-lora.safetensors");
  EXPECT_EQ(r.family, "SD1.x");
  EXPECT_EQ(r.modules, 128);
  EXPECT_EQ(r.fits[0].family, "SD1.x");
  EXPECT_EQ(r.fits[0].names_matched, 128);
  EXPECT_EQ(r.fits[0].shapes_fit, 128);  // a real SD1.5 LoRA fits the full-size layout
  EXPECT_EQ(r.metadata.at("format"), "pt");
}

TEST(Inspect, KohyaHashStatusAndTriggerWords) {
  auto src = ls::io::read_safetensors(kShared + "/refsuite/adapters/lora_a/lora_a_kohya.safetensors");
  std::string good = ls::toolbox::kohya_model_hash(src.tensors);
  std::string dir = ::testing::TempDir();
  auto md = src.metadata;
  md["sshs_model_hash"] = good;
  md["modelspec.trigger_phrase"] = "pkmn style";
  md["ss_tag_frequency"] = R"({"1_a": {"cat": 3, " dog": 5}, "2_b": {"cat": 4, "bird": 1}})";
  md["user_note"] = "metadata outside ss_* does not change the hash";
  ls::io::write_safetensors(dir + "/h1.safetensors", src.tensors, md);
  auto r = ls::toolbox::inspect_adapter(dir + "/h1.safetensors");
  EXPECT_EQ(r.kohya_hash_status, "matches");
  EXPECT_EQ(r.trigger_phrase, "pkmn style");
  ASSERT_EQ(r.top_tags.size(), 3u);
  EXPECT_EQ(r.top_tags[0], (std::pair<std::string, int>("cat", 7)));
  EXPECT_EQ(r.top_tags[1], (std::pair<std::string, int>("dog", 5)));
  md["sshs_model_hash"] = std::string(64, '0');
  ls::io::write_safetensors(dir + "/h2.safetensors", src.tensors, md);
  EXPECT_EQ(ls::toolbox::inspect_adapter(dir + "/h2.safetensors").kohya_hash_status, "differs");
}

// sha256 of the 64 KiB at byte offset `at` of `path`, 8 hex (kohya addnet_hash_legacy on a file as it is).
std::string window_hash(const std::string& path, uint64_t at) {
  return run(fmt::format("tail -c +{} '{}' | head -c 65536 | sha256sum", at + 1, path)).substr(0, 8);
}

TEST(Inspect, KohyaLegacyHashOfARealFile) {
  // The real-world file was written by safetensors with metadata {"format": "pt"}; kohya would serialise the same
  // tensors with only its ss_* metadata, {} here, so its header is that file's header with the metadata emptied.
  const std::string path = kShared + "/realworld/sd15-pokemon-lora.safetensors";
  std::ifstream f(path, std::ios::binary);
  const uint64_t n = header_len(path);
  std::string hdr(n, ' ');
  f.seekg(8);
  f.read(hdr.data(), static_cast<std::streamsize>(n));
  while (!hdr.empty() && hdr.back() == ' ') hdr.pop_back();
  const std::string from = "\"__metadata__\":{\"format\":\"pt\"}";
  ASSERT_NE(hdr.find(from), std::string::npos);
  hdr.replace(hdr.find(from), from.size(), "\"__metadata__\":{}");
  while (hdr.size() % 8) hdr.push_back(' ');
  // kohya's byte 1 MiB is this file's byte 1 MiB + (its header − kohya's header)
  const std::string want = window_hash(path, 0x100000 + n - hdr.size());
  auto r = ls::toolbox::inspect_adapter(path);
  EXPECT_EQ(r.legacy_hash_computed, want);
  EXPECT_EQ(r.legacy_hash_status, "absent");
  EXPECT_EQ(ls::toolbox::inspect_json(r)["sshs_legacy_hash"]["computed"], want);
}

TEST(Inspect, KohyaLegacyHashStatus) {
  // A file written in kohya's own layout (one dtype: name order is safetensors' order; only ss_* metadata), over
  // 1 MiB: the legacy hash is the hash of its own window. Files under 1 MiB hash no bytes at all.
  std::map<std::string, ls::Tensor> t;
  for (int i = 0; i < 2; ++i)
    for (const char* part : {"lora_down", "lora_up"}) {  // rank 256 modules: 1 MiB each
      ls::Tensor x = ls::Tensor::empty({256, 512});
      for (int64_t k = 0; k < x.numel(); ++k) x.f32()[k] = static_cast<float>((k * 7 + i) % 1000) / 1000.0f;
      t[fmt::format("lora_unet_m{}.{}.weight", i, part)] = part[5] == 'u' ? x.reshape({512, 256}) : x;
    }
  std::map<std::string, std::string> md = {{"ss_network_dim", "4"}, {"ss_training_comment", "a\nb \"c\" é"}};
  const std::string dir = ::testing::TempDir();
  ls::io::write_safetensors(dir + "/legacy.safetensors", t, md);
  const std::string want = window_hash(dir + "/legacy.safetensors", 0x100000);
  md["modelspec.title"] = "not ss_*: kohya leaves it out of the hashed file";
  EXPECT_EQ(ls::toolbox::kohya_legacy_hash(t, md), want);
  md.erase("modelspec.title");
  md["sshs_legacy_hash"] = want;
  ls::io::write_safetensors(dir + "/legacy2.safetensors", t, md);
  EXPECT_EQ(ls::toolbox::inspect_adapter(dir + "/legacy2.safetensors").legacy_hash_status, "matches");
  md["sshs_legacy_hash"] = "00000000";
  ls::io::write_safetensors(dir + "/legacy3.safetensors", t, md);
  auto r = ls::toolbox::inspect_adapter(dir + "/legacy3.safetensors");
  EXPECT_EQ(r.legacy_hash_status, "differs");
  EXPECT_NE(ls::toolbox::inspect_text(r).find("sshs_legacy_hash: differs (stored 00000000, computed " + want),
            std::string::npos);
  auto small = ls::toolbox::inspect_adapter(kShared + "/refsuite/adapters/lora_a/lora_a_kohya.safetensors");
  EXPECT_EQ(small.legacy_hash_computed, "e3b0c442");  // sha256 of no bytes: the file ends before 1 MiB
}

TEST(Inspect, BadInputThrows) {
  EXPECT_THROW(ls::toolbox::inspect_adapter("/nonexistent.safetensors"), std::runtime_error);
  EXPECT_THROW(ls::toolbox::inspect_adapter(kShared + "/refsuite/model/tiny-sd1.safetensors"), std::runtime_error);
}

}  // namespace
