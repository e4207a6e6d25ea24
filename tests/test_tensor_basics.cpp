// Tensor creation, metadata, printing and copy semantics.
#include "helpers.hpp"

using namespace latent;
using latent::testing::all_close;

TEST_CASE("tensor: creation and metadata", "[tensor]") {
  auto z = zeros<float>({2, 3});
  REQUIRE(z.shape() == Shape{2, 3});
  REQUIRE(z.strides() == Strides{3, 1});
  REQUIRE(z.numel() == 6);
  REQUIRE(z.is_contiguous());
  REQUIRE(z.device() == kCPU);
  for (float v : z.to_vector()) REQUIRE(v == 0.0f);
  REQUIRE(ones<double>({4}).sum().item() == 4.0);
  REQUIRE(full<float>({2}, 3.5f).to_vector() == std::vector<float>{3.5f, 3.5f});
  REQUIRE(arange<float>(0, 5).to_vector() == std::vector<float>{0, 1, 2, 3, 4});
  REQUIRE(arange<double>(1, 2, 0.25).numel() == 4);
  auto ls = linspace<double>(0, 1, 5).to_vector();
  REQUIRE(ls == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  auto e = eye<float>(3);
  REQUIRE(e.at({1, 1}) == 1.0f);
  REQUIRE(e.at({1, 2}) == 0.0f);
  auto t = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(t.at({1, 0}) == 4.0f);
}

TEST_CASE("tensor: handles share storage, clone copies", "[tensor]") {
  auto a = zeros<float>({3});
  auto b = a;  // same tensor
  b.fill_(2);
  REQUIRE(a.to_vector() == std::vector<float>{2, 2, 2});
  auto c = a.clone();
  c.fill_(5);
  REQUIRE(a.to_vector() == std::vector<float>{2, 2, 2});
  REQUIRE(c.to_vector() == std::vector<float>{5, 5, 5});
}

TEST_CASE("tensor: printing looks like PyTorch", "[tensor]") {
  std::ostringstream s;
  s << tensor<float>({1.5f, -2.0f, 3.25f});
  REQUIRE(s.str() == "tensor([ 1.5000, -2.0000,  3.2500])");
  std::ostringstream s2;
  s2 << tensor<double>({1, 2, 3, 4}, {2, 2});
  REQUIRE(s2.str() == "tensor([[1., 2.],\n        [3., 4.]], dtype=float64)");
  std::ostringstream s3;
  s3 << zeros<float>({2000});
  REQUIRE(s3.str().find("...") != std::string::npos);
  REQUIRE(s3.str().find("size=[2000]") != std::string::npos);
  std::ostringstream s4;
  s4 << ones<float>({2}).requires_grad_();
  REQUIRE(s4.str() == "tensor([1., 1.], requires_grad=True)");
}

TEST_CASE("random: seeded Philox streams are reproducible", "[random]") {
  Generator g1(42), g2(42), g3(43);
  auto a = randn<float>({1000}, g1), b = randn<float>({1000}, g2), c = randn<float>({1000}, g3);
  REQUIRE(a.to_vector() == b.to_vector());
  REQUIRE(a.to_vector() != c.to_vector());
  // Moments of 100k standard normals.
  Generator g(7);
  auto z = randn<double>({100000}, g);
  REQUIRE(std::abs(z.mean().item()) < 0.02);
  REQUIRE(std::abs(z.std().item() - 1.0) < 0.02);
  auto u = rand<float>({100000}, g);
  REQUIRE(u.min().item() >= 0.0f);
  REQUIRE(u.max().item() < 1.0f);
  REQUIRE(std::abs(u.mean().item() - 0.5) < 0.01);
  // Draws advance the offset: two draws of 8 equal one draw of 16 (float: 4 per block).
  Generator h1(5), h2(5);
  auto first = rand<float>({8}, h1), second = rand<float>({8}, h1);
  auto both = rand<float>({16}, h2).to_vector();
  auto f = first.to_vector(), s = second.to_vector();
  f.insert(f.end(), s.begin(), s.end());
  REQUIRE(f == both);
  auto perm = randperm(10, g).to_vector();
  std::sort(perm.begin(), perm.end());
  for (int64_t i = 0; i < 10; ++i) REQUIRE(perm[i] == i);
  auto ri = randint(-3, 4, {1000}, g).to_vector();
  REQUIRE(*std::min_element(ri.begin(), ri.end()) == -3);
  REQUIRE(*std::max_element(ri.begin(), ri.end()) == 3);
  auto bern = bernoulli<float>({10000}, 0.3, g);
  REQUIRE(std::abs(bern.mean().item() - 0.3) < 0.02);
}

TEST_CASE("random: global seed", "[random]") {
  manual_seed(123);
  auto a = randn<float>({5});
  manual_seed(123);
  auto b = randn<float>({5});
  REQUIRE(a.to_vector() == b.to_vector());
}

TEST_CASE("random: portable log and sincos are accurate to a few ulp", "[random]") {
  Generator g(11);
  auto u = rand<double>({200000}, g).to_vector();
  double worst_log = 0, worst_trig = 0;
  for (double x : u) {
    if (x == 0) continue;
    double l = philox::portable_log(x);
    worst_log = std::max(worst_log, std::abs(l - std::log(x)) / std::abs(std::log(x)));
    double s, c;
    philox::portable_sincos_2pi(x, s, c);
    worst_trig = std::max({worst_trig, std::abs(s - std::sin(2 * M_PI * x)), std::abs(c - std::cos(2 * M_PI * x))});
  }
  REQUIRE(worst_log < 1e-15);
  REQUIRE(worst_trig < 2e-15);
  REQUIRE(philox::portable_log(1e-300) == Approx(std::log(1e-300)).epsilon(1e-15));
  REQUIRE(philox::portable_log(1.0) == 0.0);
}

// Large enough for the parallel paths: threads split the flat range of a contiguous or
// broadcast loop (which coalesces to one row) and the rows of a full reduction.
TEST_CASE("parallel loops: large element-wise ops and sums equal a serial reference", "[tensor][parallel]") {
  const int threads_before = get_num_threads();
  set_num_threads(2);
  manual_seed(11);
  auto a = randn<float>({3, 50001});
  auto b = randn<float>({50001});
  auto va = a.to_vector(), vb = b.to_vector();

  auto sum_ab = (a + b).to_vector();  // broadcast row
  auto prod_t = (a.t() * 2.0).contiguous().to_vector();  // strided input
  bool ok = true;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 50001; ++j) {
      ok = ok && sum_ab[i * 50001 + j] == va[i * 50001 + j] + vb[j];
      ok = ok && prod_t[j * 3 + i] == va[i * 50001 + j] * 2.0f;
    }
  CHECK(ok);

  // A million-element float sum stays within ~1e-6 of the exact (double) sum.
  auto big = rand<float>({1 << 20});
  double exact = 0;
  for (float v : big.to_vector()) exact += v;
  CHECK(std::abs(big.sum().item() - exact) <= 1e-6 * std::abs(exact));
  auto rows = big.reshape({2, 1 << 19}).sum({1}).to_vector();  // fewer rows than threads x 2
  double exact0 = 0;
  auto vbig = big.to_vector();
  for (int64_t i = 0; i < (1 << 19); ++i) exact0 += vbig[static_cast<size_t>(i)];
  CHECK(std::abs(rows[0] - exact0) <= 1e-6 * std::abs(exact0));
  set_num_threads(threads_before);
}
