#include "text/prompt_weights.h"

#include "runtime/error.h"

namespace ls::text {

Tensor apply_emphasis(const Tensor& z, const std::vector<float>& m) {
  if (z.ndim() != 3 || z.dim(0) != 1 || z.dim(1) != static_cast<int64_t>(m.size()) || z.dtype() != DType::F32)
    fail("emphasis: conditioning {} does not fit {} multipliers", shape_str(z.shape()), m.size());
  bool weighted = false;
  for (float w : m) weighted |= w != 1.0f;
  if (!weighted) return z;
  auto mean = [](const Tensor& t) {
    double acc = 0;
    for (float v : t.f32()) acc += v;
    return static_cast<float>(acc / static_cast<double>(t.numel()));
  };
  const int64_t L = z.dim(1), D = z.dim(2);
  const float original_mean = mean(z);
  Tensor out = Tensor::empty(z.shape());
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < D; ++d) out.f32()[l * D + d] = z.f32()[l * D + d] * m[l];
  const float factor = original_mean / mean(out);
  for (float& v : out.f32()) v *= factor;
  return out;
}

}  // namespace ls::text
