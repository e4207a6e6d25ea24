// Optimizer base, as torch.optim.Optimizer: parameter groups with per-group options,
// per-parameter state, zero_grad, and state_dict()/load_state_dict() (tensors by name
// plus scalars kept in double, so a resumed run continues bit for bit).
#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "../nn/module.hpp"

namespace latent::optim {

template <typename T>
struct OptimizerState {
  nn::StateDict<T> tensors;               // "state.<param index>.<name>"
  std::map<std::string, double> scalars;  // "state.<i>.step", "param_groups.<g>.<option>"
};

template <typename T, typename Options>
struct ParamGroup {
  std::vector<Tensor<T>> params;
  Options options;
};

// What LR schedulers and trainers need from any optimizer.
template <typename T>
class OptimizerBase {
 public:
  virtual ~OptimizerBase() = default;
  virtual void step() = 0;
  virtual size_t num_groups() const = 0;
  virtual double lr(size_t group) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;
  virtual std::vector<Tensor<T>> parameters() const = 0;
  virtual OptimizerState<T> state_dict() const = 0;
  virtual void load_state_dict(const OptimizerState<T>& state) = 0;
  // Clears the gradients of every parameter (set_to_none, PyTorch's default).
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }
  // The lr a group had when the first scheduler attached (PyTorch's group['initial_lr'],
  // set with setdefault): later schedulers scale this, not the current lr.
  double initial_lr(size_t group) {
    auto it = initial_lrs_.find(group);
    if (it == initial_lrs_.end()) it = initial_lrs_.emplace(group, lr(group)).first;
    return it->second;
  }

 private:
  std::map<size_t, double> initial_lrs_;
};

// Options must have `double lr` and `void save(map&, prefix) const` / `void load(...)`.
template <typename T, typename Options>
class Optimizer : public OptimizerBase<T> {
 public:
  using Group = ParamGroup<T, Options>;
  Optimizer(std::vector<Tensor<T>> params, Options defaults) : defaults_(defaults) {
    add_param_group({std::move(params), defaults});
  }
  Optimizer(std::vector<Group> groups, Options defaults) : defaults_(defaults) {
    for (auto& g : groups) add_param_group(std::move(g));
  }
  void add_param_group(Group group) {
    for (auto& p : group.params) {
      LATENT_CHECK(p.defined() && p.is_leaf(), "optimizer: can only optimize defined leaf tensors");
      for (auto& g : groups_)
        for (auto& q : g.params)
          LATENT_CHECK(!q.is_same(p), "optimizer: some parameters appear in more than one parameter group");
    }
    groups_.push_back(std::move(group));
  }
  std::vector<Group>& param_groups() { return groups_; }
  const Options& defaults() const { return defaults_; }

  size_t num_groups() const override { return groups_.size(); }
  double lr(size_t g) const override { return groups_.at(g).options.lr; }
  void set_lr(size_t g, double lr) override { groups_.at(g).options.lr = lr; }
  std::vector<Tensor<T>> parameters() const override {
    std::vector<Tensor<T>> out;
    for (auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
    return out;
  }

  OptimizerState<T> state_dict() const override {
    OptimizerState<T> s;
    for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options.save(s.scalars, "param_groups." + std::to_string(g) + ".");
    size_t index = 0;
    for (auto& g : groups_)
      for (auto& p : g.params) {
        auto it = state_.find(p.impl_ptr().get());
        if (it != state_.end()) {
          std::string prefix = "state." + std::to_string(index) + ".";
          s.scalars[prefix + "step"] = it->second.step;
          for (auto& [name, t] : it->second.tensors) s.tensors.emplace_back(prefix + name, t.detach().clone());
        }
        ++index;
      }
    return s;
  }
  void load_state_dict(const OptimizerState<T>& s) override {
    for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options.load(s.scalars, "param_groups." + std::to_string(g) + ".");
    state_.clear();
    size_t index = 0;
    for (auto& g : groups_)
      for (auto& p : g.params) {
        std::string prefix = "state." + std::to_string(index++) + ".";
        auto step = s.scalars.find(prefix + "step");
        if (step == s.scalars.end()) continue;
        auto& st = state_[p.impl_ptr().get()];
        st.step = step->second;
        for (auto& [name, t] : s.tensors)
          if (name.rfind(prefix, 0) == 0) {
            LATENT_CHECK(t.shape() == p.shape(), "optimizer.load_state_dict: state '", name, "' has shape ", t.shape(),
                         " but the parameter has shape ", p.shape());
            st.tensors[name.substr(prefix.size())] = t.detach().clone().to(p.device());
          }
      }
  }

 protected:
  struct ParamState {
    double step = 0;
    std::map<std::string, Tensor<T>> tensors;
  };
  // State of parameter p, created on first use.
  ParamState& state(const Tensor<T>& p) { return state_[p.impl_ptr().get()]; }
  // A zero-initialised state tensor shaped like p.
  Tensor<T>& state_tensor(ParamState& st, const std::string& name, const Tensor<T>& p) {
    auto it = st.tensors.find(name);
    if (it == st.tensors.end()) it = st.tensors.emplace(name, zeros<T>(p.shape(), p.device())).first;
    return it->second;
  }

  std::vector<Group> groups_;
  Options defaults_;
  std::map<const void*, ParamState> state_;
};

namespace detail {
// The gradient of parameter p, contiguous and checked against it.
template <typename T>
Tensor<T> param_grad(const char* op, const Tensor<T>& p) {
  LATENT_CHECK(p.is_contiguous(), op, ": parameter of shape ", p.shape(), " must be contiguous");
  Tensor<T> g = p.grad().contiguous();
  LATENT_CHECK(g.shape() == p.shape(), op, ": gradient of shape ", g.shape(), " for a parameter of shape ", p.shape());
  LATENT_CHECK(g.device() == p.device(), op, ": gradient on ", g.device(), " for a parameter on ", p.device(),
               " (shape ", p.shape(), ")");
  return g;
}

// Runs f(w, g, begin, end) over the contiguous CPU data of a parameter and its gradient;
// each element is updated on its own, so results do not depend on the thread count.
template <typename T, typename F>
void for_param(const char* op, Tensor<T>& p, F&& f) {
  LATENT_CHECK(p.is_cpu(), op, ": internal error: the CPU loop got a parameter on ", p.device());
  Tensor<T> g = param_grad(op, p);
  // Every optimizer's update is element-wise: threads take contiguous ranges [begin, end)
  // (one thread below the grain, so small models pay no parallel region).
  T* w = p.data();
  const T* grad = g.data();
  parallel_for(p.numel(), 8, [&](int64_t begin, int64_t end) { f(w, grad, begin, end); });
  p.bump_version();
}

// The same step on a CUDA parameter: launch(w, g, n) enqueues the fused kernel.
template <typename T, typename Launch>
void for_cuda_param(const char* op, Tensor<T>& p, Launch&& launch) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "CUDA optimizers: float or double only");
  Tensor<T> g = param_grad(op, p);
  launch(p.data(), g.data(), p.numel());
  p.bump_version();
}
inline void put(std::map<std::string, double>& m, const std::string& k, double v) { m[k] = v; }
inline void get(const std::map<std::string, double>& m, const std::string& k, double& v) {
  auto it = m.find(k);
  if (it != m.end()) v = it->second;
}
}  // namespace detail

}  // namespace latent::optim
