#include "train/data.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/error.h"

namespace ls::train {

namespace fs = std::filesystem;

namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_ext(const std::string& ext) {
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp";
}

bool is_unsupported_image_ext(const std::string& ext) {
  return ext == ".bmp" || ext == ".gif" || ext == ".tif" || ext == ".tiff" || ext == ".avif" || ext == ".jxl";
}

// "<bytes>:<mtime ns>" of a file, "" when it cannot be read.
std::string file_stamp(const fs::path& p) {
  std::error_code ec1, ec2;
  const auto size = fs::file_size(p, ec1);
  const auto mtime = fs::last_write_time(p, ec2);
  if (ec1 || ec2) return "";
  return fmt::format("{}:{}", size, std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count());
}

// Entries of `dir` (not recursive), sorted by name bytes; hidden ones ('.' first) left out.
std::vector<fs::directory_entry> sorted_entries(const fs::path& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind('.', 0) != 0) out.push_back(*it);
  if (ec) fail("{}: cannot list the folder: {}", dir.string(), ec.message());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path().string() < b.path().string(); });
  return out;
}

// kohya generate_dreambooth_subsets_config_by_subdirs: "<N>_<tokens>" → (N, tokens); plain names → nullopt.
std::optional<std::pair<int64_t, std::string>> parse_repeats(const std::string& name) {
  const size_t us = name.find('_');
  if (us == std::string::npos || us == 0) return std::nullopt;
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + us, n);
  if (ec != std::errc() || end != name.data() + us) return std::nullopt;
  return std::make_pair(n, name.substr(us + 1));
}

std::string py_bool(bool b) { return b ? "True" : "False"; }

void dump(const nlohmann::ordered_json& j, std::string& out) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        dump(nlohmann::ordered_json(it.key()), out);
        out += ": ";
        dump(it.value(), out);
      }
      out += '}';
      break;
    }
    case nlohmann::ordered_json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) out += ", ";
        dump(j[i], out);
      }
      out += ']';
      break;
    }
    case nlohmann::ordered_json::value_t::number_float: {
      const double v = j.get<double>();
      out += std::isnan(v) ? "NaN" : std::isinf(v) ? (v > 0 ? "Infinity" : "-Infinity") : py_float_str(v);
      break;
    }
    case nlohmann::ordered_json::value_t::string:
      out += j.dump(-1, ' ', true, nlohmann::ordered_json::error_handler_t::replace);
      break;
    default:
      out += j.dump();
  }
}

}  // namespace

std::string py_float_str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string py_json_dumps(const nlohmann::ordered_json& j) {
  std::string out;
  dump(j, out);
  return out;
}

Dataset::Dataset(const DataOptions& options)
    : options_(options),
      selector_(options.buckets, options.bucket_multiple),
      mutex_(std::make_unique<std::mutex>()) {}
Dataset::Dataset(Dataset&&) noexcept = default;
Dataset& Dataset::operator=(Dataset&&) noexcept = default;
Dataset::~Dataset() = default;

void Dataset::warn(const std::string& message) {
  warnings_.push_back(message);
  if (options_.on_warning) options_.on_warning(message);
}

Dataset Dataset::load(const std::string& dir, const DataOptions& options) {
  LS_CHECK(options.batch_size >= 1, "train_batch_size {} must be at least 1", options.batch_size);
  const CaptionOptions& co = options.captions;
  LS_CHECK(co.caption_dropout_rate >= 0 && co.caption_dropout_rate <= 1 && co.caption_tag_dropout_rate >= 0 &&
               co.caption_tag_dropout_rate <= 1,
           "caption_dropout_rate {} and caption_tag_dropout_rate {} must be in [0, 1]", co.caption_dropout_rate,
           co.caption_tag_dropout_rate);
  LS_CHECK(co.keep_tokens >= 0 && co.caption_dropout_every_n_epochs >= 0 && !co.caption_separator.empty(),
           "keep_tokens {} and caption_dropout_every_n_epochs {} must be >= 0, caption_separator not empty",
           co.keep_tokens, co.caption_dropout_every_n_epochs);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("{}: not a folder (the training data folder)", dir);
  Dataset ds(options);
  if (ds.options_.caption_extension.empty() || ds.options_.caption_extension[0] != '.')
    ds.options_.caption_extension = "." + ds.options_.caption_extension;
  for (const std::string& w : ds.selector_.warnings()) ds.warn(w);

  // Subsets: DIR itself (when it holds images), then its sub-folders.
  std::vector<Subset> candidates;
  const fs::path root = fs::absolute(dir, ec).lexically_normal();
  const std::string root_name = (root.has_filename() ? root.filename() : root.parent_path().filename()).string();
  candidates.push_back({root.string(), root_name, 1, std::nullopt, 0});
  for (const auto& e : sorted_entries(root)) {
    if (!e.is_directory(ec)) continue;
    const std::string name = e.path().filename().string();
    Subset s{e.path().string(), name, 1, std::nullopt, 0};
    if (auto r = parse_repeats(name)) {
      if (r->first < 1 || r->first > 1000000) {
        ds.warn(fmt::format("{}: repeat count {} is outside 1..1000000; folder skipped", s.dir, r->first));
        continue;
      }
      s.num_repeats = static_cast<int>(r->first);
      s.class_tokens = r->second;
    }
    candidates.push_back(std::move(s));
  }

  // Every image file of every folder, in order; decoded in parallel (sizes or errors), then taken in order so
  // that warnings and indices do not depend on the thread count.
  struct Probe {
    size_t subset;
    fs::path path;
    std::string ext;
    Resolution size;
    std::string error;
  };
  std::vector<Probe> probes;
  for (size_t i = 0; i < candidates.size(); ++i)
    for (const auto& e : sorted_entries(candidates[i].dir)) {
      const std::string ext = lower_ascii(e.path().extension().string());
      if (e.is_regular_file(ec) && (is_image_ext(ext) || is_unsupported_image_ext(ext)))
        probes.push_back({i, e.path(), ext, {}, {}});
    }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < probes.size();) {
      Probe& p = probes[i];
      if (is_unsupported_image_ext(p.ext)) continue;
      try {
        const image::Image im = image::read_image(p.path.string());
        p.size = {im.width, im.height};
      } catch (const std::exception& err) {  // ls::Error; std::bad_alloc for a huge image
        p.error = err.what();
      }
    }
  };
  const size_t threads = std::min<size_t>({probes.size(), std::max(1u, std::thread::hardware_concurrency()), 8});
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  size_t skipped = 0;
  auto probe = probes.begin();
  for (size_t si = 0; si < candidates.size(); ++si) {
    Subset& s = candidates[si];
    TagFrequency tags;
    const size_t first_image = ds.images_.size();
    for (; probe != probes.end() && probe->subset == si; ++probe) {
      const std::string path = probe->path.string();
      if (is_unsupported_image_ext(probe->ext)) {
        ds.warn(fmt::format("{}: unsupported image format '{}' (use PNG, JPEG or WebP); skipped", path, probe->ext));
        ++skipped;
        continue;
      }
      ImageEntry entry;
      entry.path = path;
      entry.stamp = file_stamp(probe->path);
      entry.size = probe->size;
      std::string error = probe->error;
      if (error.empty()) {
        try {
          entry.bucket = ds.selector_.select(entry.size.width, entry.size.height);
        } catch (const Error& err) {
          error = err.what();
        }
      }
      if (!error.empty()) {
        ds.warn(error.rfind(path, 0) == 0 ? error + "; skipped" : fmt::format("{}: {}; skipped", path, error));
        ++skipped;
        continue;
      }
      entry.crop = center_crop_offset(entry.bucket.resized, entry.bucket.bucket);
      const std::string caption_path =
          (probe->path.parent_path() / probe->path.stem()).string() + ds.options_.caption_extension;
      if (auto caption = read_caption_file(caption_path)) {
        entry.caption = *caption;
      } else if (s.class_tokens) {
        entry.caption = *s.class_tokens;
        ds.warn(fmt::format("{}: no caption file {}; using the folder's class tokens '{}'", path, caption_path,
                            *s.class_tokens));
      } else {
        ds.warn(fmt::format("{}: no caption file {}; using an empty caption", path, caption_path));
      }
      entry.subset = ds.subsets_.size();
      tags.add_caption(entry.caption);
      ds.images_.push_back(std::move(entry));
    }
    s.img_count = static_cast<int>(ds.images_.size() - first_image);
    if (s.img_count == 0) {
      if (&s != &candidates.front()) ds.warn(fmt::format("{}: no usable images in this folder", s.dir));
      continue;
    }
    // kohya merges the counts of folders with the same name (set_tag_frequency by basename).
    auto same = std::find_if(ds.tags_.begin(), ds.tags_.end(), [&](const auto& t) { return t.first == s.name; });
    if (same == ds.tags_.end()) {
      ds.tags_.emplace_back(s.name, std::move(tags));
    } else {
      for (const auto& [tag, n] : tags.items())
        for (int64_t i = 0; i < n; ++i) same->second.add_caption(tag);
    }
    ds.subsets_.push_back(std::move(s));
  }
  if (ds.images_.empty())
    fail("{}: no usable training images ({} skipped; expected .png / .jpg / .jpeg / .webp files in it or in its "
         "sub-folders such as 10_name/)", dir, skipped);

  LS_CHECK(ds.num_train_images() <= 50'000'000, "{}: {} images × repeats per epoch is more than the 50 million supported",
           dir, ds.num_train_images());
  // Buckets in use, sorted; each holds its images × repeats in image order.
  for (const ImageEntry& im : ds.images_) ds.buckets_.push_back(im.bucket.bucket);
  std::sort(ds.buckets_.begin(), ds.buckets_.end());
  ds.buckets_.erase(std::unique(ds.buckets_.begin(), ds.buckets_.end()), ds.buckets_.end());
  ds.bucket_items_.resize(ds.buckets_.size());
  for (size_t i = 0; i < ds.images_.size(); ++i) {
    const size_t b = static_cast<size_t>(
        std::lower_bound(ds.buckets_.begin(), ds.buckets_.end(), ds.images_[i].bucket.bucket) - ds.buckets_.begin());
    for (int r = 0; r < ds.subsets_[ds.images_[i].subset].num_repeats; ++r) ds.bucket_items_[b].push_back(i);
  }
  return ds;
}

int64_t Dataset::num_train_images() const {
  int64_t n = 0;
  for (const Subset& s : subsets_) n += int64_t{s.img_count} * s.num_repeats;
  return n;
}

size_t Dataset::batches_per_epoch() const {
  size_t n = 0;
  const size_t bs = static_cast<size_t>(options_.batch_size);
  for (const auto& items : bucket_items_) n += (items.size() + bs - 1) / bs;
  return n;
}

std::vector<std::pair<Resolution, int64_t>> Dataset::bucket_counts() const {
  std::vector<std::pair<Resolution, int64_t>> out;
  for (size_t b = 0; b < buckets_.size(); ++b) out.emplace_back(buckets_[b], static_cast<int64_t>(bucket_items_[b].size()));
  return out;
}

std::shared_ptr<const Dataset::EpochPlan> Dataset::plan(int epoch) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  if (plan_ && plan_->epoch == epoch) return plan_;
  auto p = std::make_shared<EpochPlan>();
  p->epoch = epoch;
  DataRng rng = DataRng::derive(options_.seed, static_cast<uint64_t>(epoch));
  const size_t bs = static_cast<size_t>(options_.batch_size);
  for (size_t b = 0; b < bucket_items_.size(); ++b) {
    std::vector<size_t> items = bucket_items_[b];
    rng.shuffle(items);
    for (size_t at = 0; at < items.size(); at += bs)
      p->batches.emplace_back(b, std::vector<size_t>(items.begin() + static_cast<std::ptrdiff_t>(at),
                                                     items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), at + bs))));
  }
  rng.shuffle(p->batches);
  plan_ = p;
  return p;
}

Batch Dataset::batch(int epoch, size_t index) const {
  LS_CHECK(epoch >= 0, "dataset batch: epoch {} must be >= 0", epoch);
  const auto p = plan(epoch);
  LS_CHECK(index < p->batches.size(), "dataset batch: index {} is beyond the {} batches of an epoch", index,
           p->batches.size());
  const auto& [bucket, members] = p->batches[index];
  Batch out;
  out.epoch = epoch;
  out.index = index;
  out.size = buckets_[bucket];
  DataRng rng = DataRng::derive(options_.seed, static_cast<uint64_t>(epoch), index);
  for (size_t i : members) {
    const ImageEntry& im = images_[i];
    BatchItem item;
    item.image = i;
    item.flipped = options_.flip_aug && rng.uniform() < 0.5;
    item.caption = process_caption(im.caption, options_.captions, epoch, rng);
    item.cache_key = fmt::format("{}|{}|{}x{}|crop {},{}|flip {}", im.path, im.stamp, im.bucket.bucket.width,
                                 im.bucket.bucket.height, im.crop.left, im.crop.top, item.flipped ? 1 : 0);
    out.items.push_back(std::move(item));
  }
  return out;
}

image::Image Dataset::load_image(const BatchItem& item) const {
  LS_CHECK(item.image < images_.size(), "dataset: image index {} out of range ({} images)", item.image, images_.size());
  const ImageEntry& e = images_[item.image];
  image::Image im = image::read_image(e.path);
  if (im.width != e.size.width || im.height != e.size.height)
    fail("{}: image is now {}x{}, was {}x{} when the dataset was scanned", e.path, im.width, im.height, e.size.width,
         e.size.height);
  im = image::resize(im, e.bucket.resized.width, e.bucket.resized.height);
  im = image::crop(im, e.crop.left, e.crop.top, e.bucket.bucket.width, e.bucket.bucket.height);
  return item.flipped ? image::flip_horizontal(im) : im;
}

Tensor Dataset::load_pixels(const Batch& batch) const {
  LS_CHECK(!batch.items.empty(), "dataset: batch {} of epoch {} is empty", batch.index, batch.epoch);
  const int64_t n = static_cast<int64_t>(batch.items.size()), h = batch.size.height, w = batch.size.width;
  Tensor out = Tensor::empty({n, 3, h, w});
  float* dst = out.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const Tensor t = image::to_tensor(load_image(batch.items[static_cast<size_t>(i)]));
    LS_CHECK(t.dim(2) == h && t.dim(3) == w, "dataset: item {} is {}x{}, its batch {}x{}", i, t.dim(3), t.dim(2), w, h);
    std::memcpy(dst + i * 3 * h * w, t.data<float>(), static_cast<size_t>(3 * h * w) * sizeof(float));
  }
  return out;
}

std::map<std::string, std::string> Dataset::kohya_metadata() const {
  const BucketOptions& b = selector_.options();
  const CaptionOptions& c = options_.captions;
  std::map<std::string, std::string> m;
  m["ss_num_train_images"] = std::to_string(num_train_images());
  m["ss_num_reg_images"] = "0";
  m["ss_num_batches_per_epoch"] = std::to_string(batches_per_epoch());
  m["ss_batch_size_per_device"] = std::to_string(options_.batch_size);
  m["ss_resolution"] = fmt::format("({}, {})", b.resolution.width, b.resolution.height);
  m["ss_enable_bucket"] = py_bool(b.enable);
  m["ss_bucket_no_upscale"] = py_bool(b.enable && b.no_upscale);
  m["ss_min_bucket_reso"] = b.enable ? std::to_string(b.min_reso) : "None";
  m["ss_max_bucket_reso"] = b.enable ? std::to_string(b.max_reso) : "None";
  m["ss_flip_aug"] = py_bool(options_.flip_aug);
  m["ss_color_aug"] = "False";
  m["ss_random_crop"] = "False";
  m["ss_shuffle_caption"] = py_bool(c.shuffle_caption);
  m["ss_keep_tokens"] = std::to_string(c.keep_tokens);
  m["ss_caption_dropout_rate"] = py_float_str(c.caption_dropout_rate);
  m["ss_caption_dropout_every_n_epochs"] = std::to_string(c.caption_dropout_every_n_epochs);
  m["ss_caption_tag_dropout_rate"] = py_float_str(c.caption_tag_dropout_rate);
  nlohmann::ordered_json dirs = nlohmann::ordered_json::object();
  for (const Subset& s : subsets_) dirs[s.name] = {{"n_repeats", s.num_repeats}, {"img_count", s.img_count}};
  m["ss_dataset_dirs"] = py_json_dumps(dirs);
  m["ss_reg_dataset_dirs"] = "{}";
  nlohmann::ordered_json freq = nlohmann::ordered_json::object();
  for (const auto& [name, tags] : tags_) {
    nlohmann::ordered_json counts = nlohmann::ordered_json::object();
    for (const auto& [tag, n] : tags.items()) counts[tag] = n;
    freq[name] = counts;
  }
  m["ss_tag_frequency"] = py_json_dumps(freq);
  if (b.enable) {
    nlohmann::ordered_json buckets = nlohmann::ordered_json::object();
    for (size_t i = 0; i < buckets_.size(); ++i)
      buckets[std::to_string(i)] = {{"resolution", {buckets_[i].width, buckets_[i].height}},
                                    {"count", static_cast<int64_t>(bucket_items_[i].size())}};
    double err = 0;
    for (const ImageEntry& im : images_) err += std::abs(im.bucket.ar_error);
    nlohmann::ordered_json info = {{"buckets", buckets}, {"mean_img_ar_error", err / static_cast<double>(images_.size())}};
    m["ss_bucket_info"] = py_json_dumps(info);
  } else {
    m["ss_bucket_info"] = "null";
  }
  return m;
}

}  // namespace ls::train
