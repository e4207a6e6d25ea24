// Attention (nn/attention.hpp): scaled_dot_product_attention and MultiheadAttention against
// PyTorch (family "attention"), gradients of first and second order, masks and errors.
#include <latent/nn.hpp>
#include <latent/nn/attention.hpp>

#include "parity.hpp"

using namespace latent;
using latent::testing::check_grads;
using latent::testing::leaf;
using latent::testing::use_as_parameter;
namespace F = latent::nn::functional;

namespace {

template <typename T>
std::shared_ptr<nn::MultiheadAttention<T>> mha_with(const parity::Ctx<T>& c) {
  const int64_t E = c.x(5).shape()[0];
  auto m = std::make_shared<nn::MultiheadAttention<T>>(E, c.i("heads"),
                                                        nn::MultiheadAttentionOptions{.batch_first = c.b("batch_first")});
  use_as_parameter<T>(*m, "in_proj_weight", c.x(3));
  use_as_parameter<T>(*m, "in_proj_bias", c.x(4));
  use_as_parameter<T>(*m->out_proj, "weight", c.x(5));
  use_as_parameter<T>(*m->out_proj, "bias", c.x(6));
  m->in_proj_weight = c.x(3), m->in_proj_bias = c.x(4), m->out_proj->weight = c.x(5), m->out_proj->bias = c.x(6);
  return m;
}

// clang-format off
const parity::OpTable& attention_ops() {
  static const parity::OpTable table = {
    {"sdpa", parity::both([](auto& c) {
       using T = ValueOf(c);
       Tensor<T> mask = c.xs.size() > 3 ? c.x(3) : Tensor<T>();
       return F::scaled_dot_product_attention(c.x(0), c.x(1), c.x(2), mask, 0.0, c.b("is_causal"));
     })},
    {"mha", parity::both([](auto& c) {
       using T = ValueOf(c);
       auto m = mha_with<T>(c);
       Tensor<T> kpm = c.b("key_padding") ? c.x(7) : Tensor<T>();
       Tensor<T> attn_mask = c.b("attn_mask") ? c.x(c.xs.size() - 1) : Tensor<T>();
       auto [out, weights] = (*m)(c.x(0), c.x(1), c.x(2), kpm, true, attn_mask, c.b("average"));
       return std::vector<Tensor<T>>{out, weights};
     })},
  };
  return table;
}
// clang-format on

// Float: attention gradients go through three chained products and a softmax, and the
// key-bias gradient is exactly zero in exact arithmetic (softmax ignores a shift), so float
// results there are pure cancellation noise of a few 1e-6. Double stays at 1e-10.
const parity::Family kAttention{"attention", attention_ops, parity::Tolerance{5e-5, 1e-5}};

}  // namespace

TEST_CASE("parity: scaled_dot_product_attention and MultiheadAttention match PyTorch", "[parity][attention]") {
  CHECK(parity::run_family("attention") > 0);
}

TEST_CASE("attention: first and second order gradients", "[attention][gradcheck]") {
  auto q = leaf({2, 3, 4}, 61), k = leaf({2, 5, 4}, 62), v = leaf({2, 5, 3}, 63);
  check_grads([](const std::vector<TensorD>& in) {
    return F::scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.0, false);
  }, {q, k, v});
  auto qc = leaf({4, 3}, 64), kc = leaf({4, 3}, 65), vc = leaf({4, 2}, 66);
  check_grads([](const std::vector<TensorD>& in) {
    return F::scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.0, /*is_causal=*/true);
  }, {qc, kc, vc});

  manual_seed(8);
  nn::MultiheadAttention<double> mha(4, 2, {.batch_first = true});
  auto x = leaf({2, 3, 4}, 67);
  auto kpm = from_vector<double>({0, 0, 1, 0, 0, 0}, {2, 3});
  check_grads([&](const std::vector<TensorD>& in) { return mha(in[0], in[0], in[0], kpm).first; }, {x});
}

TEST_CASE("attention: masks, layouts, dropout and defaults", "[attention]") {
  manual_seed(9);
  nn::MultiheadAttention<float> mha(8, 4);
  CHECK(mha.state_dict().size() == 4);
  CHECK(mha.named_parameters()[2].first == "out_proj.weight");
  CHECK(mha.in_proj_bias.abs().max().item() == 0.0f);
  const double bound = std::sqrt(6.0 / (8 + 24));  // xavier_uniform_ on (24, 8)
  CHECK(mha.in_proj_weight.abs().max().item() <= bound);

  // A padded key gets zero weight; a causal mask zeroes the future.
  auto x = randn<float>({5, 2, 8});  // (L, N, E): batch_first = false
  auto kpm = from_vector<float>({0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, {2, 5});
  auto [out, w] = mha(x, x, x, kpm);
  CHECK(out.shape() == Shape{5, 2, 8});
  CHECK(w.shape() == Shape{2, 5, 5});
  for (int64_t i = 0; i < 5; ++i) CHECK(w.select(0, 0).select(0, i).select(0, 4).item() == 0.0f);
  auto causal = F::causal_mask<float>(5, 5);
  auto [out_c, w_c] = mha(x, x, x, {}, true, causal);
  CHECK(w_c.select(0, 1).select(0, 0).select(0, 1).item() == 0.0f);
  CHECK(std::abs(w_c.select(0, 1).select(0, 2).sum().item() - 1.0f) < 1e-6f);

  // Unbatched input, and need_weights = false.
  auto [out_u, w_u] = mha(x.select(1, 0), x.select(1, 0), x.select(1, 0), {}, false);
  CHECK(out_u.shape() == Shape{5, 8});
  CHECK(!w_u.defined());
  LATENT_REQUIRE_CLOSE(out_u, mha(x, x, x).first.select(1, 0), 1e-5, 1e-6);

  // Dropout only in training.
  nn::MultiheadAttention<float> drop(8, 2, {.dropout = 0.5});
  drop.eval();
  auto a = drop(x, x, x).first, b = drop(x, x, x).first;
  CHECK(a.to_vector() == b.to_vector());
  drop.train();
  CHECK(drop(x, x, x).first.to_vector() != drop(x, x, x).first.to_vector());
}

TEST_CASE("attention: bad shapes are rejected with clear messages", "[attention][errors]") {
  CHECK_THROWS_WITH(nn::MultiheadAttention<float>(10, 3), Catch::Contains("multiple of num_heads"));
  nn::MultiheadAttention<float> mha(8, 2, {.batch_first = true});
  auto x = randn<float>({2, 3, 8});
  CHECK_THROWS_WITH(mha(x, x, randn<float>({2, 3, 6})), Catch::Contains("embedding size 8"));
  CHECK_THROWS_WITH(mha(x, x, x, ones<float>({2, 4})), Catch::Contains("key_padding_mask must be (2, 3)"));
  CHECK_THROWS_WITH(mha(x, x, x, {}, true, zeros<float>({3, 4})), Catch::Contains("attn_mask must be (3, 3)"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(x, randn<float>({2, 4, 5}), x),
                    Catch::Contains("scaled_dot_product_attention"));
}
