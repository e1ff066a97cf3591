// Aspect-ratio buckets as kohya-ss sd-scripts makes them (library/model_util.py make_bucket_resolutions;
// library/train_util.py BucketManager.select_bucket, BaseDataset.adjust_min_max_bucket_reso_by_steps).
#pragma once

#include <compare>
#include <string>
#include <vector>

namespace ls::train {

/// A width × height in pixels; ordered by width, then height (the order kohya sorts buckets in).
struct Resolution {
  int width = 0;
  int height = 0;
  auto operator<=>(const Resolution&) const = default;
};

/// kohya-ss bucket arguments.
struct BucketOptions {
  Resolution resolution{512, 512};  ///< --resolution: the training size; its area is each bucket's budget
  bool enable = true;               ///< --enable_bucket (off: every image is resized and cropped to `resolution`)
  int min_reso = 256;               ///< --min_bucket_reso
  int max_reso = 1024;              ///< --max_bucket_reso
  int reso_steps = 64;              ///< --bucket_reso_steps: bucket sides are multiples of this
  bool no_upscale = false;          ///< --bucket_no_upscale: buckets from each image's own size, never enlarged
};

/// The bucket of one image: what it is resized to (covering the bucket), then centre-cropped to.
struct BucketChoice {
  Resolution bucket;   ///< final size (multiples of reso_steps when bucketing)
  Resolution resized;  ///< size after resizing, ≥ bucket in both sides
  double ar_error = 0;  ///< bucket aspect − image aspect (kohya's ar_error)
};

/// Every bucket for `max_reso`'s area (kohya make_bucket_resolutions): the square of side
/// ⌊√(W·H) / d⌋·d, and for each width w = min_size, min_size + d, … ≤ max_size the height
/// h = min(max_size, ⌊(W·H / w) / d⌋·d) when h ≥ min_size, with its transpose. Sorted, unique.
std::vector<Resolution> make_bucket_resolutions(Resolution max_reso, int min_size, int max_size, int divisible);

/// Picks buckets for images, after checking and adjusting the options as kohya does.
class BucketSelector {
 public:
  /// Validates `options`: resolution sides and reso_steps positive, reso_steps a multiple of `multiple`
  /// (the model's requirement: 64 for SD1, whose latents are downsampled 3× by the UNet), min_reso rounded
  /// down and max_reso up to multiples of reso_steps (each adjustment recorded in warnings()), then
  /// min_reso ≤ min(resolution), max(resolution) ≤ max_reso. Without bucketing the resolution itself must be
  /// a multiple of `multiple`. Throws ls::Error naming the option and value.
  explicit BucketSelector(const BucketOptions& options, int multiple = 64);

  /// kohya BucketManager.select_bucket (or its single fixed bucket when bucketing is off):
  ///  * upscaling allowed: an exact predefined size is kept; else the predefined bucket of the nearest
  ///    aspect ratio (first in sorted order on ties); resized = image scaled to cover it, sides rounded
  ///    half up (int(x + 0.5));
  ///  * no_upscale: images larger in area than resolution are scaled down to that area, with the rounded
  ///    side chosen to keep the aspect best; then the bucket is the resized size rounded down to steps.
  /// Throws ls::Error when an image is too small for any bucket (a side rounding to 0).
  BucketChoice select(int width, int height) const;

  const BucketOptions& options() const { return options_; }
  const std::vector<Resolution>& predefined() const { return predefined_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  BucketOptions options_;
  std::vector<Resolution> predefined_;
  std::vector<std::string> warnings_;
};

/// Where a crop window starts, in pixels of the resized image.
struct CropOffset {
  int left = 0;
  int top = 0;
  auto operator<=>(const CropOffset&) const = default;
};

/// The centre crop of a `resized` image to `bucket` (kohya trim_and_resize_if_required without random
/// crop): left = (resized.width − bucket.width) / 2, top likewise, rounded down.
CropOffset center_crop_offset(Resolution resized, Resolution bucket);

}  // namespace ls::train
