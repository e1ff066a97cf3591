#include "runtime/tensor.h"

#include "runtime/autograd.h"
#include "runtime/ops.h"
#include "runtime/profile.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#ifdef LORASTACK_HAS_CUDA
#include "runtime/cuda/backend.h"
#endif

namespace ls {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::F8_E4M3: case DType::F8_E5M2: case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::F8_E5M2: return "F8_E5M2";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

DType dtype_from_name(const std::string& s) {
  static const std::pair<const char*, DType> names[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F8_E4M3", DType::F8_E4M3},
      {"F8_E5M2", DType::F8_E5M2}, {"F64", DType::F64}, {"I64", DType::I64}, {"I32", DType::I32},
      {"I16", DType::I16}, {"I8", DType::I8}, {"U8", DType::U8}, {"BOOL", DType::BOOL}};
  for (auto& [n, t] : names)
    if (s == n) return t;
  fail("unknown dtype '{}'", s);
}

bool dtype_is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F8_E4M3 ||
         t == DType::F8_E5M2 || t == DType::F64;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    LS_CHECK(d >= 0, "negative dimension in shape {}", shape_str(s));
    LS_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / d, "shape {} overflows", shape_str(s));
    n *= d;
  }
  return n;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.shape_ = shape;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  size_t bytes = static_cast<size_t>(t.numel_) * dtype_size(dtype);
  if (device == Device::CUDA) {
#ifdef LORASTACK_HAS_CUDA
    t.storage_ = cuda::alloc(bytes);
    return t;
#else
    fail("tensor of shape {} requested on CUDA, but this build has no CUDA backend (LORASTACK_CUDA=OFF or no nvcc)",
         shape_str(shape));
#endif
  }
  size_t alloc = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, alloc ? alloc : 64);
  if (!p) fail("out of memory allocating {} bytes for a tensor of shape {}", bytes, shape_str(shape));
  auto st = std::make_shared<Storage>();
  st->data = p;
  st->bytes = bytes;
  st->owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  t.storage_ = std::move(st);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
#ifdef LORASTACK_HAS_CUDA
  if (device == Device::CUDA) {
    cuda::memset_zero(t.raw(), t.nbytes());
    return t;
  }
#endif
  std::memset(t.raw(), 0, t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape, DType::F32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = value;
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  Tensor t = empty(shape, DType::F32);
  LS_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "from_vector: {} values for shape {}",
           values.size(), shape_str(shape));
  std::memcpy(t.raw(), values.data(), t.nbytes());
  return t;
}

Tensor Tensor::wrap(const Shape& shape, DType dtype, void* data, size_t bytes, std::shared_ptr<void> owner) {
  Tensor t;
  t.shape_ = shape;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  LS_CHECK(static_cast<size_t>(t.numel_) * dtype_size(dtype) == bytes,
           "tensor of shape {} and dtype {} needs {} bytes, got {}", shape_str(shape), dtype_name(dtype),
           static_cast<size_t>(t.numel_) * dtype_size(dtype), bytes);
  auto st = std::make_shared<Storage>();
  st->data = data;
  st->bytes = bytes;
  st->owner = std::move(owner);
  t.storage_ = std::move(st);
  return t;
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  if (i < 0) i += n;
  LS_CHECK(i >= 0 && i < n, "dimension {} out of range for shape {}", i, shape_str(shape_));
  return shape_[i];
}

namespace {
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int16_t>() { return DType::I16; }
template <> constexpr DType dtype_of<int8_t>() { return DType::I8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::F16; }  // raw half/bf16 bits
}  // namespace

template <typename T> T* Tensor::data() {
  constexpr DType want = dtype_of<T>();
  bool ok = dtype_ == want || (want == DType::F16 && dtype_ == DType::BF16) ||
            (want == DType::U8 && (dtype_ == DType::F8_E4M3 || dtype_ == DType::F8_E5M2 || dtype_ == DType::BOOL));
  LS_CHECK(ok, "tensor of dtype {} accessed as {}", dtype_name(dtype_), dtype_name(want));
  LS_CHECK(device() == Device::CPU, "tensor data accessed on the host while it lives on the GPU");
  return static_cast<T*>(raw());
}
template <typename T> const T* Tensor::data() const { return const_cast<Tensor*>(this)->data<T>(); }

#define LS_INST(T) template T* Tensor::data<T>(); template const T* Tensor::data<T>() const;
LS_INST(float) LS_INST(double) LS_INST(int64_t) LS_INST(int32_t) LS_INST(int16_t) LS_INST(int8_t)
LS_INST(uint8_t) LS_INST(uint16_t)
#undef LS_INST

std::span<float> Tensor::f32() { return {data<float>(), static_cast<size_t>(numel_)}; }
std::span<const float> Tensor::f32() const { return {data<float>(), static_cast<size_t>(numel_)}; }

Tensor Tensor::reshape(const Shape& shape) const {
  LS_PROFILE("reshape");
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      LS_CHECK(infer < 0, "reshape {}: more than one -1", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    LS_CHECK(known > 0 && numel_ % known == 0, "cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
    s[infer] = numel_ / known;
  }
  LS_CHECK(shape_numel(s) == numel_, "cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  Tensor t = detach();
  t.shape_ = s;
  if (autograd::needs_grad({this})) {
    const Shape from = shape_;
    autograd::record(t, {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.reshape(from)}; });
  }
  return t;
}

Tensor Tensor::narrow0(int64_t start, int64_t len) const {
  LS_PROFILE("narrow0");
  LS_CHECK(ndim() >= 1 && start >= 0 && len >= 0 && start + len <= shape_[0],
           "narrow0({}, {}) out of range for shape {}", start, len, shape_str(shape_));
  Tensor t = detach();
  int64_t row = shape_[0] ? numel_ / shape_[0] : 0;
  t.offset_ += static_cast<size_t>(start * row) * dtype_size(dtype_);
  t.shape_[0] = len;
  t.numel_ = row * len;
  if (autograd::needs_grad({this})) {
    // adjoint: the gradient rows in place, zeros elsewhere
    const Shape full = shape_;
    autograd::record(t, {*this}, [full, start, len](const Tensor& g) {
      auto rows = [&](int64_t n) {
        Shape s = full;
        s[0] = n;
        return Tensor::zeros(s, g.dtype(), g.device());
      };
      std::vector<Tensor> parts;
      if (start > 0) parts.push_back(rows(start));
      parts.push_back(g);
      if (start + len < full[0]) parts.push_back(rows(full[0] - start - len));
      return std::vector<Tensor>{parts.size() == 1 ? g : ops::cat(parts, 0)};
    });
  }
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  LS_PROFILE("cast");
  Tensor t = empty(shape_, dtype, device());
#ifdef LORASTACK_HAS_CUDA
  if (device() == Device::CUDA) cuda::convert(raw(), dtype_, t.raw(), dtype, numel_);
  else
#endif
    convert_elements(raw(), dtype_, t.raw(), dtype, numel_);
  if (autograd::needs_grad({this})) {
    const DType from = dtype_;
    autograd::record(t, {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
  }
  return t;
}

Tensor Tensor::to_device(Device dev) const {
  if (!defined() || dev == device()) return *this;
#ifdef LORASTACK_HAS_CUDA
  LS_PROFILE(dev == Device::CUDA ? "copy to device" : "copy to host");
  Tensor t = empty(shape_, dtype_, dev);
  if (dev == Device::CUDA) cuda::copy_to_device(t.raw(), raw(), nbytes());
  else cuda::copy_to_host(t.raw(), raw(), nbytes());
  if (autograd::needs_grad({this})) {
    const Device from = device();
    autograd::record(t, {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to_device(from)}; });
  }
  return t;
#else
  fail("to_device: tensor of shape {} cannot move to CUDA: this build has no CUDA backend", shape_str(shape_));
#endif
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
#ifdef LORASTACK_HAS_CUDA
  if (device() == Device::CUDA) {
    cuda::copy_on_device(t.raw(), raw(), nbytes());
  } else
#endif
    std::memcpy(t.raw(), raw(), nbytes());
  if (autograd::needs_grad({this}))
    autograd::record(t, {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return t;
}

void Tensor::copy_(const Tensor& src) {
  LS_CHECK(defined() && src.defined() && src.shape_ == shape_ && src.dtype_ == dtype_,
           "copy_: source {} {} does not match destination {} {}", src.defined() ? shape_str(src.shape_) : "(undefined)",
           dtype_name(src.dtype_), shape_str(shape_), dtype_name(dtype_));
  if (src.raw() == raw()) return;
#ifdef LORASTACK_HAS_CUDA
  if (device() == Device::CUDA || src.device() == Device::CUDA) {
    if (device() == Device::CUDA && src.device() == Device::CUDA) cuda::copy_on_device(raw(), src.raw(), nbytes());
    else if (device() == Device::CUDA) cuda::copy_to_device(raw(), src.raw(), nbytes());
    else cuda::copy_to_host(raw(), src.raw(), nbytes());
    return;
  }
#endif
  std::memmove(raw(), src.raw(), nbytes());
}

bool Tensor::requires_grad() const { return meta_ && meta_->requires_grad; }

void Tensor::set_requires_grad(bool r) {
  if (!r) {
    meta_.reset();
  } else if (!meta_) {
    meta_ = std::make_shared<autograd::Meta>();
    meta_->requires_grad = true;
  }
}

Tensor Tensor::detach() const {
  Tensor t = *this;
  t.meta_.reset();
  return t;
}

}  // namespace ls
