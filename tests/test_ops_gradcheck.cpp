// Gradients of every differentiable op, first and second order: check_grads runs
// gradcheck and gradgradcheck (double precision, central differences) on small inputs.
// Inputs are kept away from kinks (0 for relu/abs, the bounds for clamp, ties for max).
#include "helpers.hpp"

#include <functional>

using namespace latent;
using latent::testing::check_grads;
using latent::testing::leaf;
using V = std::vector<TensorD>;

// f(x) where x is the vector of inputs: FN(x[0].exp() * x[1]).
#define FN(...) [&](const V& x) -> TensorD { return __VA_ARGS__; }

namespace {

// Leaf with |values| in [gap, hi] and random signs: away from the kink at 0.
TensorD signed_leaf(const Shape& shape, uint64_t seed, double gap = 0.25, double hi = 2.0) {
  Generator gen(seed);
  auto t = uniform<double>(shape, -(hi - gap), hi - gap, gen);
  double* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] += p[i] >= 0 ? gap : -gap;
  return t.requires_grad_();
}

// Leaf holding exactly `values` (for inputs chosen by hand, e.g. away from clamp bounds).
TensorD values_leaf(std::initializer_list<double> values, const Shape& shape) {
  return tensor<double>(values, shape).requires_grad_();
}

IndexTensor index(std::initializer_list<int64_t> values, const Shape& shape) {
  return tensor<int64_t>(values, shape);
}

}  // namespace

// ------------------------------------------------------------------ binary arithmetic
TEST_CASE("gradcheck: add/sub/mul/div with broadcasting", "[gradcheck]") {
  check_grads(FN(x[0] + x[1]), {leaf({2, 3}, 1), leaf({3}, 2)});
  check_grads(FN(x[0] + x[1]), {leaf({2, 1, 3}, 3), leaf({4, 1}, 4)});
  check_grads(FN(x[0] - x[1]), {leaf({2, 3}, 5), leaf({2, 1}, 6)});
  check_grads(FN(x[0] - x[1]), {leaf({}, 7), leaf({2, 2}, 8)});
  check_grads(FN(x[0] * x[1]), {leaf({2, 3}, 9), leaf({3}, 10)});
  check_grads(FN(x[0] * x[1]), {leaf({3, 1}, 11), leaf({1, 2}, 12)});
  check_grads(FN(x[0] * x[0]), {leaf({3}, 13)});
  check_grads(FN(x[0] / x[1]), {leaf({2, 3}, 14), leaf({2, 1}, 15, 0.5, 2.0)});
  check_grads(FN(x[0] / x[1]), {leaf({3}, 16), signed_leaf({2, 3}, 17, 0.5)});
  check_grads(FN(x[0].add(x[1]).sub(x[2]).mul(x[1]).div(x[2])),
              {leaf({2, 2}, 18), leaf({2}, 19), leaf({2, 1}, 20, 0.5, 1.5)});
  // One input not requiring grad.
  check_grads(FN(x[0] * x[1]), {leaf({2, 3}, 21), uniform<double>({3}, -1, 1)});
}

TEST_CASE("gradcheck: scalar variants", "[gradcheck]") {
  check_grads(FN(x[0] + 2.0), {leaf({2, 3}, 30)});
  check_grads(FN(x[0] - 2.0), {leaf({2, 3}, 31)});
  check_grads(FN(x[0] * 3.0), {leaf({2, 3}, 32)});
  check_grads(FN(x[0] / 4.0), {leaf({2, 3}, 33)});
  check_grads(FN(2.0 + x[0]), {leaf({3}, 34)});
  check_grads(FN(2.0 - x[0]), {leaf({3}, 35)});
  check_grads(FN(3.0 * x[0]), {leaf({3}, 36)});
  check_grads(FN(2.0 / x[0]), {signed_leaf({3}, 37, 0.5)});
  check_grads(FN(rsub(1.5, x[0]) * rdiv(2.0, x[1])), {leaf({3}, 38), signed_leaf({3}, 39, 0.5)});
  check_grads(FN(x[0] * scalar_tensor<double>(2.5)), {leaf({2, 2}, 40)});
  check_grads(FN(-x[0]), {leaf({2, 3}, 41)});
  check_grads(FN(x[0].neg() * x[0]), {leaf({2, 3}, 42)});
}

// ------------------------------------------------------------------ unary math
TEST_CASE("gradcheck: pow", "[gradcheck]") {
  check_grads(FN(x[0].pow(2.0)), {leaf({2, 3}, 50)});
  check_grads(FN(x[0].pow(3.0)), {leaf({2, 3}, 51)});
  check_grads(FN(x[0].pow(1.0)), {leaf({3}, 52)});
  check_grads(FN(x[0].pow(0.0)), {leaf({3}, 61)});
  check_grads(FN(x[0].pow(0.5)), {leaf({2, 3}, 53, 0.5, 2.0)});
  check_grads(FN(x[0].pow(-1.5)), {leaf({2, 3}, 54, 0.5, 2.0)});
  check_grads(FN(x[0].pow(2.7)), {leaf({4}, 55, 0.5, 2.0)});
  // tensor ^ tensor with a positive base, broadcast both ways.
  check_grads(FN(x[0].pow(x[1])), {leaf({2, 3}, 56, 0.5, 2.0), leaf({2, 3}, 57)});
  check_grads(FN(x[0].pow(x[1])), {leaf({2, 1}, 58, 0.5, 2.0), leaf({3}, 59)});
  check_grads(FN(x[0].pow(x[1])), {leaf({3}, 60, 0.5, 2.0), uniform<double>({3}, 1, 2)});
}

TEST_CASE("gradcheck: exp, log, log1p, expm1, sqrt, rsqrt", "[gradcheck]") {
  check_grads(FN(x[0].exp()), {leaf({2, 3}, 70)});
  check_grads(FN(x[0].log()), {leaf({2, 3}, 71, 0.3, 3.0)});
  check_grads(FN(x[0].log1p()), {leaf({2, 3}, 72, -0.5, 2.0)});
  check_grads(FN(x[0].expm1()), {leaf({2, 3}, 73)});
  check_grads(FN(x[0].sqrt()), {leaf({2, 3}, 74, 0.3, 3.0)});
  check_grads(FN(x[0].rsqrt()), {leaf({2, 3}, 75, 0.3, 3.0)});
  check_grads(FN(x[0].square()), {leaf({2, 3}, 76)});
}

TEST_CASE("gradcheck: abs, sin, cos, erf", "[gradcheck]") {
  check_grads(FN(x[0].abs()), {signed_leaf({2, 3}, 80)});
  check_grads(FN(x[0].abs() * x[0]), {signed_leaf({2, 3}, 81)});
  check_grads(FN(x[0].sin()), {leaf({2, 3}, 82)});
  check_grads(FN(x[0].cos()), {leaf({2, 3}, 83)});
  check_grads(FN(x[0].erf()), {leaf({2, 3}, 84)});
}

TEST_CASE("gradcheck: sign has a zero gradient", "[gradcheck]") {
  check_grads(FN(x[0].sign() * x[0]), {signed_leaf({2, 3}, 85)});
  check_grads(FN(x[0].sign()), {signed_leaf({2, 3}, 86)});
}

// ------------------------------------------------------------------ activations
TEST_CASE("gradcheck: tanh, sigmoid, relu, leaky_relu, elu", "[gradcheck]") {
  check_grads(FN(x[0].tanh()), {leaf({2, 3}, 90)});
  check_grads(FN(x[0].sigmoid()), {leaf({2, 3}, 91)});
  check_grads(FN(x[0].relu()), {signed_leaf({2, 3}, 92)});
  check_grads(FN(x[0].relu() * x[0]), {signed_leaf({2, 3}, 93)});
  check_grads(FN(x[0].leaky_relu()), {signed_leaf({2, 3}, 94)});
  check_grads(FN(x[0].leaky_relu(0.2) * x[0]), {signed_leaf({2, 3}, 95)});
  check_grads(FN(elu(x[0])), {signed_leaf({2, 3}, 96)});
  check_grads(FN(elu(x[0], 0.5)), {signed_leaf({2, 3}, 97)});
}

TEST_CASE("gradcheck: gelu_backward; float gelu kernels against double", "[gradcheck]") {
  check_grads(FN(gelu_backward(x[0], x[1])), {leaf({2, 3}, 110), leaf({2, 3}, 111, -3.0, 3.0)});
  // Third order of gelu runs through gelu_backward's own backward.
  check_grads(FN(autograd::grad<double>({gelu(x[0]).sum()}, {x[0]}, {}, std::nullopt, true)[0].square().sum()),
              {leaf({5}, 112, -3.0, 3.0)});
  // The vectorised float path (contiguous) and the scalar one (strided) against double.
  auto xd = linspace<double>(-9, 9, 3001);
  auto gd = cos(xd) + 1.5;
  auto xf = xd.template to<float>(), gf = gd.template to<float>();
  auto strided_x = xf.reshape({3001, 1}).expand({3001, 2}).select(1, 1);
  for (const auto& input : {xf, strided_x}) {
    LATENT_REQUIRE_CLOSE(gelu(input).template to<double>(), gelu(xd), 1e-5, 1e-6);
    LATENT_REQUIRE_CLOSE(gelu_backward(gf, input).template to<double>(), gelu_backward(gd, xd), 1e-5, 1e-6);
  }
}

TEST_CASE("gradcheck: gelu, silu, softplus", "[gradcheck]") {
  check_grads(FN(gelu(x[0])), {leaf({2, 3}, 100, -3.0, 3.0)});
  check_grads(FN(gelu(x[0], "tanh")), {leaf({2, 3}, 101, -3.0, 3.0)});
  check_grads(FN(silu(x[0])), {leaf({2, 3}, 102, -3.0, 3.0)});
  check_grads(FN(softplus(x[0])), {leaf({2, 3}, 103, -3.0, 3.0)});
  check_grads(FN(softplus(x[0], 2.0, 5.0)), {values_leaf({-2.0, -0.3, 0.4, 1.5, 3.2, 4.0}, {2, 3})});
}

TEST_CASE("gradcheck: clamp, minimum, maximum, where", "[gradcheck]") {
  auto v = {-1.7, -0.5, 0.3, 0.8, 1.4, 2.0};
  check_grads(FN(x[0].clamp(-1.0, 1.0)), {values_leaf(v, {2, 3})});
  check_grads(FN(x[0].clamp(-1.0, 1.0) * x[0]), {values_leaf(v, {2, 3})});
  check_grads(FN(x[0].clamp_min(0.5)), {values_leaf(v, {2, 3})});
  check_grads(FN(x[0].clamp_max(0.5)), {values_leaf(v, {2, 3})});
  auto a = {0.1, -1.0, 2.0, 0.7, -0.2, 1.1};
  auto b = {0.5, -1.5, 1.0, 1.2, 0.4, -0.6};
  check_grads(FN(maximum(x[0], x[1])), {values_leaf(a, {2, 3}), values_leaf(b, {2, 3})});
  check_grads(FN(minimum(x[0], x[1])), {values_leaf(a, {2, 3}), values_leaf(b, {2, 3})});
  check_grads(FN(maximum(x[0], x[1]) * x[1]), {values_leaf(a, {2, 3}), values_leaf({0.3, -0.1, 0.9}, {3})});
  check_grads(FN(minimum(x[0], x[1]) * x[0]), {values_leaf({0.3, -0.1}, {2, 1}), values_leaf(b, {2, 3})});
  auto cond = tensor<double>({1, 0, 0, 1, 1, 0}, {2, 3});
  check_grads(FN(where(cond, x[0], x[1])), {leaf({2, 3}, 110), leaf({2, 3}, 111)});
  check_grads(FN(where(cond, x[0], x[1]) * x[0]), {leaf({3}, 112), leaf({2, 1}, 113)});
}

// ------------------------------------------------------------------ reductions
TEST_CASE("gradcheck: sum and mean", "[gradcheck]") {
  check_grads(FN(x[0].sum()), {leaf({2, 3}, 120)});
  check_grads(FN(x[0].sum({1})), {leaf({2, 3}, 121)});
  check_grads(FN(x[0].sum({0}, true)), {leaf({2, 3}, 122)});
  check_grads(FN(x[0].sum({0, 2})), {leaf({2, 3, 2}, 123)});
  check_grads(FN(x[0].sum({-1, 0}, true)), {leaf({2, 3, 2}, 124)});
  check_grads(FN(x[0].sum({1}).square()), {leaf({2, 3}, 125)});
  check_grads(FN(x[0].mean()), {leaf({2, 3}, 126)});
  check_grads(FN(x[0].mean({1})), {leaf({2, 3}, 127)});
  check_grads(FN(x[0].mean({0, 2}, true)), {leaf({2, 3, 2}, 128)});
  check_grads(FN(x[0].mean({0}) * x[0]), {leaf({2, 3}, 129)});
}

TEST_CASE("var/std: braced dims mean dims, not the unbiased flag", "[reduce]") {
  auto x = tensor<double>({1, 2, 4, 1, 3, 8}, {2, 3});
  REQUIRE(x.var({1}).shape() == Shape{2});
  REQUIRE(x.var({0}).shape() == Shape{3});
  REQUIRE(x.std({1}).shape() == Shape{2});
  REQUIRE(var(x, {1}).shape() == Shape{2});
  REQUIRE(x.var({1}).to_vector() == x.var(std::vector<int64_t>{1}).to_vector());
  REQUIRE(x.var({0}).to_vector() == std::vector<double>{0, 0.5, 8});
  REQUIRE(x.var().dim() == 0);
  REQUIRE(x.var(false).item() == Approx(x.var(std::vector<int64_t>{}, false).item()));
}

TEST_CASE("gradcheck: var and std", "[gradcheck]") {
  check_grads(FN(x[0].var()), {leaf({2, 3}, 130)});
  check_grads(FN(x[0].var(false)), {leaf({2, 3}, 131)});
  check_grads(FN(x[0].var({1})), {leaf({2, 3}, 132)});
  check_grads(FN(x[0].var({0, 2}, false, true)), {leaf({2, 3, 2}, 133)});
  check_grads(FN(x[0].std()), {leaf({2, 3}, 134)});
  check_grads(FN(x[0].std({1}, true, true)), {leaf({2, 3}, 135)});
  check_grads(FN(x[0].std({0}, false)), {leaf({3, 2}, 136)});
}

TEST_CASE("gradcheck: amax, amin, max, min, max(dim)", "[gradcheck]") {
  check_grads(FN(x[0].amax({1})), {leaf({2, 3}, 140)});
  check_grads(FN(x[0].amax({0}, true)), {leaf({2, 3}, 141)});
  check_grads(FN(x[0].amax({0, 2})), {leaf({2, 3, 2}, 142)});
  check_grads(FN(x[0].amin({1})), {leaf({2, 3}, 143)});
  check_grads(FN(x[0].amin({-1}, true) * x[0]), {leaf({2, 3}, 144)});
  check_grads(FN(x[0].max()), {leaf({2, 3}, 145)});
  check_grads(FN(x[0].min()), {leaf({2, 3}, 146)});
  check_grads(FN(max(x[0], 1).first), {leaf({2, 3}, 147)});
  check_grads(FN(max(x[0], 0, true).first * x[0]), {leaf({2, 3}, 148)});
  check_grads(FN(min(x[0], -1).first), {leaf({2, 3, 2}, 149)});
}

TEST_CASE("gradcheck: logsumexp and norm", "[gradcheck]") {
  check_grads(FN(x[0].logsumexp({1})), {leaf({2, 3}, 150)});
  check_grads(FN(x[0].logsumexp({0}, true)), {leaf({2, 3}, 151)});
  check_grads(FN(x[0].logsumexp({0, 1})), {leaf({2, 3}, 152)});
  check_grads(FN(x[0].norm()), {leaf({2, 3}, 153)});
  check_grads(FN(x[0].norm(2, {1})), {leaf({2, 3}, 154)});
  check_grads(FN(x[0].norm(2, {0}, true)), {leaf({2, 3}, 155)});
  check_grads(FN(x[0].norm(1)), {signed_leaf({2, 3}, 156)});
  check_grads(FN(x[0].norm(1, {1})), {signed_leaf({2, 3}, 157)});
  check_grads(FN(x[0].norm(INFINITY)), {signed_leaf({2, 3}, 158)});
  check_grads(FN(x[0].norm(INFINITY, {0}, true)), {signed_leaf({2, 3}, 159)});
}

TEST_CASE("gradcheck: softmax and log_softmax", "[gradcheck]") {
  check_grads(FN(x[0].softmax(1)), {leaf({2, 3}, 160)});
  check_grads(FN(x[0].softmax(0)), {leaf({2, 3}, 161)});
  check_grads(FN(x[0].softmax(1)), {leaf({2, 3, 2}, 162)});
  check_grads(FN(x[0].log_softmax(-1)), {leaf({2, 3}, 163)});
  check_grads(FN(x[0].log_softmax(0)), {leaf({3, 2}, 164)});
  check_grads(FN(x[0].log_softmax(1)), {leaf({2, 3, 2}, 165)});
}

// ------------------------------------------------------------------ linear algebra
TEST_CASE("gradcheck: mm, bmm, outer, cdist", "[gradcheck]") {
  check_grads(FN(x[0].mm(x[1])), {leaf({2, 3}, 170), leaf({3, 2}, 171)});
  check_grads(FN(x[0].t().mm(x[1])), {leaf({3, 2}, 172), leaf({3, 2}, 173)});
  check_grads(FN(x[0].mm(x[0])), {leaf({2, 2}, 174)});
  check_grads(FN(x[0].bmm(x[1])), {leaf({2, 2, 3}, 175), leaf({2, 3, 2}, 176)});
  check_grads(FN(x[0].bmm(x[1].transpose(1, 2))), {leaf({2, 2, 3}, 177), leaf({2, 2, 3}, 178)});
  check_grads(FN(outer(x[0], x[1])), {leaf({3}, 179), leaf({2}, 180)});
  check_grads(FN(cdist(x[0], x[1])), {leaf({3, 2}, 181), leaf({2, 2}, 182)});
  check_grads(FN(cdist(x[0], x[1])), {leaf({2, 2, 3}, 183), leaf({2, 3, 3}, 184)});
}

TEST_CASE("gradcheck: matmul over every rank combination", "[gradcheck]") {
  check_grads(FN(x[0].matmul(x[1])), {leaf({3}, 190), leaf({3}, 191)});              // dot
  check_grads(FN(x[0].matmul(x[1])), {leaf({3}, 192), leaf({3, 2}, 193)});           // 1-D x 2-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 3}, 194), leaf({3}, 195)});           // 2-D x 1-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 3}, 196), leaf({3, 2}, 197)});        // 2-D x 2-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 2, 3}, 198), leaf({3, 2}, 199)});     // 3-D x 2-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 3}, 200), leaf({2, 3, 2}, 201)});     // 2-D x 3-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 2, 3}, 202), leaf({2, 3, 2}, 203)});  // 3-D x 3-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({3}, 204), leaf({2, 3, 2}, 205)});        // 1-D x 3-D
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 2, 3}, 206), leaf({3}, 207)});        // 3-D x 1-D
  // Broadcast batch dims.
  check_grads(FN(x[0].matmul(x[1])), {leaf({2, 1, 2, 3}, 208), leaf({2, 3, 2}, 209)});
  check_grads(FN(x[0].matmul(x[1])), {leaf({1, 2, 3}, 210), leaf({2, 1, 3, 1}, 211)});
  check_grads(FN(x[0].matmul(x[1]).square()), {leaf({2, 2, 3}, 212), leaf({1, 3, 2}, 213)});
}

// ------------------------------------------------------------------ indexing and joining
TEST_CASE("gradcheck: cat, stack, split, chunk", "[gradcheck]") {
  check_grads(FN(cat(V{x[0], x[1]}, 0)), {leaf({2, 3}, 220), leaf({1, 3}, 221)});
  check_grads(FN(cat(V{x[0], x[1].square(), x[0]}, 1)), {leaf({2, 3}, 222), leaf({2, 1}, 223)});
  check_grads(FN(cat(V{x[0], x[1]}, -1) * 2.0), {leaf({2}, 224), leaf({3}, 225)});
  check_grads(FN(stack(V{x[0], x[1]}, 0)), {leaf({2, 3}, 226), leaf({2, 3}, 227)});
  check_grads(FN(stack(V{x[0], x[1] * x[0]}, 2)), {leaf({2, 3}, 228), leaf({2, 3}, 229)});
  check_grads(FN(stack(V{x[0], x[1]}, -2)), {leaf({3}, 230), leaf({3}, 231)});
  auto split_fn = FN([&] {
    auto p = x[0].split(2, 1);  // sizes 2, 2, 1
    return cat(V{p[0] * 2.0, p[1].square(), p[2].exp()}, 1);
  }());
  check_grads(split_fn, {leaf({2, 5}, 232)});
  check_grads(FN(x[0].split(2, 0)[1]), {leaf({3, 2}, 233)});
  auto chunk_fn = FN([&] {
    auto p = x[0].chunk(3, 0);  // sizes 2, 2, 1
    return cat(V{p[2], p[0].sin(), p[1] * p[1]}, 0);
  }());
  check_grads(chunk_fn, {leaf({5, 2}, 234)});
  check_grads(FN(x[0].chunk(2, -1)[1]), {leaf({2, 4}, 235)});
}

TEST_CASE("gradcheck: gather and scatter_add", "[gradcheck]") {
  auto idx = index({0, 2, 2, 1, 0, 0}, {2, 3});
  check_grads(FN(gather(x[0], 1, idx)), {leaf({2, 3}, 240)});
  check_grads(FN(gather(x[0], 1, idx).square()), {leaf({2, 4}, 241)});
  auto idx0 = index({1, 0, -1, 0}, {2, 2});
  check_grads(FN(gather(x[0], 0, idx0)), {leaf({3, 2}, 242)});
  check_grads(FN(scatter_add(x[0], 1, idx, x[1])), {leaf({2, 3}, 243), leaf({2, 3}, 244)});
  check_grads(FN(scatter_add(x[0], 0, idx0, x[1]) * x[0]), {leaf({3, 2}, 245), leaf({2, 2}, 246)});
  check_grads(FN(scatter_add(x[0], 1, index({1, 1}, {2, 1}), x[1].square())), {leaf({2, 3}, 247), leaf({2, 1}, 248)});
}

TEST_CASE("gradcheck: index_select and index_add", "[gradcheck]") {
  auto idx = index({2, 0, 2, -3}, {4});
  check_grads(FN(index_select(x[0], 0, idx)), {leaf({3, 2}, 250)});
  check_grads(FN(index_select(x[0], 1, idx).square()), {leaf({2, 3}, 251)});
  check_grads(FN(index_select(x[0], -1, index({1}, {}))), {leaf({2, 3}, 252)});
  check_grads(FN(index_add(x[0], 0, idx, x[1])), {leaf({3, 2}, 253), leaf({4, 2}, 254)});
  check_grads(FN(index_add(x[0], 1, idx, x[1]) * x[0]), {leaf({2, 3}, 255), leaf({2, 4}, 256)});
}

TEST_CASE("gradcheck: pad (positive, negative, mixed)", "[gradcheck]") {
  check_grads(FN(pad(x[0], {1, 2})), {leaf({2, 3}, 260)});
  check_grads(FN(pad(x[0], {1, 0, 0, 2}, 1.5)), {leaf({2, 3}, 261)});
  check_grads(FN(pad(x[0], {-1, 0})), {leaf({2, 3}, 262)});
  check_grads(FN(pad(x[0], {-1, 2, 1, -1})), {leaf({3, 3}, 263)});
  check_grads(FN(pad(x[0], {0, -1, -1, 0}).square()), {leaf({3, 3}, 264)});
  check_grads(FN(pad(x[0], {1, 1, 1, 1, 1, 1})), {leaf({1, 2, 2}, 265)});
}

// ------------------------------------------------------------------ views and copies
TEST_CASE("gradcheck: reshape, view, flatten, squeeze, unsqueeze", "[gradcheck]") {
  check_grads(FN(x[0].reshape({3, 2})), {leaf({2, 3}, 270)});
  check_grads(FN(x[0].reshape({-1})), {leaf({2, 3}, 271)});
  check_grads(FN(x[0].t().reshape({6}) * x[1]), {leaf({2, 3}, 272), leaf({6}, 273)});  // copies
  check_grads(FN(x[0].view({3, 1, 2})), {leaf({2, 3}, 274)});
  check_grads(FN(x[0].view({-1}).square()), {leaf({2, 3}, 275)});
  check_grads(FN(x[0].flatten()), {leaf({2, 3, 2}, 276)});
  check_grads(FN(x[0].flatten(1)), {leaf({2, 3, 2}, 277)});
  check_grads(FN(x[0].flatten(0, 1).square()), {leaf({2, 3, 2}, 278)});
  check_grads(FN(x[0].squeeze()), {leaf({2, 1, 3, 1}, 279)});
  check_grads(FN(x[0].squeeze(1)), {leaf({2, 1, 3}, 280)});
  check_grads(FN(x[0].squeeze(-1) * x[0].squeeze(-1)), {leaf({3, 1}, 281)});
  check_grads(FN(x[0].unsqueeze(0)), {leaf({2, 3}, 282)});
  check_grads(FN(x[0].unsqueeze(-1) * x[1]), {leaf({2, 3}, 283), leaf({2}, 284)});
}

TEST_CASE("gradcheck: permute, transpose, expand", "[gradcheck]") {
  check_grads(FN(x[0].permute({2, 0, 1})), {leaf({2, 3, 2}, 290)});
  check_grads(FN(x[0].permute({1, 0}).square()), {leaf({2, 3}, 291)});
  check_grads(FN(x[0].transpose(0, 2)), {leaf({2, 3, 2}, 292)});
  check_grads(FN(x[0].t() * x[1]), {leaf({2, 3}, 293), leaf({3, 2}, 294)});
  check_grads(FN(x[0].expand({2, 3, 4})), {leaf({3, 1}, 295)});
  check_grads(FN(x[0].expand({2, 3}) * x[1]), {leaf({3}, 296), leaf({2, 3}, 297)});
  check_grads(FN(x[0].expand({3, -1}).square()), {leaf({1, 2}, 298)});
  check_grads(FN(x[0].expand({2, 2})), {leaf({}, 299)});
}

TEST_CASE("gradcheck: narrow, slice with step, select", "[gradcheck]") {
  check_grads(FN(x[0].narrow(1, 1, 2)), {leaf({2, 4}, 300)});
  check_grads(FN(x[0].narrow(0, -2, 2).square()), {leaf({3, 2}, 301)});
  check_grads(FN(x[0].slice(1, 0, 5, 2)), {leaf({2, 5}, 302)});
  check_grads(FN(x[0].slice(0, -4, -1, 2) * 3.0), {leaf({5, 2}, 303)});
  check_grads(FN(x[0].slice(1, 1, 100, 3).square()), {leaf({2, 7}, 304)});
  check_grads(FN(x[0].slice(0, 1, 3).slice(1, 0, 3, 2)), {leaf({3, 4}, 305)});
  check_grads(FN(x[0].select(0, 1)), {leaf({3, 2}, 306)});
  check_grads(FN(x[0].select(1, -1).square()), {leaf({2, 3}, 307)});
  check_grads(FN(x[0][0] * x[0][1]), {leaf({2, 3}, 308)});
}

TEST_CASE("gradcheck: clone and contiguous", "[gradcheck]") {
  check_grads(FN(x[0].clone()), {leaf({2, 3}, 310)});
  check_grads(FN(x[0].clone().square()), {leaf({2, 3}, 311)});
  check_grads(FN(x[0].t().contiguous()), {leaf({2, 3}, 312)});
  check_grads(FN(x[0].contiguous() * x[0]), {leaf({2, 3}, 313)});
}

// ------------------------------------------------------------------ compositions
TEST_CASE("gradcheck: a small network end to end", "[gradcheck]") {
  auto net = FN((gelu(x[0].matmul(x[1]) + x[2]).matmul(x[3])).log_softmax(1));
  check_grads(net, {leaf({3, 2}, 320), leaf({2, 4}, 321, -1, 1), leaf({4}, 322, -1, 1), leaf({4, 2}, 323, -1, 1)});
  auto norm_layer = FN([&] {
    auto mu = x[0].mean({1}, true);
    auto var = x[0].var({1}, false, true);
    return (x[0] - mu) * (var + 1e-5).rsqrt() * x[1];
  }());
  check_grads(norm_layer, {leaf({2, 4}, 324), leaf({4}, 325)});
}

// ------------------------------------------------------------------ float vs double forward
namespace {
template <typename T>
using GradcheckTable = std::vector<std::pair<std::string, std::function<Tensor<T>(const std::vector<Tensor<T>>&)>>>;

// Inputs: x[0] (2,3) signed away from 0, x[1] (2,3) positive, x[2] (3,2) any.
template <typename T>
GradcheckTable<T> forward_ops() {
  using Vt = std::vector<Tensor<T>>;
  return {
      {"add", [](const Vt& x) { return x[0] + x[1]; }},
      {"div", [](const Vt& x) { return x[0] / x[1]; }},
      {"pow", [](const Vt& x) { return x[1].pow(x[0]); }},
      {"pow_scalar", [](const Vt& x) { return x[1].pow(1.7); }},
      {"exp", [](const Vt& x) { return x[0].exp(); }},
      {"log", [](const Vt& x) { return x[1].log(); }},
      {"log1p", [](const Vt& x) { return x[1].log1p(); }},
      {"expm1", [](const Vt& x) { return x[0].expm1(); }},
      {"sqrt", [](const Vt& x) { return x[1].sqrt(); }},
      {"rsqrt", [](const Vt& x) { return x[1].rsqrt(); }},
      {"abs", [](const Vt& x) { return x[0].abs(); }},
      {"sin", [](const Vt& x) { return x[0].sin(); }},
      {"cos", [](const Vt& x) { return x[0].cos(); }},
      {"tanh", [](const Vt& x) { return x[0].tanh(); }},
      {"sigmoid", [](const Vt& x) { return x[0].sigmoid(); }},
      {"relu", [](const Vt& x) { return x[0].relu(); }},
      {"leaky_relu", [](const Vt& x) { return x[0].leaky_relu(0.1); }},
      {"elu", [](const Vt& x) { return elu(x[0]); }},
      {"gelu", [](const Vt& x) { return gelu(x[0]); }},
      {"gelu_tanh", [](const Vt& x) { return gelu(x[0], "tanh"); }},
      {"silu", [](const Vt& x) { return silu(x[0]); }},
      {"softplus", [](const Vt& x) { return softplus(x[0]); }},
      {"erf", [](const Vt& x) { return x[0].erf(); }},
      {"clamp", [](const Vt& x) { return x[0].clamp(-0.5, 0.5); }},
      {"var", [](const Vt& x) { return x[0].var({1}); }},
      {"std", [](const Vt& x) { return x[0].std(); }},
      {"logsumexp", [](const Vt& x) { return x[0].logsumexp({0}); }},
      {"norm", [](const Vt& x) { return x[0].norm(2, {1}); }},
      {"softmax", [](const Vt& x) { return x[0].softmax(1); }},
      {"log_softmax", [](const Vt& x) { return x[0].log_softmax(0); }},
      {"matmul", [](const Vt& x) { return x[0].matmul(x[2]); }},
      {"cdist", [](const Vt& x) { return cdist(x[0], x[1]); }},
  };
}
}  // namespace

TEMPLATE_TEST_CASE("forward: float and double agree", "[gradcheck][forward]", float, double) {
  auto a = signed_leaf({2, 3}, 330).detach(), b = leaf({2, 3}, 331, 0.2, 2.0).detach(),
       c = leaf({3, 2}, 332).detach();
  std::vector<Tensor<TestType>> xt{a.to<TestType>(), b.to<TestType>(), c.to<TestType>()};
  V xd{a, b, c};
  auto ops_t = forward_ops<TestType>();
  auto ops_d = forward_ops<double>();
  const double tol = std::is_same_v<TestType, float> ? 2e-5 : 1e-14;
  for (size_t i = 0; i < ops_t.size(); ++i) {
    INFO("op " << ops_t[i].first);
    auto yt = ops_t[i].second(xt).template to<double>();
    auto yd = ops_d[i].second(xd);
    LATENT_REQUIRE_CLOSE(yt, yd, tol, tol);
  }
}
