// Convolutions (ops/conv.hpp, nn/conv.hpp): values against a direct loop, the adjoint
// identities behind the backward passes, first- and second-order gradchecks in double,
// argument errors, and the modules (shapes, default init, repr). PyTorch parity of the same
// ops: test_parity_conv.cpp.
#include <latent/nn/conv.hpp>

#include "helpers.hpp"

using namespace latent;
using Catch::Contains;
using latent::testing::check_grads;
using latent::testing::leaf;
using V = std::vector<TensorD>;

#define FN(...) [&](const V& x) -> TensorD { return __VA_ARGS__; }

namespace {

// conv2d by its definition, one multiply-add at a time.
TensorD direct_conv2d(const TensorD& x, const TensorD& w, const TensorD& b, IntPair s, IntPair p, IntPair d,
                      int64_t groups) {
  int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  int64_t O = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3], Cg = C / groups, Og = O / groups;
  int64_t oh = (H + 2 * p.h - d.h * (kh - 1) - 1) / s.h + 1, ow = (W + 2 * p.w - d.w * (kw - 1) - 1) / s.w + 1;
  std::vector<double> out(N * O * oh * ow);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t z = 0; z < ow; ++z) {
          double acc = b.defined() ? b.at({o}) : 0.0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t iy = y * s.h - p.h + i * d.h, ix = z * s.w - p.w + j * d.w;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                  acc += w.at({o, c, i, j}) * x.at({n, (o / Og) * Cg + c, iy, ix});
              }
          out[((n * O + o) * oh + y) * ow + z] = acc;
        }
  return from_vector<double>(out, {N, O, oh, ow});
}

double dot(const TensorD& a, const TensorD& b) { return sum(mul(a, b)).item(); }

}  // namespace

// ------------------------------------------------------------------ forward values
TEST_CASE("conv: unfold lays out taps as rows and blocks as columns", "[conv]") {
  // 0..8 in a 3x3 plane, 2x2 kernel: block (0, 0) reads 0 1 3 4, block (1, 1) reads 4 5 7 8.
  auto x = arange<double>(0, 9).reshape({1, 1, 3, 3});
  auto cols = unfold(x, 2);
  REQUIRE(cols.shape() == Shape{1, 4, 4});
  REQUIRE(cols.to_vector() == std::vector<double>{0, 1, 3, 4, 1, 2, 4, 5, 3, 4, 6, 7, 4, 5, 7, 8});
  // Padding reads zeros; stride 2 picks every other block.
  auto padded = unfold(x, 2, 1, 1, 2);
  REQUIRE(padded.shape() == Shape{1, 4, 4});
  REQUIRE(padded.to_vector() == std::vector<double>{0, 0, 0, 4, 0, 0, 3, 5, 0, 1, 0, 7, 0, 2, 6, 8});
  // Unbatched input gives unbatched columns.
  REQUIRE(unfold(x.reshape({1, 3, 3}), 2).shape() == Shape{4, 4});
}

TEST_CASE("conv: fold sums overlaps and is unfold's adjoint", "[conv]") {
  // Folding all-ones columns counts how many blocks cover each pixel.
  auto counts = fold(ones<double>({1, 4, 4}), {3, 3}, 2);
  REQUIRE(counts.to_vector() == std::vector<double>{1, 2, 1, 2, 4, 2, 1, 2, 1});

  // <unfold(x), y> == <x, fold(y)> for every geometry (what makes each the other's backward).
  struct Geo {
    IntPair k, d, p, s;
  };
  for (auto g : {Geo{3, 1, 0, 1}, Geo{{2, 3}, {2, 1}, {1, 2}, {2, 1}}, Geo{2, 1, 1, 3}, Geo{{3, 1}, 2, {2, 0}, 2}}) {
    Generator gen(7);
    auto x = randn<double>({2, 3, 7, 6}, gen);
    auto cols = unfold(x, g.k, g.d, g.p, g.s);
    auto y = randn<double>(cols.shape(), gen);
    INFO("kernel " << g.k << " dilation " << g.d << " padding " << g.p << " stride " << g.s);
    REQUIRE(dot(cols, y) == Approx(dot(x, fold(y, {7, 6}, g.k, g.d, g.p, g.s))).epsilon(1e-12));
  }
}

TEST_CASE("conv: conv2d and conv_transpose2d match direct loops and each other", "[conv]") {
  Generator gen(3);
  struct Cfg {
    IntPair s, p, d;
    int64_t groups;
    bool bias;
  };
  for (auto c : {Cfg{1, 0, 1, 1, true}, Cfg{2, 1, 1, 1, false}, Cfg{{2, 1}, {1, 2}, {2, 3}, 2, true},
                 Cfg{1, 1, 1, 4, true}}) {
    auto x = randn<double>({2, 4, 7, 8}, gen);
    auto w = randn<double>({4, 4 / c.groups, 3, 2}, gen);
    auto b = c.bias ? randn<double>({4}, gen) : TensorD();
    INFO("stride " << c.s << " padding " << c.p << " dilation " << c.d << " groups " << c.groups);
    auto y = conv2d(x, w, b, c.s, c.p, c.d, c.groups);
    LATENT_REQUIRE_CLOSE(y, direct_conv2d(x, w, b, c.s, c.p, c.d, c.groups), 1e-12, 1e-12);
    REQUIRE(y.is_contiguous());

    // conv_transpose2d is conv2d's input gradient: <conv2d(x, w), g> == <x, conv_transpose2d(g, w)>,
    // with output_padding restoring the rows a strided conv2d leaves unread.
    auto g = randn<double>(y.shape(), gen);
    IntPair op(7 - ((y.shape()[2] - 1) * c.s.h - 2 * c.p.h + c.d.h * 2 + 1),
               8 - ((y.shape()[3] - 1) * c.s.w - 2 * c.p.w + c.d.w * 1 + 1));
    auto xt = conv_transpose2d(g, w, TensorD(), c.s, c.p, op, c.groups, c.d);
    REQUIRE(xt.shape() == x.shape());
    REQUIRE(dot(conv2d(x, w, TensorD(), c.s, c.p, c.d, c.groups), g) == Approx(dot(x, xt)).epsilon(1e-12));
  }
  // Maps of 256+ blocks take the per-sample path: with columns kept for the weight's
  // gradient or in a scratch, across samples (N >= threads) or one sample at a time.
  for (int64_t batch : {1, 3}) {
    for (bool weight_grad : {false, true}) {
      auto x = randn<double>({batch, 4, 17, 16}, gen);
      auto w = randn<double>({6, 2, 3, 3}, gen);
      auto b = randn<double>({6}, gen);
      if (weight_grad) w.requires_grad_();
      INFO("batch " << batch << ", weight requires grad " << weight_grad);
      auto y = conv2d(x, w, b, 1, {1, 2}, {1, 2}, 2);
      REQUIRE(y.shape() == Shape{batch, 6, 17, 16});
      LATENT_REQUIRE_CLOSE(y, direct_conv2d(x, w.detach(), b, 1, {1, 2}, {1, 2}, 2), 1e-12, 1e-12);
    }
  }
  // Unbatched (C, H, W) input gives an unbatched output with the batched values.
  auto x = randn<double>({3, 5, 5}, gen), w = randn<double>({2, 3, 3, 3}, gen);
  auto y = conv2d(x, w, TensorD(), 1, 1);
  REQUIRE(y.shape() == Shape{2, 5, 5});
  LATENT_REQUIRE_CLOSE(y, conv2d(x.unsqueeze(0), w, TensorD(), 1, 1).squeeze(0), 0, 0);
}

TEST_CASE("conv: pad_reflect mirrors without repeating the edge", "[conv]") {
  auto x = arange<double>(0, 4).reshape({1, 4});
  REQUIRE(pad_reflect(x, {2, 3}).to_vector() == std::vector<double>{2, 1, 0, 1, 2, 3, 2, 1, 0});
  auto plane = arange<double>(0, 6).reshape({1, 2, 3});
  auto p = pad_reflect(plane, {1, 1, 1, 0});  // W by 1 on both sides, H by 1 on top
  REQUIRE(p.shape() == Shape{1, 3, 5});
  REQUIRE(p.to_vector() == std::vector<double>{4, 3, 4, 5, 4, 1, 0, 1, 2, 1, 4, 3, 4, 5, 4});
  REQUIRE(pad(plane, {1, 1, 1, 0}, "reflect").to_vector() == p.to_vector());
  REQUIRE(pad(plane, {1, 1}, "constant", 7.0).to_vector() == pad(plane, {1, 1}, 7.0).to_vector());
  // The backward adds each mirrored element back where it came from: 0 1 2 3 padded by
  // (2, 3) reads element 1 three times and element 2 three times.
  auto xl = arange<double>(0, 4).reshape({1, 4}).requires_grad_();
  pad_reflect(xl, {2, 3}).sum().backward();
  REQUIRE(xl.grad().to_vector() == std::vector<double>{2, 3, 3, 1});
}

// ------------------------------------------------------------------ gradients, both orders
TEST_CASE("conv: unfold and fold gradcheck and gradgradcheck", "[conv]") {
  check_grads(FN(unfold(x[0], 2)), {leaf({2, 2, 4, 3}, 1)});
  check_grads(FN(unfold(x[0], {2, 3}, {2, 1}, {1, 2}, {2, 1})), {leaf({1, 2, 5, 4}, 2)});
  check_grads(FN(unfold(x[0], 2, 1, 1, 3)), {leaf({3, 4, 4}, 3)});  // stride above kernel, unbatched
  check_grads(FN(fold(x[0], {3, 4}, 2)), {leaf({2, 8, 6}, 4)});
  check_grads(FN(fold(x[0], {5, 4}, {2, 3}, {2, 1}, {1, 2}, {2, 1})), {leaf({1, 12, 18}, 5)});
  check_grads(FN(fold(x[0], {4, 4}, 2, 1, 1, 3)), {leaf({8, 4}, 6)});
  // Composed with a non-linearity, the second derivative is not zero.
  check_grads(FN(fold(unfold(x[0], 2, 1, 1).square(), {3, 4}, 2, 1, 1)), {leaf({1, 2, 3, 4}, 7)});
}

TEST_CASE("conv: conv2d gradcheck and gradgradcheck", "[conv]") {
  SECTION("stride and padding") {
    check_grads(FN(conv2d(x[0], x[1], x[2], 2, 1)), {leaf({2, 2, 5, 5}, 1), leaf({3, 2, 3, 3}, 2), leaf({3}, 3)});
  }
  SECTION("rectangular kernel, stride, padding and dilation") {
    check_grads(FN(conv2d(x[0], x[1], x[2], {2, 1}, {1, 2}, {2, 3})),
                {leaf({1, 2, 6, 5}, 4), leaf({2, 2, 2, 2}, 5), leaf({2}, 6)});
  }
  SECTION("groups, no bias") {
    check_grads(FN(conv2d(x[0], x[1], TensorD(), 1, 1, 1, 2)), {leaf({2, 4, 4, 3}, 7), leaf({4, 2, 2, 3}, 8)});
  }
  SECTION("reflect padding (as nn::Conv2d runs it), unbatched") {
    check_grads(FN(conv2d(pad_reflect(x[0], {2, 2, 1, 1}), x[1], x[2], 2)),
                {leaf({2, 4, 4}, 9), leaf({3, 2, 3, 3}, 10), leaf({3}, 11)});
  }
  SECTION("16x16 output: the per-sample path, across samples") {
    check_grads(FN(conv2d(x[0], x[1], x[2], 1, 1)), {leaf({2, 2, 16, 16}, 15), leaf({2, 2, 3, 3}, 16), leaf({2}, 17)});
  }
  SECTION("16x16 output: the per-sample path, one sample, groups and dilation, no bias") {
    check_grads(FN(conv2d(x[0], x[1], TensorD(), 1, 1, 2, 2)), {leaf({1, 4, 18, 18}, 18), leaf({2, 2, 3, 3}, 19)});
  }
  SECTION("second order through a non-linearity (what a gradient penalty differentiates)") {
    check_grads(FN(conv2d(conv2d(x[0], x[1], TensorD(), 1, 1).tanh(), x[2], TensorD(), 2)),
                {leaf({1, 2, 4, 4}, 12), leaf({2, 2, 3, 3}, 13, -1, 1), leaf({1, 2, 2, 2}, 14)});
  }
}

TEST_CASE("conv: pad_reflect gradcheck and gradgradcheck", "[conv]") {
  check_grads(FN(pad_reflect(x[0], {2, 1, 1, 2})), {leaf({2, 3, 4}, 1)});
  check_grads(FN(pad_reflect(x[0], {1, 2, 2, 0, 1, 1})), {leaf({1, 2, 3, 4}, 2)});
  check_grads(FN(pad_reflect(x[0], {2, 1}).square()), {leaf({2, 3}, 3)});
}

TEST_CASE("conv: conv_transpose2d gradcheck and gradgradcheck", "[conv]") {
  SECTION("stride 2 with output_padding") {
    check_grads(FN(conv_transpose2d(x[0], x[1], x[2], 2, 1, 1)),
                {leaf({2, 2, 3, 3}, 1), leaf({2, 3, 3, 3}, 2), leaf({3}, 3)});
  }
  SECTION("groups, rectangular stride and output_padding, no bias") {
    check_grads(FN(conv_transpose2d(x[0], x[1], TensorD(), {3, 2}, {1, 0}, {2, 1}, 2)),
                {leaf({1, 4, 2, 3}, 4), leaf({4, 1, 3, 2}, 5)});
  }
  SECTION("dilation, output_padding below dilation, unbatched") {
    check_grads(FN(conv_transpose2d(x[0], x[1], x[2], 1, 1, 1, 1, 2)),
                {leaf({2, 3, 3}, 6), leaf({2, 2, 2, 3}, 7), leaf({2}, 8)});
  }
  SECTION("second order through a non-linearity") {
    check_grads(FN(conv_transpose2d(x[0].tanh(), x[1], TensorD(), 2, 1).square()),
                {leaf({1, 2, 2, 2}, 9), leaf({2, 2, 4, 4}, 10)});
  }
}

// ------------------------------------------------------------------ errors
TEST_CASE("conv: argument errors name the op, the shapes and what was expected", "[conv]") {
  auto x = zeros<float>({2, 4, 6, 6});
  auto w = zeros<float>({8, 4, 3, 3});
  CHECK_THROWS_WITH(conv2d(zeros<float>({4, 6}), w), Contains("conv2d: expected a 3-D (C, H, W) or 4-D") &&
                                                         Contains("[4, 6]"));
  CHECK_THROWS_WITH(conv2d(x, zeros<float>({8, 36})), Contains("conv2d: weight must be 4-D, got shape [8, 36]"));
  CHECK_THROWS_WITH(conv2d(x, zeros<float>({8, 3, 3, 3})),
                    Contains("given groups=1, weight of shape [8, 3, 3, 3] expects the input to have 3 channels, "
                             "but got 4"));
  CHECK_THROWS_WITH(conv2d(x, zeros<float>({6, 2, 3, 3}), TensorF(), 1, 0, 1, 4),
                    Contains("out_channels (weight shape [6, 2, 3, 3]) must be divisible by groups = 4"));
  CHECK_THROWS_WITH(conv2d(x, w, zeros<float>({7})),
                    Contains("conv2d: expected bias of shape [8] (one per output channel), got [7]"));
  CHECK_THROWS_WITH(conv2d(x, w, TensorF(), 0), Contains("conv2d: stride must be positive, got (0, 0)"));
  CHECK_THROWS_WITH(conv2d(x, w, TensorF(), 1, {0, -1}), Contains("conv2d: padding must be non-negative"));
  CHECK_THROWS_WITH(conv2d(x, w, TensorF(), 1, 0, 4),
                    Contains("conv2d: the output would be (0, 0) for input shape [2, 4, 6, 6]") &&
                        Contains("kernel cannot be larger than the padded input"));
  CHECK_THROWS_WITH(conv2d(x, w, TensorF(), 1, 0, 1, 0), Contains("conv2d: groups must be positive, got 0"));

  auto wt = zeros<float>({4, 3, 3, 3});
  CHECK_THROWS_WITH(conv_transpose2d(zeros<float>({2, 5, 6, 6}), wt),
                    Contains("conv_transpose2d: weight of shape [4, 3, 3, 3]") &&
                        Contains("expects the input to have 4 channels, but got 5"));
  CHECK_THROWS_WITH(conv_transpose2d(x, wt, TensorF(), 2, 1, 2),
                    Contains("conv_transpose2d: output_padding (2, 2) must be non-negative and smaller than either "
                             "stride (2, 2) or dilation (1, 1)"));
  CHECK_THROWS_WITH(conv_transpose2d(x, wt, TensorF(), 1, 0, 0, 3),
                    Contains("conv_transpose2d: in_channels 4 must be divisible by groups = 3"));
  CHECK_THROWS_WITH(conv_transpose2d(zeros<float>({1, 4, 1, 1}), wt, TensorF(), 1, 2),
                    Contains("conv_transpose2d: given input of spatial size (1, 1)") &&
                        Contains("the output would be (-1, -1)"));
  CHECK_THROWS_WITH(conv_transpose2d(x, wt, zeros<float>({4})),
                    Contains("conv_transpose2d: expected bias of shape [3]"));

  CHECK_THROWS_WITH(unfold(zeros<float>({2, 3, 4, 4}), 5),
                    Contains("unfold: given an input with spatial size (4, 4), kernel_size=(5, 5)") &&
                        Contains("the array of sliding blocks would be (0, 0)"));
  CHECK_THROWS_WITH(unfold(zeros<float>({4, 4}), 2), Contains("unfold: expected a 3-D (C, H, W) or 4-D"));
  CHECK_THROWS_WITH(fold(zeros<float>({1, 10, 4}), {3, 3}, 2),
                    Contains("fold: expected size of input's dimension 1 (10, input shape [1, 10, 4]) to be a "
                             "non-zero multiple of the kernel size (2, 2) = 4"));
  CHECK_THROWS_WITH(fold(zeros<float>({1, 8, 5}), {3, 3}, 2),
                    Contains("fold: given output_size=(3, 3)") &&
                        Contains("expected size of input's last dimension to be 4 ((2, 2) blocks), but got 5"));

  CHECK_THROWS_WITH(pad_reflect(zeros<float>({1, 3, 3}), {3, 0}),
                    Contains("pad_reflect: reflect padding (3, 0) of dim 2 must be less than that dim's size 3"));
  CHECK_THROWS_WITH(pad_reflect(zeros<float>({1, 3, 3}), {1, -1}),
                    Contains("pad_reflect: reflect padding must be non-negative"));
  CHECK_THROWS_WITH(pad_reflect(zeros<float>({3}), {1, 1, 1, 1}), Contains("pad_reflect: padding length 4"));
  CHECK_THROWS_WITH(pad(zeros<float>({3, 3}), {1, 1}, "circular"), Contains("pad: mode 'circular' is not supported"));
  CHECK_THROWS_WITH(pad(zeros<float>({3, 3}), {1, 1}, "reflect", 1.0),
                    Contains("pad: padding mode 'reflect' takes no fill value"));

  CHECK_THROWS_WITH(nn::Conv2d<float>(6, 4, 3, 1, 0, 1, 4), Contains("Conv2d: in_channels (6) must be divisible by "
                                                                     "groups (4)"));
  CHECK_THROWS_WITH(nn::Conv2d<float>(4, 4, 3, {.padding_mode = "circular"}),
                    Contains("Conv2d: padding_mode must be 'zeros' or 'reflect', got 'circular'"));
  CHECK_THROWS_WITH(nn::ConvTranspose2d<float>(4, 6, 3, {.stride = 2, .output_padding = 2}),
                    Contains("ConvTranspose2d: output_padding (2, 2) must be non-negative and smaller"));
  CHECK_THROWS_WITH(nn::ConvTranspose2d<float>(4, 6, 0), Contains("ConvTranspose2d: kernel_size must be positive"));
}

// ------------------------------------------------------------------ modules
TEST_CASE("conv: Conv2d and ConvTranspose2d shapes, parameters and repr", "[conv]") {
  nn::Conv2d<float> conv(1, 64, 4, 2, 1);
  REQUIRE(conv.weight.shape() == Shape{64, 1, 4, 4});
  REQUIRE(conv.bias.shape() == Shape{64});
  REQUIRE(conv(zeros<float>({5, 1, 28, 28})).shape() == Shape{5, 64, 14, 14});
  auto sd = conv.state_dict();
  REQUIRE(sd.size() == 2);
  REQUIRE(sd[0].first == "weight");
  REQUIRE(sd[1].first == "bias");
  std::ostringstream repr;
  repr << conv;
  REQUIRE(repr.str() == "Conv2d(1, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))");

  nn::Conv2d<float> fancy(4, 6, IntPair{3, 2}, {.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 3}, .groups = 2,
                                                .bias = false, .padding_mode = "reflect"});
  REQUIRE(fancy.weight.shape() == Shape{6, 2, 3, 2});
  REQUIRE(!fancy.bias.defined());
  REQUIRE(fancy.parameters().size() == 1);
  REQUIRE(fancy.extra_repr() == "4, 6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 3), "
                                "groups=2, bias=False, padding_mode=reflect");
  // Reflect mode pads the input by reflection, then convolves without padding (as PyTorch).
  Generator gen(5);
  auto x = randn<float>({2, 4, 7, 6}, gen);
  auto y = fancy(x);
  LATENT_REQUIRE_CLOSE(y, conv2d(pad_reflect(x, {2, 2, 1, 1}), fancy.weight, TensorF(), {2, 1}, 0, {2, 3}, 2), 0, 0);
  REQUIRE(y.shape() == Shape{2, 6, 3, 7});  // padded to 9x10

  nn::ConvTranspose2d<float> up(128, 64, 4, 2, 1);
  REQUIRE(up.weight.shape() == Shape{128, 64, 4, 4});
  REQUIRE(up(zeros<float>({3, 128, 7, 7})).shape() == Shape{3, 64, 14, 14});
  REQUIRE(up.extra_repr() == "128, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)");
  nn::ConvTranspose2d<float> odd(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2,
                                           .bias = false, .dilation = 2});
  REQUIRE(odd.weight.shape() == Shape{4, 3, 3, 3});
  REQUIRE(odd(zeros<float>({4, 5, 5})).shape() == Shape{6, 12, 12});  // (5-1)*2 - 2 + 2*2 + 1 + 1
  REQUIRE(odd.extra_repr() == "4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
                              "output_padding=(1, 1), groups=2, bias=False");
  // A module with a parameter gradient end to end.
  auto loss = up(randn<float>({2, 128, 7, 7}, gen)).square().mean();
  loss.backward();
  REQUIRE(up.weight.grad().shape() == up.weight.shape());
  REQUIRE(up.bias.grad().shape() == Shape{64});
}

TEST_CASE("conv: default init follows PyTorch's bounds", "[conv]") {
  // Conv2d: fan_in = in/groups * kh * kw; ConvTranspose2d: fan_in = weight.size(1) * kh * kw
  // = out/groups * kh * kw (PyTorch's _calculate_fan_in_and_fan_out of the weight).
  auto within = [](const TensorF& t, double bound) {
    auto v = t.to_vector();
    double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    INFO("range [" << lo << ", " << hi << "], bound " << bound);
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    // Many uniform draws come close to both ends: the bound is not a looser one.
    CHECK(lo < -0.8 * bound);
    CHECK(hi > 0.8 * bound);
  };
  nn::Conv2d<float> conv(64, 128, 4, {.groups = 2});
  within(conv.weight, 1 / std::sqrt(32.0 * 16));
  within(conv.bias, 1 / std::sqrt(32.0 * 16));
  nn::ConvTranspose2d<float> up(256, 96, 3, {.groups = 2});
  within(up.weight, 1 / std::sqrt(48.0 * 9));
  within(up.bias, 1 / std::sqrt(48.0 * 9));
}
