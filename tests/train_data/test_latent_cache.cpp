// LatentCache: memory and safetensors-file backed, fingerprinted.
#include <gtest/gtest.h>

#include "../common/error_of.h"
#include "../image/test_util.h"
#include "io/safetensors.h"
#include "train/data_cache.h"

namespace {

using ls::Tensor;
using ls::train::LatentCache;

Tensor latent(float base) {
  std::vector<float> v(4 * 8 * 6);
  for (size_t i = 0; i < v.size(); ++i) v[i] = base + static_cast<float>(i) * 0.01f;
  return Tensor::from_vector({1, 4, 8, 6}, v);
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(LatentCache, MemoryOnly) {
  LatentCache c;
  EXPECT_FALSE(c.contains("k"));
  EXPECT_FALSE(c.get("k").has_value());
  Tensor t = latent(1);
  c.put("k", t);
  t.f32()[0] = 99;  // the cache kept its own copy
  ASSERT_TRUE(c.get("k").has_value());
  EXPECT_TRUE(same(*c.get("k"), latent(1)));
  EXPECT_EQ(c.size(), 1u);
  c.save();  // no file: nothing happens
  EXPECT_NE(ls::testing::error_of([&] { c.put("__metadata__", t); }).find("reserved"), std::string::npos);
}

TEST(LatentCache, FileRoundTripWithFingerprint) {
  ls::testing::TempDir dir("latents");
  const std::string path = dir / "latents.safetensors";
  const std::string k1 = "/data/5_x/a.png|123:456|320x192|crop 0,10|flip 0";
  const std::string k2 = "/data/5_x/a.png|123:456|320x192|crop 0,10|flip 1";
  {
    LatentCache c(path, "vae sha256:abc scale 0.18215");
    EXPECT_EQ(c.discarded(), "");
    c.put(k1, latent(1));
    c.put(k2, latent(2).to(ls::DType::F16));
    EXPECT_EQ(c.unsaved(), 2u);
    c.save();
    EXPECT_EQ(c.unsaved(), 0u);
  }
  {
    LatentCache c(path, "vae sha256:abc scale 0.18215");
    EXPECT_EQ(c.size(), 2u);
    EXPECT_TRUE(same(*c.get(k1), latent(1)));
    EXPECT_EQ(c.get(k2)->dtype(), ls::DType::F16);
    EXPECT_TRUE(same(*c.get(k2), latent(2).to(ls::DType::F16)));
    c.put("/data/b.png|1:2|256x256|crop 0,0|flip 0", latent(3));
    c.save();  // rewrites the file it is reading from: its old mapping stays valid
    EXPECT_TRUE(same(*c.get(k1), latent(1)));
  }
  EXPECT_EQ(ls::io::read_safetensors(path).tensors.size(), 3u);
  LatentCache other(path, "another vae");
  EXPECT_EQ(other.size(), 0u);
  EXPECT_EQ(other.discarded(), path + ": made for fingerprint 'vae sha256:abc scale 0.18215', not 'another vae'");
  ls::testing::write_text(path, "junk");
  LatentCache corrupt(path, "x");
  EXPECT_EQ(corrupt.size(), 0u);
  EXPECT_NE(corrupt.discarded().find(path), std::string::npos);
  corrupt.put(k1, latent(4));
  corrupt.save();
  EXPECT_TRUE(same(*LatentCache(path, "x").get(k1), latent(4)));
}

}  // namespace
