// Containers: Sequential (a chain of any one-in-one-out modules, type-erased), ModuleList
// and ModuleDict (hold submodules under "0", "1", ... or given names, as PyTorch), and
// Lambda (a function as a module, for a reshape inside a Sequential).
#pragma once
#include <functional>

#include "module.hpp"

namespace latent::nn {

template <typename T = float>
class Sequential : public UnaryModule<T> {
 public:
  Sequential() : UnaryModule<T>("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule<T>>> modules) : Sequential() {
    for (auto& m : modules) push_back(m);
  }
  template <typename M>
  Sequential& push_back(std::shared_ptr<M> module) {
    layers_.push_back(this->register_module(std::to_string(layers_.size()), std::move(module)));
    return *this;
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> h = x;
    for (auto& layer : layers_) h = (*layer)(h);
    return h;
  }
  size_t size() const { return layers_.size(); }
  std::shared_ptr<UnaryModule<T>> operator[](size_t i) const {
    LATENT_CHECK(i < layers_.size(), "Sequential: index ", i, " out of range for ", layers_.size(), " modules");
    return layers_[i];
  }
  // The i-th module as its concrete type (nullptr when it is another type).
  template <typename M>
  std::shared_ptr<M> get(size_t i) const { return std::dynamic_pointer_cast<M>((*this)[i]); }

 private:
  std::vector<std::shared_ptr<UnaryModule<T>>> layers_;
};

// A shared Sequential (modules are held by shared_ptr, so this is how one is usually made):
//   auto net = nn::sequential<float>(std::make_shared<nn::Linear<float>>(2, 50), nn::ReLU<float>());
template <typename T = float, typename... Modules>
std::shared_ptr<Sequential<T>> sequential(std::shared_ptr<Modules>... modules) {
  auto s = std::make_shared<Sequential<T>>();
  (s->push_back(std::move(modules)), ...);
  return s;
}

template <typename T = float>
class ModuleList : public Module<T> {
 public:
  ModuleList() : Module<T>("ModuleList") {}
  template <typename M>
  ModuleList& push_back(std::shared_ptr<M> module) {
    items_.push_back(this->register_module(std::to_string(items_.size()), std::move(module)));
    return *this;
  }
  size_t size() const { return items_.size(); }
  std::shared_ptr<Module<T>> operator[](size_t i) const {
    LATENT_CHECK(i < items_.size(), "ModuleList: index ", i, " out of range for ", items_.size(), " modules");
    return items_[i];
  }
  template <typename M>
  std::shared_ptr<M> get(size_t i) const { return std::dynamic_pointer_cast<M>((*this)[i]); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<Module<T>>> items_;
};

template <typename T = float>
class ModuleDict : public Module<T> {
 public:
  ModuleDict() : Module<T>("ModuleDict") {}
  template <typename M>
  ModuleDict& insert(const std::string& name, std::shared_ptr<M> module) {
    this->register_module(name, std::move(module));
    return *this;
  }
  std::shared_ptr<Module<T>> operator[](const std::string& name) const {
    for (auto& [n, m] : this->named_children())
      if (n == name) return m;
    LATENT_CHECK(false, "ModuleDict: no module named '", name, "'");
    return nullptr;
  }
  template <typename M>
  std::shared_ptr<M> get(const std::string& name) const { return std::dynamic_pointer_cast<M>((*this)[name]); }
  bool contains(const std::string& name) const {
    for (auto& [n, m] : this->named_children())
      if (n == name) return true;
    return false;
  }
  size_t size() const { return this->named_children().size(); }
};

template <typename T = float>
class Lambda : public UnaryModule<T> {
 public:
  explicit Lambda(std::function<Tensor<T>(const Tensor<T>&)> f, std::string name = "Lambda")
      : UnaryModule<T>(name), f_(std::move(f)) {}
  Tensor<T> forward(const Tensor<T>& x) override { return f_(x); }

 private:
  std::function<Tensor<T>(const Tensor<T>&)> f_;
};

}  // namespace latent::nn
