// CUDA backend tests: every CUDA op against the CPU result (kernels/*.cuh, cuBLAS, Philox on
// the device, the caching allocator, autograd on CUDA tensors). Without a GPU the program
// prints why and exits 77, which CTest reports as skipped. Run standalone:
//   ./latent_cuda_tests            (Catch2 options work, e.g. "[gemm]" or --success)
// Tolerances: element-wise ops and copies are exact (one IEEE operation per element);
// sums and products differ from the CPU only in summation order; rand is bitwise equal,
// randn is bitwise equal too (portable log/sincos in core/random.hpp).
#define CATCH_CONFIG_RUNNER
#include <bit>
#include <cstdio>
#include <limits>
#include <string>

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

TEST_CASE("cuda: mixing devices and unsupported requests are clear errors", "[cuda][errors]") {
  auto a = ones<float>({3}), b = ones<float>({3}, kGPU);
  REQUIRE_THROWS_AS(a + b, Error);
  REQUIRE_THROWS_WITH(a + b, Contains("add: expected all tensors on the same device") && Contains("cpu") &&
                                 Contains("cuda:0"));
  REQUIRE_THROWS_WITH(mm(ones<float>({2, 3}, kGPU), ones<float>({3, 2})), Contains("mm: expected all tensors on the "
                                                                                   "same device"));
  REQUIRE_THROWS_WITH(b.add_(a), Contains("same device"));
  REQUIRE_THROWS_WITH(ones<float>({3}, Device("cuda:99")), Contains("device index 99 out of range"));
  REQUIRE_THROWS_WITH(b.exp(), Contains("not implemented for cuda:0"));
}

int main(int argc, char** argv) {
  if (cuda::device_count() == 0) {
    std::printf("no CUDA device: skipping CUDA tests (%s)\n", cuda::backend().no_device_reason().c_str());
    return 77;  // CTest's SKIP_RETURN_CODE for this test
  }
  return Catch::Session().run(argc, argv);
}
