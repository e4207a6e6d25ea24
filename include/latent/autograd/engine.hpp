// The backward engine. Walks the graph from the roots, sums the gradients flowing into
// each node, runs a node once every consumer of its output has contributed, and either
// accumulates into leaves' `.grad` (backward) or returns the gradients of chosen inputs
// (grad). With create_graph the formulas run in grad mode, so the result is differentiable.
#pragma once
#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "node.hpp"

namespace latent::autograd {

namespace detail {

template <typename T>
void accumulate_into_leaf(TensorImpl<T>& leaf, Tensor<T> grad, bool create_graph) {
  if (!leaf.grad) {
    // Steal the gradient when nobody else holds it; otherwise copy, so that later
    // in-place updates of .grad never write into another tensor.
    bool unique = grad.impl_ptr().use_count() == 1 && grad.storage().use_count() == 1 &&
                  grad.is_contiguous() && !create_graph;
    if (!unique) grad = create_graph ? grad.contiguous() * T(1) : grad.detach().clone();
    if (!create_graph) grad = grad.detach();
    leaf.grad = grad.impl_ptr();
  } else if (create_graph) {
    leaf.grad = (Tensor<T>(leaf.grad) + grad).impl_ptr();
  } else {
    NoGradGuard no_grad;
    Tensor<T> existing(leaf.grad);
    if (existing.grad_fn()) {
      leaf.grad = (existing.detach() + grad).impl_ptr();
    } else {
      existing.add_(grad);
    }
  }
}

template <typename T>
struct ReadyOrder {
  bool operator()(Node<T>* a, Node<T>* b) const { return a->sequence_nr < b->sequence_nr; }
};

}  // namespace detail

// Runs backward from `roots` seeded with `root_grads`. When `inputs` is non-null, returns
// their gradients (leaves' .grad untouched); otherwise accumulates into every leaf.
template <typename T>
std::vector<Tensor<T>> run_backward(const std::vector<Tensor<T>>& roots,
                                    const std::vector<Tensor<T>>& root_grads, bool retain_graph,
                                    bool create_graph, const std::vector<Tensor<T>>* inputs,
                                    bool allow_unused) {
  using NodePtr = Node<T>*;
  LATENT_CHECK(roots.size() == root_grads.size(), "backward: got ", roots.size(), " outputs but ",
               root_grads.size(), " gradients");
  std::vector<std::shared_ptr<Node<T>>> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    LATENT_CHECK(roots[i].requires_grad(), "backward: element ", i,
                 " of tensors does not require grad and does not have a grad_fn");
    LATENT_CHECK(root_grads[i].shape() == roots[i].shape(), "backward: gradient of shape ",
                 root_grads[i].shape(), " does not match output ", i, " of shape ", roots[i].shape());
    root_nodes.push_back(gradient_edge(roots[i]));
  }

  // Targets whose gradients `grad` returns: input i is captured at its node.
  std::unordered_map<NodePtr, std::vector<size_t>> captures;
  if (inputs) {
    for (size_t i = 0; i < inputs->size(); ++i) {
      const Tensor<T>& in = (*inputs)[i];
      LATENT_CHECK(in.requires_grad(), "grad: input ", i, " (shape ", in.shape(),
                   ") does not require grad");
      auto node = in.grad_fn() ? in.grad_fn() : in.impl().grad_accumulator.lock();
      if (node) captures[node.get()].push_back(i);
    }
  }

  // Discover the graph: dependency counts, and (for grad) which nodes lead to a target.
  std::unordered_map<NodePtr, int> dependencies;
  std::unordered_map<NodePtr, bool> useful;
  {
    std::vector<std::pair<NodePtr, size_t>> stack;
    std::unordered_set<NodePtr> seen;
    for (auto& r : root_nodes)
      if (seen.insert(r.get()).second) stack.push_back({r.get(), 0});
    // Iterative post-order DFS so usefulness is known after the children are visited.
    while (!stack.empty()) {
      auto& [node, child] = stack.back();
      if (child < node->next.size()) {
        NodePtr next = node->next[child++].get();
        if (!next) continue;
        ++dependencies[next];
        if (seen.insert(next).second) stack.push_back({next, 0});
        continue;
      }
      bool u = !inputs || captures.count(node);
      if (!u)
        for (auto& n : node->next)
          if (n && useful[n.get()]) { u = true; break; }
      useful[node] = u;
      stack.pop_back();
    }
  }

  GradModeGuard mode(create_graph);
  std::unordered_map<NodePtr, Tensor<T>> buffers;
  auto add_to_buffer = [&](NodePtr node, Tensor<T> g) {
    auto it = buffers.find(node);
    if (it == buffers.end() || !it->second.defined())
      buffers[node] = std::move(g);
    else
      it->second = it->second + g;
  };
  for (size_t i = 0; i < roots.size(); ++i) add_to_buffer(root_nodes[i].get(), root_grads[i]);

  std::vector<Tensor<T>> results(inputs ? inputs->size() : 0);
  std::priority_queue<NodePtr, std::vector<NodePtr>, detail::ReadyOrder<T>> ready;
  {
    std::unordered_set<NodePtr> pushed;
    for (auto& r : root_nodes)
      if (dependencies[r.get()] == 0 && pushed.insert(r.get()).second) ready.push(r.get());
  }
  while (!ready.empty()) {
    NodePtr node = ready.top();
    ready.pop();
    Tensor<T> grad;
    if (auto it = buffers.find(node); it != buffers.end()) {
      grad = std::move(it->second);
      buffers.erase(it);
    }
    if (grad.defined()) {
      LATENT_CHECK(grad.shape() == node->out_shape, "backward: gradient of shape ", grad.shape(),
                   " reached '", node->name, "' whose output has shape ", node->out_shape);
      for (auto& weak : node->retained)
        if (auto impl = weak.lock()) impl->grad = (create_graph ? grad : grad.detach()).impl_ptr();
      if (auto it = captures.find(node); it != captures.end())
        for (size_t i : it->second) results[i] = grad;
    }
    std::vector<Tensor<T>> grads;
    bool applied = false;
    if (grad.defined() && useful[node]) {
      if (node->is_accumulator()) {
        if (!inputs)
          detail::accumulate_into_leaf(*static_cast<AccumulateGrad<T>*>(node)->leaf, std::move(grad),
                                       create_graph);
      } else {
        NeedsMask mask = 0;
        for (size_t i = 0; i < node->next.size(); ++i)
          if (node->next[i] && useful[node->next[i].get()]) mask |= (1u << i);
        grads = node->apply(grad, mask);
        applied = true;
      }
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      NodePtr next = node->next[i].get();
      if (!next) continue;
      if (i < grads.size() && grads[i].defined() && useful[next]) add_to_buffer(next, std::move(grads[i]));
      if (--dependencies[next] == 0) ready.push(next);
    }
    if (!retain_graph && applied) node->release();
  }

  if (inputs && !allow_unused)
    for (size_t i = 0; i < results.size(); ++i)
      LATENT_CHECK(results[i].defined(), "grad: input ", i, " (shape ", (*inputs)[i].shape(),
                   ") was not used in the graph; pass allow_unused=true to get an undefined gradient");
  return results;
}

}  // namespace latent::autograd
