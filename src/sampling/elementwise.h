// Internal to the sampling module: element-wise F32 maps over latents of one shape (checked by callers).
// The module is compiled with -ffp-contract=off, so a·b + c stays two roundings as in the torch reference.
#pragma once

#include <span>

#include "runtime/tensor.h"

namespace ls::sampling {

/// out[k] = f(a[k])
template <typename F>
Tensor map1(const Tensor& a, F f) {
  Tensor out = Tensor::empty(a.shape());
  std::span<const float> pa = a.f32();
  std::span<float> po = out.f32();
  for (size_t k = 0; k < po.size(); ++k) po[k] = f(pa[k]);
  return out;
}

/// out[k] = f(a[k], b[k])
template <typename F>
Tensor map2(const Tensor& a, const Tensor& b, F f) {
  Tensor out = Tensor::empty(a.shape());
  std::span<const float> pa = a.f32(), pb = b.f32();
  std::span<float> po = out.f32();
  for (size_t k = 0; k < po.size(); ++k) po[k] = f(pa[k], pb[k]);
  return out;
}

/// out[k] = f(a[k], b[k], c[k])
template <typename F>
Tensor map3(const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  Tensor out = Tensor::empty(a.shape());
  std::span<const float> pa = a.f32(), pb = b.f32(), pc = c.f32();
  std::span<float> po = out.f32();
  for (size_t k = 0; k < po.size(); ++k) po[k] = f(pa[k], pb[k], pc[k]);
  return out;
}

}  // namespace ls::sampling
