// The tensor type of the runtime: a contiguous, row-major block of one dtype on one device.
//
// Design (see docs/ARCHITECTURE.md):
//  * Tensors are always contiguous (row-major, PyTorch layout: NCHW for images, (N, L, C) for token
//    sequences, Linear weight [out, in], Conv2d weight [out, in, kh, kw]). Ops that permute make copies.
//  * Storage is shared and may be memory-mapped (a safetensors file): `reshape` and `view` share it.
//  * Compute dtype on the CPU backend is F32; F16 / BF16 / F8 tensors are storage dtypes, converted with
//    `to(DType::F32)`. A CUDA backend adds F16/BF16 compute later; ops dispatch on `device()`.
//  * Gradients: `set_requires_grad` marks a leaf that training updates; ops record onto the autograd tape
//    (runtime/autograd.h) only while a tape is active, so inference pays nothing. Copies of a Tensor handle
//    share one gradient identity (autograd::Meta); views and converted copies get their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace ls {

namespace autograd {
struct Meta;
}

/// Element types, named as safetensors names them (F8_E4M3 = float8_e4m3fn, F8_E5M2 = float8_e5m2).
enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, F8_E5M2, F64, I64, I32, I16, I8, U8, BOOL };

/// Bytes per element of `t`.
size_t dtype_size(DType t);
/// The safetensors spelling ("F32", "F16", "BF16", "F8_E4M3", ...).
const char* dtype_name(DType t);
/// Parse a safetensors dtype string; throws ls::Error naming `s` when unknown.
DType dtype_from_name(const std::string& s);
/// True for F32, F16, BF16, F8_E4M3, F8_E5M2, F64.
bool dtype_is_float(DType t);

enum class Device : uint8_t { CPU, CUDA };

/// A tensor shape, outermost dimension first.
using Shape = std::vector<int64_t>;
/// "[2, 4, 16, 16]"
std::string shape_str(const Shape& s);
/// Product of the dimensions (1 for a 0-dim shape). Throws ls::Error on negative dims or overflow.
int64_t shape_numel(const Shape& s);

/// A block of bytes that tensors point into. `owner` keeps the memory alive (a heap buffer, an mmap
/// region, a CUDA allocation): it is released when the last tensor using it goes away.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  std::shared_ptr<void> owner;
};

class Tensor {
 public:
  Tensor() = default;

  /// Uninitialised tensor of `shape` and `dtype` on `device` (CPU: 64-byte aligned heap memory; CUDA:
  /// the backend's caching allocator, runtime/cuda/backend.h). Throws ls::Error when out of memory, or for
  /// Device::CUDA in a build without the CUDA backend or on a machine without a GPU.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  /// Tensor filled with zeros (on `device`).
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  /// Tensor filled with `value` (F32).
  static Tensor full(const Shape& shape, float value);
  /// Copy of `values` as an F32 tensor of `shape` (numel must match; throws ls::Error).
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  /// A tensor viewing `bytes` at `data` owned by `owner` (no copy): used for mmapped weights.
  /// Throws ls::Error if shape × dtype size ≠ bytes.
  static Tensor wrap(const Shape& shape, DType dtype, void* data, size_t bytes, std::shared_ptr<void> owner);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  ///< size of dimension i; negative i counts from the end.
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::CPU; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return static_cast<char*>(storage_->data) + offset_; }
  const void* raw() const { return static_cast<const char*>(storage_->data) + offset_; }
  /// Typed pointer; throws ls::Error if T does not match dtype (float ↔ F32, int64_t ↔ I64, ...).
  template <typename T> T* data();
  template <typename T> const T* data() const;
  /// Convenience: F32 data as a span.
  std::span<float> f32();
  std::span<const float> f32() const;

  /// Same storage, new shape with the same numel; one dimension may be -1. Throws ls::Error.
  Tensor reshape(const Shape& shape) const;
  /// Rows [start, start+len) along dimension 0, sharing storage.
  Tensor narrow0(int64_t start, int64_t len) const;
  /// Converted copy (or this tensor itself when dtype already matches). On CUDA, conversions between
  /// F32, F16 and BF16 run on the device; other CUDA conversions throw ls::Error.
  Tensor to(DType dtype) const;
  /// Copy on `device` (or this tensor itself when it already lives there). CPU ↔ CUDA copies are
  /// synchronous. Throws ls::Error for CUDA in a build without the CUDA backend.
  Tensor to_device(Device device) const;
  /// Deep copy (on the same device).
  Tensor clone() const;
  /// Overwrite this tensor's elements with `src`'s (same shape and dtype, any device; not recorded by
  /// autograd — the optimizer's in-place parameter write). Throws ls::Error on a mismatch.
  void copy_(const Tensor& src);
  /// True when both tensors share the same storage block.
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }

  /// True for a trainable leaf (set_requires_grad) or the output of an op recorded on an autograd tape.
  bool requires_grad() const;
  /// Make this tensor a trainable leaf (true: a fresh gradient identity, unless it already has one) or
  /// drop its gradient identity (false).
  void set_requires_grad(bool r);
  /// Same storage and shape, no gradient identity (torch.Tensor.detach).
  Tensor detach() const;
  /// The gradient identity (runtime/autograd.h); null for tensors that never took part in recording.
  const std::shared_ptr<autograd::Meta>& grad_meta() const { return meta_; }
  void set_grad_meta(std::shared_ptr<autograd::Meta> m) { meta_ = std::move(m); }

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t offset() const { return offset_; }

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::F32;
  std::shared_ptr<autograd::Meta> meta_;
};

// ---- element conversions (IEEE 754 half, bfloat16, OCP FP8 E4M3FN / E5M2) ----
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);  ///< round to nearest even
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);  ///< round to nearest even
float fp8_e4m3_to_float(uint8_t v);
float fp8_e5m2_to_float(uint8_t v);
uint8_t float_to_fp8_e4m3(float f);  ///< saturating, round to nearest even
uint8_t float_to_fp8_e5m2(float f);

/// Convert `n` elements of `src` (dtype `from`) into `dst` (dtype `to`). Multi-threaded.
void convert_elements(const void* src, DType from, void* dst, DType to, int64_t n);

}  // namespace ls
