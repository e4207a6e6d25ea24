// Matrix products over every operand layout (row-major, transposed views, vectors), checked
// against a broadcast-multiply-sum reference: exercises the GEMM and GEMV dispatch paths.
#include "helpers.hpp"

using namespace latent;

TEST_CASE("linalg: mm/addmm/bmm agree with a reference for every layout", "[linalg]") {
  Generator g(1);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (auto [m, k, n] : {std::tuple{7, 5, 1}, {1, 5, 7}, {1, 5, 1}, {9, 1, 1}, {33, 17, 65}, {3, 0, 4}}) {
        INFO("m=" << m << " k=" << k << " n=" << n << " trans_a=" << ta << " trans_b=" << tb);
        auto A = ta ? randn<double>({k, m}, g).t() : randn<double>({m, k}, g);
        auto B = tb ? randn<double>({n, k}, g).t() : randn<double>({k, n}, g);
        auto ref = (A.unsqueeze(2) * B.unsqueeze(0)).sum({1});
        LATENT_REQUIRE_CLOSE(mm(A, B), ref, 1e-12, 1e-12);
        auto bias = randn<double>({n}, g);
        LATENT_REQUIRE_CLOSE(addmm(bias, A, B), ref + bias, 1e-12, 1e-12);
        auto Af = A.to<float>(), Bf = B.to<float>();
        LATENT_REQUIRE_CLOSE(mm(Af, Bf), ref.to<float>(), 1e-5, 1e-5);
        auto A3 = stack<double>({A, A * 2.0}), B3 = stack<double>({B, B * -1.0});
        auto ref3 = stack<double>({ref, ref * -2.0});
        LATENT_REQUIRE_CLOSE(bmm(A3, B3), ref3, 1e-12, 1e-12);
      }
}

TEST_CASE("linalg: linear matches x W^T + b, with gradients", "[linalg]") {
  auto x = latent::testing::leaf({4, 3}, 1), w = latent::testing::leaf({5, 3}, 2), b = latent::testing::leaf({5}, 3);
  LATENT_REQUIRE_CLOSE(linear(x, w, b), x.matmul(w.t()) + b, 1e-12, 1e-12);
  latent::testing::check_grads([](const std::vector<TensorD>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
  auto x3 = latent::testing::leaf({2, 4, 3}, 4);
  latent::testing::check_grads([](const std::vector<TensorD>& in) { return linear(in[0], in[1], in[2]); }, {x3, w, b});
  latent::testing::check_grads([](const std::vector<TensorD>& in) { return linear(in[0], in[1]); }, {x, w});
  REQUIRE_THROWS_WITH(linear(x, latent::testing::leaf({5, 4}, 5)), Catch::Contains("in_features = 4"));
}

TEST_CASE("linalg: relu_backward is the fused mask and differentiates again", "[linalg]") {
  auto x = latent::testing::leaf({6}, 9, 0.1, 1.0);
  auto xn = latent::testing::leaf({6}, 10, -1.0, -0.1);
  latent::testing::check_grads([](const std::vector<TensorD>& in) { return (in[0] * in[0]).relu(); }, {x});
  latent::testing::check_grads([](const std::vector<TensorD>& in) { return (in[0] * 3.0).relu(); }, {xn});
}
