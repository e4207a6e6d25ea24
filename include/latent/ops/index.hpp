// Indexing and joining: gather/scatter_add, index_select/index_add, cat, stack, one_hot,
// constant pad. Gather and scatter_add are each other's backward (so are index_select and
// index_add), which makes every op here differentiable to any order.
// Index tensors are Tensor<int64_t>; every index is bounds-checked with a clear error.
#pragma once
#include "reduce.hpp"

namespace latent {

template <typename T> Tensor<T> scatter_add(const Tensor<T>& base, int64_t dim, const IndexTensor& index, const Tensor<T>& src,
                                               detail::IndexCheck check = detail::IndexCheck::Host);
template <typename T> Tensor<T> index_add(const Tensor<T>& base, int64_t dim, const IndexTensor& index, const Tensor<T>& src,
                                             detail::IndexCheck check = detail::IndexCheck::Host);

namespace detail {
// Calls f(out_flat, x_offset) for gather-like ops: index has x's rank, and element
// (i0..ik..in) of the result reads x at (i0..index[i]..in) along dim.
inline void check_index_shape(const char* op, const Shape& x, const Shape& index, int d) {
  LATENT_CHECK(index.rank() == x.rank(), op, ": index tensor must have the same number of dimensions as the "
               "input (index shape ", index, ", input shape ", x, ")");
  for (int i = 0; i < x.rank(); ++i)
    LATENT_CHECK(i == d || index[i] <= x[i], op, ": index shape ", index, " exceeds input shape ", x,
                 " at dim ", i);
}

template <typename T>
void check_index_device(const char* op, const Tensor<T>& x, const IndexTensor& index) {
  LATENT_CHECK(index.device() == x.device(), op, ": expected the index on the input's device ", x.device(),
               ", got it on ", index.device(), " (index shape ", index.shape(), ", input shape ", x.shape(), ")");
}

// The CUDA path's indices: checked and normalised on the host (one copy from the device,
// which waits for it), then uploaded, so kernels read offsets in [0, len).
inline IndexTensor checked_device_index(const char* op, const IndexTensor& index, int d, int64_t len, Device device) {
  auto host = index.cpu().contiguous().clone();
  int64_t* ip = host.data();
  for (int64_t j = 0; j < host.numel(); ++j) {
    LATENT_CHECK(ip[j] >= -len && ip[j] < len, op, ": index ", ip[j], " is out of bounds for dimension ", d,
                 " with size ", len);
    if (ip[j] < 0) ip[j] += len;
  }
  return host.to(device);
}

// Strides of `t` with dim d zeroed: kernels add index * t.strides()[d] themselves.
template <typename T>
Strides strides_without(const Tensor<T>& t, int d) {
  Strides s = t.strides();
  s[d] = 0;
  return s;
}

// Strides that broadcast a 1-D contiguous index of a rank-`rank` iteration along dim d.
inline Strides index_along(int rank, int d) {
  Strides s(Shape(std::vector<int64_t>(rank, 0)));
  s[d] = 1;
  return s;
}

// out (over desc's shape) = a gathered along d by a checked device index.
template <typename T>
void cuda_gather(const char* op, T* out, const T* a, const IndexTensor& index, const cuda::StridedDesc& desc,
                 int64_t dim_stride, const Tensor<T>& x) {
  if constexpr (std::is_same_v<T, float>)
    cuda::backend().gather_f32(x.device().index, out, a, index.data(), desc, dim_stride);
  else if constexpr (std::is_same_v<T, double>)
    cuda::backend().gather_f64(x.device().index, out, a, index.data(), desc, dim_stride);
  else
    cuda_type_error(op, x);
}
template <typename T>
void cuda_scatter_add(const char* op, T* a, const T* src, const IndexTensor& index, const cuda::StridedDesc& desc,
                      int64_t dim_stride, const Tensor<T>& base) {
  if constexpr (std::is_same_v<T, float>)
    cuda::backend().scatter_add_f32(base.device().index, a, src, index.data(), desc, dim_stride);
  else if constexpr (std::is_same_v<T, double>)
    cuda::backend().scatter_add_f64(base.device().index, a, src, index.data(), desc, dim_stride);
  else
    cuda_type_error(op, base);
}
}  // namespace detail

// out[i][j][k] = x[i][index[i][j][k]][k] for dim == 1 (as torch.gather).
template <typename T>
Tensor<T> gather(const Tensor<T>& x, int64_t dim, const IndexTensor& index, detail::IndexCheck check) {
  int d = wrap_dim(dim, x.dim(), "gather");
  detail::check_index_device("gather", x, index);
  detail::check_index_shape("gather", x.shape(), index.shape(), d);
  auto out = Tensor<T>::empty(index.shape(), x.device());
  if (x.device().is_cuda()) {
    LATENT_CHECK(x.dim() > 0, "gather: a 0-D input (", x.device(), ") is not supported on CUDA");
    auto idx = check == detail::IndexCheck::Done
                   ? index
                   : detail::checked_device_index("gather", index, d, x.shape()[d], x.device());
    if (out.numel() > 0)
      detail::cuda_gather("gather", out.data(), x.data(), idx,
                          detail::strided_desc(index.shape(), out, detail::strides_without(x, d), 0, nullptr, 0,
                                               &idx.strides()),
                          x.strides()[d], x);
    Shape in_shape = x.shape();
    autograd::record("gather", out, {&x}, [d, idx, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
      return detail::Grads<T>{scatter_add(zeros<T>(in_shape, g.device()), d, idx, g, detail::IndexCheck::Done)};
    });
    return out;
  }
  auto idx = index.contiguous();
  const int64_t* ip = idx.data();
  const T* xp = x.data();
  T* op = out.data();
  const Shape& s = index.shape();
  int rank = s.rank();
  int64_t n = out.numel(), len = x.shape()[d];
  std::array<int64_t, kMaxRank> pos{};
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t off = 0;
    for (int i = 0; i < rank; ++i) off += (i == d ? 0 : pos[i]) * x.strides()[i];
    int64_t k = ip[flat];
    LATENT_CHECK(k >= -len && k < len, "gather: index ", k, " is out of bounds for dimension ", d,
                 " with size ", len);
    if (k < 0) k += len;
    op[flat] = xp[off + k * x.strides()[d]];
    for (int i = rank - 1; i >= 0; --i) {
      if (++pos[i] < s[i]) break;
      pos[i] = 0;
    }
  }
  Shape in_shape = x.shape();
  autograd::record("gather", out, {&x}, [d, idx, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{scatter_add(zeros<T>(in_shape, g.device()), d, idx, g)};
  });
  return out;
}

// A copy of base with src[i][j][k] added at base[i][index[i][j][k]][k] for dim == 1.
template <typename T>
Tensor<T> scatter_add(const Tensor<T>& base, int64_t dim, const IndexTensor& index, const Tensor<T>& src,
                      detail::IndexCheck check) {
  int d = wrap_dim(dim, base.dim(), "scatter_add");
  detail::check_index_device("scatter_add", base, index);
  detail::check_same_device("scatter_add", base, src);
  detail::check_index_shape("scatter_add", base.shape(), index.shape(), d);
  LATENT_CHECK(src.shape() == index.shape(), "scatter_add: src shape ", src.shape(), " must match index shape ",
               index.shape());
  Tensor<T> out;
  {
    NoGradGuard no_grad;
    out = clone(base.detach());
  }
  if (base.device().is_cuda()) {
    LATENT_CHECK(base.dim() > 0, "scatter_add: a 0-D input (", base.device(), ") is not supported on CUDA");
    auto idx = check == detail::IndexCheck::Done
                   ? index
                   : detail::checked_device_index("scatter_add", index, d, base.shape()[d], base.device());
    if (idx.numel() > 0)
      detail::cuda_scatter_add("scatter_add", out.data(), src.data(), idx,
                               detail::strided_desc(index.shape(), out, detail::strides_without(out, d), 0,
                                                    &src.strides(), 0, &idx.strides()),
                               out.strides()[d], base);
    autograd::record("scatter_add", out, {&base, &src}, [d, idx](const Tensor<T>& g, autograd::NeedsMask m) {
      return detail::Grads<T>{autograd::needs(m, 0) ? g : Tensor<T>(),
                              autograd::needs(m, 1) ? gather(g, d, idx, detail::IndexCheck::Done) : Tensor<T>()};
    });
    return out;
  }
  auto idx = index.contiguous();
  auto sc = src.contiguous();
  const int64_t* ip = idx.data();
  const T* sp = sc.data();
  T* op = out.data();
  const Shape& s = index.shape();
  int rank = s.rank();
  int64_t n = idx.numel(), len = base.shape()[d];
  Strides os = out.strides();
  std::array<int64_t, kMaxRank> pos{};
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t off = 0;
    for (int i = 0; i < rank; ++i) off += (i == d ? 0 : pos[i]) * os[i];
    int64_t k = ip[flat];
    LATENT_CHECK(k >= -len && k < len, "scatter_add: index ", k, " is out of bounds for dimension ", d,
                 " with size ", len);
    if (k < 0) k += len;
    op[off + k * os[d]] += sp[flat];
    for (int i = rank - 1; i >= 0; --i) {
      if (++pos[i] < s[i]) break;
      pos[i] = 0;
    }
  }
  autograd::record("scatter_add", out, {&base, &src}, [d, idx](const Tensor<T>& g, autograd::NeedsMask m) {
    return detail::Grads<T>{autograd::needs(m, 0) ? g : Tensor<T>(),
                            autograd::needs(m, 1) ? gather(g, d, idx) : Tensor<T>()};
  });
  return out;
}

// Rows (slices along dim) of x picked by a 1-D index.
template <typename T>
Tensor<T> index_select(const Tensor<T>& x, int64_t dim, const IndexTensor& index,
                       detail::IndexCheck check = detail::IndexCheck::Host) {
  int d = wrap_dim(dim, x.dim(), "index_select");
  detail::check_index_device("index_select", x, index);
  LATENT_CHECK(index.dim() <= 1, "index_select: index must be 0-D or 1-D, got shape ", index.shape());
  auto idx = index.contiguous().reshape(Shape{index.numel()});
  int64_t len = x.dim() ? x.shape()[d] : 1;
  Shape s = x.shape();
  if (x.dim()) s[d] = idx.numel();
  auto out = Tensor<T>::empty(s, x.device());
  if (x.device().is_cuda()) {
    LATENT_CHECK(x.dim() > 0, "index_select: a 0-D input (", x.device(), ") is not supported on CUDA");
    auto didx = check == detail::IndexCheck::Done
                    ? idx
                    : detail::checked_device_index("index_select", idx, d, len, x.device());
    Strides along = detail::index_along(x.dim(), d);
    if (out.numel() > 0)
      detail::cuda_gather("index_select", out.data(), x.data(), didx,
                          detail::strided_desc(s, out, detail::strides_without(x, d), 0, nullptr, 0, &along),
                          x.strides()[d], x);
    Shape in_shape = x.shape();
    autograd::record("index_select", out, {&x}, [d, didx, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
      return detail::Grads<T>{index_add(zeros<T>(in_shape, g.device()), d, didx, g, detail::IndexCheck::Done)};
    });
    return out;
  }
  auto xc = x.contiguous();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= x.shape()[i];
  for (int i = d + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  const int64_t* ip = idx.data();
  for (int64_t j = 0; j < idx.numel(); ++j)
    LATENT_CHECK(ip[j] >= -len && ip[j] < len, "index_select: index ", ip[j], " is out of bounds for dimension ",
                 d, " with size ", len);
  const T* xp = xc.data();
  T* op = out.data();
  int64_t m = idx.numel();
  parallel_for(outer * m, inner, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t o = w / m, j = w % m, k = ip[j] < 0 ? ip[j] + len : ip[j];
      std::copy(xp + (o * len + k) * inner, xp + (o * len + k + 1) * inner, op + w * inner);
    }
  });
  Shape in_shape = x.shape();
  autograd::record("index_select", out, {&x}, [d, idx, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{index_add(zeros<T>(in_shape, g.device()), d, idx, g)};
  });
  return out;
}

// A copy of base with the slices of src added at base's slices index[j] along dim.
template <typename T>
Tensor<T> index_add(const Tensor<T>& base, int64_t dim, const IndexTensor& index, const Tensor<T>& src,
                    detail::IndexCheck check) {
  int d = wrap_dim(dim, base.dim(), "index_add");
  detail::check_index_device("index_add", base, index);
  detail::check_same_device("index_add", base, src);
  auto idx = index.contiguous().reshape(Shape{index.numel()});
  Shape expect = base.shape();
  if (base.dim()) expect[d] = idx.numel();
  LATENT_CHECK(src.shape() == expect, "index_add: src shape ", src.shape(), " does not match ", expect,
               " (base ", base.shape(), " with ", idx.numel(), " indices along dim ", d, ")");
  Tensor<T> out;
  {
    NoGradGuard no_grad;
    out = clone(base.detach());
  }
  if (base.device().is_cuda()) {
    LATENT_CHECK(base.dim() > 0, "index_add: a 0-D input (", base.device(), ") is not supported on CUDA");
    auto didx = check == detail::IndexCheck::Done
                    ? idx
                    : detail::checked_device_index("index_add", idx, d, base.shape()[d], base.device());
    Strides along = detail::index_along(base.dim(), d);
    if (src.numel() > 0)
      detail::cuda_scatter_add("index_add", out.data(), src.data(), didx,
                               detail::strided_desc(expect, out, detail::strides_without(out, d), 0,
                                                    &src.strides(), 0, &along),
                               out.strides()[d], base);
    autograd::record("index_add", out, {&base, &src}, [d, didx](const Tensor<T>& g, autograd::NeedsMask mk) {
      return detail::Grads<T>{autograd::needs(mk, 0) ? g : Tensor<T>(),
                              autograd::needs(mk, 1) ? index_select(g, d, didx, detail::IndexCheck::Done) : Tensor<T>()};
    });
    return out;
  }
  auto sc = src.contiguous();
  int64_t len = base.dim() ? base.shape()[d] : 1, outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= base.shape()[i];
  for (int i = d + 1; i < base.dim(); ++i) inner *= base.shape()[i];
  const int64_t* ip = idx.data();
  const T* sp = sc.data();
  T* op = out.data();
  int64_t m = idx.numel();
  for (int64_t j = 0; j < m; ++j)
    LATENT_CHECK(ip[j] >= -len && ip[j] < len, "index_add: index ", ip[j], " is out of bounds for dimension ", d,
                 " with size ", len);
  // Parallel over outer only: two indices may name the same destination slice.
  parallel_for(outer, m * inner, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t j = 0; j < m; ++j) {
        int64_t k = ip[j] < 0 ? ip[j] + len : ip[j];
        T* dst = op + (o * len + k) * inner;
        const T* s = sp + (o * m + j) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += s[i];
      }
  });
  autograd::record("index_add", out, {&base, &src}, [d, idx](const Tensor<T>& g, autograd::NeedsMask mk) {
    return detail::Grads<T>{autograd::needs(mk, 0) ? g : Tensor<T>(),
                            autograd::needs(mk, 1) ? index_select(g, d, idx) : Tensor<T>()};
  });
  return out;
}

// Concatenates along dim; every other extent must match.
template <typename T>
Tensor<T> cat(const std::vector<Tensor<T>>& tensors, int64_t dim = 0) {
  LATENT_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const auto& first = tensors[0];
  LATENT_CHECK(first.dim() > 0, "cat: zero-dimensional tensors (shape ", first.shape(),
               ") cannot be concatenated; use stack, or unsqueeze them first");
  int d = wrap_dim(dim, first.dim(), "cat");
  Shape s = first.shape();
  int64_t total = 0;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const auto& x = tensors[t];
    detail::check_same_device("cat", first, x);
    LATENT_CHECK(x.dim() == first.dim(), "cat: tensor ", t, " has ", x.dim(), " dims (shape ", x.shape(),
                 ") but tensor 0 has ", first.dim(), " (shape ", first.shape(), ")");
    for (int i = 0; i < x.dim(); ++i)
      LATENT_CHECK(i == d || x.shape()[i] == s[i], "cat: sizes of tensors must match except in dimension ", d,
                   "; expected ", s[i], " but got ", x.shape()[i], " in dimension ", i, " for tensor ", t,
                   " (shapes ", first.shape(), " and ", x.shape(), ")");
    total += x.shape()[d];
  }
  s[d] = total;
  auto out = Tensor<T>::empty(s, first.device());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const auto& x : tensors) {
    auto window = slice(out.detach(), d, at, at + x.shape()[d]);
    detail::copy_strided(window, x, x.strides());
    sizes.push_back(x.shape()[d]);
    at += x.shape()[d];
  }
  autograd::record_many("cat", out, tensors, [d, sizes](const Tensor<T>& g, autograd::NeedsMask m) {
    detail::Grads<T> r;
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      r.push_back(autograd::needs(m, static_cast<int>(i)) ? g.narrow(d, start, sizes[i]) : Tensor<T>());
      start += sizes[i];
    }
    return r;
  });
  return out;
}

// Stacks equal-shaped tensors along a new dim.
template <typename T>
Tensor<T> stack(const std::vector<Tensor<T>>& tensors, int64_t dim = 0) {
  LATENT_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor<T>> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    LATENT_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: expects each tensor to be equal size, but got ",
                 tensors[0].shape(), " at entry 0 and ", tensors[i].shape(), " at entry ", i);
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

// (..., ) int64 class indices -> (..., num_classes) of T with a 1 at each index.
template <typename T = float>
Tensor<T> one_hot(const IndexTensor& index, int64_t num_classes = -1) {
  auto idx = index.cpu().contiguous();
  const int64_t* ip = idx.data();
  int64_t n = idx.numel();
  if (num_classes < 0) {
    LATENT_CHECK(n > 0, "one_hot: cannot infer num_classes from an empty index tensor");
    num_classes = *std::max_element(ip, ip + n) + 1;
  }
  Shape s = idx.shape();
  s.push_back(num_classes);
  auto out = zeros<T>(s);
  for (int64_t i = 0; i < n; ++i) {
    LATENT_CHECK(ip[i] >= 0 && ip[i] < num_classes, "one_hot: class index ", ip[i], " out of range [0, ",
                 num_classes, ")");
    out.data()[i * num_classes + ip[i]] = T(1);
  }
  return index.device().is_cpu() ? out : out.to(index.device());
}

// Constant padding, PyTorch order: pads = {last_left, last_right, prev_left, prev_right, ...}.
// Negative pads crop.
template <typename T>
Tensor<T> pad(const Tensor<T>& x, const std::vector<int64_t>& pads, double value = 0) {
  LATENT_CHECK(pads.size() % 2 == 0 && static_cast<int>(pads.size()) / 2 <= x.dim(), "pad: padding length ",
               pads.size(), " must be even and at most twice the rank of the input (shape ", x.shape(), ")");
  Shape s = x.shape();
  int k = static_cast<int>(pads.size()) / 2;
  for (int i = 0; i < k; ++i) {
    int dim = x.dim() - 1 - i;
    s[dim] += pads[2 * i] + pads[2 * i + 1];
    LATENT_CHECK(s[dim] >= 0, "pad: resulting size of dim ", dim, " would be negative (input shape ", x.shape(), ")");
  }
  auto out = full<T>(s, T(value), x.device());
  // The part of x that survives, and where it lands in out.
  Tensor<T> src = x.detach(), dst = out.detach();
  for (int i = 0; i < k; ++i) {
    int dim = x.dim() - 1 - i;
    int64_t left = pads[2 * i], right = pads[2 * i + 1];
    int64_t src_start = std::max<int64_t>(-left, 0), src_end = x.shape()[dim] - std::max<int64_t>(-right, 0);
    int64_t n = std::max<int64_t>(src_end - src_start, 0);
    src = src.narrow(dim, src_start, n);
    dst = dst.narrow(dim, std::max<int64_t>(left, 0), n);
  }
  detail::copy_strided(dst, src, src.strides());
  Shape in_shape = x.shape();
  autograd::record("pad", out, {&x}, [pads, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    std::vector<int64_t> inverse(pads.size());
    for (size_t i = 0; i < pads.size(); ++i) inverse[i] = -pads[i];
    return detail::Grads<T>{pad(g, inverse, 0.0)};
  });
  return out;
}

}  // namespace latent
