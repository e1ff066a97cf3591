// UniPC multistep predictor–corrector (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework"),
// data prediction, B(h) variants bh1 (B = h) and bh2 (B = e^h − 1), as ComfyUI runs it in σ space
// (comfy/extra_samplers/uni_pc.py: SigmaConvert, predict_eps_sigma, sample_unipc, read as reference):
// the VE latents are moved to VP (x / √(1 + σ₀²)), α = 1/√(σ²+1), σ_vp = σ·α, λ = log α − log σ_vp = −log σ;
// a final σ of 0 is replaced by 0.001 and the result divided by α(σ_last). Order min(3, steps − 1), lower
// order on the first steps and the last (lower_order_final), no corrector on the final step.
#include <cmath>
#include <vector>

#include "sampling/elementwise.h"
#include "sampling/k_samplers.h"

namespace ls::sampling::detail {
namespace {

struct Vp {
  double alpha, std, lambda;
};

// SigmaConvert: log_mean_coeff = ½·log(1/(σ²+1)); α = e^lmc; std = √(1 − e^{2·lmc}); λ = lmc − ½·log(1 − e^{2·lmc}),
// in float32 as the reference's 0-d tensors (1 − e^{2·lmc} cancels at small σ; matching that rounding keeps the
// result within 1e-6 of the reference instead of 5e-5)
Vp vp_of(double sigma_d) {
  const float sigma = static_cast<float>(sigma_d);
  const float lmc = 0.5f * std::log(1.0f / (sigma * sigma + 1.0f));
  const float e2 = std::exp(2.0f * lmc);
  const float one_minus = 1.0f - e2;
  return {std::exp(lmc), std::sqrt(one_minus), lmc - 0.5f * std::log(one_minus)};
}

// solve A·x = b for n ≤ 3 (Gaussian elimination with partial pivoting)
std::vector<double> solve(std::vector<std::vector<double>> A, std::vector<double> b) {
  const int n = static_cast<int>(b.size());
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(A[r][c]) > std::fabs(A[p][c])) p = r;
    std::swap(A[c], A[p]);
    std::swap(b[c], b[p]);
    if (A[c][c] == 0.0) fail("uni_pc: singular order system (repeated sigmas?)");
    for (int r = c + 1; r < n; ++r) {
      const double f = A[r][c] / A[c][c];
      for (int k = c; k < n; ++k) A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (int r = n - 1; r >= 0; --r) {
    double v = b[r];
    for (int k = r + 1; k < n; ++k) v -= A[r][k] * x[k];
    x[r] = v / A[r][r];
  }
  return x;
}

class UniPc {
 public:
  UniPc(const Denoiser& d, bool bh2) : d_(d), bh2_(bh2) {}

  // data prediction at VP latents x and σ: x̂₀ via predict_eps_sigma then (x − std·ε)/α
  Tensor model(const Tensor& x, double sigma) {
    const float sig = static_cast<float>(sigma);
    const float up = static_cast<float>(std::sqrt(sigma * sigma + 1.0));
    Tensor xin = map1(x, [up](float v) { return v * up; });
    Tensor den = call_denoiser(d_, xin, sig, bh2_ ? "uni_pc" : "uni_pc_bh1");
    Tensor eps = map2(xin, den, [sig](float a, float b) { return (a - b) / sig; });
    const Vp v = vp_of(sigma);
    const float st = static_cast<float>(v.std), al = static_cast<float>(v.alpha);
    return map2(x, eps, [st, al](float a, float e) { return (a - st * e) / al; });
  }

  // multistep_uni_pc_bh_update (predict_x0); returns x_t and sets model_t (undefined without corrector)
  Tensor update(const Tensor& x, const std::vector<Tensor>& mp, const std::vector<double>& tp, double t, int order,
                bool use_corrector, Tensor& model_t) {
    const double t0 = tp.back();
    const Vp v0 = vp_of(t0), vt = vp_of(t);
    const Tensor& m0 = mp.back();
    const double h = vt.lambda - v0.lambda;
    std::vector<double> rks;
    std::vector<Tensor> D1s;
    for (int i = 1; i < order; ++i) {
      const double ti = tp[tp.size() - 1 - i];
      const Tensor& mi = mp[mp.size() - 1 - i];
      const double rk = (vp_of(ti).lambda - v0.lambda) / h;
      rks.push_back(rk);
      const float rkf = static_cast<float>(rk);
      D1s.push_back(map2(mi, m0, [rkf](float a, float b) { return (a - b) / rkf; }));
    }
    rks.push_back(1.0);
    const double hh = -h;
    const double h_phi_1 = std::expm1(hh);
    double h_phi_k = h_phi_1 / hh - 1.0;
    double factorial = 1.0;
    const double B_h = bh2_ ? std::expm1(hh) : hh;
    std::vector<std::vector<double>> R;
    std::vector<double> b;
    for (int i = 1; i <= order; ++i) {
      std::vector<double> row;
      for (double rk : rks) row.push_back(std::pow(rk, i - 1));
      R.push_back(row);
      b.push_back(h_phi_k * factorial / B_h);
      factorial *= (i + 1);
      h_phi_k = h_phi_k / hh - 1.0 / factorial;
    }
    std::vector<double> rhos_p;
    if (!D1s.empty()) {
      if (order == 2) {
        rhos_p = {0.5};
      } else {
        std::vector<std::vector<double>> Rp(order - 1, std::vector<double>(order - 1));
        for (int r = 0; r < order - 1; ++r)
          for (int c = 0; c < order - 1; ++c) Rp[r][c] = R[r][c];
        rhos_p = solve(Rp, std::vector<double>(b.begin(), b.end() - 1));
      }
    }
    std::vector<double> rhos_c;
    if (use_corrector) rhos_c = order == 1 ? std::vector<double>{0.5} : solve(R, b);

    const float a1 = static_cast<float>(vt.std / v0.std), a2 = static_cast<float>(vt.alpha * h_phi_1);
    Tensor x_t_ = map2(x, m0, [a1, a2](float v, float m) { return a1 * v - a2 * m; });
    const float ab = static_cast<float>(vt.alpha * B_h);
    auto weighted = [&](const std::vector<double>& rho, size_t count) {
      Tensor acc = Tensor::zeros(x.shape());
      for (size_t k = 0; k < count; ++k) {
        const float r = static_cast<float>(rho[k]);
        acc = map2(acc, D1s[k], [r](float a, float d) { return a + r * d; });
      }
      return acc;
    };
    Tensor x_t = x_t_;
    if (!D1s.empty()) {
      Tensor pred = weighted(rhos_p, D1s.size());
      x_t = map2(x_t_, pred, [ab](float v, float p) { return v - ab * p; });
    }
    model_t = Tensor();
    if (use_corrector) {
      model_t = model(x_t, t);
      Tensor corr = D1s.empty() ? Tensor::zeros(x.shape()) : weighted(rhos_c, D1s.size());
      const float rl = static_cast<float>(rhos_c.back());
      x_t = map3(corr, model_t, m0, [rl](float c, float mt, float mm) { return c + rl * (mt - mm); });
      x_t = map2(x_t_, x_t, [ab](float v, float c) { return v - ab * c; });
    }
    return x_t;
  }

 private:
  const Denoiser& d_;
  bool bh2_;
};

}  // namespace

Tensor sample_unipc(const Denoiser& D, Tensor x, const std::vector<float>& sigmas, bool bh2, const KCallback& cb) {
  std::vector<double> ts(sigmas.begin(), sigmas.end());
  if (ts.back() == 0.0) ts.back() = static_cast<double>(0.001f);
  const int steps = static_cast<int>(ts.size()) - 1;
  if (steps < 2) fail("uni_pc: needs at least 2 steps, got {}", steps);
  const float in_scale = static_cast<float>(std::sqrt(1.0 + ts[0] * ts[0]));
  x = map1(x, [in_scale](float v) { return v / in_scale; });
  const int order = std::min(3, static_cast<int>(ts.size()) - 2);
  UniPc u(D, bh2);
  std::vector<Tensor> mp;
  std::vector<double> tp;
  for (int step_index = 0; step_index < steps; ++step_index) {
    if (step_index == 0) {
      mp = {u.model(x, ts[0])};
      tp = {ts[0]};
    } else if (step_index < order) {
      Tensor mx;
      x = u.update(x, mp, tp, ts[step_index], step_index, true, mx);
      if (!mx.defined()) mx = u.model(x, ts[step_index]);
      mp.push_back(mx);
      tp.push_back(ts[step_index]);
    } else {
      const int extra = step_index == steps - 1 ? 1 : 0;
      for (int step = step_index; step <= step_index + extra; ++step) {
        const int step_order = std::min(order, steps + 1 - step);
        const bool corrector = step != steps;
        Tensor mx;
        x = u.update(x, mp, tp, ts[step], step_order, corrector, mx);
        for (int i = 0; i < order - 1; ++i) {
          tp[i] = tp[i + 1];
          mp[i] = mp[i + 1];
        }
        tp.back() = ts[step];
        if (step < steps) {
          if (!mx.defined()) mx = u.model(x, ts[step]);
          mp.back() = mx;
        }
      }
    }
    if (cb) cb(step_index, steps, x);
  }
  const float out_scale = static_cast<float>(vp_of(ts.back()).alpha);
  return map1(x, [out_scale](float v) { return v / out_scale; });
}

}  // namespace ls::sampling::detail
