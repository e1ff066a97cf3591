// Forward passes with adapters against refsuite/adapters/*/expected.safetensors (oracle: PEFT unmerged
// forward): UNet eps on reference/unet.safetensors inputs and text-encoder last_hidden_state of te_input_ids,
// at strengths 1.0, 0.6, −0.5, in fuse and runtime modes; the three-adapter stack in every order.
// Tolerance (refsuite README §6): max |Δ| ≤ 1e-4·max(1, max |ref|).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "adapters/stack.h"
#include "fixtures.h"

using namespace ls;
using namespace ls::adapters;
using namespace ls::adapters_test;

namespace {

void expect_close(const Tensor& got, const Tensor& ref, const std::string& what) {
  float tol = 1e-4f * std::max(1.0f, max_abs(ref));
  float d = max_abs_diff(got, ref);
  EXPECT_LE(d, tol) << what << ": max |diff| " << d << " (max |ref| " << max_abs(ref) << ")";
  std::printf("  %-75s max|diff| %.3g (tol %.3g)\n", what.c_str(), d, tol);
}

struct Forward {
  io::TensorFile unet_ref = io::read_safetensors(refsuite("reference/unet.safetensors"));
  Tensor eps(Model& m) const {
    return m.unet_model->forward(unet_ref.get("x"), unet_ref.get("timesteps"), unet_ref.get("context"));
  }
  Tensor te(Model& m, const Tensor& ids) const { return m.text_model->encode(ids); }
};

const char* scale_name(float s) { return s == 1.0f ? "1.0" : s == 0.6f ? "0.6" : "-0.5"; }

struct Case {
  const char* dir;
  const char* file;
};

}  // namespace

class AdapterForward : public ::testing::TestWithParam<Case> {};

TEST_P(AdapterForward, MatchesPeftOracleInBothModes) {
  Model& m = model();
  Forward f;
  const Case c = GetParam();
  io::TensorFile exp = io::read_safetensors(adapter_path(std::string(c.dir) + "/expected.safetensors"));
  const Tensor& ids = exp.get("te_input_ids");
  expect_close(f.eps(m), exp.get("eps.base"), "eps.base");
  expect_close(f.te(m, ids), exp.get("te_last_hidden_state.base"), "te.base");
  auto a = load_adapter(adapter_path(std::string(c.dir) + "/" + c.file), m.keymap, {.strict = true});
  AdapterStack stack(m.params());
  for (ApplyMode mode : {ApplyMode::Fuse, ApplyMode::Runtime}) {
    for (float s : {1.0f, 0.6f, -0.5f}) {
      std::string what = std::string(c.file) + " " + apply_mode_name(mode) + " scale " + scale_name(s);
      stack.apply({{a, s, s}}, mode);
      if (mode == ApplyMode::Runtime && (std::string(c.dir) == "lora_a" || std::string(c.dir) == "locon_b")) {
        EXPECT_GT(stack.last_stats().side_paths, 0) << what;
      }
      expect_close(f.eps(m), exp.get(std::string("eps.scale_") + scale_name(s)), what + " eps");
      expect_close(f.te(m, ids), exp.get(std::string("te_last_hidden_state.scale_") + scale_name(s)), what + " te");
    }
  }
  stack.clear();
  expect_close(f.eps(m), exp.get("eps.base"), "eps.base after clear");
}

INSTANTIATE_TEST_SUITE_P(
    Refsuite, AdapterForward,
    ::testing::Values(Case{"lora_a", "pytorch_lora_weights.safetensors"},
                      Case{"lora_a", "pytorch_lora_weights_te_text_model_prefix.safetensors"},
                      Case{"lora_a", "lora_a_kohya.safetensors"}, Case{"locon_b", "locon_b_kohya.safetensors"},
                      Case{"loha_c", "loha_c_lycoris.safetensors"}, Case{"lokr_c", "lokr_c_lycoris.safetensors"},
                      Case{"dora_d", "pytorch_lora_weights.safetensors"}, Case{"dora_d", "dora_d_lycoris.safetensors"},
                      Case{"diff_e", "diff_e_kohya.safetensors"}),
    [](const ::testing::TestParamInfo<Case>& i) {
      std::string n = std::string(i.param.dir) + "_" + i.param.file;
      n = n.substr(0, n.find(".safetensors"));
      std::replace_if(n.begin(), n.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
      return n;
    });

TEST(AdapterForwardStack, ThreeAdaptersInEveryOrderAndMode) {
  Model& m = model();
  Forward f;
  io::TensorFile exp = io::read_safetensors(adapter_path("stack_f/expected.safetensors"));
  std::vector<StackEntry> e = {
      {load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap), 0.8f, 0.8f},
      {load_adapter(adapter_path("loha_c/loha_c_lycoris.safetensors"), m.keymap), 0.5f, 0.5f},
      {load_adapter(adapter_path("locon_b/locon_b_kohya.safetensors"), m.keymap), 1.2f, 1.2f},
  };
  std::vector<int> order = {0, 1, 2};
  AdapterStack stack(m.params());
  do {
    std::vector<StackEntry> s;
    for (int i : order) s.push_back(e[i]);
    for (ApplyMode mode : {ApplyMode::Fuse, ApplyMode::Runtime}) {
      std::string what = std::string("order ") + char('0' + order[0]) + char('0' + order[1]) + char('0' + order[2]) +
                         " " + apply_mode_name(mode);
      stack.apply(s, mode);
      expect_close(f.eps(m), exp.get("eps"), what + " eps");
      expect_close(f.te(m, exp.get("te_input_ids")), exp.get("te_last_hidden_state"), what + " te");
    }
  } while (std::next_permutation(order.begin(), order.end()));
  stack.clear();
}

// Separate strengths: UNet-only and TE-only application touch only their part.
TEST(AdapterForwardStack, UnetAndTextEncoderStrengthsAreIndependent) {
  Model& m = model();
  Forward f;
  io::TensorFile exp = io::read_safetensors(adapter_path("lora_a/expected.safetensors"));
  auto a = load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap);
  AdapterStack stack(m.params());
  for (ApplyMode mode : {ApplyMode::Fuse, ApplyMode::Runtime}) {
    stack.apply({{a, 0.6f, 0.0f}}, mode);
    expect_close(f.eps(m), exp.get("eps.scale_0.6"), "unet only eps");
    expect_close(f.te(m, exp.get("te_input_ids")), exp.get("te_last_hidden_state.base"), "unet only te");
    stack.apply({{a, 0.0f, -0.5f}}, mode);
    expect_close(f.eps(m), exp.get("eps.base"), "te only eps");
    expect_close(f.te(m, exp.get("te_input_ids")), exp.get("te_last_hidden_state.scale_-0.5"), "te only te");
  }
  stack.clear();
}
