// Tensor<T>: a cheap handle (shared_ptr) to a TensorImpl -- shape, strides, offset into a
// shared Storage, and autograd state. Copying a Tensor shares everything (like PyTorch's
// Python handles); clone() copies the data. Views (reshape, permute, slicing, expand)
// share storage. Member functions are defined in tensor_methods.hpp after the ops.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "../autograd/grad_mode.hpp"
#include "device.hpp"
#include "dtype.hpp"
#include "random.hpp"
#include "shape.hpp"
#include "storage.hpp"

namespace latent {

template <typename T> class Tensor;
namespace autograd {
template <typename T> struct Node;
}

template <typename T>
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Strides strides;
  bool is_view = false;  // shares storage with a tensor it was derived from

  // Autograd state (used for floating T only).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl<T>> grad;
  std::shared_ptr<autograd::Node<T>> grad_fn;             // null for leaves
  std::weak_ptr<autograd::Node<T>> grad_accumulator;      // leaves: created on first use

  T* data() const { return static_cast<T*>(storage->data()) + offset; }
  int64_t numel() const { return shape.numel(); }
  Device device() const { return storage->device(); }
};

using IndexTensor = Tensor<int64_t>;

template <typename T>
class Tensor {
 public:
  using value_type = T;
  using Impl = TensorImpl<T>;

  Tensor() = default;  // undefined tensor (no storage); `defined()` is false
  explicit Tensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  // Uninitialised tensor of `shape` on `device` (contiguous, fresh storage; pinned: in
  // page-locked host memory, see pin_memory).
  static Tensor empty(const Shape& shape, Device device = kCPU, bool pinned = false) {
    auto impl = std::make_shared<Impl>();
    LATENT_CHECK(shape.numel() >= 0, "empty: negative extent in shape ", shape);
    for (int64_t d : shape) LATENT_CHECK(d >= 0, "empty: negative extent in shape ", shape);
    impl->storage = std::make_shared<Storage>(sizeof(T) * shape.numel(), device, pinned);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return Tensor(std::move(impl));
  }

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& sizes() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  int64_t size(int64_t dim) const { return impl().shape[wrap_dim(dim, dim_(), "size")]; }
  int64_t stride(int64_t dim) const { return impl().strides[wrap_dim(dim, dim_(), "stride")]; }
  int dim() const { return impl().shape.rank(); }
  int64_t numel() const { return impl().numel(); }
  int64_t offset() const { return impl().offset; }
  Device device() const { return impl().device(); }
  bool is_cuda() const { return device().is_cuda(); }
  // In page-locked host memory: copies to a GPU do not wait (DataLoaderOptions::pin_memory).
  bool is_pinned() const { return impl().storage->pinned(); }
  bool is_cpu() const { return device().is_cpu(); }
  static constexpr DType dtype() { return dtype_of<T>::value; }
  bool is_contiguous() const;
  bool is_view() const { return impl().is_view; }
  T* data() const { return impl().data(); }
  T* data_ptr() const { return impl().data(); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  uint64_t version() const { return impl().storage->version(); }
  void bump_version() const { impl().storage->bump_version(); }
  Impl& impl() const {
    LATENT_CHECK(impl_ != nullptr, "Tensor: operation on an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<Impl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- element access (host tensors; for tests and small data) ----
  T item() const;
  std::vector<T> to_vector() const;  // row-major copy (from any device)
  T at(std::initializer_list<int64_t> index) const;

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool value = true);
  Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
  void set_grad(const Tensor& g) const { impl().grad = g.impl_; }
  void zero_grad() const { impl().grad.reset(); }
  const std::shared_ptr<autograd::Node<T>>& grad_fn() const { return impl().grad_fn; }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor detach() const;  // shares storage, no history
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;

  // ---- copies and devices ----
  Tensor clone() const;
  Tensor contiguous() const;
  Tensor to(Device device) const;
  Tensor cpu() const { return to(kCPU); }
  Tensor pin_memory() const;  // a copy in page-locked host memory (this tensor when it is pinned)
  Tensor cuda(int index = 0) const { return to(Device(DeviceType::CUDA, index)); }
  template <typename U> Tensor<U> to() const;  // dtype conversion (not differentiable across dtypes)

  // ---- views ----
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;

  // ---- element-wise ----
  Tensor add(const Tensor& o) const; Tensor sub(const Tensor& o) const;
  Tensor mul(const Tensor& o) const; Tensor div(const Tensor& o) const;
  Tensor pow(const Tensor& o) const; Tensor pow(double exponent) const;
  Tensor neg() const; Tensor exp() const; Tensor log() const; Tensor log1p() const;
  Tensor expm1() const; Tensor sqrt() const; Tensor rsqrt() const; Tensor abs() const;
  Tensor sign() const; Tensor sin() const; Tensor cos() const; Tensor tanh() const;
  Tensor sigmoid() const; Tensor relu() const; Tensor erf() const; Tensor square() const;
  Tensor leaky_relu(double negative_slope = 0.01) const;
  Tensor clamp(double min, double max) const;
  Tensor clamp_min(double min) const; Tensor clamp_max(double max) const;
  Tensor eq(const Tensor& o) const; Tensor ne(const Tensor& o) const;
  Tensor lt(const Tensor& o) const; Tensor le(const Tensor& o) const;
  Tensor gt(const Tensor& o) const; Tensor ge(const Tensor& o) const;

  // ---- reductions ----
  Tensor sum() const; Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const; Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor var(const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false) const;
  Tensor std(bool unbiased = true) const;
  Tensor std(const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false) const;
  // Braced dims, var({1}), must mean dims: without these, {1} converts to `bool unbiased`.
  Tensor var(std::initializer_list<int64_t> dims, bool unbiased = true, bool keepdim = false) const {
    return var(std::vector<int64_t>(dims), unbiased, keepdim);
  }
  Tensor std(std::initializer_list<int64_t> dims, bool unbiased = true, bool keepdim = false) const {
    return std(std::vector<int64_t>(dims), unbiased, keepdim);
  }
  Tensor max() const; Tensor min() const;
  Tensor amax(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor amin(const std::vector<int64_t>& dims, bool keepdim = false) const;
  IndexTensor argmax(int64_t dim, bool keepdim = false) const;
  IndexTensor argmin(int64_t dim, bool keepdim = false) const;
  Tensor logsumexp(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor norm(double p = 2) const;
  Tensor norm(double p, const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor softmax(int64_t dim) const; Tensor log_softmax(int64_t dim) const;

  // ---- linear algebra ----
  Tensor matmul(const Tensor& o) const; Tensor mm(const Tensor& o) const;
  Tensor bmm(const Tensor& o) const;

  // ---- in-place (bump the version counter; see autograd/saved.hpp) ----
  Tensor& add_(const Tensor& o, double alpha = 1); Tensor& sub_(const Tensor& o);
  Tensor& mul_(const Tensor& o); Tensor& div_(const Tensor& o);
  Tensor& add_(double v); Tensor& mul_(double v);
  Tensor& copy_(const Tensor& src); Tensor& fill_(double v); Tensor& zero_();
  Tensor& clamp_(double min, double max); Tensor& relu_();

 private:
  int dim_() const { return impl().shape.rank(); }
  std::shared_ptr<Impl> impl_;
};

using TensorF = Tensor<float>;
using TensorD = Tensor<double>;

}  // namespace latent
