#include "adapters/stack.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "adapters/math.h"
#include "adapters/side_path.h"

namespace ls::adapters {

const char* apply_mode_name(ApplyMode m) {
  switch (m) {
    case ApplyMode::Fuse: return "fuse";
    case ApplyMode::Runtime: return "runtime";
    case ApplyMode::Auto: return "auto";
  }
  return "?";
}

ApplyMode parse_apply_mode(const std::string& s) {
  if (s == "fuse") return ApplyMode::Fuse;
  if (s == "runtime") return ApplyMode::Runtime;
  if (s == "auto") return ApplyMode::Auto;
  fail("--lora-mode: '{}' is not one of fuse, runtime, auto", s);
}

void AdapterStack::apply(const std::vector<StackEntry>& entries, ApplyMode mode) {
  if (mode == ApplyMode::Auto) mode = ApplyMode::Fuse;
  std::set<const ParamTable*> ours;
  for (auto [c, t] : params_.tables()) ours.insert(t);

  // 1. validate and collect the wanted contributions per parameter
  std::map<Param*, std::vector<Contribution>> wanted;
  for (const StackEntry& e : entries) {
    if (!e.adapter) fail("adapter stack: entry without an adapter");
    const Adapter& a = *e.adapter;
    if (!std::isfinite(e.unet_strength) || !std::isfinite(e.te_strength))
      fail("{}: strength {} / text-encoder strength {} is not finite", a.file.path, e.unet_strength, e.te_strength);
    for (size_t i = 0; i < a.modules.size(); ++i) {
      const ResolvedModule& rm = a.modules[i];
      const Target& t = rm.target;
      if (!ours.count(t.table))
        fail("{}: module '{}' was resolved against another model's {} (build its KeyMap from this model)", a.file.path,
             a.module(rm).key, component_name(t.component));
      float s = t.component == Component::UNet ? e.unet_strength : e.te_strength;
      if (e.module_scale) s *= e.module_scale(t);
      if (!std::isfinite(s)) fail("{}: module '{}': strength × block weight is not finite", a.file.path, a.module(rm).key);
      if (s == 0.0f) continue;
      const ModuleTensors& m = a.module(rm);
      Param& w = t.table->get(t.weight);
      if (has_weight_delta(m)) {
        bool side = mode == ApplyMode::Runtime && make_side_path(m, w.base.shape(), w.spec, s) != nullptr;
        wanted[&w].push_back({&a, rm.index, false, s, side});
      }
      if (has_bias_delta(m)) wanted[&t.table->get(t.bias)].push_back({&a, rm.index, true, s, false});
    }
  }
  // canonical summation order: independent of the stack order
  for (auto& [p, cs] : wanted)
    std::sort(cs.begin(), cs.end(), [](const Contribution& x, const Contribution& y) {
      if (x.adapter->file.path != y.adapter->file.path) return x.adapter->file.path < y.adapter->file.path;
      if (x.adapter != y.adapter) return std::less<const Adapter*>()(x.adapter, y.adapter);
      if (x.module != y.module) return x.module < y.module;
      return x.strength < y.strength;
    });

  // 2. compute every changed parameter into a staging area
  struct Staged {
    Param* p;
    Tensor value;
    std::vector<std::shared_ptr<const SidePath>> side;
  };
  std::vector<Staged> staged;
  Stats st;
  std::set<Param*> all;
  for (auto& [p, c] : wanted) all.insert(p);
  for (auto& [p, c] : applied_) all.insert(p);
  for (Param* p : all) {
    auto wi = wanted.find(p);
    auto ai = applied_.find(p);
    static const std::vector<Contribution> none;
    const std::vector<Contribution>& want = wi == wanted.end() ? none : wi->second;
    const std::vector<Contribution>& have = ai == applied_.end() ? none : ai->second;
    if (want == have) {
      ++st.unchanged;
      continue;
    }
    Staged s{p, {}, {}};
    Tensor base = p->base.to(DType::F32);  // the base itself when it is already F32
    bool merged = false;
    for (const Contribution& c : want) {
      const ModuleTensors& m = c.adapter->file.modules[c.module];
      if (c.side) {
        s.side.push_back(make_side_path(m, p->base.shape(), p->spec, c.strength));
        continue;
      }
      if (!merged) {
        s.value = base.clone();
        merged = true;
      }
      Tensor d = c.bias ? bias_delta(m, p->base.shape(), c.strength) : weight_delta(m, base, c.strength);
      float* v = s.value.data<float>();
      const float* dp = d.data<float>();
      for (int64_t i = 0; i < s.value.numel(); ++i) {
        v[i] += dp[i];
        if (!std::isfinite(v[i]))
          fail("{}: module '{}' would make '{}' hold {} at element {} (e.g. a DoRA norm of zero); nothing was applied",
               c.adapter->file.path, m.key, p->name, v[i], i);
      }
    }
    if (!merged) {
      s.value = base;
    }
    if (want.empty()) ++st.restored;
    else ++st.recomputed;
    staged.push_back(std::move(s));
  }

  // 3. commit (cannot fail)
  for (Staged& s : staged) {
    s.p->value = std::move(s.value);
    s.p->side = std::move(s.side);
  }
  applied_.clear();
  for (auto& [p, cs] : wanted)
    if (!cs.empty()) applied_[p] = std::move(cs);
  for (auto& [p, cs] : applied_) st.side_paths += static_cast<int>(p->side.size());
  entries_ = entries;
  stats_ = st;
}

}  // namespace ls::adapters
