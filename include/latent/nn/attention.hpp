// Attention: nn::functional::scaled_dot_product_attention and nn::MultiheadAttention, as
// PyTorch's, composed of differentiable ops (gradients of every order).
//
// Masks are additive and of the element type: 0 where attention is allowed, -inf (or a
// large negative number) where it is not; causal_mask<T>(L, S) builds PyTorch's is_causal
// mask. MultiheadAttention's key_padding_mask is a 0/1 tensor (N, S) whose 1s mark padded
// keys, as PyTorch's boolean key_padding_mask; bool_mask_to_additive converts a PyTorch-
// style boolean attention mask (1 = not allowed) for attn_mask.
#pragma once
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "functional/dropout.hpp"
#include "init.hpp"
#include "linear.hpp"

namespace latent::nn {

namespace functional {

// (L, S) additive mask: -inf above the diagonal (key j > query i), 0 elsewhere.
template <typename T>
Tensor<T> causal_mask(int64_t L, int64_t S, Device device = kCPU) {
  LATENT_CHECK(L >= 0 && S >= 0, "causal_mask: sizes must be non-negative, got ", L, " and ", S);
  std::vector<T> v(static_cast<size_t>(L * S), T(0));
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < S; ++j) v[static_cast<size_t>(i * S + j)] = -std::numeric_limits<T>::infinity();
  auto m = from_vector<T>(v, {L, S});
  return device.is_cpu() ? m : m.to(device);
}

// 1 -> -inf, 0 -> 0 (a PyTorch boolean attn_mask or key_padding_mask as an additive mask).
template <typename T>
Tensor<T> bool_mask_to_additive(const Tensor<T>& mask01) {
  latent::detail::check_defined("bool_mask_to_additive", mask01);
  auto neg_inf = full<T>(mask01.shape(), -std::numeric_limits<T>::infinity(), mask01.device());
  return where(mask01.detach(), neg_inf, zeros<T>(mask01.shape(), mask01.device()));
}

// softmax(q k^T * scale + mask) v over the last two dims of (..., L, E) queries and
// (..., S, E) keys, (..., S, Ev) values (batch dims broadcast); scale defaults to
// 1 / sqrt(E). dropout_p drops attention weights (pass 0 in eval, as PyTorch users do).
template <typename T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                       const Tensor<T>& attn_mask = {}, double dropout_p = 0.0,
                                       bool is_causal = false, std::optional<double> scale = std::nullopt,
                                       Generator& gen = default_generator()) {
  for (const Tensor<T>* t : {&q, &k, &v}) latent::detail::check_defined("scaled_dot_product_attention", *t);
  LATENT_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, "scaled_dot_product_attention: query, key and value "
               "need at least 2 dims (..., L, E), got ", q.shape(), ", ", k.shape(), ", ", v.shape());
  const int64_t E = q.shape()[q.dim() - 1], L = q.shape()[q.dim() - 2], S = k.shape()[k.dim() - 2];
  LATENT_CHECK(k.shape()[k.dim() - 1] == E && v.shape()[v.dim() - 2] == S, "scaled_dot_product_attention: "
               "expected key (..., S, ", E, ") and value (..., S, Ev) for query ", q.shape(), ", got key ",
               k.shape(), " and value ", v.shape());
  LATENT_CHECK(!(is_causal && attn_mask.defined()), "scaled_dot_product_attention: give attn_mask or is_causal, "
               "not both");
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(E)));
  auto scores = q.matmul(k.transpose(-2, -1)) * s;
  if (is_causal) scores = scores + causal_mask<T>(L, S, q.device());
  if (attn_mask.defined()) scores = scores + attn_mask;
  auto weights = scores.softmax(-1);
  if (dropout_p > 0) weights = dropout(weights, dropout_p, true, gen);
  return weights.matmul(v);
}

}  // namespace functional

struct MultiheadAttentionOptions {
  double dropout = 0.0;
  bool bias = true;
  bool batch_first = false;
};

// torch.nn.MultiheadAttention with kdim = vdim = embed_dim: parameters in_proj_weight
// (3E, E), in_proj_bias (3E), out_proj.weight, out_proj.bias, initialised as PyTorch
// (xavier_uniform_ in_proj_weight, zero biases, Linear's default out_proj.weight).
// Not supported: kdim/vdim != embed_dim, add_bias_kv, add_zero_attn.
template <typename T = float>
class MultiheadAttention : public Module<T> {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {},
                     Device device = kCPU)
      : Module<T>("MultiheadAttention"), embed_dim(embed_dim), num_heads(num_heads), options(options) {
    LATENT_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "MultiheadAttention: embed_dim (",
                 embed_dim, ") must be a positive multiple of num_heads (", num_heads, ")");
    LATENT_CHECK(options.dropout >= 0 && options.dropout < 1, "MultiheadAttention: dropout must be in [0, 1), got ",
                 options.dropout);
    in_proj_weight = this->register_parameter("in_proj_weight", empty<T>({3 * embed_dim, embed_dim}, device));
    if (options.bias) in_proj_bias = this->register_parameter("in_proj_bias", empty<T>({3 * embed_dim}, device));
    out_proj = this->register_module("out_proj", std::make_shared<Linear<T>>(embed_dim, embed_dim, options.bias, device));
    init::xavier_uniform_(in_proj_weight);
    if (options.bias) {
      init::zeros_(in_proj_bias);
      init::zeros_(out_proj->bias);
    }
  }

  // query (N, L, E) if batch_first else (L, N, E), or unbatched (L, E); key and value
  // likewise with S. attn_mask: additive (L, S) or (N * num_heads, L, S).
  // key_padding_mask: 0/1 (N, S), 1 = ignore that key. Returns the output (query's layout)
  // and, when need_weights, the attention weights (N, L, S) averaged over heads, or
  // (N, num_heads, L, S) when !average_attn_weights.
  std::pair<Tensor<T>, Tensor<T>> forward(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                          const Tensor<T>& key_padding_mask = {}, bool need_weights = true,
                                          const Tensor<T>& attn_mask = {}, bool average_attn_weights = true) {
    for (const Tensor<T>* t : {&query, &key, &value}) latent::detail::check_defined("MultiheadAttention", *t);
    const bool unbatched = query.dim() == 2;
    LATENT_CHECK(query.dim() == 3 || unbatched, "MultiheadAttention: query must be 3-D (batched) or 2-D, got ",
                 query.shape());
    LATENT_CHECK(key.dim() == query.dim() && value.dim() == query.dim(), "MultiheadAttention: query ",
                 query.shape(), ", key ", key.shape(), " and value ", value.shape(), " must have the same rank");
    // Work batch first: (N, L, E).
    auto to_bf = [&](const Tensor<T>& t) {
      if (unbatched) return t.unsqueeze(0);
      return options.batch_first ? t : t.transpose(0, 1);
    };
    Tensor<T> q_in = to_bf(query), k_in = to_bf(key), v_in = to_bf(value);
    const int64_t N = q_in.shape()[0], L = q_in.shape()[1], S = k_in.shape()[1], E = embed_dim, H = num_heads,
                  hd = E / H;
    LATENT_CHECK(q_in.shape()[2] == E && k_in.shape()[2] == E && v_in.shape()[2] == E,
                 "MultiheadAttention: expected embedding size ", E, " in query, key and value, got ", query.shape(),
                 ", ", key.shape(), ", ", value.shape());
    LATENT_CHECK(k_in.shape()[0] == N && v_in.shape()[0] == N && v_in.shape()[1] == S, "MultiheadAttention: key ",
                 key.shape(), " and value ", value.shape(), " must share batch and sequence sizes with query ",
                 query.shape());
    auto proj = [&](const Tensor<T>& x, int64_t chunk) {
      auto w = in_proj_weight.narrow(0, chunk * E, E);
      auto b = in_proj_bias.defined() ? in_proj_bias.narrow(0, chunk * E, E) : Tensor<T>();
      return linear(x, w, b).reshape({N, x.shape()[1], H, hd}).permute({0, 2, 1, 3});  // (N, H, len, hd)
    };
    auto q = proj(q_in, 0), k = proj(k_in, 1), v = proj(v_in, 2);

    // PyTorch scales q before the product (its need_weights path).
    auto scores = (q * std::sqrt(1.0 / static_cast<double>(hd))).matmul(k.transpose(-2, -1));  // (N, H, L, S)
    if (attn_mask.defined()) {
      if (attn_mask.dim() == 2) {
        LATENT_CHECK((attn_mask.shape() == Shape{L, S}), "MultiheadAttention: 2-D attn_mask must be (", L, ", ", S,
                     "), got ", attn_mask.shape());
        scores = scores + attn_mask;
      } else {
        LATENT_CHECK((attn_mask.shape() == Shape{N * H, L, S}), "MultiheadAttention: 3-D attn_mask must be (",
                     N * H, ", ", L, ", ", S, "), got ", attn_mask.shape());
        scores = scores + attn_mask.reshape({N, H, L, S});
      }
    }
    if (key_padding_mask.defined()) {
      LATENT_CHECK((key_padding_mask.shape() == Shape{N, S} || (unbatched && key_padding_mask.shape() == Shape{S})),
                   "MultiheadAttention: key_padding_mask must be (", N, ", ", S, "), got ", key_padding_mask.shape());
      scores = scores + functional::bool_mask_to_additive(key_padding_mask).reshape({N, 1, 1, S});
    }
    auto weights = scores.softmax(-1);
    auto dropped = options.dropout > 0 && this->is_training() ? functional::dropout(weights, options.dropout) : weights;
    auto out = dropped.matmul(v).permute({0, 2, 1, 3}).reshape({N, L, E});
    out = (*out_proj)(out);
    if (unbatched) out = out.squeeze(0);
    else if (!options.batch_first) out = out.transpose(0, 1);
    Tensor<T> w;
    if (need_weights) {
      w = average_attn_weights ? weights.mean({1}) : weights;
      if (unbatched) w = w.squeeze(0);
    }
    return {out, w};
  }
  std::pair<Tensor<T>, Tensor<T>> operator()(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                             const Tensor<T>& key_padding_mask = {}, bool need_weights = true,
                                             const Tensor<T>& attn_mask = {}, bool average_attn_weights = true) {
    this->run_forward_pre_hooks();
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights);
  }
  std::string extra_repr() const override {
    return latent::detail::str_cat("embed_dim=", embed_dim, ", num_heads=", num_heads, ", dropout=", options.dropout,
                                   ", batch_first=", detail::py_bool(options.batch_first));
  }

  int64_t embed_dim, num_heads;
  MultiheadAttentionOptions options;
  Tensor<T> in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear<T>> out_proj;
};

}  // namespace latent::nn
