// Module hooks and the weight re-parametrisations (nn/weight_reparam.hpp): spectral_norm and
// weight_norm against PyTorch (family "reparam"), their gradients, buffers and names.
#include <latent/nn.hpp>
#include <latent/nn/weight_reparam.hpp>

#include "parity.hpp"

using namespace latent;
using latent::testing::check_grads;
using latent::testing::leaf;
using latent::testing::use_as_parameter;

namespace {

// clang-format off
const parity::OpTable& reparam_ops() {
  static const parity::OpTable table = {
    {"spectral_norm_linear", parity::both([](auto& c) {
       using T = ValueOf(c);
       auto lin = nn::utils::spectral_norm(std::make_shared<nn::Linear<T>>(c.x(1).shape()[1], c.x(1).shape()[0], false),
                                           "weight", {.n_power_iterations = c.i("iters"), .eps = c.d("eps")});
       use_as_parameter<T>(*lin, "weight_orig", c.x(1));
       lin->buffer("weight_u").copy_(c.x(2));
       lin->buffer("weight_v").copy_(c.x(3));
       if (!c.b("training")) lin->eval();
       auto y = (*lin)(c.x(0));
       return std::vector<Tensor<T>>{y, lin->buffer("weight_u"), lin->buffer("weight_v")};
     })},
    {"weight_norm_linear", parity::both([](auto& c) {
       using T = ValueOf(c);
       std::optional<int64_t> dim;
       if (!c.arg("dim").is_null()) dim = c.i("dim");
       auto lin = nn::utils::weight_norm(std::make_shared<nn::Linear<T>>(c.x(2).shape()[1], c.x(2).shape()[0], false),
                                         "weight", dim);
       use_as_parameter<T>(*lin, "weight_g", c.x(1));
       use_as_parameter<T>(*lin, "weight_v", c.x(2));
       return (*lin)(c.x(0));
     })},
  };
  return table;
}
// clang-format on

const parity::Family kReparam{"reparam", reparam_ops};

}  // namespace

TEST_CASE("parity: spectral_norm and weight_norm match PyTorch", "[parity][reparam]") {
  CHECK(parity::run_family("reparam") > 0);
}

TEST_CASE("spectral_norm: names, buffers, eval keeps u and v, sigma converges", "[reparam]") {
  manual_seed(3);
  auto lin = nn::utils::spectral_norm(std::make_shared<nn::Linear<double>>(3, 3));
  auto names = [](const nn::StateDict<double>& s) {
    std::vector<std::string> out;
    for (auto& kv : s) out.push_back(kv.first);
    return out;
  };
  CHECK(names(lin->state_dict()) == std::vector<std::string>{"bias", "weight_orig", "weight_u", "weight_v"});
  CHECK(names(lin->named_parameters()) == std::vector<std::string>{"bias", "weight_orig"});

  // weight_orig = diag(3, 2, 1): sigma -> 3, so the effective weight -> diag(1, 2/3, 1/3).
  {
    NoGradGuard no_grad;
    lin->parameter("weight_orig").copy_(from_vector<double>({3, 0, 0, 0, 2, 0, 0, 0, 1}, {3, 3}));
  }
  auto x = eye<double>(3);
  Tensor<double> y;
  for (int i = 0; i < 60; ++i) y = (*lin)(x);
  auto w = y - lin->bias;  // rows of y are W^T's rows plus the bias
  LATENT_REQUIRE_CLOSE(w, from_vector<double>({1, 0, 0, 0, 2.0 / 3, 0, 0, 0, 1.0 / 3}, {3, 3}), 1e-9, 1e-9);

  lin->eval();
  auto u = lin->buffer("weight_u").clone(), v = lin->buffer("weight_v").clone();
  (*lin)(x);
  CHECK(lin->buffer("weight_u").to_vector() == u.to_vector());
  CHECK(lin->buffer("weight_v").to_vector() == v.to_vector());

  // Gradients reach weight_orig through sigma; a direct forward() bypasses the hook as in PyTorch.
  lin->train();
  (*lin)(x).sum().backward();
  CHECK(lin->parameter("weight_orig").grad().defined());
}

TEST_CASE("spectral_norm and weight_norm: first and second order gradients", "[reparam][gradcheck]") {
  auto w0 = leaf({4, 3}, 41), x0 = leaf({2, 3}, 42);
  auto make_sn = [] {
    manual_seed(5);
    return nn::utils::spectral_norm(std::make_shared<nn::Linear<double>>(3, 4, false), "weight",
                                    {.n_power_iterations = 0});  // fixed u, v: a function of w only
  };
  auto sn = make_sn();
  check_grads([&](const std::vector<TensorD>& in) {
    use_as_parameter<double>(*sn, "weight_orig", in[0]);
    return (*sn)(in[1]).tanh();
  }, {w0, x0});

  auto wn = nn::utils::weight_norm(std::make_shared<nn::Linear<double>>(3, 4, false));
  CHECK(wn->parameter("weight_g").shape() == Shape{4, 1});
  auto g0 = leaf({4, 1}, 43, 0.5, 2.0), v0 = leaf({4, 3}, 44);
  check_grads([&](const std::vector<TensorD>& in) {
    use_as_parameter<double>(*wn, "weight_g", in[0]);
    use_as_parameter<double>(*wn, "weight_v", in[1]);
    return (*wn)(in[2]).tanh();
  }, {g0, v0, x0});
}

TEST_CASE("spectral_norm and weight_norm: bad arguments", "[reparam][errors]") {
  auto lin = std::make_shared<nn::Linear<float>>(3, 4);
  CHECK_THROWS_WITH(nn::utils::spectral_norm(lin, "nope"), Catch::Contains("no parameter named 'nope'"));
  CHECK_THROWS_WITH(nn::utils::spectral_norm(std::make_shared<nn::Linear<float>>(3, 4), "weight", {.dim = 2}),
                    Catch::Contains("dim 2 is out of range"));
  CHECK_THROWS_WITH(nn::utils::spectral_norm(std::make_shared<nn::Linear<float>>(3, 4), "weight",
                                             {.n_power_iterations = -1}),
                    Catch::Contains("n_power_iterations"));
  CHECK_THROWS_WITH(nn::utils::weight_norm(std::make_shared<nn::Linear<float>>(3, 4), "weight", 5),
                    Catch::Contains("dim is out of range"));
}
