// Training images from kohya-ss style folders, bucketed and batched (kohya-ss sd-scripts
// library/train_util.py DreamBoothDataset, library/config_util.py generate_dreambooth_subsets_config_by_subdirs).
//
// Folder layout of DIR:
//   DIR/<N>_<name>/img.png + img.txt   N repeats per epoch; <name> is the folder's class tokens
//   DIR/<name>/img.jpg + img.txt       a plain folder: 1 repeat, no class tokens (kohya ignores such folders)
//   DIR/img.webp + img.txt             images directly in DIR: 1 repeat, no class tokens
// Images: .png .jpg .jpeg .webp (any case; decoded by content). Sub-folders of sub-folders and hidden
// entries are not read; folders and files are taken in byte order of their names (kohya: file order sorted,
// folder order as the file system lists it). "0_name" folders are skipped with a warning (kohya: repeats < 1).
//
// Captions: the same stem with caption_extension (kohya read_caption: first line, stripped). A missing
// caption file gives a warning naming the image and, as in kohya, the folder's class tokens when it has
// them, else "". An image that cannot be decoded, or whose size fits no bucket, gives a warning naming the
// file and is skipped; the dataset must keep at least one image. Other files are ignored, except image
// formats lorastack cannot decode (.bmp .gif .tif .tiff .avif .jxl), which are warned about.
//
// Where this differs from kohya-ss, on purpose: plain folders and images directly in DIR are used (kohya
// ignores them); an undecodable image is skipped with a warning (kohya stops); JPEG EXIF orientation is
// applied (kohya trains on the stored pixels); folders are taken in sorted order; a caption file's UTF-8 BOM
// is removed and an empty caption file is "" (kohya refuses it); without bucketing every image is resized to
// cover the resolution and centre-cropped (kohya requires images of exactly that size unless random_crop).
// Not implemented: regularisation folders, random_crop, color_aug, wildcards, caption prefix / suffix,
// keep_tokens_separator, token warm-up, face crop, alpha masks, SDXL crop conditioning values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "image/image.h"
#include "runtime/tensor.h"
#include "train/bucket.h"
#include "train/captions.h"

namespace ls::train {

/// Options of the data pipeline (kohya-ss argument names in the comments).
struct DataOptions {
  std::string caption_extension = ".txt";  ///< --caption_extension (leading dot optional)
  BucketOptions buckets;                   ///< --resolution, --enable_bucket, --min/max_bucket_reso, ...
  int bucket_multiple = 64;                ///< sides must be multiples of this (SD1: 64)
  int batch_size = 1;                      ///< --train_batch_size
  bool flip_aug = false;                   ///< --flip_aug: mirror each item with probability 1/2
  CaptionOptions captions;                 ///< --shuffle_caption, --keep_tokens, dropout rates
  uint64_t seed = 0;                       ///< --seed: fixes batch order, flips and caption ops
  /// Called with each warning as it happens (they are also kept in Dataset::warnings()).
  std::function<void(const std::string&)> on_warning;
};

/// One image folder (kohya "subset").
struct Subset {
  std::string dir;          ///< folder path
  std::string name;         ///< folder name: the key of ss_dataset_dirs and ss_tag_frequency
  int num_repeats = 1;      ///< N of "N_name"; 1 otherwise
  std::optional<std::string> class_tokens;  ///< "name" of "N_name" (may be ""); none for plain folders
  int img_count = 0;        ///< images kept (without repeats)
};

/// One usable image and where it goes.
struct ImageEntry {
  std::string path;
  size_t subset = 0;        ///< index into Dataset::subsets()
  std::string caption;      ///< as read (or class tokens / "" when the caption file is missing)
  Resolution size;          ///< decoded size, EXIF orientation applied
  BucketChoice bucket;      ///< bucket, resized size
  CropOffset crop;          ///< centre crop of the resized image to the bucket
  std::string stamp;        ///< "<bytes>:<mtime ns>" of the file when scanned (part of cache keys)
};

/// One training example of a batch.
struct BatchItem {
  size_t image = 0;         ///< index into Dataset::images()
  bool flipped = false;     ///< mirrored left ↔ right (flip_aug)
  std::string caption;      ///< this epoch's caption (after shuffle / dropout)
  /// Stable identity of the pixels this item feeds the VAE: "<path>|<stamp>|<W>x<H>|crop <l>,<t>|flip <0/1>"
  /// (bucket size, crop offset in the resized image). Equal keys ⇒ identical input tensors, across epochs
  /// and runs, as long as the file is unchanged; use it for LatentCache.
  std::string cache_key;
};

/// Items of one bucket (all the same size), in training order.
struct Batch {
  int epoch = 0;
  size_t index = 0;         ///< position in the epoch
  Resolution size;          ///< the bucket: every item's width × height
  std::vector<BatchItem> items;
};

/// A scanned, bucketed training set. Batches are a pure function of (seed, epoch, index), so a run can
/// resume mid-epoch by asking for the next index. Thread-safe for concurrent const use.
class Dataset {
 public:
  /// Scan `dir` (layout above; made absolute, so image paths and cache keys do not depend on the working
  /// folder), read captions, decode every image once (up to 8 threads) to check it and learn its size, and
  /// assign buckets. Warnings and image order do not depend on the thread count. Throws ls::Error when `dir` is not a folder, an option is invalid (BucketSelector),
  /// a caption file is unreadable or not UTF-8, or no usable image remains.
  static Dataset load(const std::string& dir, const DataOptions& options);

  const DataOptions& options() const { return options_; }
  const BucketOptions& bucket_options() const { return selector_.options(); }  ///< after adjustment
  const std::vector<Subset>& subsets() const { return subsets_; }
  const std::vector<ImageEntry>& images() const { return images_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  /// Images × repeats (kohya num_train_images).
  int64_t num_train_images() const;
  /// Batches in each epoch: Σ over buckets of ⌈(images × repeats in the bucket) / batch_size⌉.
  size_t batches_per_epoch() const;
  /// Buckets in use (sorted) and their item counts per epoch (with repeats).
  std::vector<std::pair<Resolution, int64_t>> bucket_counts() const;

  /// Batch `index` (< batches_per_epoch()) of `epoch` (≥ 0). Order as kohya: each bucket's list of images ×
  /// repeats is shuffled and cut into batches (the last may be short), then the batches of all buckets are
  /// shuffled; both with DataRng::derive(seed, epoch). Flips and caption ops of the batch's items draw from
  /// DataRng::derive(seed, epoch, index), item by item (flip first, then the caption). Throws ls::Error for
  /// an index out of range.
  Batch batch(int epoch, size_t index) const;

  /// The item's pixels: decode, resize to the bucket's covering size (image::Filter::Auto: area down,
  /// Lanczos up, as kohya), centre-crop to the bucket, mirror when flipped. Throws ls::Error naming the file
  /// when it can no longer be read or its size changed since load().
  image::Image load_image(const BatchItem& item) const;
  /// The batch as the VAE encoder's input: F32 [B, 3, H, W] in [-1, 1] (image::to_tensor per item).
  Tensor load_pixels(const Batch& batch) const;

  /// ss_* metadata of the data side, as kohya train_network.py writes it (every value a string, Python
  /// str() spelling; JSON values as json.dumps with its default separators and ensure_ascii):
  /// ss_num_train_images, ss_num_reg_images, ss_num_batches_per_epoch, ss_batch_size_per_device,
  /// ss_resolution "(W, H)", ss_enable_bucket, ss_bucket_no_upscale, ss_min_bucket_reso, ss_max_bucket_reso,
  /// ss_flip_aug, ss_color_aug, ss_random_crop, ss_shuffle_caption, ss_keep_tokens, ss_caption_dropout_rate,
  /// ss_caption_dropout_every_n_epochs, ss_caption_tag_dropout_rate, ss_dataset_dirs
  /// {"<folder>": {"n_repeats": N, "img_count": M}}, ss_reg_dataset_dirs "{}", ss_tag_frequency
  /// {"<folder>": {"<tag>": count}}, ss_bucket_info {"buckets": {"0": {"resolution": [W, H], "count": n}},
  /// "mean_img_ar_error": e} ("null" without bucketing).
  std::map<std::string, std::string> kohya_metadata() const;

  /// Per-folder tag counts (ss_tag_frequency), folder name → counts.
  const std::vector<std::pair<std::string, TagFrequency>>& tag_frequency() const { return tags_; }

  Dataset(Dataset&&) noexcept;
  Dataset& operator=(Dataset&&) noexcept;
  ~Dataset();

 private:
  Dataset(const DataOptions& options);
  struct EpochPlan {
    int epoch = -1;
    std::vector<std::pair<size_t, std::vector<size_t>>> batches;  // (bucket index, image indices)
  };
  std::shared_ptr<const EpochPlan> plan(int epoch) const;
  void warn(const std::string& message);

  DataOptions options_;
  BucketSelector selector_;
  std::vector<Subset> subsets_;
  std::vector<ImageEntry> images_;
  std::vector<std::string> warnings_;
  std::vector<std::pair<std::string, TagFrequency>> tags_;
  std::vector<Resolution> buckets_;                 // in use, sorted
  std::vector<std::vector<size_t>> bucket_items_;   // per bucket: image indices × repeats, canonical order
  mutable std::unique_ptr<std::mutex> mutex_;
  mutable std::shared_ptr<const EpochPlan> plan_;
};

/// Python json.dumps of `j` with default settings (", " and ": " separators, ensure_ascii, keys in insertion
/// order; floats in Python repr), for kohya-compatible metadata strings.
std::string py_json_dumps(const nlohmann::ordered_json& j);

/// Python str() of a float: shortest round-trip digits, always with a '.' or exponent ("0.0", "0.1", "1e-05").
std::string py_float_str(double v);

}  // namespace ls::train
