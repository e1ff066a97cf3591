// The autograd tape (runtime/autograd.h): a per-thread stack of tapes, each a list of recorded ops in
// execution order; backward walks it once in reverse.
#include "runtime/autograd.h"

#include "runtime/profile.h"

#include "runtime/ops.h"

namespace ls::autograd {

namespace {

/// One recorded op: its inputs' identities (null where no grad is needed), their shapes / dtypes / devices
/// (to check and place incoming gradients), its output's identity and the adjoint.
struct Node {
  std::vector<std::shared_ptr<Meta>> inputs;
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<Device> devices;
  std::shared_ptr<Meta> output;
  BackwardFn fn;
  const char* op = "";  ///< profile::current_op() when recorded (LORASTACK_PROFILE labels)
};

}  // namespace

struct Tape::Impl {
  std::vector<Node> nodes;
  bool prev_enabled = true;  // recording state to restore when this tape goes away
  uint64_t generation = 0;   // bumped when backward consumes the tape
};

namespace {

struct ThreadState {
  std::vector<Tape::Impl*> tapes;  // innermost last
  bool enabled = true;             // false inside NoGrad and while backward runs
};
thread_local ThreadState t_state;

void accumulate(Meta& m, Tensor g) {
  m.grad = m.grad.defined() ? ops::add(m.grad, g) : std::move(g);
}

}  // namespace

Tape::Tape() : impl_(std::make_unique<Impl>()) {
  impl_->prev_enabled = t_state.enabled;
  t_state.enabled = true;
  t_state.tapes.push_back(impl_.get());
}

Tape::~Tape() {
  t_state.enabled = impl_->prev_enabled;
  auto& ts = t_state.tapes;
  for (size_t i = ts.size(); i-- > 0;)
    if (ts[i] == impl_.get()) {
      ts.erase(ts.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
}

size_t Tape::size() const { return impl_->nodes.size(); }

NoGrad::NoGrad() : prev_(t_state.enabled) { t_state.enabled = false; }
NoGrad::~NoGrad() { t_state.enabled = prev_; }

bool recording() { return t_state.enabled && !t_state.tapes.empty(); }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!recording()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

namespace {
/// record() with `force`: record even when no input requires grad (checkpoint: the leaves are inside fn).
void record_node(Tensor& output, const std::vector<Tensor>& inputs, BackwardFn fn, bool force);
}  // namespace

void record(Tensor& output, const std::vector<Tensor>& inputs, BackwardFn fn) {
  record_node(output, inputs, std::move(fn), false);
}

namespace {
void record_node(Tensor& output, const std::vector<Tensor>& inputs, BackwardFn fn, bool force) {
  if (t_state.tapes.empty()) fail("autograd: record() without a current tape");
  Tape::Impl* tape = t_state.tapes.back();
  Node n;
  bool any = false;
  for (const Tensor& t : inputs) {
    // a tensor this tape recorded before its last backward() is a constant now (reading a loss value after
    // backward is fine); were it the only path to the leaves, nothing is recorded and a later backward() from
    // the result fails with "not recorded" instead of silently finding no gradients
    const Meta* m = t.defined() ? t.grad_meta().get() : nullptr;
    const bool live = m && m->requires_grad && !(m->tape == tape && m->generation != tape->generation);
    any = any || live;
    n.inputs.push_back(live ? t.grad_meta() : nullptr);
    n.shapes.push_back(t.defined() ? t.shape() : Shape{});
    n.dtypes.push_back(t.defined() ? t.dtype() : DType::F32);
    n.devices.push_back(t.defined() ? t.device() : Device::CPU);
  }
  if (!any && !force) return;
  auto out = std::make_shared<Meta>();
  out->requires_grad = true;
  out->leaf = false;
  out->tape = tape;
  out->node = tape->nodes.size();
  out->generation = tape->generation;
  n.output = out;
  n.fn = std::move(fn);
  n.op = profile::current_op();
  tape->nodes.push_back(std::move(n));
  output.set_grad_meta(std::move(out));
}
}  // namespace

void backward(const Tensor& root, const Tensor& grad_root) {
  if (t_state.tapes.empty()) fail("autograd::backward: no tape is current");
  Tape::Impl* tape = t_state.tapes.back();
  Meta* rm = root.grad_meta().get();
  if (!rm || rm->tape != tape || rm->generation != tape->generation || rm->node >= tape->nodes.size())
    fail("autograd::backward: the root {} was not recorded on the current tape", shape_str(root.shape()));
  Tensor seed = grad_root;
  if (!seed.defined()) {
    seed = Tensor::full(root.shape(), 1.0f).to_device(root.device()).to(root.dtype());
  } else if (seed.shape() != root.shape()) {
    fail("autograd::backward: gradient {} does not match the root {}", shape_str(seed.shape()), shape_str(root.shape()));
  }
  const bool prev = t_state.enabled;
  t_state.enabled = false;
  struct Restore {
    bool prev;
    Tape::Impl* tape;
    ~Restore() {
      t_state.enabled = prev;
      tape->nodes.clear();  // the tape is consumed, also when a gradient function throws
      ++tape->generation;
    }
  } restore{prev, tape};

  accumulate(*rm, seed.detach());
  for (size_t i = rm->node + 1; i-- > 0;) {
    Node& n = tape->nodes[i];
    if (!n.output->grad.defined()) continue;
    Tensor g = std::move(n.output->grad);
    n.output->grad = Tensor{};
    std::vector<Tensor> gin;
    {
      profile::Scope ps(*n.op ? n.op : "unlabelled", " backward");
      gin = n.fn(g);
    }
    n.fn = nullptr;  // frees what the op saved
    if (gin.size() != n.inputs.size())
      fail("autograd::backward: an op returned {} gradients for {} inputs", gin.size(), n.inputs.size());
    for (size_t j = 0; j < gin.size(); ++j) {
      if (!n.inputs[j] || !gin[j].defined()) continue;
      Tensor gj = gin[j].detach();
      if (gj.shape() != n.shapes[j]) {
        if (gj.numel() != shape_numel(n.shapes[j]))
          fail("autograd::backward: gradient {} does not match its input {}", shape_str(gj.shape()),
               shape_str(n.shapes[j]));
        gj = gj.reshape(n.shapes[j]);
      }
      if (gj.device() != n.devices[j]) gj = gj.to_device(n.devices[j]);
      if (gj.dtype() != n.dtypes[j]) gj = gj.to(n.dtypes[j]);
      accumulate(*n.inputs[j], std::move(gj));
    }
  }
}

Tensor grad(const Tensor& t) { return t.grad_meta() ? t.grad_meta()->grad : Tensor{}; }

void zero_grad(const Tensor& t) {
  if (t.grad_meta()) t.grad_meta()->grad = Tensor{};
}

Tensor checkpoint(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs) {
  if (!recording()) return fn(inputs);
  Tensor y;
  {
    NoGrad no_grad;
    y = fn(inputs);
  }
  y = y.detach();
  record_node(y, inputs, [fn, inputs](const Tensor& g) {
    std::vector<Tensor> detached;
    for (const Tensor& x : inputs) {
      Tensor d = x.detach();
      if (x.defined() && x.requires_grad()) d.set_requires_grad(true);
      detached.push_back(d);
    }
    Tape inner;  // a fresh tape re-enables recording for the recomputation
    Tensor y2 = fn(detached);
    std::vector<Tensor> gin(inputs.size());
    if (y2.requires_grad()) backward(y2, g);  // leaves inside fn (weights) accumulate here
    for (size_t i = 0; i < detached.size(); ++i)
      if (detached[i].defined()) gin[i] = grad(detached[i]);
    return gin;
  }, /*force=*/true);
  return y;
}

}  // namespace ls::autograd
