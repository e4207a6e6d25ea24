// Pooling and resampling (nn/functional/pooling.hpp, nn/pooling.hpp): values worked out by
// hand, output shapes (ceil_mode), first- and second-order gradchecks in double, argument
// errors, the parallel path against per-plane runs, and the modules. PyTorch parity of the
// same ops: test_parity_pooling.cpp.
#include <latent/nn/pooling.hpp>

#include "helpers.hpp"

using namespace latent;
using latent::testing::check_grads;
using latent::testing::leaf;
namespace fn = latent::nn::functional;
using V = std::vector<TensorD>;

#define FN(...) [&](const V& x) -> TensorD { return __VA_ARGS__; }

namespace {
TensorD grid(int64_t h, int64_t w) { return arange<double>(0, static_cast<double>(h * w)).reshape({1, 1, h, w}); }
std::vector<double> values(const TensorD& t) { return t.to_vector(); }
}  // namespace

// ------------------------------------------------------------------ forward values
TEST_CASE("pooling: max_pool2d values, indices, ties, NaN, padding", "[pooling]") {
  // 0..15 in a 4x4 grid: each 2x2 window's max is its bottom-right element.
  auto [out, idx] = fn::max_pool2d_with_indices(grid(4, 4), 2);
  REQUIRE(out.shape() == Shape{1, 1, 2, 2});
  REQUIRE(values(out) == std::vector<double>{5, 7, 13, 15});
  REQUIRE(idx.to_vector() == std::vector<int64_t>{5, 7, 13, 15});

  // Ties go to the first element in row-major order; a NaN wins over any number.
  double nan = std::numeric_limits<double>::quiet_NaN();
  auto t = tensor<double>({1, 3, 3, 0, 2, 2, 2, 2, 1, nan, 0, 5, nan, 2, 9, 9}, {1, 4, 4});
  auto [m, i] = fn::max_pool2d_with_indices(t, 2);  // (C, H, W) input
  REQUIRE(m.shape() == Shape{1, 2, 2});
  auto mv = values(m);
  REQUIRE(mv[0] == 3);
  REQUIRE(mv[1] == 3);  // window {3, 0, 2, 2}: only one 3
  REQUIRE(std::isnan(mv[2]));
  REQUIRE(mv[3] == 9);
  REQUIRE(i.to_vector() == std::vector<int64_t>{1, 2, 12, 14});

  // Padding never wins, even over negative values; indices stay in the unpadded plane.
  auto neg = -grid(3, 3) - 1.0;
  auto [pm, pi] = fn::max_pool2d_with_indices(neg, 2, 2, 1);
  REQUIRE(values(pm) == std::vector<double>{-1, -2, -4, -5});
  REQUIRE(pi.to_vector() == std::vector<int64_t>{0, 1, 3, 4});

  // Dilation 2 samples every other element: window at (0,0) of a 5x5 grid reads 0, 2, 10, 12.
  auto [dm, di] = fn::max_pool2d_with_indices(grid(5, 5), 2, 1, 0, 2);
  REQUIRE(dm.shape() == Shape{1, 1, 3, 3});
  REQUIRE(values(dm)[0] == 12);
  REQUIRE(di.to_vector()[8] == 24);

  // Without a gradient to record, max_pool2d skips the indices (its own kernel): same values.
  Generator gen(9);
  auto r = randn<double>({2, 3, 9, 8}, gen);
  r.data()[5] = nan;
  r.data()[40] = -std::numeric_limits<double>::infinity();
  r.data()[100] = r.data()[101];
  using Config = std::tuple<int, int, int, int, bool>;  // kernel, stride, padding, dilation, ceil_mode
  for (auto [k, s, p, d, ceil] : {Config{2, 2, 0, 1, false}, Config{3, 2, 1, 1, true}, Config{3, 1, 1, 2, false},
                                  Config{2, 3, 1, 3, true}}) {
    INFO("kernel " << k << " stride " << s << " padding " << p << " dilation " << d << " ceil " << ceil);
    LATENT_REQUIRE_CLOSE(fn::max_pool2d(r, k, s, p, d, ceil), fn::max_pool2d_with_indices(r, k, s, p, d, ceil).first,
                         0, 0);
  }
}

TEST_CASE("pooling: avg_pool2d with and without padding in the divisor, divisor_override", "[pooling]") {
  auto x = grid(3, 3);  // 0..8
  REQUIRE(values(fn::avg_pool2d(x, 2, 1)) == std::vector<double>{2, 3, 5, 6});
  // 2x2 windows, stride 2, padding 1: corners see one real element each.
  auto inc = fn::avg_pool2d(x, 2, 2, 1, false, true);
  REQUIRE(values(inc) == std::vector<double>{0.0 / 4, 3.0 / 4, 9.0 / 4, 24.0 / 4});
  auto exc = fn::avg_pool2d(x, 2, 2, 1, false, false);
  REQUIRE(values(exc) == std::vector<double>{0, 1.5, 4.5, 6});
  auto div = fn::avg_pool2d(x, 2, 2, 1, false, true, 2);
  REQUIRE(values(div) == std::vector<double>{0, 1.5, 4.5, 12});
}

TEST_CASE("pooling: adaptive_avg_pool2d windows overlap for non-divisible sizes", "[pooling]") {
  // 3 -> 2: rows [0, 2) and [1, 3), the same for columns.
  auto y = fn::adaptive_avg_pool2d(grid(3, 3), 2);
  REQUIRE(values(y) == std::vector<double>{2, 3, 5, 6});
  // 2 -> 3 upsamples: windows [0,1), [0,2), [1,2).
  auto z = fn::adaptive_avg_pool2d(tensor<double>({0, 2}, {1, 1, 1, 2}), {1, 3});
  REQUIRE(values(z) == std::vector<double>{0, 1, 2});
  REQUIRE(fn::adaptive_avg_pool2d(grid(3, 3), {0, 2}).shape() == Shape{1, 1, 0, 2});
}

TEST_CASE("pooling: interpolate nearest, nearest-exact, bilinear, area", "[pooling]") {
  auto x = tensor<double>({0, 1, 2, 3}, {1, 1, 2, 2});
  auto near = fn::interpolate(x, {.scale_factor = {2}});
  REQUIRE(values(near) == std::vector<double>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3});
  // Legacy nearest floors dst * in/out: 3 -> 2 picks 0, 1 (floor(1 * 1.5)); nearest-exact picks
  // floor((dst + 0.5) * in/out): 0, 2.
  auto row = tensor<double>({10, 11, 12}, {1, 1, 1, 3});
  REQUIRE(values(fn::interpolate(row, {.size = {1, 2}})) == std::vector<double>{10, 11});
  REQUIRE(values(fn::interpolate(row, {.size = {1, 2}, .mode = "nearest-exact"})) == std::vector<double>{10, 12});

  auto corners = fn::interpolate(x, {.size = {3, 3}, .mode = "bilinear", .align_corners = true});
  REQUIRE(values(corners) == std::vector<double>{0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3});
  // align_corners=false with scale 2: source = (dst + 0.5) / 2 - 0.5, clamped at 0 and at the edge.
  auto half = fn::interpolate(tensor<double>({0, 4}, {1, 1, 1, 2}), {.size = {1, 4}, .mode = "bilinear"});
  REQUIRE(values(half) == std::vector<double>{0, 1, 3, 4});
  auto area = fn::interpolate(grid(4, 4), {.scale_factor = {0.5}, .mode = "area"});
  REQUIRE(values(area) == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  // A scale_factor given to the kernel (not recomputed) sets the source step, 1/1.7 here;
  // recomputing it from the sizes steps by 5/8 instead.
  auto five = arange<double>(0, 5).reshape({1, 1, 1, 5});
  REQUIRE(values(fn::interpolate(five, {.scale_factor = {1, 1.7}})) == std::vector<double>{0, 0, 1, 1, 2, 2, 3, 4});
  REQUIRE(values(fn::interpolate(five, {.scale_factor = {1, 1.7}, .recompute_scale_factor = true})) ==
          std::vector<double>{0, 0, 1, 1, 2, 3, 3, 4});
}

TEST_CASE("pooling: pixel_shuffle places channel c*r*r + i*r + j at (h*r + i, w*r + j)", "[pooling]") {
  Generator gen(3);
  auto x = randn<double>({2, 12, 2, 3}, gen);
  auto y = fn::pixel_shuffle(x, 2);
  REQUIRE(y.shape() == Shape{2, 3, 4, 6});
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        REQUIRE(y.at({1, c, 1 * 2 + i, 2 * 2 + j}) == x.at({1, c * 4 + i * 2 + j, 1, 2}));
  LATENT_REQUIRE_CLOSE(fn::pixel_unshuffle(y, 2), x, 0, 0);
  REQUIRE(fn::pixel_shuffle(randn<double>({9, 2, 2}, gen), 3).shape() == Shape{1, 6, 6});
  REQUIRE(fn::pixel_unshuffle(randn<double>({2, 1, 3, 4, 6}, gen), 2).shape() == Shape{2, 1, 12, 2, 3});
}

// ------------------------------------------------------------------ shapes
TEST_CASE("pooling: output shapes with stride, padding, dilation and ceil_mode", "[pooling]") {
  auto x = zeros<double>({2, 3, 5, 5});
  REQUIRE(fn::max_pool2d(x, 2).shape() == Shape{2, 3, 2, 2});
  REQUIRE(fn::max_pool2d(x, 2, 2, 0, 1, true).shape() == Shape{2, 3, 3, 3});
  // ceil_mode with padding 1: a fourth window would start in the right padding, so it is dropped.
  REQUIRE(fn::max_pool2d(x, 2, 2, 1, 1, true).shape() == Shape{2, 3, 3, 3});
  REQUIRE(fn::max_pool2d(x, {3, 2}, {1, 2}, {1, 0}, {2, 1}).shape() == Shape{2, 3, 3, 2});
  REQUIRE(fn::avg_pool2d(x, 3, 2, 1).shape() == Shape{2, 3, 3, 3});
  REQUIRE(fn::avg_pool2d(zeros<double>({3, 6, 6}), 4, 3, 0, true).shape() == Shape{3, 2, 2});
  REQUIRE(fn::avg_pool2d(zeros<double>({3, 6, 6}), 4, 3, 0, false).shape() == Shape{3, 1, 1});
  REQUIRE(fn::adaptive_avg_pool2d(x, {4, 1}).shape() == Shape{2, 3, 4, 1});
  REQUIRE(fn::interpolate(x, {.scale_factor = {1.7}}).shape() == Shape{2, 3, 8, 8});
  REQUIRE(fn::interpolate(x, {.size = {7, 3}, .mode = "bilinear"}).shape() == Shape{2, 3, 7, 3});
  REQUIRE(fn::interpolate(x, {.scale_factor = {2, 0.5}, .mode = "bilinear"}).shape() == Shape{2, 3, 10, 2});
  // An empty batch gives an empty result.
  REQUIRE(fn::max_pool2d(zeros<double>({0, 3, 4, 4}), 2).shape() == Shape{0, 3, 2, 2});
}

// ------------------------------------------------------------------ gradients
TEST_CASE("pooling: max_pool2d gradients, first and second order", "[pooling][gradcheck]") {
  check_grads(FN(fn::max_pool2d(x[0], 2)), {leaf({1, 2, 4, 4}, 1)});
  check_grads(FN(fn::max_pool2d(x[0], 3, 2, 1)), {leaf({1, 2, 5, 6}, 2)});  // overlapping windows
  check_grads(FN(fn::max_pool2d(x[0], 3, 1)), {leaf({1, 1, 5, 5}, 3)});     // one element wins many windows
  check_grads(FN(fn::max_pool2d(x[0], {2, 3}, {2, 1}, {1, 1}, {2, 1}, true)), {leaf({2, 1, 6, 5}, 4)});
  check_grads(FN(fn::max_pool2d(x[0], 2, 2, 0, 1, true)), {leaf({2, 5, 5}, 5)});
  // The output times itself: the backward's backward (gather at the indices) carries g.
  check_grads(FN(fn::max_pool2d(x[0], 2).square()), {leaf({1, 1, 4, 6}, 6)});
}

TEST_CASE("pooling: avg_pool2d and adaptive_avg_pool2d gradients, first and second order",
          "[pooling][gradcheck]") {
  check_grads(FN(fn::avg_pool2d(x[0], 2)), {leaf({1, 2, 4, 4}, 11)});
  check_grads(FN(fn::avg_pool2d(x[0], 3, 2, 1, false, true)), {leaf({1, 2, 5, 6}, 12)});
  check_grads(FN(fn::avg_pool2d(x[0], 3, 2, 1, true, false)), {leaf({1, 1, 6, 6}, 13)});
  check_grads(FN(fn::avg_pool2d(x[0], {3, 2}, {2, 1}, {1, 0}, true, true, 4)), {leaf({2, 6, 5}, 14)});
  check_grads(FN(fn::avg_pool2d(x[0], 2).square()), {leaf({1, 1, 4, 4}, 15)});
  check_grads(FN(fn::adaptive_avg_pool2d(x[0], 3)), {leaf({1, 2, 7, 7}, 16)});
  check_grads(FN(fn::adaptive_avg_pool2d(x[0], {4, 5})), {leaf({2, 5, 3}, 17)});
  check_grads(FN(fn::adaptive_avg_pool2d(x[0], 2).square()), {leaf({1, 1, 5, 4}, 18)});
}

TEST_CASE("pooling: interpolate gradients, first and second order", "[pooling][gradcheck]") {
  using O = fn::InterpolateOptions;
  for (auto o : {O{.scale_factor = {2}}, O{.size = {5, 7}}, O{.size = {2, 3}}, O{.scale_factor = {1.7}},
                 O{.size = {5, 7}, .mode = "nearest-exact"}, O{.scale_factor = {2}, .mode = "bilinear"},
                 O{.scale_factor = {2}, .mode = "bilinear", .align_corners = true},
                 O{.size = {5, 7}, .mode = "bilinear"}, O{.size = {5, 7}, .mode = "bilinear", .align_corners = true},
                 O{.size = {2, 2}, .mode = "bilinear"}, O{.scale_factor = {1.7, 0.6}, .mode = "bilinear"},
                 O{.size = {2, 3}, .mode = "area"}}) {
    INFO("mode " << o.mode << ", size " << o.size.size() << " values, scale_factor " << o.scale_factor.size());
    check_grads(FN(fn::interpolate(x[0], o)), {leaf({1, 2, 3, 4}, 21)});
  }
  check_grads(FN(fn::interpolate(x[0], {.scale_factor = {2}, .mode = "bilinear"}).square()), {leaf({1, 1, 3, 3}, 22)});
}

TEST_CASE("pooling: pixel_shuffle/unshuffle gradients, first and second order", "[pooling][gradcheck]") {
  check_grads(FN(fn::pixel_shuffle(x[0], 2)), {leaf({1, 8, 2, 3}, 31)});
  check_grads(FN(fn::pixel_unshuffle(x[0], 2).square()), {leaf({2, 4, 2}, 32)});
}

TEST_CASE("pooling: in-place change to returned indices before backward is caught", "[pooling]") {
  auto x = leaf({1, 1, 4, 4}, 41);
  auto [out, idx] = fn::max_pool2d_with_indices(x, 2);
  idx.fill_(0);
  REQUIRE_THROWS_WITH(out.sum().backward(), Catch::Contains("modified by an inplace operation"));
}

// ------------------------------------------------------------------ layouts and threads
TEST_CASE("pooling: the parallel path matches per-plane runs; strided inputs work", "[pooling]") {
  Generator gen(7);
  // 8 * 64 planes clears the parallel grain; each single plane stays below it.
  auto x = randn<double>({8, 64, 12, 10}, gen);
  auto check = [&](const std::function<TensorD(const TensorD&)>& f) {
    auto all = f(x);
    for (int64_t n : {0, 3, 7})
      for (int64_t c : {0, 31, 63}) {
        auto one = f(x.narrow(0, n, 1).narrow(1, c, 1));
        LATENT_REQUIRE_CLOSE(all.narrow(0, n, 1).narrow(1, c, 1), one, 0, 0);
      }
  };
  check([](const TensorD& t) { return fn::max_pool2d(t, 3, 2, 1); });
  check([](const TensorD& t) { return fn::max_pool2d_with_indices(t, 2).second.to<double>(); });
  check([](const TensorD& t) { return fn::avg_pool2d(t, 3, 2, 1, true, false); });
  check([](const TensorD& t) { return fn::adaptive_avg_pool2d(t, {5, 3}); });
  check([](const TensorD& t) { return fn::interpolate(t, {.scale_factor = {2}, .mode = "bilinear"}); });
  check([](const TensorD& t) { return fn::interpolate(t, {.size = {7, 15}}); });

  // Gradients through the parallel scatter and resample.
  auto xs = x.detach().requires_grad_();
  auto ups = randn<double>({8, 64, 6, 5}, gen);
  auto g = autograd::grad<double>({fn::max_pool2d(xs, 2)}, {xs}, {ups})[0];
  auto g1 = autograd::grad<double>({fn::max_pool2d(xs.narrow(0, 5, 1), 2)}, {xs}, {ups.narrow(0, 5, 1)})[0];
  LATENT_REQUIRE_CLOSE(g.narrow(0, 5, 1), g1.narrow(0, 5, 1), 0, 0);

  // A channels-last-style (permuted) input gives what its contiguous copy gives.
  auto nhwc = randn<double>({2, 6, 7, 3}, gen).permute({0, 3, 1, 2});
  REQUIRE_FALSE(nhwc.is_contiguous());
  LATENT_REQUIRE_CLOSE(fn::max_pool2d(nhwc, 2), fn::max_pool2d(nhwc.contiguous(), 2), 0, 0);
  LATENT_REQUIRE_CLOSE(fn::interpolate(nhwc, {.size = {9, 4}, .mode = "bilinear"}),
                       fn::interpolate(nhwc.contiguous(), {.size = {9, 4}, .mode = "bilinear"}), 0, 0);
}

// ------------------------------------------------------------------ errors
TEST_CASE("pooling: argument errors name the op, the shapes and what was expected", "[pooling][errors]") {
  auto x = zeros<double>({1, 2, 5, 5});
  using Catch::Contains;
  REQUIRE_THROWS_WITH(fn::max_pool2d(zeros<double>({5, 5}), 2),
                      Contains("max_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape [5, 5]"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(zeros<double>({1, 0, 5, 5}), 2),
                      Contains("max_pool2d: expected non-zero sizes for C, H and W"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(x, {0, 2}), Contains("max_pool2d: kernel_size must be positive, got (0, 2)"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(x, 2, 0), Contains("max_pool2d: stride must be positive, got (0, 0)"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(x, 2, 1, 0, 0), Contains("dilation must be positive"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(x, 3, 1, 2),
                      Contains("max_pool2d: padding (2, 2) must be at most half of kernel_size (3, 3)"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(x, 2, 1, -1), Contains("padding must be non-negative"));
  REQUIRE_THROWS_WITH(fn::max_pool2d(x, 6),
                      Contains("max_pool2d: input of shape [1, 2, 5, 5] is too small for kernel_size (6, 6)") &&
                          Contains("the output would be (0, 0), expected at least 1"));
  REQUIRE_THROWS_WITH(fn::avg_pool2d(x, 3, 1, 2), Contains("avg_pool2d: padding (2, 2) must be at most half"));
  REQUIRE_THROWS_WITH(fn::avg_pool2d(x, 2, 2, 0, false, true, 0), Contains("avg_pool2d: divisor_override must be non-zero"));
  REQUIRE_THROWS_WITH(fn::avg_pool2d(zeros<double>({2, 2, 2, 2, 2}), 2), Contains("avg_pool2d: expected a 3-D"));
  REQUIRE_THROWS_WITH(fn::adaptive_avg_pool2d(x, {-1, 2}),
                      Contains("adaptive_avg_pool2d: output_size must be non-negative, got (-1, 2)"));
  REQUIRE_THROWS_WITH(fn::adaptive_avg_pool2d(zeros<double>({4}), 2), Contains("adaptive_avg_pool2d: expected a 3-D"));

  REQUIRE_THROWS_WITH(fn::interpolate(x, {}), Contains("exactly one of size and scale_factor must be given, got neither"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.size = {3}, .scale_factor = {2}}), Contains("got both"));
  REQUIRE_THROWS_WITH(fn::interpolate(zeros<double>({2, 5, 5}), {.size = {3}}),
                      Contains("interpolate: expected a 4-D (N, C, H, W) input for 2-D nearest interpolation, got "
                               "shape [2, 5, 5]"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.size = {3, 0}}),
                      Contains("input and output sizes must be positive, got input (5, 5) and output (3, 0)"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.scale_factor = {0.1}}), Contains("output (0, 0)"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.scale_factor = {-2}}), Contains("scale_factor must be positive"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.size = {1, 2, 3}}), Contains("size must have 1 or 2 values"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.size = {3}, .mode = "bicubic"}),
                      Contains("mode must be 'nearest', 'nearest-exact', 'bilinear' or 'area', got 'bicubic'"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.size = {3}, .align_corners = true}),
                      Contains("align_corners can only be set with mode 'bilinear', got mode 'nearest'"));
  REQUIRE_THROWS_WITH(fn::interpolate(x, {.size = {3}, .recompute_scale_factor = true}),
                      Contains("recompute_scale_factor is not meaningful with an explicit size"));

  REQUIRE_THROWS_WITH(fn::pixel_shuffle(zeros<double>({6, 2, 2}), 2),
                      Contains("pixel_shuffle: the channel dim 6 of input shape [6, 2, 2] must be divisible by "
                               "upscale_factor^2 = 4"));
  REQUIRE_THROWS_WITH(fn::pixel_shuffle(zeros<double>({4, 2}), 2), Contains("at least 3 dims"));
  REQUIRE_THROWS_WITH(fn::pixel_shuffle(zeros<double>({4, 2, 2}), 0), Contains("upscale_factor must be positive"));
  REQUIRE_THROWS_WITH(fn::pixel_unshuffle(zeros<double>({1, 4, 5}), 2),
                      Contains("pixel_unshuffle: height 4 and width 5 of input shape [1, 4, 5] must both be divisible "
                               "by downscale_factor 2"));
}

// ------------------------------------------------------------------ modules
TEST_CASE("pooling: modules forward the functional ops and print like PyTorch", "[pooling][nn]") {
  auto str = [](const nn::Module<float>& m) {
    std::ostringstream s;
    s << m;
    return s.str();
  };
  nn::MaxPool2d<float> mp(2);
  REQUIRE(str(mp) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  REQUIRE(str(nn::MaxPool2d<float>({2, 3}, 1, {1, 0})) ==
          "MaxPool2d(kernel_size=(2, 3), stride=1, padding=(1, 0), dilation=1, ceil_mode=False)");
  REQUIRE(str(nn::AvgPool2d<float>(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)");
  REQUIRE(str(nn::AdaptiveAvgPool2d<float>({3, 2})) == "AdaptiveAvgPool2d(output_size=(3, 2))");
  REQUIRE(str(nn::AdaptiveAvgPool2d<float>(3)) == "AdaptiveAvgPool2d(output_size=3)");
  REQUIRE(str(nn::Upsample<float>({.scale_factor = {2}})) == "Upsample(scale_factor=2.0, mode='nearest')");
  REQUIRE(str(nn::Upsample<float>({.scale_factor = {2, 1.5}, .mode = "bilinear"})) ==
          "Upsample(scale_factor=(2.0, 1.5), mode='bilinear')");
  REQUIRE(str(nn::Upsample<float>({.size = {8, 11}, .mode = "bilinear", .align_corners = true})) ==
          "Upsample(size=(8, 11), mode='bilinear')");
  REQUIRE(str(nn::Upsample<float>({.size = {8}})) == "Upsample(size=8, mode='nearest')");
  REQUIRE(str(nn::PixelShuffle<float>(2)) == "PixelShuffle(upscale_factor=2)");
  REQUIRE(str(nn::PixelUnshuffle<float>(3)) == "PixelUnshuffle(downscale_factor=3)");

  Generator gen(5);
  auto x = randn<float>({2, 4, 6, 6}, gen);
  LATENT_REQUIRE_CLOSE(mp(x), fn::max_pool2d(x, 2), 0, 0);
  REQUIRE(mp.forward_with_indices(x).second.shape() == Shape{2, 4, 3, 3});
  LATENT_REQUIRE_CLOSE(nn::AvgPool2d<float>(3, 2, 1, true, false)(x), fn::avg_pool2d(x, 3, 2, 1, true, false), 0, 0);
  LATENT_REQUIRE_CLOSE(nn::AdaptiveAvgPool2d<float>(4)(x), fn::adaptive_avg_pool2d(x, 4), 0, 0);
  nn::Upsample<float> up({.scale_factor = {2}, .mode = "bilinear", .align_corners = true});
  LATENT_REQUIRE_CLOSE(up(x), fn::interpolate(x, up.options), 0, 0);
  LATENT_REQUIRE_CLOSE(nn::PixelUnshuffle<float>(2)(nn::PixelShuffle<float>(2)(x)), x, 0, 0);
  REQUIRE(mp.parameters().empty());

  // Arguments are checked when the module is built.
  REQUIRE_THROWS_WITH(nn::MaxPool2d<float>(3, 1, 2), Catch::Contains("MaxPool2d: padding (2, 2) must be at most half"));
  REQUIRE_THROWS_WITH(nn::AvgPool2d<float>(2, 0), Catch::Contains("AvgPool2d: stride must be positive"));
  REQUIRE_THROWS_WITH(nn::Upsample<float>({}), Catch::Contains("Upsample: exactly one of size and scale_factor"));
  REQUIRE_THROWS_WITH(nn::PixelShuffle<float>(0), Catch::Contains("PixelShuffle: upscale_factor must be positive"));
}
