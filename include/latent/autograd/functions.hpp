// The user-facing autograd entry points: Tensor::backward and autograd::grad.
#pragma once
#include <optional>

#include "engine.hpp"

namespace latent {

template <typename T>
void Tensor<T>::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  LATENT_CHECK(requires_grad(), "backward: tensor of shape ", shape(),
               " does not require grad and does not have a grad_fn");
  Tensor g = gradient;
  if (!g.defined()) {
    LATENT_CHECK(numel() == 1, "backward: grad can be implicitly created only for scalar outputs; this output "
                 "has shape ", shape(), ", pass a gradient of that shape");
    g = ones<T>(shape(), device());
  }
  autograd::run_backward<T>({*this}, {g}, retain_graph || create_graph, create_graph, nullptr, false);
}

namespace autograd {

// Gradients of `outputs` (seeded with `grad_outputs`, ones for scalars when empty) with
// respect to `inputs`, as torch.autograd.grad. With create_graph the result is itself
// differentiable (gradient penalties). retain_graph defaults to create_graph.
template <typename T>
std::vector<Tensor<T>> grad(const std::vector<Tensor<T>>& outputs, const std::vector<Tensor<T>>& inputs,
                            std::vector<Tensor<T>> grad_outputs = {}, std::optional<bool> retain_graph = {},
                            bool create_graph = false, bool allow_unused = false) {
  if (grad_outputs.empty()) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      LATENT_CHECK(outputs[i].numel() == 1, "grad: grad can be implicitly created only for scalar outputs; output ",
                   i, " has shape ", outputs[i].shape());
      grad_outputs.push_back(ones<T>(outputs[i].shape(), outputs[i].device()));
    }
  }
  return run_backward<T>(outputs, grad_outputs, retain_graph.value_or(create_graph), create_graph, &inputs,
                         allow_unused);
}

}  // namespace autograd
}  // namespace latent
