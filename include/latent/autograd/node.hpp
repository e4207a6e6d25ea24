// The graph: one Node per recorded op output. A node holds edges to the nodes of its
// inputs (null where an input needs no gradient), a backward closure written with
// differentiable tensor ops (so create_graph gives higher-order gradients) and the op
// name for messages. Leaves get an AccumulateGrad node that writes `.grad`.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "../core/tensor.hpp"

namespace latent::autograd {

// Bit i set: the engine wants the gradient for input i.
using NeedsMask = uint32_t;
inline bool needs(NeedsMask mask, int i) { return (mask >> i) & 1u; }

template <typename T>
struct Node {
  explicit Node(const char* op_name) : name(op_name), sequence_nr(next_sequence_nr()) {}
  virtual ~Node() = default;

  // grad: gradient of the node's output. Returns one gradient per edge (undefined = zero).
  virtual std::vector<Tensor<T>> apply(const Tensor<T>& grad, NeedsMask mask) = 0;
  // Frees what backward needed; a later apply throws (backward twice without retain_graph).
  virtual void release() {}
  virtual bool is_accumulator() const { return false; }

  const char* name;
  uint64_t sequence_nr;  // creation order: later nodes run first when both are ready
  std::vector<std::shared_ptr<Node<T>>> next;
  Shape out_shape;  // shape of the output (for validating incoming gradients)
  std::vector<std::weak_ptr<TensorImpl<T>>> retained;  // non-leaf tensors with retain_grad

  static uint64_t next_sequence_nr() {
    static std::atomic<uint64_t> counter{0};
    return counter++;
  }
};

template <typename T, typename F>
struct FunctionNode final : Node<T> {
  FunctionNode(const char* name, F&& f) : Node<T>(name), fn(std::move(f)) {}
  std::vector<Tensor<T>> apply(const Tensor<T>& grad, NeedsMask mask) override {
    if (!fn)
      throw AutogradError(detail::str_cat(
          "backward of '", this->name,
          "': trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call backward() or autograd::grad(). Specify retain_graph=true if "
          "you need to backward through the graph a second time."));
    return (*fn)(grad, mask);
  }
  void release() override { fn.reset(); }
  std::optional<F> fn;
};

template <typename T>
struct AccumulateGrad final : Node<T> {
  explicit AccumulateGrad(std::shared_ptr<TensorImpl<T>> leaf_impl)
      : Node<T>("AccumulateGrad"), leaf(std::move(leaf_impl)) {
    this->out_shape = leaf->shape;
  }
  std::vector<Tensor<T>> apply(const Tensor<T>&, NeedsMask) override { return {}; }
  bool is_accumulator() const override { return true; }
  std::shared_ptr<TensorImpl<T>> leaf;
};

// The node a gradient for `t` flows into: its grad_fn, or its (cached) accumulator.
template <typename T>
std::shared_ptr<Node<T>> gradient_edge(const Tensor<T>& t) {
  auto& impl = t.impl();
  if (impl.grad_fn) return impl.grad_fn;
  if (!impl.requires_grad) return nullptr;
  if (auto acc = impl.grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad<T>>(t.impl_ptr());
  impl.grad_accumulator = acc;
  return acc;
}

// A tensor saved for backward, with the storage version at save time. Saving an op's own
// output keeps only a weak link to its node (no cycle) and restores it on unpack, so a
// formula like tanh's grad * (1 - y^2) is differentiable again under create_graph.
template <typename T>
class SavedVariable {
 public:
  SavedVariable() = default;
  SavedVariable(const Tensor<T>& t, bool is_output) {
    if (!t.defined()) return;
    version_ = t.version();
    if (is_output && t.grad_fn()) {
      auto impl = std::make_shared<TensorImpl<T>>();
      const auto& src = t.impl();
      impl->storage = src.storage;
      impl->offset = src.offset;
      impl->shape = src.shape;
      impl->strides = src.strides;
      impl->is_view = src.is_view;
      data_ = Tensor<T>(std::move(impl));
      weak_fn_ = t.grad_fn();
      was_output_ = true;
    } else {
      data_ = t;
    }
  }

  Tensor<T> unpack(const char* op) const {
    if (!data_.defined()) return data_;
    if (data_.version() != version_)
      throw AutogradError(detail::str_cat(
          "backward of '", op, "': one of the variables needed for gradient computation has "
          "been modified by an inplace operation: tensor of shape ", data_.shape(),
          " is at version ", data_.version(), "; expected version ", version_,
          " instead. Use out-of-place ops (or clone()) on tensors the graph saved."));
    if (!was_output_) return data_;
    auto fn = weak_fn_.lock();
    if (!fn) return data_;
    auto impl = std::make_shared<TensorImpl<T>>(data_.impl());
    impl->grad_fn = fn;
    impl->requires_grad = true;
    return Tensor<T>(std::move(impl));
  }

 private:
  Tensor<T> data_;
  uint64_t version_ = 0;
  std::weak_ptr<Node<T>> weak_fn_;
  bool was_output_ = false;
};

// Records `out` as the result of op `name` over `inputs` when grad mode is on and any
// input requires grad. `backward(grad, mask)` returns one gradient per input.
template <typename T, typename F>
void record(const char* name, Tensor<T>& out, std::initializer_list<const Tensor<T>*> inputs,
            F&& backward) {
  if constexpr (!FloatingElement<T>) {
    return;
  } else {
    if (!is_grad_enabled()) return;
    bool any = false;
    for (const Tensor<T>* in : inputs) any = any || (in->defined() && in->requires_grad());
    if (!any) return;
    auto node = std::make_shared<FunctionNode<T, std::decay_t<F>>>(name, std::forward<F>(backward));
    node->next.reserve(inputs.size());
    for (const Tensor<T>* in : inputs)
      node->next.push_back(in->defined() && in->requires_grad() ? gradient_edge(*in) : nullptr);
    node->out_shape = out.shape();
    out.impl().grad_fn = std::move(node);
    out.impl().requires_grad = true;
  }
}

// Same, for a variable number of inputs (cat, stack).
template <typename T, typename F>
void record_many(const char* name, Tensor<T>& out, const std::vector<Tensor<T>>& inputs, F&& backward) {
  if constexpr (!FloatingElement<T>) {
    return;
  } else {
    if (!is_grad_enabled()) return;
    bool any = false;
    for (const auto& in : inputs) any = any || in.requires_grad();
    if (!any) return;
    LATENT_CHECK(inputs.size() <= 32, name, ": autograd supports at most 32 inputs per op, got ",
                 inputs.size());
    auto node = std::make_shared<FunctionNode<T, std::decay_t<F>>>(name, std::forward<F>(backward));
    for (const auto& in : inputs) node->next.push_back(in.requires_grad() ? gradient_edge(in) : nullptr);
    node->out_shape = out.shape();
    out.impl().grad_fn = std::move(node);
    out.impl().requires_grad = true;
  }
}

}  // namespace latent::autograd
