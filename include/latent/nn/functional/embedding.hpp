// embedding(indices, weight, padding_idx), as F.embedding: out[..., :] = weight[indices[...], :].
// The gradient w.r.t. weight adds every row of g into the row its index picked (repeated
// indices accumulate); rows picked by padding_idx get no gradient, although the forward
// still reads them (as PyTorch). Two ops, each the other's backward, give every order:
// gather_rows (rows of w, zero where the index is `zero_at`) and scatter_rows (rows of g
// added at their indices, skipping `skip`).
#pragma once
#include <optional>

#include "../../latent.hpp"

namespace latent::nn::functional {

namespace detail {
template <typename T> Tensor<T> scatter_rows(const Tensor<T>& g, const IndexTensor& idx, int64_t skip, int64_t rows);

// (n) indices, checked, into w (rows, D) -> (n, D); rows where idx == zero_at are 0.
// Its gradient w.r.t. w is scatter_rows(g, idx, grad_skip).
template <typename T>
Tensor<T> gather_rows(const Tensor<T>& w, const IndexTensor& idx, int64_t zero_at, int64_t grad_skip) {
  const int64_t n = idx.numel(), D = w.shape()[1];
  auto out = Tensor<T>::empty({n, D}, w.device());
  {
    NoGradGuard no_grad;
    auto wc = w.detach().contiguous();
    const T* wp = wc.data();
    const int64_t* ip = idx.data();
    T* op = out.data();
    parallel_for(n, D, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        if (ip[r] == zero_at) std::fill(op + r * D, op + (r + 1) * D, T(0));
        else std::copy(wp + ip[r] * D, wp + (ip[r] + 1) * D, op + r * D);
      }
    });
  }
  const int64_t rows = w.shape()[0];
  autograd::record("embedding", out, {&w}, [idx, grad_skip, rows](const Tensor<T>& g, autograd::NeedsMask) {
    return latent::detail::Grads<T>{scatter_rows(g, idx, grad_skip, rows)};
  });
  return out;
}

// g (n, D) -> (rows, D) with row r of g added at idx[r], except where idx[r] == skip.
template <typename T>
Tensor<T> scatter_rows(const Tensor<T>& g, const IndexTensor& idx, int64_t skip, int64_t rows) {
  const int64_t n = idx.numel(), D = g.shape()[1];
  auto out = zeros<T>({rows, D}, g.device());
  {
    NoGradGuard no_grad;
    auto gc = g.detach().contiguous();
    const T* gp = gc.data();
    const int64_t* ip = idx.data();
    T* op = out.data();
    // Split by columns: two indices may name the same row.
    parallel_for(D, n, [&](int64_t c0, int64_t c1) {
      for (int64_t r = 0; r < n; ++r) {
        if (ip[r] == skip) continue;
        T* dst = op + ip[r] * D;
        const T* src = gp + r * D;
        for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
    });
  }
  autograd::record("embedding_backward", out, {&g}, [idx, skip](const Tensor<T>& gg, autograd::NeedsMask) {
    return latent::detail::Grads<T>{gather_rows(gg, idx, skip, skip)};
  });
  return out;
}
}  // namespace detail

// indices (any shape, int64) -> indices.shape + (D) rows of weight (num_embeddings, D).
// padding_idx (negative counts from the end) marks a row that receives no gradient.
template <typename T>
Tensor<T> embedding(const IndexTensor& indices, const Tensor<T>& weight,
                    std::optional<int64_t> padding_idx = std::nullopt) {
  const char* op = "embedding";
  latent::detail::check_defined(op, weight);
  LATENT_CHECK(weight.dim() == 2, op, ": weight must be 2-D (num_embeddings, embedding_dim), got shape ",
               weight.shape());
  const int64_t rows = weight.shape()[0];
  int64_t skip = -1;
  if (padding_idx) {
    LATENT_CHECK(*padding_idx >= -rows && *padding_idx < rows, op, ": padding_idx must be within num_embeddings (",
                 rows, ", weight shape ", weight.shape(), "), got ", *padding_idx);
    skip = *padding_idx < 0 ? *padding_idx + rows : *padding_idx;
  }
  // A copy: the backward must see these indices even if the caller later edits theirs.
  auto idx = indices.cpu().contiguous().reshape(Shape{indices.numel()}).clone();
  const int64_t* ip = idx.data();
  for (int64_t r = 0; r < idx.numel(); ++r)
    LATENT_CHECK(ip[r] >= 0 && ip[r] < rows, op, ": index ", ip[r], " at flat position ", r, " of indices (shape ",
                 indices.shape(), ") is out of range for num_embeddings ", rows, " (weight shape ", weight.shape(),
                 ")");
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.shape()[1]);
  if (weight.device().is_cuda()) {
    // index_select's kernels; the padding row's output is its weight, but gets no gradient.
    auto picked = index_select(weight, 0, idx.to(weight.device()));
    if (skip >= 0) {
      std::vector<T> keep(static_cast<size_t>(idx.numel()));
      for (int64_t r = 0; r < idx.numel(); ++r) keep[static_cast<size_t>(r)] = T(ip[r] != skip);
      auto mask = from_vector<T>(keep, Shape{idx.numel(), 1}, weight.device());
      picked = where(mask, picked, picked.detach());
    }
    return picked.reshape(out_shape);
  }
  return detail::gather_rows(weight, idx, -1, skip).reshape(out_shape);
}

}  // namespace latent::nn::functional
