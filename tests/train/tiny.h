// Shared by the training tests: the tiny refsuite SD1 model and small inputs for it.
#pragma once

#include <random>
#include <string>

#include "models/sd1/components.h"
#include "models/sd1/loader.h"

namespace ls::testing {

inline std::string tiny_model_dir() { return std::string(LS_SHARED_DIR) + "/refsuite/model/tiny-sd1"; }

inline Tensor randn_tensor(const Shape& s, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.0f, stddev);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = n(g);
  return t;
}

/// Token ids [n, 77]: BOS, a few ids, EOS padding (the tiny vocabulary's ids are small).
inline Tensor tiny_ids(int64_t n, int64_t vocab) {
  Tensor ids = Tensor::empty({n, 77}, DType::I64);
  for (int64_t i = 0; i < n * 77; ++i) ids.data<int64_t>()[i] = (i % 77) < 6 ? (7 * i + 3) % (vocab - 2) : vocab - 1;
  return ids;
}

}  // namespace ls::testing
