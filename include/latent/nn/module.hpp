// nn::Module: the base of every layer and model, as torch.nn.Module. A module owns named
// parameters, buffers and submodules (registration order is kept, names are dotted like
// PyTorch's state_dict keys: "0.weight"), switches train/eval, moves to a device and
// saves/loads its state. Modules are held by shared_ptr; tensors are shared handles, so
// `weight = register_parameter("weight", ...)` keeps a handle that stays valid across
// to(device) and load_state_dict (both replace data in place).
#pragma once
#include <charconv>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "../latent.hpp"

namespace latent::nn {

// An ordered name -> tensor list (PyTorch's OrderedDict state_dict).
template <typename T>
using StateDict = std::vector<std::pair<std::string, Tensor<T>>>;

namespace detail {
// The entry called `name` of a (name, value) list, or end(). A function rather than a
// lambda at each use: clang before 16 cannot capture structured bindings.
template <typename List>
auto find_named(List& list, const std::string& name) {
  return std::find_if(list.begin(), list.end(), [&name](const auto& kv) { return kv.first == name; });
}

// Python's repr of a float (shortest round trip: "1e-05", "0.5", "2.0") and of a bool, so
// module reprs read as PyTorch's.
inline std::string py_float(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}
inline const char* py_bool(bool b) { return b ? "True" : "False"; }

// Makes dst's handle point at src's data (storage, shape, strides), keeping dst's identity
// and autograd flags: what `param.data = new_data` does in PyTorch.
template <typename T>
void replace_data(const Tensor<T>& dst, const Tensor<T>& src) {
  auto& d = dst.impl();
  const auto& s = src.impl();
  d.storage = s.storage;
  d.offset = s.offset;
  d.shape = s.shape;
  d.strides = s.strides;
  d.is_view = false;
  if (d.grad) d.grad.reset();
}
}  // namespace detail

template <typename T = float>
class Module {
 public:
  using value_type = T;
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // ---- registration ----
  Tensor<T> register_parameter(const std::string& name, Tensor<T> value, bool requires_grad = true) {
    check_new_name(name);
    if (value.defined()) {
      LATENT_CHECK(value.is_leaf(), type_name_, ".register_parameter('", name, "'): a parameter must be a leaf "
                   "tensor (call detach() on computed values)");
      value.requires_grad_(requires_grad);
    }
    parameters_.emplace_back(name, value);
    return value;
  }
  Tensor<T> register_buffer(const std::string& name, Tensor<T> value, bool persistent = true) {
    check_new_name(name);
    buffers_.push_back({name, value, persistent});
    return value;
  }
  // Removes a parameter of this module from the registry and returns it (PyTorch's
  // `del module._parameters[name]`): what re-parametrisations such as spectral_norm do
  // before registering `<name>_orig`. The module's own handle to the tensor is unchanged.
  Tensor<T> unregister_parameter(const std::string& name) {
    auto it = detail::find_named(parameters_, name);
    LATENT_CHECK(it != parameters_.end(), type_name_, ".unregister_parameter: no parameter named '", name, "'");
    Tensor<T> value = it->second;
    parameters_.erase(it);
    return value;
  }
  // Hooks run by operator() (not by a direct call of forward, as in PyTorch) before
  // forward, in registration order: spectral_norm recomputes the weight in one.
  using ForwardPreHook = std::function<void(Module&)>;
  void register_forward_pre_hook(ForwardPreHook hook) { forward_pre_hooks_.push_back(std::move(hook)); }
  void run_forward_pre_hooks() {
    for (auto& hook : forward_pre_hooks_) hook(*this);
  }

  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module<T>, M>, "register_module: the submodule must derive from nn::Module<T>");
    check_new_name(name);
    LATENT_CHECK(module != nullptr, type_name_, ".register_module('", name, "'): null module");
    children_.emplace_back(name, module);
    return module;
  }

  // ---- traversal ----
  StateDict<T> named_parameters(bool recurse = true) const {
    StateDict<T> out;
    visit("", recurse, [&](const std::string& prefix, const Module& m) {
      for (auto& [n, p] : m.parameters_)
        if (p.defined()) out.emplace_back(prefix + n, p);
    });
    return dedupe(out);
  }
  std::vector<Tensor<T>> parameters(bool recurse = true) const { return values(named_parameters(recurse)); }
  StateDict<T> named_buffers(bool recurse = true) const {
    StateDict<T> out;
    visit("", recurse, [&](const std::string& prefix, const Module& m) {
      for (auto& b : m.buffers_)
        if (b.value.defined()) out.emplace_back(prefix + b.name, b.value);
    });
    return out;
  }
  std::vector<Tensor<T>> buffers(bool recurse = true) const { return values(named_buffers(recurse)); }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  std::vector<std::shared_ptr<Module>> children() const {
    std::vector<std::shared_ptr<Module>> out;
    for (auto& [n, c] : children_) out.push_back(c);
    return out;
  }
  // Every module in the tree, depth first, self first, with dotted names ("" for self).
  std::vector<std::pair<std::string, const Module*>> named_modules() const {
    std::vector<std::pair<std::string, const Module*>> out;
    visit("", true, [&](const std::string& prefix, const Module& m) {
      out.emplace_back(prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1), &m);
    });
    return out;
  }
  // Calls fn on every submodule (children first), then on this module, as Module.apply.
  Module& apply(const std::function<void(Module&)>& fn) {
    for (auto& [n, c] : children_) c->apply(fn);
    fn(*this);
    return *this;
  }

  // Looks up a parameter or buffer of this module (not its children) by name.
  Tensor<T> parameter(const std::string& name) const {
    for (auto& [n, p] : parameters_)
      if (n == name) return p;
    LATENT_CHECK(false, type_name_, ": no parameter named '", name, "'");
    return {};
  }
  Tensor<T> buffer(const std::string& name) const {
    for (auto& b : buffers_)
      if (b.name == name) return b.value;
    LATENT_CHECK(false, type_name_, ": no buffer named '", name, "'");
    return {};
  }

  // ---- modes and devices ----
  Module& train(bool mode = true) {
    apply([mode](Module& m) { m.training_ = mode; });
    return *this;
  }
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }

  Module& to(Device device) {
    NoGradGuard no_grad;
    apply([&](Module& m) {
      for (auto& [n, p] : m.parameters_)
        if (p.defined() && p.device() != device) detail::replace_data(p, p.detach().to(device));
      for (auto& b : m.buffers_)
        if (b.value.defined() && b.value.device() != device) detail::replace_data(b.value, b.value.detach().to(device));
    });
    return *this;
  }

  // Clears every parameter's gradient (set_to_none, PyTorch's default).
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }

  // ---- state ----
  // Parameters and persistent buffers by dotted name, in registration order.
  StateDict<T> state_dict() const {
    StateDict<T> out;
    visit("", true, [&](const std::string& prefix, const Module& m) {
      for (auto& [n, p] : m.parameters_)
        if (p.defined()) out.emplace_back(prefix + n, p.detach());
      for (auto& b : m.buffers_)
        if (b.value.defined() && b.persistent) out.emplace_back(prefix + b.name, b.value.detach());
    });
    return out;
  }

  // Copies values into the module's tensors (in place, any device). strict: every key must
  // match and none may be missing; shapes must always match.
  void load_state_dict(const StateDict<T>& state, bool strict = true) {
    auto own = state_dict();
    std::vector<std::string> missing, unexpected;
    for (auto& [name, src] : state) {
      auto it = detail::find_named(own, name);
      if (it == own.end()) {
        unexpected.push_back(name);
        continue;
      }
      LATENT_CHECK(it->second.shape() == src.shape(), type_name_, ".load_state_dict: size mismatch for ", name,
                   ": copying a param with shape ", src.shape(), ", the shape in current model is ",
                   it->second.shape());
    }
    for (auto& [name, t] : own)
      if (detail::find_named(state, name) == state.end())
        missing.push_back(name);
    if (strict && (!missing.empty() || !unexpected.empty())) {
      std::ostringstream s;
      s << type_name_ << ".load_state_dict: error(s) in loading state_dict:";
      if (!missing.empty()) {
        s << " missing key(s):";
        for (auto& k : missing) s << " \"" << k << "\"";
        s << ".";
      }
      if (!unexpected.empty()) {
        s << " unexpected key(s):";
        for (auto& k : unexpected) s << " \"" << k << "\"";
        s << ".";
      }
      throw Error(s.str());
    }
    NoGradGuard no_grad;
    for (auto& [name, src] : state) {
      auto it = detail::find_named(own, name);
      if (it != own.end()) it->second.copy_(src);
    }
  }

  // Number of scalar parameters (each shared tensor counted once).
  int64_t num_parameters() const {
    int64_t n = 0;
    for (auto& p : parameters()) n += p.numel();
    return n;
  }

  // One line per module, indented like PyTorch's repr.
  virtual std::string extra_repr() const { return ""; }
  void print(std::ostream& os, int indent = 0) const {
    os << type_name_ << '(' << extra_repr();
    if (!children_.empty()) {
      os << '\n';
      for (auto& [n, c] : children_) {
        os << std::string(indent + 2, ' ') << '(' << n << "): ";
        c->print(os, indent + 2);
        os << '\n';
      }
      os << std::string(indent, ' ');
    }
    os << ')';
  }
  friend std::ostream& operator<<(std::ostream& os, const Module& m) {
    m.print(os);
    return os;
  }

 protected:
  bool training_ = true;

 private:
  struct Buffer {
    std::string name;
    Tensor<T> value;
    bool persistent;
  };

  void check_new_name(const std::string& name) const {
    LATENT_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": invalid name '", name,
                 "' (must be non-empty and contain no '.')");
    bool taken = std::any_of(parameters_.begin(), parameters_.end(), [&](auto& p) { return p.first == name; }) ||
                 std::any_of(buffers_.begin(), buffers_.end(), [&](auto& b) { return b.name == name; }) ||
                 std::any_of(children_.begin(), children_.end(), [&](auto& c) { return c.first == name; });
    LATENT_CHECK(!taken, type_name_, ": attribute '", name, "' already registered");
  }
  template <typename F>
  void visit(const std::string& prefix, bool recurse, F&& f) const {
    f(prefix, *this);
    if (!recurse) return;
    for (auto& [n, c] : children_) c->visit(prefix + n + ".", true, f);
  }
  // A tensor shared by two modules (tied weights) is listed once, as PyTorch does.
  static StateDict<T> dedupe(const StateDict<T>& in) {
    StateDict<T> out;
    for (auto& kv : in)
      if (std::none_of(out.begin(), out.end(), [&](auto& o) { return o.second.is_same(kv.second); })) out.push_back(kv);
    return out;
  }
  static std::vector<Tensor<T>> values(const StateDict<T>& d) {
    std::vector<Tensor<T>> out;
    for (auto& kv : d) out.push_back(kv.second);
    return out;
  }

  std::string type_name_;
  std::vector<std::pair<std::string, Tensor<T>>> parameters_;
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<ForwardPreHook> forward_pre_hooks_;
};

// A module with one tensor in and one out: what Sequential chains.
template <typename T = float>
class UnaryModule : public Module<T> {
 public:
  using Module<T>::Module;
  virtual Tensor<T> forward(const Tensor<T>& x) = 0;
  Tensor<T> operator()(const Tensor<T>& x) {
    this->run_forward_pre_hooks();
    return forward(x);
  }
};

}  // namespace latent::nn
