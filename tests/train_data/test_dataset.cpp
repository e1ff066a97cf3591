// Dataset on a generated kohya-style folder: repeats folders, a plain folder, images in the root, a broken
// file, a missing caption, an unsupported format, a "0_" folder, an empty folder, a hidden folder.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "../common/error_of.h"
#include "../image/test_util.h"
#include "image/image.h"
#include "train/data.h"

namespace {

using namespace ls::train;
using ls::testing::error_of;
using ls::testing::TempDir;
namespace image = ls::image;
namespace fs = std::filesystem;

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class KohyaFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root = tmp / "train";
    const std::string dog = root + "/5_sks dog";
    for (const std::string& d : {dog, root + "/plain", root + "/0_skip", root + "/empty", root + "/.hidden"})
      fs::create_directories(d);
    image::write_image(dog + "/a.png", ls::testing::pattern(600, 400));
    ls::testing::write_text(dog + "/a.txt", "sks dog, Sitting, grass\n");
    image::write_image(dog + "/b.jpg", ls::testing::smooth(400, 600));  // no caption: class tokens
    image::write_image(dog + "/c.webp", ls::testing::smooth(512, 512));
    ls::testing::write_text(dog + "/c.txt", "sks dog, running");
    ls::testing::write_text(dog + "/broken.png", "this is not a picture");
    ls::testing::write_text(dog + "/d.bmp", "BM");
    ls::testing::write_text(dog + "/notes.md", "ignored");
    image::write_image(root + "/plain/e.png", ls::testing::pattern(300, 300));
    ls::testing::write_text(root + "/plain/e.txt", "e tag");
    image::write_image(root + "/0_skip/f.png", ls::testing::pattern(64, 64));
    image::write_image(root + "/.hidden/g.png", ls::testing::pattern(64, 64));
    image::write_image(root + "/top.jpg", ls::testing::smooth(256, 256));
    ls::testing::write_text(root + "/top.txt", "top");
    options.buckets.resolution = {256, 256};
    options.buckets.min_reso = 128;
    options.buckets.max_reso = 512;
    options.batch_size = 2;
    options.seed = 1;
  }
  const ImageEntry& entry(const Dataset& ds, const std::string& name) {
    for (const auto& e : ds.images())
      if (fs::path(e.path).filename() == name) return e;
    throw std::runtime_error("no image " + name);
  }
  TempDir tmp{"dataset"};
  std::string root;
  DataOptions options;
};

TEST_F(KohyaFolder, ScansFoldersCaptionsAndWarnings) {
  std::vector<std::string> streamed;
  options.on_warning = [&](const std::string& w) { streamed.push_back(w); };
  const Dataset ds = Dataset::load(root, options);
  ASSERT_EQ(ds.subsets().size(), 3u);
  EXPECT_EQ(ds.subsets()[0].name, "train");
  EXPECT_EQ(ds.subsets()[0].num_repeats, 1);
  EXPECT_EQ(ds.subsets()[1].name, "5_sks dog");
  EXPECT_EQ(ds.subsets()[1].num_repeats, 5);
  EXPECT_EQ(ds.subsets()[1].class_tokens, std::optional<std::string>("sks dog"));
  EXPECT_EQ(ds.subsets()[1].img_count, 3);
  EXPECT_EQ(ds.subsets()[2].name, "plain");
  EXPECT_FALSE(ds.subsets()[2].class_tokens.has_value());
  ASSERT_EQ(ds.images().size(), 5u);
  EXPECT_EQ(entry(ds, "a.png").caption, "sks dog, Sitting, grass");
  EXPECT_EQ(entry(ds, "b.jpg").caption, "sks dog");
  EXPECT_EQ(entry(ds, "c.webp").caption, "sks dog, running");
  EXPECT_EQ(entry(ds, "e.png").caption, "e tag");
  EXPECT_EQ(entry(ds, "top.jpg").caption, "top");
  EXPECT_EQ(ds.num_train_images(), 17);

  const auto& w = ds.warnings();
  EXPECT_EQ(w, streamed);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0], root + "/0_skip: repeat count 0 is outside 1..1000000; folder skipped");
  EXPECT_EQ(w[1], root + "/5_sks dog/b.jpg: no caption file " + root +
                      "/5_sks dog/b.txt; using the folder's class tokens 'sks dog'");
  EXPECT_EQ(w[2].rfind(root + "/5_sks dog/broken.png: not a PNG, JPEG or WebP file", 0), 0u) << w[2];
  EXPECT_TRUE(has(w[2], "; skipped")) << w[2];
  EXPECT_EQ(w[3], root + "/5_sks dog/d.bmp: unsupported image format '.bmp' (use PNG, JPEG or WebP); skipped");
  EXPECT_EQ(w[4], root + "/empty: no usable images in this folder");
}

TEST_F(KohyaFolder, BucketsAndCrops) {
  const Dataset ds = Dataset::load(root, options);
  const ImageEntry& a = entry(ds, "a.png");  // 600x400 (1.5) → bucket 320x192 (1.67), cover 320x213
  EXPECT_EQ(a.size, (Resolution{600, 400}));
  EXPECT_EQ(a.bucket.bucket, (Resolution{320, 192}));
  EXPECT_EQ(a.bucket.resized, (Resolution{320, 213}));
  EXPECT_EQ(a.crop, (CropOffset{0, 10}));
  const ImageEntry& b = entry(ds, "b.jpg");
  EXPECT_EQ(b.bucket.bucket, (Resolution{192, 320}));
  EXPECT_EQ(b.crop, (CropOffset{10, 0}));
  EXPECT_EQ(entry(ds, "c.webp").bucket.bucket, (Resolution{256, 256}));
  EXPECT_EQ(entry(ds, "e.png").bucket.resized, (Resolution{256, 256}));
  const auto counts = ds.bucket_counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0], (std::pair<Resolution, int64_t>{{192, 320}, 5}));
  EXPECT_EQ(counts[1], (std::pair<Resolution, int64_t>{{256, 256}, 7}));
  EXPECT_EQ(counts[2], (std::pair<Resolution, int64_t>{{320, 192}, 5}));
  EXPECT_EQ(ds.batches_per_epoch(), 10u);  // ⌈5/2⌉ + ⌈7/2⌉ + ⌈5/2⌉
}

TEST_F(KohyaFolder, EpochsCoverEveryRepeatOnceInSameBucketBatches) {
  const Dataset ds = Dataset::load(root, options);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::map<size_t, int> seen;
    for (size_t i = 0; i < ds.batches_per_epoch(); ++i) {
      const Batch b = ds.batch(epoch, i);
      EXPECT_EQ(b.epoch, epoch);
      EXPECT_EQ(b.index, i);
      ASSERT_GE(b.items.size(), 1u);
      ASSERT_LE(b.items.size(), 2u);
      for (const BatchItem& it : b.items) {
        EXPECT_EQ(ds.images()[it.image].bucket.bucket, b.size);
        ++seen[it.image];
      }
    }
    for (size_t i = 0; i < ds.images().size(); ++i)
      EXPECT_EQ(seen[i], ds.subsets()[ds.images()[i].subset].num_repeats) << ds.images()[i].path;
  }
  EXPECT_NE(error_of([&] { ds.batch(0, 10); }).find("index 10 is beyond the 10 batches"), std::string::npos);
  EXPECT_NE(error_of([&] { ds.batch(-1, 0); }).find("epoch -1"), std::string::npos);
}

TEST_F(KohyaFolder, DeterministicGivenTheSeed) {
  options.flip_aug = true;
  options.captions.shuffle_caption = true;
  auto order = [&](const Dataset& ds, int epoch) {
    std::vector<std::string> v;
    for (size_t i = 0; i < ds.batches_per_epoch(); ++i)
      for (const BatchItem& it : ds.batch(epoch, i).items) v.push_back(it.cache_key + " / " + it.caption);
    return v;
  };
  const Dataset a = Dataset::load(root, options), b = Dataset::load(root, options);
  EXPECT_EQ(order(a, 0), order(b, 0));
  EXPECT_EQ(order(a, 3), order(b, 3));
  EXPECT_NE(order(a, 0), order(a, 1));
  // Batches can be asked for in any order (resume mid-epoch): the same answer.
  const Batch late = a.batch(2, 7);
  a.batch(0, 0);
  EXPECT_EQ(a.batch(2, 7).items.size(), late.items.size());
  for (size_t i = 0; i < late.items.size(); ++i) EXPECT_EQ(a.batch(2, 7).items[i].cache_key, late.items[i].cache_key);
  options.seed = 2;
  const Dataset c = Dataset::load(root, options);
  EXPECT_NE(order(a, 0), order(c, 0));
}

TEST_F(KohyaFolder, PixelsAreResizedCroppedFlippedAndScaled) {
  options.flip_aug = true;
  const Dataset ds = Dataset::load(root, options);
  const ImageEntry& a = entry(ds, "a.png");
  const size_t ai = static_cast<size_t>(&a - ds.images().data());
  image::Image want = image::read_image(a.path);
  want = image::resize(want, 320, 213);
  want = image::crop(want, 0, 10, 320, 192);
  bool saw_flip = false, saw_plain = false;
  for (int epoch = 0; epoch < 4; ++epoch)
    for (size_t i = 0; i < ds.batches_per_epoch(); ++i) {
      const Batch b = ds.batch(epoch, i);
      for (size_t k = 0; k < b.items.size(); ++k) {
        const BatchItem& it = b.items[k];
        if (it.image != ai) continue;
        const std::string key_tail = it.flipped ? "|320x192|crop 0,10|flip 1" : "|320x192|crop 0,10|flip 0";
        EXPECT_EQ(it.cache_key, a.path + "|" + a.stamp + key_tail);
        const image::Image got = ds.load_image(it);
        EXPECT_EQ(got.rgb, (it.flipped ? image::flip_horizontal(want) : want).rgb);
        (it.flipped ? saw_flip : saw_plain) = true;
        if (saw_flip && saw_plain && k == 0) {
          const ls::Tensor t = ds.load_pixels(b);
          ASSERT_EQ(t.shape(), (ls::Shape{static_cast<int64_t>(b.items.size()), 3, 192, 320}));
          const ls::Tensor one = image::to_tensor(got);
          for (int64_t j = 0; j < one.numel(); ++j) ASSERT_EQ(t.data<float>()[j], one.data<float>()[j]);
          for (float v : t.f32()) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
        }
      }
    }
  EXPECT_TRUE(saw_flip);
  EXPECT_TRUE(saw_plain);
}

TEST_F(KohyaFolder, KohyaMetadata) {
  const Dataset ds = Dataset::load(root, options);
  auto m = ds.kohya_metadata();
  EXPECT_EQ(m["ss_num_train_images"], "17");
  EXPECT_EQ(m["ss_num_batches_per_epoch"], "10");
  EXPECT_EQ(m["ss_batch_size_per_device"], "2");
  EXPECT_EQ(m["ss_resolution"], "(256, 256)");
  EXPECT_EQ(m["ss_enable_bucket"], "True");
  EXPECT_EQ(m["ss_bucket_no_upscale"], "False");
  EXPECT_EQ(m["ss_min_bucket_reso"], "128");
  EXPECT_EQ(m["ss_max_bucket_reso"], "512");
  EXPECT_EQ(m["ss_caption_dropout_rate"], "0.0");
  EXPECT_EQ(m["ss_shuffle_caption"], "False");
  EXPECT_EQ(m["ss_reg_dataset_dirs"], "{}");
  EXPECT_EQ(m["ss_dataset_dirs"],
            "{\"train\": {\"n_repeats\": 1, \"img_count\": 1}, \"5_sks dog\": {\"n_repeats\": 5, \"img_count\": 3}, "
            "\"plain\": {\"n_repeats\": 1, \"img_count\": 1}}");
  EXPECT_EQ(m["ss_tag_frequency"],
            "{\"train\": {\"top\": 1}, \"5_sks dog\": {\"sks dog\": 3, \"sitting\": 1, \"grass\": 1, \"running\": 1}, "
            "\"plain\": {\"e tag\": 1}}");
  // json.dumps of kohya's bucket_info for these images (mean |ar error| = (1/6 + 1/15) / 5 in float64)
  EXPECT_EQ(m["ss_bucket_info"],
            "{\"buckets\": {\"0\": {\"resolution\": [192, 320], \"count\": 5}, \"1\": {\"resolution\": [256, 256], "
            "\"count\": 7}, \"2\": {\"resolution\": [320, 192], \"count\": 5}}, \"mean_img_ar_error\": 0.046666666666666676}");
  options.buckets.enable = false;
  m = Dataset::load(root, options).kohya_metadata();
  EXPECT_EQ(m["ss_bucket_info"], "null");
  EXPECT_EQ(m["ss_min_bucket_reso"], "None");
}

TEST_F(KohyaFolder, FixedSizeWithoutBuckets) {
  options.buckets.enable = false;
  const Dataset ds = Dataset::load(root, options);
  for (const auto& e : ds.images()) EXPECT_EQ(e.bucket.bucket, (Resolution{256, 256})) << e.path;
  EXPECT_EQ(entry(ds, "a.png").bucket.resized, (Resolution{384, 256}));
  EXPECT_EQ(entry(ds, "a.png").crop, (CropOffset{64, 0}));
  EXPECT_EQ(ds.batches_per_epoch(), 9u);  // ⌈17/2⌉ in one bucket
}

TEST_F(KohyaFolder, ChangedFileIsAnError) {
  const Dataset ds = Dataset::load(root, options);
  const Batch b = ds.batch(0, 0);
  const std::string path = ds.images()[b.items[0].image].path;
  image::write_image(path, ls::testing::smooth(100, 100));
  EXPECT_TRUE(has(error_of([&] { ds.load_image(b.items[0]); }), path + ": image is now 100x100, was "));
}

TEST(Dataset, FlatFolderAndErrors) {
  TempDir tmp("dataset");
  const std::string flat = tmp / "flat";
  fs::create_directories(flat);
  image::write_image(flat + "/x.png", ls::testing::pattern(64, 64));
  image::write_image(flat + "/y.JPG", ls::testing::smooth(128, 64));
  ls::testing::write_text(flat + "/y.caption", "from caption ext");
  DataOptions o;
  o.buckets.resolution = {128, 128};
  o.buckets.min_reso = 64;
  o.buckets.max_reso = 256;
  o.caption_extension = "caption";  // the dot is added
  const Dataset ds = Dataset::load(flat, o);
  ASSERT_EQ(ds.subsets().size(), 1u);
  EXPECT_EQ(ds.subsets()[0].name, "flat");
  EXPECT_EQ(ds.images().size(), 2u);
  EXPECT_EQ(ds.images()[0].caption, "");
  EXPECT_EQ(ds.images()[1].caption, "from caption ext");
  EXPECT_EQ(ds.warnings(), (std::vector<std::string>{flat + "/x.png: no caption file " + flat +
                                                     "/x.caption; using an empty caption"}));

  EXPECT_EQ(error_of([&] { Dataset::load(tmp / "missing", o); }),
            tmp / "missing: not a folder (the training data folder)");
  const std::string broken = tmp / "broken";
  fs::create_directories(broken + "/3_x");
  ls::testing::write_text(broken + "/3_x/bad.jpg", "\xFF\xD8\xFF garbage");
  EXPECT_TRUE(has(error_of([&] { Dataset::load(broken, o); }), broken + ": no usable training images (1 skipped"));
  ls::testing::write_text(flat + "/x.caption", "caf\xE9");
  EXPECT_EQ(error_of([&] { Dataset::load(flat, o); }), flat + "/x.caption: caption file is not valid UTF-8 (byte 3 is 0xe9)");
  o.batch_size = 0;
  EXPECT_EQ(error_of([&] { Dataset::load(flat, o); }), "train_batch_size 0 must be at least 1");
}

}  // namespace
