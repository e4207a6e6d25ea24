// CUDA backend tests: every CUDA op against the CPU result (kernels/*.cuh, cuBLAS, Philox on
// the device, the caching allocator, autograd on CUDA tensors). Without a GPU the program
// prints why and exits 77, which CTest reports as skipped. Run standalone:
//   ./latent_cuda_tests            (Catch2 options work, e.g. "[gemm]" or --success)
// Tolerances: element-wise ops and copies are exact (one IEEE operation per element);
// sums and products differ from the CPU only in summation order; rand is bitwise equal,
// randn is bitwise equal too (portable log/sincos in core/random.hpp).
#define CATCH_CONFIG_RUNNER
#include <bit>
#include <functional>
#include <cstdio>
#include <limits>
#include <string>

#include <latent/data.hpp>
#include <latent/diffusion.hpp>
#include <latent/nn.hpp>

#include "helpers.hpp"

using namespace latent;
using Catch::Matchers::Contains;

namespace {

const Device kGPU("cuda:0");

// Distance in units in the last place between two finite values of the same type.
template <typename T>
int64_t ulp_distance(T x, T y) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  auto ordered = [](T v) {
    auto b = static_cast<int64_t>(std::bit_cast<Bits>(v));
    return b < 0 ? std::numeric_limits<Bits>::min() - b : b;
  };
  int64_t d = ordered(x) - ordered(y);
  return d < 0 ? -d : d;
}

// y = a (op) b on both devices; the CUDA result must equal the CPU's exactly.
template <typename T, typename F>
void check_binary(const Tensor<T>& a, const Tensor<T>& b, F op) {
  auto expected = op(a, b);
  auto got = op(a.cuda(), b.cuda());
  REQUIRE(got.device() == kGPU);
  INFO("shapes " << a.shape() << " (strides " << a.strides() << ") and " << b.shape() << " (strides " << b.strides()
                 << ")");
  LATENT_REQUIRE_CLOSE(got, expected, 0.0, 0.0);
}

template <typename T>
void check_all_binary(const Tensor<T>& a, const Tensor<T>& b) {
  check_binary(a, b, [](const Tensor<T>& x, const Tensor<T>& y) { return x + y; });
  check_binary(a, b, [](const Tensor<T>& x, const Tensor<T>& y) { return x - y; });
  check_binary(a, b, [](const Tensor<T>& x, const Tensor<T>& y) { return x * y; });
  check_binary(a, b, [](const Tensor<T>& x, const Tensor<T>& y) { return x / y; });
}

// Tolerances for results that sum k products (GEMM) or many terms in another order.
template <typename T>
constexpr double sum_rtol() { return std::is_same_v<T, float> ? 1e-4 : 1e-11; }

template <typename T>
void check_matmul(const Tensor<T>& a, const Tensor<T>& b) {
  auto expected = matmul(a, b);
  auto got = matmul(a.cuda(), b.cuda());
  INFO("matmul of " << a.shape() << " (strides " << a.strides() << ") and " << b.shape() << " (strides "
                    << b.strides() << ")");
  LATENT_REQUIRE_CLOSE(got, expected, sum_rtol<T>(), sum_rtol<T>());
}

}  // namespace

TEST_CASE("cuda: round trip to the device and fill", "[cuda][copy]") {
  REQUIRE(cuda::device_count() > 0);
  cuda::backend().set_device(0);
  cuda::synchronize(0);
  auto x = randn<float>({33, 17});
  auto g = x.cuda();
  REQUIRE(g.device() == kGPU);
  REQUIRE(g.cpu().to_vector() == x.to_vector());
  REQUIRE(x.t().cuda().to_vector() == x.t().contiguous().to_vector());  // non-contiguous source
  auto d = randn<double>({5});
  REQUIRE(d.to(kGPU).to(kCPU).to_vector() == d.to_vector());
  REQUIRE(scalar_tensor<double>(2.5, kGPU).item() == 2.5);
  REQUIRE(zeros<float>({0, 5}, kGPU).cpu().shape() == Shape{0, 5});

  REQUIRE(zeros<float>({1001}, kGPU).to_vector() == std::vector<float>(1001, 0.0f));
  REQUIRE(full<double>({7, 3}, 2.5, kGPU).to_vector() == std::vector<double>(21, 2.5));
  REQUIRE(ones<float>({}, kGPU).item() == 1.0f);
  auto t = zeros<float>({4, 6}, kGPU);
  t.t().fill_(3);                      // non-contiguous fill goes through the strided copy
  t.narrow(1, 1, 2).fill_(-1);
  auto expected = full<float>({4, 6}, 3.0f);
  expected.narrow(1, 1, 2).fill_(-1);
  REQUIRE(t.to_vector() == expected.to_vector());
  REQUIRE(t.at({2, 1}) == -1.0f);
}

TEMPLATE_TEST_CASE("cuda: add, sub, mul, div with broadcasting match the CPU exactly", "[cuda][binary]", float,
                   double) {
  using T = TestType;
  Generator gen(11);
  auto r = [&](const Shape& s) { return randn<T>(s, gen); };
  check_all_binary(r({33, 17}), r({33, 17}));                    // flat path
  check_all_binary(r({1000, 1001}), r({1000, 1001}));            // about 1e6 elements
  check_all_binary(r({33, 17}), r({17}));                        // broadcast rows
  check_all_binary(r({33, 1}), r({1, 17}));                      // outer broadcast
  check_all_binary(r({4, 1, 5}), r({3, 1}));                     // rank 3
  check_all_binary(r({33, 17}), r({}));                          // tensor (op) scalar tensor
  check_all_binary(r({}), r({33, 17}));
  check_all_binary(r({17, 33}).t(), r({33, 17}));                // transposed a
  check_all_binary(r({33, 17}), r({17, 33}).t());                // transposed b
  check_all_binary(r({2, 3, 4, 5}).permute({3, 1, 0, 2}), r({5, 3, 1, 4}));
  check_all_binary(r({33, 34}).slice(1, 0, 34, 2), r({33, 17}));  // step-2 slice
  check_all_binary(r({2, 1, 3, 1, 2, 1, 3, 2}), r({2, 3, 1, 2, 1, 3, 1}));  // rank 8

  // Tensor-scalar forms and neg run as binary ops with a 0-dim operand on CUDA.
  auto x = r({33, 17});
  auto xg = x.cuda();
  LATENT_REQUIRE_CLOSE(xg * 2.5, x * 2.5, 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(xg + 1.5, x + 1.5, 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(-xg, -x, 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(xg / 3.0, x / 3.0, 0.0, 0.0);

  // In place, on a contiguous target and on a transposed view of one.
  auto y = r({33, 17}), b = r({17}), s = r({17, 1});
  auto yg = y.cuda();
  y.add_(b);
  yg.add_(b.cuda());
  y.mul_(3.0);
  yg.mul_(3.0);
  y.t().sub_(s);
  yg.t().sub_(s.cuda());
  LATENT_REQUIRE_CLOSE(yg, y, 0.0, 0.0);
  auto z = r({6, 5}), w = r({5});
  auto zg = z.cuda();
  z.t().div_(w.unsqueeze(1));
  zg.t().div_(w.unsqueeze(1).cuda());
  LATENT_REQUIRE_CLOSE(zg, z, 0.0, 0.0);
}

TEMPLATE_TEST_CASE("cuda: strided copies match the CPU", "[cuda][copy]", float, double) {
  using T = TestType;
  Generator gen(3);
  auto check = [](const Tensor<T>& src) {
    INFO("copy of " << src.shape() << " with strides " << src.strides());
    REQUIRE(src.cuda().to_vector() == src.contiguous().to_vector());               // host-side contiguous
    REQUIRE(src.contiguous().cuda().to_vector() == src.contiguous().to_vector());
    auto on_gpu_view = src.contiguous().cuda();
    REQUIRE(on_gpu_view.clone().to_vector() == src.contiguous().to_vector());     // device-side, contiguous
  };
  auto x = randn<T>({2, 3, 4, 5}, gen);
  auto xg = x.cuda();
  // Device-side gathers of views: permute, slice with a step, expand, select.
  auto same = [](const Tensor<T>& g, const Tensor<T>& c) { REQUIRE(g.contiguous().to_vector() == c.contiguous().to_vector()); };
  same(xg.permute({3, 1, 0, 2}), x.permute({3, 1, 0, 2}));
  same(xg.slice(3, 1, 5, 2), x.slice(3, 1, 5, 2));
  same(xg.select(1, 2), x.select(1, 2));
  same(xg.narrow(2, 1, 2).transpose(0, 3), x.narrow(2, 1, 2).transpose(0, 3));
  auto row = randn<T>({1, 5}, gen);
  same(row.cuda().expand({4, 5}).clone(), row.expand({4, 5}));
  auto r8 = randn<T>({2, 1, 3, 2, 1, 2, 3, 2}, gen);
  same(r8.cuda().permute({7, 6, 5, 4, 3, 2, 1, 0}), r8.permute({7, 6, 5, 4, 3, 2, 1, 0}));
  check(x.permute({2, 0, 3, 1}));

  // copy_ into a non-contiguous destination, with broadcasting.
  auto dst = zeros<T>({5, 4});
  auto dstg = dst.cuda();
  auto src = randn<T>({4}, gen);
  dst.t().narrow(0, 1, 2).copy_(src.narrow(0, 0, 2).unsqueeze(1));
  dstg.t().narrow(0, 1, 2).copy_(src.narrow(0, 0, 2).unsqueeze(1));  // host source is copied over first
  REQUIRE(dstg.to_vector() == dst.to_vector());
}

TEMPLATE_TEST_CASE("cuda: full sum matches the CPU", "[cuda][reduce]", float, double) {
  using T = TestType;
  Generator gen(5);
  const double eps = std::is_same_v<T, float> ? 1e-6 : 1e-13;  // both accumulate in double
  for (int64_t n : {int64_t(1), int64_t(33 * 17), int64_t(1000000), int64_t(3000017)}) {
    auto x = rand<T>({n}, gen);  // positive: a relative tolerance is meaningful
    INFO("n = " << n);
    LATENT_REQUIRE_CLOSE(x.cuda().sum(), x.sum(), eps, 0.0);
    auto s = randn<T>({n}, gen);  // mixed signs: an absolute tolerance scaled by sqrt(n)
    LATENT_REQUIRE_CLOSE(s.cuda().sum(), s.sum(), 0.0, eps * std::sqrt(double(n)));
  }
  auto m = randn<T>({33, 17}, gen);
  LATENT_REQUIRE_CLOSE(m.cuda().t().sum(), m.sum(), sum_rtol<T>(), sum_rtol<T>());  // non-contiguous input
  auto kept = m.cuda().sum({0, 1}, true);
  REQUIRE(kept.shape() == Shape{1, 1});
  LATENT_REQUIRE_CLOSE(kept, m.sum({0, 1}, true), sum_rtol<T>(), sum_rtol<T>());
  REQUIRE(zeros<T>({0, 3}, kGPU).sum().item() == T(0));  // empty sum
}

TEMPLATE_TEST_CASE("cuda: mm, bmm and matmul match the CPU", "[cuda][gemm]", float, double) {
  using T = TestType;
  Generator gen(9);
  auto r = [&](const Shape& s) { return randn<T>(s, gen); };
  check_matmul(r({33, 17}), r({17, 29}));
  check_matmul(r({17, 33}).t(), r({17, 29}));        // A transposed
  check_matmul(r({33, 17}), r({29, 17}).t());        // B transposed
  check_matmul(r({17, 33}).t(), r({29, 17}).t());    // both
  check_matmul(r({1, 17}), r({17, 1}));
  check_matmul(r({33, 1}), r({1, 29}));              // k = 1
  check_matmul(r({64, 128}), r({128, 96}));
  check_matmul(r({5, 33, 17}), r({5, 17, 29}));      // bmm
  check_matmul(r({5, 17, 33}).transpose(1, 2), r({5, 29, 17}).transpose(1, 2));
  check_matmul(r({5, 33, 17}), r({17, 29}));         // batch folded into rows
  check_matmul(r({33, 17}), r({5, 17, 29}));         // A broadcast over the batch (stride 0)
  check_matmul(r({2, 1, 33, 17}), r({3, 17, 29}));   // broadcast batch dims
  check_matmul(r({17}), r({17, 29}));                // vector forms
  check_matmul(r({33, 17}), r({17}));
  check_matmul(r({17}), r({17}));
  auto e = matmul(r({3, 0}).cuda(), r({0, 4}).cuda());  // k = 0 gives zeros
  REQUIRE(e.to_vector() == std::vector<T>(12, T(0)));
  auto a = r({4, 3}), b = r({3, 5});
  LATENT_REQUIRE_CLOSE(mm(a.cuda(), b.cuda()), mm(a, b), sum_rtol<T>(), sum_rtol<T>());
  LATENT_REQUIRE_CLOSE(bmm(a.unsqueeze(0).cuda(), b.unsqueeze(0).cuda()), bmm(a.unsqueeze(0), b.unsqueeze(0)),
                       sum_rtol<T>(), sum_rtol<T>());
}

TEST_CASE("cuda: gemm through the backend with alpha, beta and batch stride 0", "[cuda][gemm]") {
  Generator gen(21);
  int64_t B = 3, m = 7, k = 5, n = 6;
  auto a = randn<float>({m, k}, gen), b = randn<float>({B, k, n}, gen), c = randn<float>({B, m, n}, gen);
  auto ag = a.cuda(), bg = b.cuda(), cg = c.cuda();
  // C[i] = 2 * A B[i] + 0.5 * C[i], A shared by the batch (stride 0).
  cuda::backend().gemm_f32(0, false, false, m, n, k, 2.0f, ag.data(), k, 0, bg.data(), n, k * n, 0.5f, cg.data(), n,
                           m * n, B);
  auto expected = matmul(a, b) * 2.0 + c * 0.5;
  LATENT_REQUIRE_CLOSE(cg, expected, 1e-5, 1e-5);
  REQUIRE_THROWS_WITH(cuda::backend().gemm_f32(0, false, false, m, n, k, 1.0f, ag.data(), k - 1, 0, bg.data(), n,
                                               k * n, 0.0f, cg.data(), n, m * n, B),
                      Contains("leading dimension lda=4"));
}

TEST_CASE("cuda: more than 2^31 elements take the 64-bit index path", "[cuda][binary][large]") {
  // (N,1) + (1,M) -> (N,M) with N*M > 2^31 - 1 (8.6 GB of float): the strided kernel with
  // int64 indices, then a sum over all of it. Skipped (with a warning) on smaller GPUs.
  const int64_t N = 46341, M = 46341;
  try {
    auto a = full<float>({N, 1}, 1.0f, kGPU), b = full<float>({1, M}, 2.0f, kGPU);
    b.narrow(1, M - 1, 1).fill_(5.0f);  // the last column differs, to see the indexing
    auto y = a + b;
    REQUIRE(y.numel() > std::numeric_limits<int32_t>::max());
    REQUIRE(y.at({N - 1, M - 1}) == 6.0f);
    REQUIRE(y.at({N - 1, M - 2}) == 3.0f);
    REQUIRE(y.at({0, M - 1}) == 6.0f);
    double expected = 3.0 * N * M + 3.0 * N;  // every element is 3, the last column 6
    REQUIRE(y.sum().item() == static_cast<float>(expected));
  } catch (const Error& e) {
    if (std::string(e.what()).find("CUDA out of memory") == std::string::npos) throw;
    WARN("skipped: " << e.what());
  }
  cuda::empty_cache(0);
}

TEST_CASE("cuda: rand and randn give the CPU's numbers", "[cuda][random]") {
  for (int64_t n : {int64_t(1), int64_t(2), int64_t(3), int64_t(5), int64_t(1001), int64_t(1) << 20}) {
    INFO("n = " << n);
    Generator cpu_gen(42), gpu_gen(42);
    // rand: bitwise equal, float and double; the generators advance alike.
    REQUIRE(rand<float>({n}, gpu_gen, kGPU).to_vector() == rand<float>({n}, cpu_gen).to_vector());
    REQUIRE(rand<double>({n}, gpu_gen, kGPU).to_vector() == rand<double>({n}, cpu_gen).to_vector());
    REQUIRE(gpu_gen.offset() == cpu_gen.offset());
    // randn: the same stream through the same portable Box-Muller: bitwise equal.
    auto zf = randn<float>({n}, gpu_gen, kGPU).to_vector(), cf = randn<float>({n}, cpu_gen).to_vector();
    auto zd = randn<double>({n}, gpu_gen, kGPU).to_vector(), cd = randn<double>({n}, cpu_gen).to_vector();
    REQUIRE(gpu_gen.offset() == cpu_gen.offset());
    int64_t worst_f = 0, worst_d = 0, differ_f = 0, differ_d = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t df = ulp_distance(zf[i], cf[i]), dd = ulp_distance(zd[i], cd[i]);
      worst_f = std::max(worst_f, df);
      worst_d = std::max(worst_d, dd);
      differ_f += df != 0;
      differ_d += dd != 0;
    }
    if (n == (int64_t(1) << 20))
      std::printf("randn on cuda vs cpu, %lld values: float %lld differ (max %lld ulp), double %lld differ "
                  "(max %lld ulp)\n",
                  static_cast<long long>(n), static_cast<long long>(differ_f), static_cast<long long>(worst_f),
                  static_cast<long long>(differ_d), static_cast<long long>(worst_d));
    REQUIRE(differ_f == 0);
    REQUIRE(differ_d == 0);
  }
  // The default generator and the *_like forms follow the same stream.
  manual_seed(7);
  auto a = randn<float>({64, 3}, default_generator(), kGPU);
  auto u = rand_like(a);
  manual_seed(7);
  auto a_cpu = randn<float>({64, 3});
  auto u_cpu = rand_like(a_cpu);
  LATENT_REQUIRE_CLOSE(a, a_cpu, 1e-6, 1e-6);
  REQUIRE(u.to_vector() == u_cpu.to_vector());
}

TEST_CASE("cuda: caching allocator statistics", "[cuda][memory]") {
  cuda::empty_cache(0);
  auto s0 = cuda::memory_stats(0);
  REQUIRE(s0.cached_bytes == 0);
  void* first = nullptr;
  size_t block = 0;
  {
    auto t = empty<float>({1000}, kGPU);  // 4000 bytes
    first = t.data();
    auto s1 = cuda::memory_stats(0);
    block = s1.allocated_bytes - s0.allocated_bytes;
    REQUIRE(block >= 4000);
    REQUIRE(block <= 4000 + 4000 / 8 + 512);  // bucket rounding wastes at most 12.5%
    REQUIRE(s1.peak_allocated_bytes >= s1.allocated_bytes);
  }
  auto s2 = cuda::memory_stats(0);
  REQUIRE(s2.allocated_bytes == s0.allocated_bytes);
  REQUIRE(s2.cached_bytes == block);
  {
    auto t = empty<float>({1000}, kGPU);  // the same bucket: served from the cache
    REQUIRE(t.data() == first);
    REQUIRE(cuda::memory_stats(0).cached_bytes == 0);
  }
  REQUIRE(cuda::memory_stats(0).peak_allocated_bytes >= s0.allocated_bytes + block);
  cuda::empty_cache(0);
  REQUIRE(cuda::memory_stats(0).cached_bytes == 0);
  // An impossible request throws (after giving the cache back), and the device stays usable.
  REQUIRE_THROWS_WITH(empty<float>({int64_t(1) << 48}, kGPU), Contains("CUDA out of memory"));
  REQUIRE(ones<float>({3}, kGPU).sum().item() == 3.0f);
}

TEMPLATE_TEST_CASE("cuda: autograd through add, mul, sub, div, matmul and sum matches the CPU", "[cuda][autograd]",
                   float, double) {
  using T = TestType;
  Generator gen(13);
  auto x = randn<T>({33, 17}, gen), w = randn<T>({17, 29}, gen), b = randn<T>({33, 29}, gen);
  auto c = randn<T>({33, 29}, gen), d = rand<T>({33, 29}, gen) + 0.5;
  auto loss_of = [](const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, const Tensor<T>& c,
                    const Tensor<T>& d) { return ((((x.matmul(w) + b) * c) - b) / d * 2.0).sum(); };
  std::vector<Tensor<T>> cpu{x.clone(), w.clone(), b.clone(), c.clone(), d.clone()};
  std::vector<Tensor<T>> gpu{x.cuda(), w.cuda(), b.cuda(), c.cuda(), d.cuda()};
  for (auto& t : cpu) t.requires_grad_();
  for (auto& t : gpu) t.requires_grad_();
  auto loss_cpu = loss_of(cpu[0], cpu[1], cpu[2], cpu[3], cpu[4]);
  auto loss_gpu = loss_of(gpu[0], gpu[1], gpu[2], gpu[3], gpu[4]);
  REQUIRE(loss_gpu.device() == kGPU);
  LATENT_REQUIRE_CLOSE(loss_gpu, loss_cpu, sum_rtol<T>(), sum_rtol<T>());
  loss_cpu.backward();
  loss_gpu.backward();
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(gpu[i].grad().device() == kGPU);
    LATENT_REQUIRE_CLOSE(gpu[i].grad(), cpu[i].grad(), sum_rtol<T>(), sum_rtol<T>());
  }
}

// Transcendental functions: the device's libm differs from the host's in the last bits.
template <typename T>
constexpr double libm_rtol() { return std::is_same_v<T, float> ? 4e-6 : 1e-14; }

// y = f(x) on both devices, for x itself, a transposed view and a broadcast (expanded) view.
template <typename T, typename F>
void check_unary(const char* name, const Tensor<T>& x, F f, double rtol, double atol = 0) {
  INFO("op " << name);
  std::vector<Tensor<T>> views{x, x.t(), x.narrow(1, 0, 1).expand(x.shape())};
  for (const auto& v : views) {
    INFO("input shape " << v.shape() << " strides " << v.strides());
    auto expected = f(v);
    auto got = f(v.cuda());
    REQUIRE(got.device() == kGPU);
    LATENT_REQUIRE_CLOSE(got, expected, rtol, atol);
  }
}

TEMPLATE_TEST_CASE("cuda: unary math, activations and scalar ops match the CPU", "[cuda][unary]", float, double) {
  using T = TestType;
  Generator gen(5);
  auto x = uniform<T>({37, 45}, -3.0, 3.0, gen);
  auto pos = uniform<T>({37, 45}, 0.1, 4.0, gen);
  const double tol = libm_rtol<T>();
  using Fn = std::function<Tensor<T>(const Tensor<T>&)>;
  // Exact: one IEEE operation or a selection per element.
  std::vector<std::pair<const char*, Fn>> exact{
      {"neg", [](const Tensor<T>& v) { return -v; }},
      {"abs", [](const Tensor<T>& v) { return abs(v); }},
      {"sign", [](const Tensor<T>& v) { return sign(v); }},
      {"relu", [](const Tensor<T>& v) { return relu(v); }},
      {"leaky_relu", [](const Tensor<T>& v) { return leaky_relu(v, 0.2); }},
      {"clamp", [](const Tensor<T>& v) { return clamp(v, -0.5, 1.25); }},
      {"add scalar", [](const Tensor<T>& v) { return v + 0.3; }},
      {"mul scalar", [](const Tensor<T>& v) { return v * -1.7; }},
      {"rsub", [](const Tensor<T>& v) { return 2.0 - v; }},
      {"gt", [](const Tensor<T>& v) { return gt(v, 0.1); }},
      {"lt", [](const Tensor<T>& v) { return lt(v, 0.1); }},
      {"ge", [](const Tensor<T>& v) { return ge(v, 0.0); }},
      {"le", [](const Tensor<T>& v) { return le(v, 0.0); }},
      {"eq", [](const Tensor<T>& v) { return eq(sign(v), 1.0); }},
      {"isfinite", [](const Tensor<T>& v) { return isfinite(log(abs(v) - 1.0)); }},
      {"sqrt", [](const Tensor<T>& v) { return sqrt(abs(v)); }},
      {"square", [](const Tensor<T>& v) { return square(v); }},
  };
  for (auto& [name, f] : exact) check_unary(name, x, f, 0.0);
  std::vector<std::pair<const char*, Fn>> libm{
      {"exp", [](const Tensor<T>& v) { return exp(v); }},
      {"expm1", [](const Tensor<T>& v) { return expm1(v); }},
      {"sin", [](const Tensor<T>& v) { return sin(v); }},
      {"cos", [](const Tensor<T>& v) { return cos(v); }},
      {"erf", [](const Tensor<T>& v) { return erf(v); }},
      {"tanh", [](const Tensor<T>& v) { return tanh(v); }},
      {"sigmoid", [](const Tensor<T>& v) { return sigmoid(v); }},
      {"elu", [](const Tensor<T>& v) { return elu(v, 0.7); }},
      {"gelu", [](const Tensor<T>& v) { return gelu(v); }},
      {"gelu tanh", [](const Tensor<T>& v) { return gelu(v, "tanh"); }},
      {"silu", [](const Tensor<T>& v) { return silu(v); }},
      {"softplus", [](const Tensor<T>& v) { return softplus(v, 2.0, 3.0); }},
      {"pow 2.5 of |x|", [](const Tensor<T>& v) { return pow(abs(v), 2.5); }},
      {"pow -1", [](const Tensor<T>& v) { return pow(v, -1.0); }},
  };
  // The CPU's float GELU is Eigen's vectorised erf (~4e-7 from the exact value).
  for (auto& [name, f] : libm) check_unary(name, x, f, tol, std::is_same_v<T, float> ? 1e-6 : 0.0);
  std::vector<std::pair<const char*, Fn>> positive{
      {"log", [](const Tensor<T>& v) { return log(v); }},
      {"log1p", [](const Tensor<T>& v) { return log1p(v); }},
      {"rsqrt", [](const Tensor<T>& v) { return rsqrt(v); }},
  };
  for (auto& [name, f] : positive) check_unary(name, pos, f, tol);
}

TEMPLATE_TEST_CASE("cuda: pow, comparisons, maximum, minimum and where with broadcasting match the CPU",
                   "[cuda][binary]", float, double) {
  using T = TestType;
  Generator gen(6);
  auto a = randint<T>(1, 5, {4, 1, 6}, gen) * 0.5;
  auto b = randint<T>(-4, 5, {5, 6}, gen) * 0.5;  // ties with a and among themselves
  auto pairs = std::vector<std::pair<Tensor<T>, Tensor<T>>>{{a, b}, {b.t().contiguous().t(), b}, {b, a.select(0, 1)}};
  for (auto& [x, y] : pairs) {
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return eq(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return ne(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return lt(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return le(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return gt(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return ge(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return maximum(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return minimum(p, q); });
    check_binary(x, y, [](const Tensor<T>& p, const Tensor<T>& q) { return relu_backward(p, q); });
  }
  auto expected = pow(a, b);
  LATENT_REQUIRE_CLOSE(pow(a.cuda(), b.cuda()), expected, libm_rtol<T>(), 0.0);
  LATENT_REQUIRE_CLOSE(gelu_backward(b.cuda(), b.cuda() * 0.7), gelu_backward(b, b * 0.7), libm_rtol<T>(), 1e-6);
  // where: three operands broadcast against each other, one of them a transposed view.
  auto cond = gt(uniform<T>({5, 1}, -1.0, 1.0, gen), 0.0);
  auto c = uniform<T>({6, 5}, -1.0, 1.0, gen).t();
  auto w = where(cond, b, c);
  auto w_gpu = where(cond.cuda(), b.cuda(), c.cuda());
  LATENT_REQUIRE_CLOSE(w_gpu, w, 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(where(cond.cuda(), a.cuda(), full<T>(Shape{}, T(-3), kGPU)),
                       where(cond, a, full<T>(Shape{}, T(-3))), 0.0, 0.0);
}

TEMPLATE_TEST_CASE("cuda: in-place arithmetic, scalars and clamp_ match the CPU", "[cuda][inplace]", float, double) {
  using T = TestType;
  Generator gen(8);
  auto x = randn<T>({7, 9}, gen), o = randn<T>({9}, gen);
  auto g = x.cuda();
  x.add_(o, -0.25);
  g.add_(o.cuda(), -0.25);
  LATENT_REQUIRE_CLOSE(g, x, 0.0, 0.0);
  x.mul_(1.5).add_(0.125).clamp_(-0.75, 0.5);
  g.mul_(1.5).add_(0.125).clamp_(-0.75, 0.5);
  LATENT_REQUIRE_CLOSE(g, x, 0.0, 0.0);
  auto xt = x.t(), gt_ = g.t();  // a non-contiguous in-place target
  xt.sub_(o.narrow(0, 0, 7)).relu_();
  gt_.sub_(o.narrow(0, 0, 7).cuda()).relu_();
  LATENT_REQUIRE_CLOSE(g, x, 0.0, 0.0);
}

TEMPLATE_TEST_CASE("cuda: reductions over dims match the CPU", "[cuda][reduce]", float, double) {
  using T = TestType;
  Generator gen(9);
  const double tol = sum_rtol<T>();
  // Rows of 300 take the block-per-row kernels, short rows and strided columns the per-output ones.
  for (const Shape& shape : {Shape{3, 300}, Shape{4, 5, 6}, Shape{2, 3, 200}, Shape{1, 1}, Shape{64, 3}}) {
    auto x = randn<T>(shape, gen);
    auto g = x.cuda();
    INFO("shape " << shape);
    for (int64_t d = 0; d < x.dim(); ++d) {
      INFO("dim " << d);
      LATENT_REQUIRE_CLOSE(sum(g, {d}), sum(x, {d}), tol, tol);
      LATENT_REQUIRE_CLOSE(mean(g, {d}, true), mean(x, {d}, true), tol, tol);
      LATENT_REQUIRE_CLOSE(amax(g, {d}), amax(x, {d}), 0.0, 0.0);
      LATENT_REQUIRE_CLOSE(amin(g, {d}, true), amin(x, {d}, true), 0.0, 0.0);
      auto [vmax, imax] = max(x, d);
      auto [gvmax, gimax] = max(g, d);
      LATENT_REQUIRE_CLOSE(gvmax, vmax, 0.0, 0.0);
      REQUIRE(gimax.cpu().to_vector() == imax.to_vector());
      REQUIRE(argmin(g, d, true).cpu().to_vector() == argmin(x, d, true).to_vector());
      LATENT_REQUIRE_CLOSE(logsumexp(g, {d}), logsumexp(x, {d}), tol, tol);
      LATENT_REQUIRE_CLOSE(softmax(g, d), softmax(x, d), libm_rtol<T>() * 4, 1e-7);
      LATENT_REQUIRE_CLOSE(log_softmax(g, d), log_softmax(x, d), libm_rtol<T>() * 4, 1e-6);
    }
    if (x.dim() == 3) {  // non-adjacent dims: the layout is permuted first
      LATENT_REQUIRE_CLOSE(sum(g, {0, 2}, true), sum(x, {0, 2}, true), tol, tol);
      LATENT_REQUIRE_CLOSE(var(g, {0, 2}), var(x, {0, 2}), tol, tol);
      LATENT_REQUIRE_CLOSE(amax(g, {2, 0}), amax(x, {2, 0}), 0.0, 0.0);
    }
    LATENT_REQUIRE_CLOSE(norm(g, 2.0), norm(x, 2.0), tol, tol);
    LATENT_REQUIRE_CLOSE(norm(g, std::numeric_limits<double>::infinity()),
                         norm(x, std::numeric_limits<double>::infinity()), 0.0, 0.0);
    LATENT_REQUIRE_CLOSE(latent::std(g, {}), latent::std(x, {}), tol, tol);
  }
  // Ties pick the first index and NaN wins, in both layouts.
  auto ties = from_vector<T>({1, 3, 3, 2, 3, 0, 5, 5}, {2, 4});
  REQUIRE(argmax(ties.cuda(), 1).cpu().to_vector() == std::vector<int64_t>{1, 2});
  REQUIRE(argmax(ties.t().cuda(), 0).cpu().to_vector() == std::vector<int64_t>{1, 2});
  auto with_nan = from_vector<T>({1, std::numeric_limits<T>::quiet_NaN(), 7, 2}, {1, 4});
  auto [v, i] = max(with_nan.cuda(), 1);
  REQUIRE(std::isnan(v.item()));
  REQUIRE(i.cpu().to_vector() == std::vector<int64_t>{1});
  auto long_row = randn<T>({1, 1000}, gen);
  long_row.narrow(1, 700, 1).fill_(std::numeric_limits<T>::quiet_NaN());
  REQUIRE(argmax(long_row.cuda(), 1).cpu().to_vector() == std::vector<int64_t>{700});
  // Masked (-inf) scores: softmax gives 0 there; an all -inf row gives NaN, as on the CPU.
  auto scores = randn<T>({3, 256}, gen);
  scores.narrow(1, 100, 50).fill_(-std::numeric_limits<T>::infinity());
  scores.select(0, 2).fill_(-std::numeric_limits<T>::infinity());
  LATENT_REQUIRE_CLOSE(softmax(scores.cuda(), 1), softmax(scores, 1), libm_rtol<T>() * 4, 1e-7);
  LATENT_REQUIRE_CLOSE(logsumexp(scores.cuda(), {1}), logsumexp(scores, {1}), sum_rtol<T>(), 0.0);
  // Empty reductions: the sum of nothing is 0.
  REQUIRE(sum(zeros<T>({0, 3}, kGPU), {0}).cpu().to_vector() == std::vector<T>{0, 0, 0});
}

TEMPLATE_TEST_CASE("cuda: first and second derivatives through activations, softmax and reductions match the CPU",
                   "[cuda][autograd]", float, double) {
  using T = TestType;
  Generator gen(21);
  auto x = randn<T>({16, 12}, gen), w = randn<T>({12, 10}, gen) * 0.3;
  // A critic-like function with a gradient penalty: d/dw of ||d f / dx||, as WGAN-GP takes.
  auto penalty = [](const Tensor<T>& x, const Tensor<T>& w) {
    auto h = leaky_relu(matmul(x, w), 0.2);
    auto terms = log_softmax(tanh(h) * 2.0, 1) + silu(h) + sigmoid(h) * gelu(h) + softplus(h);
    auto f = amax(sum(terms, {1}), {0}) + mean(logsumexp(elu(h), {0})) + mean(square(h - mean(h, {0}, true)));
    auto dx = autograd::grad<T>({f}, {x}, {}, std::nullopt, true)[0];
    return mean(square(sqrt(sum(square(dx), {1}) + 1e-6) - 1.0)) + f;
  };
  auto xc = x.clone().requires_grad_(), wc = w.clone().requires_grad_();
  auto xg = x.cuda().requires_grad_(), wg = w.cuda().requires_grad_();
  auto pc = penalty(xc, wc), pg = penalty(xg, wg);
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  LATENT_REQUIRE_CLOSE(pg, pc, tol, tol);
  pc.backward();
  pg.backward();
  LATENT_REQUIRE_CLOSE(wg.grad(), wc.grad(), tol, tol);
  LATENT_REQUIRE_CLOSE(xg.grad(), xc.grad(), tol, tol);
}

TEMPLATE_TEST_CASE("cuda: gather, scatter_add, index_select, index_add and embedding match the CPU",
                   "[cuda][index]", float, double) {
  using T = TestType;
  Generator gen(31);
  auto x = randn<T>({4, 6, 5}, gen);
  auto xt = randn<T>({5, 6, 4}, gen).permute({2, 1, 0});  // the same shape, non-contiguous
  // Repeated and negative indices: scatter_add and index_add sum into the same place.
  auto gidx = from_vector<int64_t>({0, 5, -1, 2, 2, 2, 1, 0, 3, 3, -6, 4}, {2, 2, 3});
  for (const auto& src : {x, xt}) {
    INFO("input strides " << src.strides());
    auto a = src.clone().requires_grad_(), b = src.cuda().requires_grad_();
    auto ya = gather(a, 1, gidx), yb = gather(b, 1, gidx.cuda());
    LATENT_REQUIRE_CLOSE(yb, ya, 0.0, 0.0);
    auto sel = from_vector<int64_t>({3, -1, 0, 3}, {4});
    auto sa = index_select(a, 2, sel), sb = index_select(b, 2, sel.cuda());
    LATENT_REQUIRE_CLOSE(sb, sa, 0.0, 0.0);
    auto wa = randn<T>(ya.shape(), gen), wb = wa.cuda();
    auto va = randn<T>(sa.shape(), gen), vb = va.cuda();
    ((ya * wa).sum() + (sa * va).sum()).backward();
    ((yb * wb).sum() + (sb * vb).sum()).backward();  // scatter_add and index_add
    LATENT_REQUIRE_CLOSE(b.grad(), a.grad(), sum_rtol<T>(), sum_rtol<T>());
    auto base = randn<T>({4, 6, 5}, gen);
    LATENT_REQUIRE_CLOSE(scatter_add(base.cuda(), 1, gidx.cuda(), wb), scatter_add(base, 1, gidx, wa), sum_rtol<T>(),
                         sum_rtol<T>());
    LATENT_REQUIRE_CLOSE(index_add(base.cuda(), 2, sel.cuda(), vb), index_add(base, 2, sel, va), sum_rtol<T>(),
                         sum_rtol<T>());
  }
  REQUIRE_THROWS_WITH(gather(x.cuda(), 1, from_vector<int64_t>({6}, {1, 1, 1}).cuda()),
                      Contains("gather: index 6 is out of bounds for dimension 1 with size 6"));
  REQUIRE_THROWS_WITH(index_select(x.cuda(), 0, from_vector<int64_t>({-5}, {1}).cuda()),
                      Contains("index_select: index -5 is out of bounds for dimension 0 with size 4"));
  REQUIRE_THROWS_WITH(gather(x.cuda(), 1, gidx), Contains("gather: expected the index on the input's device cuda:0"));
  // max along a dim with a gradient (gather's backward), embedding with a padding row.
  auto m = randn<T>({7, 9}, gen);
  auto mc = m.clone().requires_grad_(), mg = m.cuda().requires_grad_();
  (max(mc, 1).first * 3.0).sum().backward();
  (max(mg, 1).first * 3.0).sum().backward();
  LATENT_REQUIRE_CLOSE(mg.grad(), mc.grad(), 0.0, 0.0);
  auto weight = randn<T>({10, 4}, gen);
  auto ids = from_vector<int64_t>({1, 3, 3, 0, 9, 3}, {2, 3});
  auto ec = weight.clone().requires_grad_(), eg = weight.cuda().requires_grad_();
  auto oc = nn::functional::embedding(ids, ec, 3), og = nn::functional::embedding(ids, eg, 3);
  LATENT_REQUIRE_CLOSE(og, oc, 0.0, 0.0);
  auto r = randn<T>(oc.shape(), gen);
  (oc * r).sum().backward();
  (og * r.cuda()).sum().backward();
  LATENT_REQUIRE_CLOSE(eg.grad(), ec.grad(), sum_rtol<T>(), sum_rtol<T>());
  // Joining and padding go through strided copies.
  auto p = randn<T>({3, 4}, gen), q = randn<T>({3, 2}, gen);
  LATENT_REQUIRE_CLOSE(cat<T>({p.cuda(), q.cuda()}, 1), cat<T>({p, q}, 1), 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(stack<T>({p.cuda(), p.cuda() * 2.0}, 2), stack<T>({p, p * 2.0}, 2), 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(pad(p.cuda(), {1, 2, -1, 0}, 0.5), pad(p, {1, 2, -1, 0}, 0.5), 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(one_hot<T>(from_vector<int64_t>({2, 0}, {2}).cuda(), 4), one_hot<T>(from_vector<int64_t>({2, 0}, {2}), 4),
                       0.0, 0.0);
}

// f(inputs...) and the gradients of sum(f * r) for a fixed random r, on both devices.
template <typename T, typename F>
void check_layer(const char* name, std::vector<Tensor<T>> inputs, F f, double tol) {
  INFO("layer " << name);
  std::vector<Tensor<T>> cpu, gpu;
  for (auto& t : inputs) {
    cpu.push_back(t.clone().requires_grad_());
    gpu.push_back(t.cuda().requires_grad_());
  }
  auto yc = f(cpu), yg = f(gpu);
  REQUIRE(yg.device() == kGPU);
  LATENT_REQUIRE_CLOSE(yg, yc, tol, tol);
  Generator gen(99);
  auto r = randn<T>(yc.shape(), gen);
  (yc * r).sum().backward();
  (yg * r.cuda()).sum().backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(gpu[i].grad().defined() == cpu[i].grad().defined());  // e.g. no gradient for pos_weight
    if (cpu[i].grad().defined()) LATENT_REQUIRE_CLOSE(gpu[i].grad(), cpu[i].grad(), tol, tol);
  }
}

TEMPLATE_TEST_CASE("cuda: convolutions, normalisations, pooling and resampling match the CPU", "[cuda][layers]",
                   float, double) {
  using T = TestType;
  namespace F = nn::functional;
  using V = std::vector<Tensor<T>>;
  Generator gen(41);
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  auto x = randn<T>({2, 4, 9, 8}, gen);
  // conv2d: padding, stride, dilation, groups; large maps (the CPU's per-sample path) too.
  check_layer<T>("conv2d", {x, randn<T>({6, 2, 3, 3}, gen), randn<T>({6}, gen)}, [](const V& v) {
    return conv2d(v[0], v[1], v[2], 2, 1, IntPair(1, 2), 2);
  }, tol);
  check_layer<T>("conv2d 20x20", {randn<T>({2, 3, 20, 20}, gen), randn<T>({5, 3, 3, 3}, gen)}, [](const V& v) {
    return conv2d(v[0], v[1], Tensor<T>(), 1, 1);
  }, tol);
  // conv_transpose2d with stride 2 and output_padding (DCGAN's generator layers).
  check_layer<T>("conv_transpose2d", {x, randn<T>({4, 3, 4, 4}, gen), randn<T>({3}, gen)}, [](const V& v) {
    return conv_transpose2d(v[0], v[1], v[2], 2, 1, 1);
  }, tol);
  check_layer<T>("reflect pad", {x}, [](const V& v) { return pad(v[0], {2, 1, 1, 3}, "reflect") * 1.5; }, tol);
  check_layer<T>("unfold and fold", {x}, [](const V& v) {
    return fold(unfold(v[0], 3, 1, 1, 2), IntPair(9, 8), 3, 1, 1, 2);
  }, tol);
  // Normalisations: training statistics, with and without affine parameters.
  auto w = uniform<T>({4}, 0.5, 1.5, gen), b = randn<T>({4}, gen);
  check_layer<T>("batch_norm", {x, w, b}, [](const V& v) {
    return F::batch_norm(v[0], Tensor<T>(), Tensor<T>(), v[1], v[2], true);
  }, tol);
  check_layer<T>("group_norm", {x, w, b}, [](const V& v) { return F::group_norm(v[0], 2, v[1], v[2]); }, tol);
  check_layer<T>("instance_norm", {x}, [](const V& v) { return F::instance_norm(v[0]); }, tol);
  check_layer<T>("layer_norm", {x, randn<T>({9, 8}, gen)}, [](const V& v) {
    return F::layer_norm(v[0], Shape{9, 8}, v[1]);
  }, tol);
  // Running statistics: updated alike in training, used alike in eval.
  auto rm = zeros<T>({4}), rv = ones<T>({4});
  auto rm_g = rm.cuda(), rv_g = rv.cuda();
  F::batch_norm(x, rm, rv, w, b, true, 0.3);
  F::batch_norm(x.cuda(), rm_g, rv_g, w.cuda(), b.cuda(), true, 0.3);
  LATENT_REQUIRE_CLOSE(rm_g, rm, tol, tol);
  LATENT_REQUIRE_CLOSE(rv_g, rv, tol, tol);
  LATENT_REQUIRE_CLOSE(F::batch_norm(x.cuda(), rm_g, rv_g, w.cuda(), b.cuda(), false),
                       F::batch_norm(x, rm, rv, w, b, false), tol, tol);
  // Pooling and resampling.
  check_layer<T>("max_pool2d", {x}, [](const V& v) { return F::max_pool2d(v[0], 3, 2, 1); }, 0.0);
  check_layer<T>("max_pool2d dilated, ceil", {x}, [](const V& v) {
    return F::max_pool2d(v[0], 2, 2, 0, 2, true);
  }, 0.0);
  auto [mv, mi] = F::max_pool2d_with_indices(x.cuda(), 3, 2, 1);
  REQUIRE(mi.cpu().to_vector() == F::max_pool2d_with_indices(x, 3, 2, 1).second.to_vector());
  check_layer<T>("avg_pool2d", {x}, [](const V& v) { return F::avg_pool2d(v[0], 3, 2, 1, true, false); }, tol);
  check_layer<T>("adaptive_avg_pool2d", {x}, [](const V& v) { return F::adaptive_avg_pool2d(v[0], IntPair(4, 3)); }, tol);
  check_layer<T>("nearest", {x}, [](const V& v) { return F::interpolate(v[0], {.size = {18, 16}}); }, tol);
  check_layer<T>("bilinear", {x}, [](const V& v) {
    return F::interpolate(v[0], {.size = {13, 11}, .mode = "bilinear", .align_corners = false});
  }, tol);
  check_layer<T>("bilinear aligned", {x}, [](const V& v) {
    return F::interpolate(v[0], {.scale_factor = {2.0, 2.0}, .mode = "bilinear", .align_corners = true});
  }, tol);
  check_layer<T>("pixel_shuffle", {x}, [](const V& v) { return F::pixel_shuffle(v[0], 2); }, 0.0);
  // cdist, with a zero distance (its gradient is 0 there).
  auto pts = randn<T>({2, 5, 3}, gen), other = randn<T>({2, 4, 3}, gen);
  other.narrow(1, 0, 1).copy_(pts.narrow(1, 2, 1));
  check_layer<T>("cdist", {pts, other}, [](const V& v) { return cdist(v[0], v[1]); }, tol);
  // Second order through a conv critic (WGAN-GP's penalty).
  auto critic_penalty = [](const Tensor<T>& img, const Tensor<T>& k) {
    auto score = conv2d(leaky_relu(conv2d(img, k, Tensor<T>(), 2, 1), 0.2), k.narrow(0, 0, 1)).sum();
    auto gx = autograd::grad<T>({score}, {img}, {}, std::nullopt, true)[0];
    return square(sqrt(sum(square(gx), {1, 2, 3})) - 1.0).mean();
  };
  auto img = randn<T>({3, 2, 8, 8}, gen), k = randn<T>({2, 2, 4, 4}, gen) * 0.3;
  auto kc = k.clone().requires_grad_(), kg = k.cuda().requires_grad_();
  auto pc = critic_penalty(img.clone().requires_grad_(), kc), pg = critic_penalty(img.cuda().requires_grad_(), kg);
  LATENT_REQUIRE_CLOSE(pg, pc, tol, tol);
  pc.backward();
  pg.backward();
  LATENT_REQUIRE_CLOSE(kg.grad(), kc.grad(), tol, tol);
}

TEMPLATE_TEST_CASE("cuda: losses and dropout match the CPU", "[cuda][loss]", float, double) {
  using T = TestType;
  namespace F = nn::functional;
  using V = std::vector<Tensor<T>>;
  Generator gen(43);
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  auto logits = randn<T>({6, 5}, gen), target = randn<T>({6, 5}, gen);
  auto prob = sigmoid(logits), label = gt(target, 0.0);
  prob.narrow(0, 0, 1).fill_(0.0);  // log(0): the -100 clamp
  check_layer<T>("bce", {prob, label}, [](const V& v) { return F::binary_cross_entropy(v[0], v[1]); }, tol);
  check_layer<T>("bce with logits", {logits, label, uniform<T>({5}, 0.5, 2.0, gen)}, [](const V& v) {
    return F::binary_cross_entropy_with_logits(v[0], v[1], Tensor<T>(), "sum", v[2]);
  }, tol);
  check_layer<T>("mse", {logits, target}, [](const V& v) { return F::mse_loss(v[0], v[1]); }, tol);
  check_layer<T>("l1", {logits, target}, [](const V& v) { return F::l1_loss(v[0], v[1], "none"); }, tol);
  check_layer<T>("smooth l1", {logits, target}, [](const V& v) { return F::smooth_l1_loss(v[0], v[1]); }, tol);
  check_layer<T>("kl_div", {log_softmax(logits, 1), softmax(target, 1)}, [](const V& v) {
    return F::kl_div(v[0], v[1], "batchmean");
  }, tol);
  auto classes = from_vector<int64_t>({0, 4, 2, -100, 1, 4}, {6});
  for (const auto& t : {classes, classes.cuda()}) {  // targets on either device
    INFO("targets on " << t.device());
    auto ce_c = F::cross_entropy(logits, classes, uniform<T>({5}, 0.5, 2.0, gen), -100, "mean", 0.1);
    Generator again(gen);
    (void)again;
    auto lc = logits.clone().requires_grad_(), lg = logits.cuda().requires_grad_();
    auto weight = uniform<T>({5}, 0.5, 2.0, gen);
    auto a = F::cross_entropy(lc, classes, weight, -100, "mean", 0.1);
    auto b = F::cross_entropy(lg, t, weight.cuda(), -100, "mean", 0.1);
    LATENT_REQUIRE_CLOSE(b, a, tol, tol);
    a.backward();
    b.backward();
    LATENT_REQUIRE_CLOSE(lg.grad(), lc.grad(), tol, tol);
    (void)ce_c;
  }
  REQUIRE_THROWS_WITH(F::binary_cross_entropy(prob.cuda() * 2.0, label.cuda()), Contains("should be between 0 and 1"));
  // Dropout: a seed gives the same mask on both devices (Philox draws the same uniforms).
  Generator g1(5), g2(5);
  auto xd = randn<T>({64, 33}, gen);
  LATENT_REQUIRE_CLOSE(F::dropout(xd.cuda(), 0.3, true, g1), F::dropout(xd, 0.3, true, g2), 0.0, 0.0);
  LATENT_REQUIRE_CLOSE(F::dropout2d(xd.reshape({8, 8, 33}).cuda(), 0.5, true, g1),
                       F::dropout2d(xd.reshape({8, 8, 33}), 0.5, true, g2), 0.0, 0.0);
}

TEMPLATE_TEST_CASE("cuda: optimizers step a model the same way on both devices", "[cuda][optim]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  // A small conv net (conv, group norm, max pool, linear, dropout-free) trained 4 steps.
  auto make = [] {
    manual_seed(3);
    auto model = std::make_shared<nn::Sequential<T>>();
    model->push_back(std::make_shared<nn::Conv2d<T>>(2, 4, 3, 1, 1));
    model->push_back(std::make_shared<nn::GroupNorm<T>>(2, 4));
    model->push_back(nn::SiLU<T>());
    model->push_back(std::make_shared<nn::MaxPool2d<T>>(2));
    model->push_back(nn::Flatten<T>());
    model->push_back(std::make_shared<nn::Linear<T>>(4 * 3 * 3, 3));
    return model;
  };
  Generator gen(61);
  auto x = randn<T>({5, 2, 6, 6}, gen);
  auto labels = from_vector<int64_t>({0, 2, 1, 1, 0}, {5});
  using Factory = std::function<std::unique_ptr<optim::OptimizerBase<T>>(std::vector<Tensor<T>>)>;
  std::vector<std::pair<const char*, Factory>> optimizers{
      {"Adam", [](auto ps) { return std::make_unique<optim::Adam<T>>(ps, optim::AdamOptions{.lr = 1e-2}); }},
      {"AdamW amsgrad", [](auto ps) {
         return std::make_unique<optim::AdamW<T>>(ps, optim::AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true});
       }},
      {"SGD nesterov", [](auto ps) {
         return std::make_unique<optim::SGD<T>>(ps, optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3,
                                                                       .nesterov = true});
       }},
      {"RMSprop centered", [](auto ps) {
         return std::make_unique<optim::RMSprop<T>>(ps, optim::RMSpropOptions{.lr = 1e-3, .momentum = 0.5,
                                                                               .centered = true});
       }},
  };
  for (auto& [name, factory] : optimizers) {
    INFO("optimizer " << name);
    auto cpu_model = make(), gpu_model = make();
    gpu_model->to(kGPU);
    auto cpu_opt = factory(cpu_model->parameters()), gpu_opt = factory(gpu_model->parameters());
    for (int step = 0; step < 4; ++step) {
      for (auto [model, opt, dev] : {std::tuple{cpu_model, cpu_opt.get(), kCPU}, std::tuple{gpu_model, gpu_opt.get(), kGPU}}) {
        opt->zero_grad();
        nn::functional::cross_entropy(model->forward(x.to(dev)), labels.to(dev)).backward();
        optim::clip_grad_norm_(model->parameters(), 5.0);
        opt->step();
      }
    }
    auto pc = cpu_model->named_parameters(), pg = gpu_model->named_parameters();
    REQUIRE(pc.size() == pg.size());
    for (size_t i = 0; i < pc.size(); ++i) {
      INFO("parameter " << pc[i].first);
      REQUIRE(pg[i].second.device() == kGPU);
      LATENT_REQUIRE_CLOSE(pg[i].second, pc[i].second, tol, tol);
    }
  }
  // EMA of weights on the device.
  auto model = make();
  model->to(kGPU);
  optim::EMA<T> ema(*model, 0.9);
  for (auto& p : model->parameters()) {
    NoGradGuard no_grad;
    p.add_(1.0);
  }
  ema.update(*model);
  REQUIRE(ema.state_dict().begin()->second.device() == kGPU);
}

TEST_CASE("cuda: a small conditional U-Net trains and samples as on the CPU", "[cuda][unet]") {
  using T = double;
  const double tol = 1e-9;
  const diffusion::UNetOptions options{.in_channels = 1, .image_size = 8, .base_channels = 8, .channel_mults = {1, 2},
                                       .attention_resolutions = {4}, .num_heads = 2, .time_embed_dim = 16,
                                       .norm_groups = 2, .num_classes = 3};
  manual_seed(71);
  diffusion::UNet<T> cpu_model(options);
  diffusion::UNet<T> gpu_model(options);
  gpu_model.load_state_dict(cpu_model.state_dict(), true);
  gpu_model.to(kGPU);
  Generator gen(72);
  auto x = randn<T>({4, 1, 8, 8}, gen);
  auto t = from_vector<int64_t>({3, 500, 999, 0}, {4});        // timesteps stay on the CPU
  auto labels = from_vector<int64_t>({0, 2, 3, 1}, {4});       // 3 is the null label
  auto yc = cpu_model(x, t, labels), yg = gpu_model(x.cuda(), t, labels);
  LATENT_REQUIRE_CLOSE(yg, yc, tol, tol);
  auto r = randn<T>(yc.shape(), gen);
  (yc * r).sum().backward();
  (yg * r.cuda()).sum().backward();
  auto pc = cpu_model.named_parameters(), pg = gpu_model.named_parameters();
  for (size_t i = 0; i < pc.size(); ++i) {
    INFO("gradient of " << pc[i].first);
    LATENT_REQUIRE_CLOSE(pg[i].second.grad(), pc[i].second.grad(), tol, tol);
  }
  // DDIM (eta > 0: noise from the generator on each device, the same Philox numbers) and
  // DDPM sampling loops.
  cpu_model.eval();
  gpu_model.eval();
  diffusion::DDIMScheduler<T> ddim;
  ddim.set_timesteps(5);
  Generator gc(73), gg(73);
  auto xc = diffusion::sample_loop<T>([&](const Tensor<T>& v, const Tensor<T>& s) { return cpu_model(v, s); }, ddim,
                                      x.clone(), {.eta = 0.5, .generator = &gc, .clamp_to = std::pair{-1.0, 1.0}});
  auto xg = diffusion::sample_loop<T>([&](const Tensor<T>& v, const Tensor<T>& s) { return gpu_model(v, s); }, ddim,
                                      x.cuda(), {.eta = 0.5, .generator = &gg, .clamp_to = std::pair{-1.0, 1.0}});
  REQUIRE(xg.device() == kGPU);
  LATENT_REQUIRE_CLOSE(xg, xc, 1e-8, 1e-8);
  diffusion::DDPMScheduler<T> ddpm({.num_train_timesteps = 20});
  Generator hc(74), hg(74);
  auto zc = diffusion::sample_loop<T>([&](const Tensor<T>& v, const Tensor<T>& s) { return cpu_model(v, s); }, ddpm,
                                      x.clone(), {.generator = &hc});
  auto zg = diffusion::sample_loop<T>([&](const Tensor<T>& v, const Tensor<T>& s) { return gpu_model(v, s); }, ddpm,
                                      x.cuda(), {.generator = &hg});
  LATENT_REQUIRE_CLOSE(zg, zc, 1e-8, 1e-8);
}

TEST_CASE("cuda: pinned memory, copies that do not wait, and events", "[cuda][pinned]") {
  auto x = randn<float>({1000, 33});
  auto pinned = x.pin_memory();
  REQUIRE(pinned.is_pinned());
  REQUIRE_FALSE(x.is_pinned());
  REQUIRE(pinned.is_cpu());
  REQUIRE(pinned.to_vector() == x.to_vector());
  REQUIRE(pinned.pin_memory().data() == pinned.data());  // already pinned: the same tensor
  REQUIRE(x.t().pin_memory().to_vector() == x.t().contiguous().to_vector());
  cuda::Event start(0), stop(0);
  start.record();
  auto doubled = pinned.to(kGPU) * 2.0;  // the copy is queued, the product follows it on the stream
  stop.record();
  stop.synchronize();
  REQUIRE(stop.query());
  REQUIRE(start.elapsed_ms(stop) >= 0.0f);
  LATENT_REQUIRE_CLOSE(doubled, x * 2.0, 0.0, 0.0);
  // Freeing the pinned source right after the copy is queued is safe (the free waits).
  Tensor<float> on_gpu;
  {
    auto source = randn<float>({4096}).pin_memory();
    on_gpu = source.to(kGPU);
    REQUIRE(source.sum().item() == Approx(on_gpu.sum().item()).epsilon(1e-5));
  }
  REQUIRE(on_gpu.cpu().numel() == 4096);
  // A DataLoader with pin_memory yields pinned batches.
  data::TensorDataset dataset(randn<float>({10, 3}), from_vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10}));
  data::DataLoader loader(dataset, {.batch_size = 4, .pin_memory = true});
  int batches = 0;
  for (auto& [features, targets] : loader) {
    REQUIRE(features.is_pinned());
    REQUIRE(targets.is_pinned());
    ++batches;
  }
  REQUIRE(batches == 3);
  REQUIRE_THROWS_WITH(doubled.pin_memory(), Contains("pin_memory: only CPU tensors can be pinned"));
}

TEST_CASE("cuda: mixing devices and unsupported requests are clear errors", "[cuda][errors]") {
  auto a = ones<float>({3}), b = ones<float>({3}, kGPU);
  REQUIRE_THROWS_AS(a + b, Error);
  REQUIRE_THROWS_WITH(a + b, Contains("add: expected all tensors on the same device") && Contains("cpu") &&
                                 Contains("cuda:0"));
  REQUIRE_THROWS_WITH(mm(ones<float>({2, 3}, kGPU), ones<float>({3, 2})), Contains("mm: expected all tensors on the "
                                                                                   "same device"));
  REQUIRE_THROWS_WITH(b.add_(a), Contains("same device"));
  REQUIRE_THROWS_WITH(ones<float>({3}, Device("cuda:99")), Contains("device index 99 out of range"));
  Generator gen(1);
  REQUIRE_THROWS_WITH(data::Resize(4)(ones<float>({1, 2, 2}, kGPU), gen), Contains("not implemented for cuda:0"));
}

int main(int argc, char** argv) {
  if (cuda::device_count() == 0) {
    std::printf("no CUDA device: skipping CUDA tests (%s)\n", cuda::backend().no_device_reason().c_str());
    return 77;  // CTest's SKIP_RETURN_CODE for this test
  }
  return Catch::Session().run(argc, argv);
}
