// DPM-Solver++ samplers and LMS (k-diffusion sampling.py: sample_dpmpp_2s_ancestral, sample_dpmpp_2m,
// sample_dpmpp_2m_sde (midpoint), sample_dpmpp_3m_sde, sample_lms; Lu et al. 2022, "DPM-Solver++").
// t = −log σ, h = t_next − t; coefficients in double, element updates in F32 in the reference's order.
#include <array>
#include <cmath>
#include <deque>

#include "sampling/elementwise.h"
#include "sampling/k_samplers.h"

namespace ls::sampling::detail {
namespace {

float t_of(float sigma) { return -std::log(sigma); }

// x ← a·x − b·D  (k-diffusion: (σ_fn(t_next)/σ_fn(t))·x − expm1(−h)·D, b = expm1(−h))
Tensor ab(const Tensor& x, float a, const Tensor& d, float b) {
  return map2(x, d, [a, b](float v, float dv) { return a * v - b * dv; });
}

}  // namespace

Tensor sample_dpmpp_2s_a(const Denoiser& D, Tensor x, const std::vector<float>& s, const StepNoise& noise,
                         const KOptions& o, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "dpm++2s_a");
    float down, up;
    ancestral_step(s[i], s[i + 1], o.eta, down, up);
    if (down == 0.0f) {
      const float sig = s[i], dt = down - s[i];
      x = map2(x, den, [sig, dt](float v, float d0) {
        const float d = (v - d0) / sig;
        return v + d * dt;
      });
    } else {
      const double t = t_of(s[i]), tn = t_of(down), h = tn - t, sm = t + 0.5 * h;
      const float sig_s = static_cast<float>(std::exp(-sm));
      Tensor x2 = ab(x, static_cast<float>(std::exp(-sm) / std::exp(-t)), den, static_cast<float>(std::expm1(-0.5 * h)));
      Tensor den2 = call_denoiser(D, x2, sig_s, "dpm++2s_a");
      x = ab(x, static_cast<float>(std::exp(-tn) / std::exp(-t)), den2, static_cast<float>(std::expm1(-h)));
    }
    if (s[i + 1] > 0.0f) {
      Tensor z = draw(noise, x, s[i], s[i + 1], "dpm++2s_a");
      const float scale = o.s_noise * up;
      x = map2(x, z, [scale](float v, float nz) { return v + nz * scale; });
    }
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_dpmpp_2m(const Denoiser& D, Tensor x, const std::vector<float>& s, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  Tensor old;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "dpm++2m");
    if (s[i + 1] == 0.0f) {
      x = den;  // σ_fn(∞)/σ = 0, −expm1(−∞) = 1: the first-order step to σ = 0 is x̂₀
    } else {
      const double t = t_of(s[i]), tn = t_of(s[i + 1]), h = tn - t;
      const float a = static_cast<float>(std::exp(-tn) / std::exp(-t)), b = static_cast<float>(std::expm1(-h));
      if (!old.defined()) {
        x = ab(x, a, den, b);
      } else {
        const double h_last = t - t_of(s[i - 1]);
        const double r = h_last / h;
        const float c1 = static_cast<float>(1.0 + 1.0 / (2.0 * r)), c2 = static_cast<float>(1.0 / (2.0 * r));
        Tensor dd = map2(den, old, [c1, c2](float d0, float d1) { return c1 * d0 - c2 * d1; });
        x = ab(x, a, dd, b);
      }
    }
    old = den;
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_dpmpp_2m_sde(const Denoiser& D, Tensor x, const std::vector<float>& s, const StepNoise& noise,
                           const KOptions& o, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  Tensor old;
  double h_last = 0.0;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "dpm++2m_sde");
    double h = h_last;
    if (s[i + 1] == 0.0f) {
      x = den;
    } else {
      const double t = t_of(s[i]), sn = t_of(s[i + 1]);
      h = sn - t;
      const double eta_h = o.eta * h;
      const float a = static_cast<float>(static_cast<double>(s[i + 1]) / s[i] * std::exp(-eta_h));
      const float b = static_cast<float>(-std::expm1(-h - eta_h));
      x = map2(x, den, [a, b](float v, float d0) { return a * v + b * d0; });
      if (old.defined()) {
        const double r = h_last / h;
        const float c = static_cast<float>(0.5 * -std::expm1(-h - eta_h) * (1.0 / r));
        x = map3(x, den, old, [c](float v, float d0, float d1) { return v + c * (d0 - d1); });
      }
      if (o.eta != 0.0f) {
        Tensor z = draw(noise, x, s[i], s[i + 1], "dpm++2m_sde");
        const float c = static_cast<float>(s[i + 1] * std::sqrt(-std::expm1(-2.0 * eta_h)) * o.s_noise);
        x = map2(x, z, [c](float v, float nz) { return v + nz * c; });
      }
    }
    old = den;
    h_last = h;
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_dpmpp_3m_sde(const Denoiser& D, Tensor x, const std::vector<float>& s, const StepNoise& noise,
                           const KOptions& o, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  Tensor d_1, d_2;
  double h = 0.0, h_1 = 0.0, h_2 = 0.0;
  bool have_h1 = false, have_h2 = false;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "dpm++3m_sde");
    if (s[i + 1] == 0.0f) {
      x = den;
    } else {
      const double t = t_of(s[i]), sn = t_of(s[i + 1]);
      h = sn - t;
      const double h_eta = h * (o.eta + 1.0);
      const float a = static_cast<float>(std::exp(-h_eta)), b = static_cast<float>(-std::expm1(-h_eta));
      x = map2(x, den, [a, b](float v, float d0) { return a * v + b * d0; });
      if (have_h2) {
        const double r0 = h_1 / h, r1 = h_2 / h;
        const float ir0 = static_cast<float>(r0), ir1 = static_cast<float>(r1);
        const float k = static_cast<float>(r0 / (r0 + r1)), inv = static_cast<float>(r0 + r1);
        const double phi_2 = std::expm1(-h_eta) / h_eta + 1.0;
        const double phi_3 = phi_2 / h_eta - 0.5;
        const float p2 = static_cast<float>(phi_2), p3 = static_cast<float>(phi_3);
        Tensor d1_0 = map2(den, d_1, [ir0](float a0, float a1) { return (a0 - a1) / ir0; });
        Tensor d1_1 = map2(d_1, d_2, [ir1](float a1, float a2) { return (a1 - a2) / ir1; });
        Tensor dd1 = map2(d1_0, d1_1, [k](float p, float q) { return p + (p - q) * k; });
        Tensor dd2 = map2(d1_0, d1_1, [inv](float p, float q) { return (p - q) / inv; });
        x = map3(x, dd1, dd2, [p2, p3](float v, float a1, float a2) { return v + p2 * a1 - p3 * a2; });
      } else if (have_h1) {
        const float r = static_cast<float>(h_1 / h);
        const float p2 = static_cast<float>(std::expm1(-h_eta) / h_eta + 1.0);
        x = map3(x, den, d_1, [r, p2](float v, float a0, float a1) { return v + p2 * ((a0 - a1) / r); });
      }
      if (o.eta != 0.0f) {
        Tensor z = draw(noise, x, s[i], s[i + 1], "dpm++3m_sde");
        const float c = static_cast<float>(s[i + 1] * std::sqrt(-std::expm1(-2.0 * h * o.eta)) * o.s_noise);
        x = map2(x, z, [c](float v, float nz) { return v + nz * c; });
      }
    }
    d_2 = d_1;
    d_1 = den;
    h_2 = h_1;
    have_h2 = have_h1;
    h_1 = h;
    have_h1 = true;
    if (cb) cb(i, n, x);
  }
  return x;
}

// ∫_{t[i]}^{t[i+1]} Π_{k≠j} (τ − t[i−k])/(t[i−j] − t[i−k]) dτ, exactly (4-point Gauss–Legendre is exact
// for the degree ≤ 3 polynomials of order ≤ 4).
double lms_coeff(int order, const std::vector<float>& t, int i, int j) {
  static const std::array<double, 4> xg{-0.8611363115940526, -0.3399810435848563, 0.3399810435848563,
                                        0.8611363115940526};
  static const std::array<double, 4> wg{0.3478548451374538, 0.6521451548625461, 0.6521451548625461,
                                        0.3478548451374538};
  const double a = t[i], b = t[i + 1];
  double sum = 0.0;
  for (int q = 0; q < 4; ++q) {
    const double tau = 0.5 * (b - a) * xg[q] + 0.5 * (a + b);
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
      if (k == j) continue;
      prod *= (tau - t[i - k]) / (static_cast<double>(t[i - j]) - t[i - k]);
    }
    sum += wg[q] * prod;
  }
  return 0.5 * (b - a) * sum;
}

Tensor sample_lms(const Denoiser& D, Tensor x, const std::vector<float>& s, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  const int order = 4;
  std::deque<Tensor> ds;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "lms");
    const float sig = s[i];
    ds.push_back(map2(x, den, [sig](float v, float d0) { return (v - d0) / sig; }));
    if (static_cast<int>(ds.size()) > order) ds.pop_front();
    const int cur = std::min(i + 1, order);
    Tensor acc;
    for (int j = 0; j < cur; ++j) {
      const float c = static_cast<float>(lms_coeff(cur, s, i, j));
      const Tensor& d = ds[ds.size() - 1 - j];
      acc = j == 0 ? map1(d, [c](float v) { return c * v; })
                   : map2(acc, d, [c](float a, float v) { return a + c * v; });
    }
    x = map2(x, acc, [](float v, float a) { return v + a; });
    if (cb) cb(i, n, x);
  }
  return x;
}

}  // namespace ls::sampling::detail
