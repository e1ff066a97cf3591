// Aspect-ratio buckets against numbers made by kohya-ss sd-scripts' own make_bucket_resolutions and
// BucketManager.select_bucket (tests/train_data/make_kohya_reference.py → data/kohya_reference.json).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "../common/error_of.h"
#include "train/bucket.h"

namespace {

using namespace ls::train;
using ls::testing::error_of;

nlohmann::json reference() {
  std::ifstream in(std::string(LS_SOURCE_DIR) + "/tests/train_data/data/kohya_reference.json");
  return nlohmann::json::parse(in);
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Buckets, ResolutionsMatchKohya) {
  const auto ref = reference();
  ASSERT_EQ(ref["resolutions"].size(), 4u);
  for (const auto& r : ref["resolutions"]) {
    const auto got = make_bucket_resolutions({r["max_reso"][0], r["max_reso"][1]}, r["min"], r["max"], r["steps"]);
    std::vector<std::vector<int>> want = r["buckets"];
    ASSERT_EQ(got.size(), want.size()) << r["max_reso"];
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].width, want[i][0]) << i;
      EXPECT_EQ(got[i].height, want[i][1]) << i;
    }
  }
}

TEST(Buckets, SelectionMatchesKohya) {
  const auto ref = reference();
  int checked = 0, errors = 0;
  for (const auto& s : ref["select"]) {
    BucketOptions o;
    o.resolution = {s["resolution"][0], s["resolution"][1]};
    o.enable = s["config"] != "fixed";
    o.no_upscale = s["no_upscale"];
    if (o.enable) o.min_reso = s["min"], o.max_reso = s["max"], o.reso_steps = s["steps"];
    const BucketSelector sel(o);
    const int w = s["image"][0], h = s["image"][1];
    const std::string where = s["config"].get<std::string>() + " " + s["resolution"].dump() + " image " + s["image"].dump();
    if (s.contains("error")) {
      // kohya fails (ZeroDivisionError) or makes an empty bucket; here a one-line ls::Error.
      EXPECT_TRUE(has(error_of([&] { sel.select(w, h); }), "bucket")) << where;
      ++errors;
      continue;
    }
    const BucketChoice c = sel.select(w, h);
    EXPECT_EQ(c.bucket.width, s["bucket"][0].get<int>()) << where;
    EXPECT_EQ(c.bucket.height, s["bucket"][1].get<int>()) << where;
    EXPECT_EQ(c.resized.width, s["resized"][0].get<int>()) << where;
    EXPECT_EQ(c.resized.height, s["resized"][1].get<int>()) << where;
    EXPECT_DOUBLE_EQ(c.ar_error, s["ar_error"].get<double>()) << where;
    ++checked;
  }
  EXPECT_EQ(checked + errors, 80);
  EXPECT_EQ(errors, 2);
}

TEST(Buckets, CenterCropOffsetsRoundDown) {
  EXPECT_EQ(center_crop_offset({597, 448}, {576, 448}), (CropOffset{10, 0}));
  EXPECT_EQ(center_crop_offset({512, 683}, {512, 640}), (CropOffset{0, 21}));
}

TEST(Buckets, OptionsAreAdjustedAndCheckedAsKohyaDoes) {
  BucketOptions o;
  o.min_reso = 300;  // → 256
  o.max_reso = 1000;  // → 1024
  const BucketSelector sel(o);
  EXPECT_EQ(sel.options().min_reso, 256);
  EXPECT_EQ(sel.options().max_reso, 1024);
  ASSERT_EQ(sel.warnings().size(), 2u);
  EXPECT_EQ(sel.warnings()[0], "min_bucket_reso adjusted to a multiple of bucket_reso_steps 64: 300 -> 256");
  EXPECT_EQ(sel.warnings()[1], "max_bucket_reso adjusted to a multiple of bucket_reso_steps 64: 1000 -> 1024");
  auto error = [](BucketOptions b) { return error_of([&] { BucketSelector s(b); }); };
  BucketOptions bad;
  bad.reso_steps = 32;
  EXPECT_EQ(error(bad), "bucket_reso_steps 32 must be a positive multiple of 64 for this model");
  bad = {};
  bad.min_reso = 576;
  EXPECT_EQ(error(bad), "min_bucket_reso 576 is larger than the resolution's short side 512");
  bad = {};
  bad.resolution = {1024, 1024};
  bad.max_reso = 768;
  EXPECT_EQ(error(bad), "max_bucket_reso 768 is smaller than the resolution's long side 1024");
  bad = {};
  bad.enable = false;
  bad.resolution = {500, 512};
  EXPECT_EQ(error(bad), "resolution 500x512: sides must be multiples of 64 for this model");
  bad = {};
  bad.min_reso = 40;  // rounds down to 0
  EXPECT_TRUE(has(error(bad), "min_bucket_reso 0 must be positive"));
}

TEST(Buckets, FixedSizeWithoutBucketing) {
  BucketOptions o;
  o.enable = false;
  o.resolution = {512, 512};
  const BucketSelector sel(o);
  const BucketChoice c = sel.select(1024, 768);
  EXPECT_EQ(c.bucket, (Resolution{512, 512}));
  EXPECT_EQ(c.resized, (Resolution{683, 512}));
}

}  // namespace
