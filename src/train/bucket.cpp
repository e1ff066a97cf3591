#include "train/bucket.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "runtime/error.h"

namespace ls::train {

std::vector<Resolution> make_bucket_resolutions(Resolution max_reso, int min_size, int max_size, int divisible) {
  LS_CHECK(divisible > 0 && min_size > 0 && max_size >= min_size,
           "bucket resolutions: need divisible > 0 and 0 < min_size <= max_size, got {}, {}, {}", divisible, min_size,
           max_size);
  const int64_t max_area = int64_t{max_reso.width} * max_reso.height;
  std::set<Resolution> resos;
  const int square = static_cast<int>(std::floor(std::sqrt(static_cast<double>(max_area)) / divisible)) * divisible;
  resos.insert({square, square});
  for (int width = min_size; width <= max_size; width += divisible) {
    const int height = static_cast<int>(std::min<int64_t>(max_size, (max_area / width) / divisible * divisible));
    if (height >= min_size) {
      resos.insert({width, height});
      resos.insert({height, width});
    }
  }
  return {resos.begin(), resos.end()};
}

BucketSelector::BucketSelector(const BucketOptions& options, int multiple) : options_(options) {
  BucketOptions& o = options_;
  const auto [w, h] = o.resolution;
  LS_CHECK(w > 0 && h > 0 && w <= 16384 && h <= 16384, "resolution {}x{}: sides must be in 1..16384", w, h);
  LS_CHECK(multiple > 0, "bucket multiple {} must be positive", multiple);
  if (!o.enable) {
    LS_CHECK(w % multiple == 0 && h % multiple == 0, "resolution {}x{}: sides must be multiples of {} for this model", w,
             h, multiple);
    predefined_ = {o.resolution};
    return;
  }
  LS_CHECK(o.reso_steps > 0 && o.reso_steps % multiple == 0,
           "bucket_reso_steps {} must be a positive multiple of {} for this model", o.reso_steps, multiple);
  LS_CHECK(o.min_reso > 0, "min_bucket_reso {} must be positive", o.min_reso);
  if (o.min_reso % o.reso_steps != 0) {
    const int adjusted = o.min_reso - o.min_reso % o.reso_steps;
    warnings_.push_back(fmt::format("min_bucket_reso adjusted to a multiple of bucket_reso_steps {}: {} -> {}",
                                    o.reso_steps, o.min_reso, adjusted));
    o.min_reso = adjusted;
  }
  if (o.max_reso % o.reso_steps != 0) {
    const int adjusted = o.max_reso + o.reso_steps - o.max_reso % o.reso_steps;
    warnings_.push_back(fmt::format("max_bucket_reso adjusted to a multiple of bucket_reso_steps {}: {} -> {}",
                                    o.reso_steps, o.max_reso, adjusted));
    o.max_reso = adjusted;
  }
  LS_CHECK(std::min(w, h) >= o.min_reso, "min_bucket_reso {} is larger than the resolution's short side {}", o.min_reso,
           std::min(w, h));
  LS_CHECK(std::max(w, h) <= o.max_reso, "max_bucket_reso {} is smaller than the resolution's long side {}", o.max_reso,
           std::max(w, h));
  LS_CHECK(o.min_reso > 0, "min_bucket_reso {} must be positive (after rounding down to bucket_reso_steps {})",
           o.min_reso, o.reso_steps);
  if (!o.no_upscale) predefined_ = make_bucket_resolutions(o.resolution, o.min_reso, o.max_reso, o.reso_steps);
}

BucketChoice BucketSelector::select(int width, int height) const {
  LS_CHECK(width > 0 && height > 0, "bucket selection: image size {}x{} is empty", width, height);
  const double aspect = static_cast<double>(width) / height;
  BucketChoice c;
  if (!options_.enable || !options_.no_upscale) {
    // Upscaling allowed (and the single fixed bucket without bucketing): nearest predefined aspect.
    const Resolution own{width, height};
    c.bucket = predefined_.front();
    if (std::find(predefined_.begin(), predefined_.end(), own) != predefined_.end()) {
      c.bucket = own;
    } else {
      double best = std::abs(static_cast<double>(predefined_[0].width) / predefined_[0].height - aspect);
      for (const Resolution& r : predefined_) {
        const double err = std::abs(static_cast<double>(r.width) / r.height - aspect);
        if (err < best) best = err, c.bucket = r;
      }
    }
    const double bucket_aspect = static_cast<double>(c.bucket.width) / c.bucket.height;
    const double scale = aspect > bucket_aspect ? static_cast<double>(c.bucket.height) / height
                                                : static_cast<double>(c.bucket.width) / width;
    c.resized = {static_cast<int>(width * scale + 0.5), static_cast<int>(height * scale + 0.5)};
  } else {
    // Downscale only: keep the image's size unless its area is over the resolution's.
    const int steps = options_.reso_steps;
    auto round_to_steps = [steps](double x) {
      const int v = static_cast<int>(x + 0.5);
      return v - v % steps;
    };
    const double max_area = static_cast<double>(options_.resolution.width) * options_.resolution.height;
    c.resized = {width, height};
    if (static_cast<double>(width) * height > max_area) {
      const double rw = std::sqrt(max_area * aspect), rh = max_area / rw;
      const int bw = round_to_steps(rw), bh_w = round_to_steps(bw / aspect);
      const int bh = round_to_steps(rh), bw_h = round_to_steps(bh * aspect);
      LS_CHECK(bw > 0 && bh > 0 && bh_w > 0, "bucket selection: image {}x{} is too narrow for {}-pixel bucket steps",
               width, height, steps);
      const double ar_w = static_cast<double>(bw) / bh_w, ar_h = static_cast<double>(bw_h) / bh;
      if (std::abs(ar_w - aspect) < std::abs(ar_h - aspect))
        c.resized = {bw, static_cast<int>(bw / aspect + 0.5)};
      else
        c.resized = {static_cast<int>(bh * aspect + 0.5), bh};
    }
    c.bucket = {c.resized.width - c.resized.width % steps, c.resized.height - c.resized.height % steps};
  }
  LS_CHECK(c.bucket.width > 0 && c.bucket.height > 0 && c.resized.width >= c.bucket.width &&
               c.resized.height >= c.bucket.height,
           "bucket selection: image {}x{} gives bucket {}x{} from resized {}x{} (smaller than one {}-pixel step?)", width,
           height, c.bucket.width, c.bucket.height, c.resized.width, c.resized.height, options_.reso_steps);
  c.ar_error = static_cast<double>(c.bucket.width) / c.bucket.height - aspect;
  return c;
}

CropOffset center_crop_offset(Resolution resized, Resolution bucket) {
  return {(resized.width - bucket.width) / 2, (resized.height - bucket.height) / 2};
}

}  // namespace ls::train
