// Views (share storage, O(1)): view/reshape, permute/transpose, squeeze/unsqueeze,
// expand, narrow/slice/select, split/chunk; and the copies: contiguous, clone, to(device).
// Each view's backward maps the output gradient back onto the input's shape.
#pragma once
#include <numeric>

#include "creation.hpp"

namespace latent {

template <typename T> Tensor<T> sum_to(const Tensor<T>& g, const Shape& shape);
template <typename T> Tensor<T> slice_backward(const Tensor<T>& g, const Shape& input_shape, int64_t dim,
                                               int64_t start, int64_t end, int64_t step);

namespace detail {
template <typename T>
Tensor<T> make_view(const Tensor<T>& base, const Shape& shape, const Strides& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl<T>>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->is_view = true;
  return Tensor<T>(std::move(impl));
}

// dst[...] = src[...] for equal shapes (src strides may be 0 for broadcast), same device.
template <typename T>
void copy_strided(Tensor<T>& dst, const Tensor<T>& src, const Strides& src_strides) {
  if (dst.numel() == 0) return;
  if (dst.device().is_cuda()) {
    if constexpr (is_cuda_type<T>) {
      auto d = strided_desc(dst.shape(), dst, src_strides, 0);
      if constexpr (std::is_same_v<T, float>) cuda::backend().strided_copy_f32(dst.device().index, dst.data(), src.data(), d);
      else cuda::backend().strided_copy_f64(dst.device().index, dst.data(), src.data(), d);
      return;
    }
    LATENT_CHECK(false, "copy: ", dtype_name<T>(), " tensors are not supported on ", dst.device());
  }
  cpu::unary_loop(dst.shape(), dst.data(), dst.strides(), src.data(), src_strides, [](T v) { return v; });
}

// The dims of `shape` with -1 inferred from `numel`.
inline Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < out.rank(); ++i) {
    if (out[i] == -1) {
      LATENT_CHECK(infer < 0, op, ": only one dimension can be inferred in shape ", shape);
      infer = i;
    } else {
      LATENT_CHECK(out[i] >= 0, op, ": invalid extent ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    LATENT_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape, " is invalid for input of shape ",
                 from, " (", numel, " elements)");
    out[infer] = numel / known;
  }
  LATENT_CHECK(out.numel() == numel, op, ": shape ", shape, " is invalid for input of shape ", from, " (",
               numel, " elements)");
  return out;
}

// Strides for viewing (shape, strides) as new_shape without a copy, if possible (PyTorch's
// computeStride): returns false when the memory layout does not allow it.
inline bool view_strides(const Shape& shape, const Strides& strides, const Shape& new_shape, Strides& out) {
  out = new_shape;
  if (shape.numel() == 0 || shape.rank() == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  int view_d = new_shape.rank() - 1;
  int64_t chunk_base_stride = strides.rank() ? strides[strides.rank() - 1] : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = shape.rank() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    if (tensor_d == 0 || (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}
}  // namespace detail

template <typename T>
bool Tensor<T>::is_contiguous() const {
  int64_t expected = 1;
  const auto& s = shape();
  for (int i = s.rank() - 1; i >= 0; --i) {
    if (s[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

// A copy with its own storage (differentiable: the gradient passes through).
template <typename T>
Tensor<T> clone(const Tensor<T>& x) {
  auto out = Tensor<T>::empty(x.shape(), x.device());
  detail::copy_strided(out, x, x.strides());
  autograd::record("clone", out, {&x}, [](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{g};
  });
  return out;
}

template <typename T>
Tensor<T> contiguous(const Tensor<T>& x) {
  return x.is_contiguous() ? x : clone(x);
}

template <typename T>
Tensor<T> detach(const Tensor<T>& x) {
  return detail::make_view(x, x.shape(), x.strides(), x.offset());
}

// Copies to `device` (differentiable: the gradient is copied back).
template <typename T>
Tensor<T> to_device(const Tensor<T>& x, Device device) {
  if (x.device() == device) return x;
  auto src = x.contiguous();
  auto out = Tensor<T>::empty(x.shape(), device);
  size_t bytes = sizeof(T) * x.numel();
  if (bytes) {
    if (device.is_cuda() && src.device().is_cpu() && src.is_pinned())  // no wait; see Storage
      cuda::backend().copy_pinned_to_device_async(device.index, out.data(), src.data(), bytes);
    else if (device.is_cuda() && src.device().is_cpu())
      cuda::backend().copy_host_to_device(device.index, out.data(), src.data(), bytes);
    else if (device.is_cpu() && src.device().is_cuda())
      cuda::backend().copy_device_to_host(src.device().index, out.data(), src.data(), bytes);
    else {
      // Between two GPUs: stage through the host (peer copies come with the CUDA issue).
      auto host = to_device(src.detach(), kCPU);
      cuda::backend().copy_host_to_device(device.index, out.data(), host.data(), bytes);
    }
  }
  Device from = x.device();
  autograd::record("to", out, {&x}, [from](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{to_device(g, from)};
  });
  return out;
}

template <typename T>
Tensor<T> view(const Tensor<T>& x, const Shape& shape) {
  Shape s = detail::infer_shape(shape, x.numel(), "view", x.shape());
  Strides st;
  LATENT_CHECK(detail::view_strides(x.shape(), x.strides(), s, st), "view: size ", s,
               " is not compatible with input of shape ", x.shape(), " and strides ", x.strides(),
               " (at least one dimension spans across two contiguous subspaces); use reshape instead");
  auto out = detail::make_view(x, s, st, x.offset());
  Shape in_shape = x.shape();
  autograd::record("view", out, {&x}, [in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{g.reshape(in_shape)};
  });
  return out;
}

template <typename T>
Tensor<T> reshape(const Tensor<T>& x, const Shape& shape) {
  Shape s = detail::infer_shape(shape, x.numel(), "reshape", x.shape());
  Strides st;
  if (detail::view_strides(x.shape(), x.strides(), s, st)) return view(x, s);
  return view(clone(x), s);
}

template <typename T>
Tensor<T> permute(const Tensor<T>& x, const std::vector<int64_t>& dims) {
  int rank = x.dim();
  LATENT_CHECK(static_cast<int>(dims.size()) == rank, "permute: number of dims (", dims.size(),
               ") does not match the tensor's rank ", rank, " (shape ", x.shape(), ")");
  Shape s, st;
  std::vector<int64_t> inverse(rank);
  std::vector<bool> seen(rank, false);
  for (int i = 0; i < rank; ++i) {
    int d = wrap_dim(dims[i], rank, "permute");
    LATENT_CHECK(!seen[d], "permute: dim ", d, " repeated in the permutation");
    seen[d] = true;
    s.push_back(x.shape()[d]);
    st.push_back(x.strides()[d]);
    inverse[d] = i;
  }
  auto out = detail::make_view(x, s, st, x.offset());
  autograd::record("permute", out, {&x}, [inverse](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{g.permute(inverse)};
  });
  return out;
}

template <typename T>
Tensor<T> transpose(const Tensor<T>& x, int64_t d0, int64_t d1) {
  int rank = x.dim();
  if (rank == 0) return x;
  std::vector<int64_t> dims(rank);
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(d0, rank, "transpose")], dims[wrap_dim(d1, rank, "transpose")]);
  return permute(x, dims);
}

template <typename T>
Tensor<T> expand(const Tensor<T>& x, const Shape& shape) {
  LATENT_CHECK(shape.rank() >= x.dim(), "expand: the number of sizes provided (", shape.rank(),
               ") must be greater or equal to the number of dimensions in the tensor (", x.dim(), ", shape ",
               x.shape(), ")");
  Shape s;
  Strides st;
  int lead = shape.rank() - x.dim();
  for (int i = 0; i < shape.rank(); ++i) {
    int j = i - lead;
    int64_t want = shape[i];
    if (j < 0) {
      LATENT_CHECK(want >= 0, "expand: -1 is not allowed in a leading, non-existing dimension");
      s.push_back(want);
      st.push_back(0);
      continue;
    }
    int64_t have = x.shape()[j];
    if (want == -1) want = have;
    LATENT_CHECK(have == want || have == 1, "expand: the expanded size of the tensor (", want,
                 ") must match the existing size (", have, ") at non-singleton dimension ", i,
                 ". Target sizes: ", shape, ". Tensor sizes: ", x.shape());
    s.push_back(want);
    st.push_back(have == want ? x.strides()[j] : 0);
  }
  if (s == x.shape()) return x;
  auto out = detail::make_view(x, s, st, x.offset());
  Shape in_shape = x.shape();
  autograd::record("expand", out, {&x}, [in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{sum_to(g, in_shape)};
  });
  return out;
}

template <typename T>
Tensor<T> squeeze(const Tensor<T>& x, int64_t dim) {
  int d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.dim() == 0 || x.shape()[d] != 1) return x;
  Shape s = x.shape();
  s.erase(d);
  return view(x, s);
}
template <typename T>
Tensor<T> squeeze(const Tensor<T>& x) {
  Shape s;
  for (int64_t v : x.shape())
    if (v != 1) s.push_back(v);
  return s == x.shape() ? x : reshape(x, s);
}
template <typename T>
Tensor<T> unsqueeze(const Tensor<T>& x, int64_t dim) {
  int d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  Strides st = x.strides();
  s.insert(d, 1);
  st.insert(d, d < x.dim() ? x.strides()[d] * x.shape()[d] : 1);
  auto out = detail::make_view(x, s, st, x.offset());
  autograd::record("unsqueeze", out, {&x}, [d](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{g.squeeze(d)};
  });
  return out;
}

template <typename T>
Tensor<T> flatten(const Tensor<T>& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, Shape{1});
  int a = wrap_dim(start_dim, x.dim(), "flatten"), b = wrap_dim(end_dim, x.dim(), "flatten");
  LATENT_CHECK(a <= b, "flatten: start_dim ", start_dim, " cannot come after end_dim ", end_dim);
  Shape s;
  for (int i = 0; i < a; ++i) s.push_back(x.shape()[i]);
  int64_t n = 1;
  for (int i = a; i <= b; ++i) n *= x.shape()[i];
  s.push_back(n);
  for (int i = b + 1; i < x.dim(); ++i) s.push_back(x.shape()[i]);
  return reshape(x, s);
}

// Elements start, start+step, ... < end along dim (negative start/end count from the end).
template <typename T>
Tensor<T> slice(const Tensor<T>& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
  LATENT_CHECK(x.dim() > 0, "slice: cannot be applied to a 0-dim tensor");
  int d = wrap_dim(dim, x.dim(), "slice");
  LATENT_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t len = x.shape()[d];
  if (start < 0) start += len;
  if (end < 0) end += len;
  start = std::clamp<int64_t>(start, 0, len);
  end = std::clamp<int64_t>(end, start, len);
  Shape s = x.shape();
  Strides st = x.strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = x.strides()[d] * step;
  auto out = detail::make_view(x, s, st, x.offset() + start * x.strides()[d]);
  Shape in_shape = x.shape();
  autograd::record("slice", out, {&x}, [=](const Tensor<T>& g, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{slice_backward(g, in_shape, d, start, end, step)};
  });
  return out;
}

template <typename T>
Tensor<T> narrow(const Tensor<T>& x, int64_t dim, int64_t start, int64_t length) {
  LATENT_CHECK(x.dim() > 0, "narrow: cannot be applied to a 0-dim tensor");
  int d = wrap_dim(dim, x.dim(), "narrow");
  int64_t len = x.shape()[d];
  const int64_t given_start = start;
  if (start < 0) start += len;
  LATENT_CHECK(start >= 0 && length >= 0 && start + length <= len, "narrow: start ", given_start, " + length ",
               length, " exceeds dimension ", d, " of size ", len, " (shape ", x.shape(), ")");
  return slice(x, d, start, start + length, 1);
}

template <typename T>
Tensor<T> select(const Tensor<T>& x, int64_t dim, int64_t index) {
  LATENT_CHECK(x.dim() > 0, "select: cannot be applied to a 0-dim tensor");
  int d = wrap_dim(dim, x.dim(), "select");
  int64_t len = x.shape()[d];
  LATENT_CHECK(index >= -len && index < len, "select: index ", index, " out of range for dimension ", d,
               " of size ", len, " (shape ", x.shape(), ")");
  if (index < 0) index += len;
  return squeeze(narrow(x, d, index, 1), d);
}

template <typename T>
std::vector<Tensor<T>> split(const Tensor<T>& x, int64_t split_size, int64_t dim) {
  LATENT_CHECK(x.dim() > 0, "split: expects at least a 1-dimensional tensor");
  int d = wrap_dim(dim, x.dim(), "split");
  LATENT_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  std::vector<Tensor<T>> parts;
  if (x.shape()[d] == 0) parts.push_back(narrow(x, d, 0, 0));  // as PyTorch: one empty part
  for (int64_t start = 0; start < x.shape()[d]; start += split_size)
    parts.push_back(narrow(x, d, start, std::min(split_size, x.shape()[d] - start)));
  return parts;
}
template <typename T>
std::vector<Tensor<T>> chunk(const Tensor<T>& x, int64_t chunks, int64_t dim) {
  LATENT_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  LATENT_CHECK(x.dim() > 0, "chunk: expects at least a 1-dimensional tensor");
  int d = wrap_dim(dim, x.dim(), "chunk");
  if (x.shape()[d] == 0) {  // as PyTorch: `chunks` empty parts
    std::vector<Tensor<T>> parts;
    for (int64_t i = 0; i < chunks; ++i) parts.push_back(narrow(x, d, 0, 0));
    return parts;
  }
  int64_t size = (x.shape()[d] + chunks - 1) / chunks;
  return split(x, std::max<int64_t>(size, 1), d);
}

// The gradient of slice: zeros of the input's shape with `g` written into the slice.
template <typename T>
Tensor<T> slice_backward(const Tensor<T>& g, const Shape& input_shape, int64_t dim, int64_t start,
                         int64_t end, int64_t step) {
  auto out = zeros<T>(input_shape, g.device());
  {
    auto window = slice(out.detach(), dim, start, end, step);
    detail::copy_strided(window, g, g.strides());
  }
  autograd::record("slice_backward", out, {&g}, [=](const Tensor<T>& gg, autograd::NeedsMask) {
    return std::vector<Tensor<T>>{slice(gg, dim, start, end, step)};
  });
  return out;
}

}  // namespace latent
