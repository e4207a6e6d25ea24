// A host emulation of the CUDA backend's contract (include/latent/backend/cuda/backend.hpp),
// registered before main, so that tests/test_cuda.cpp runs on a machine without a GPU as
// the test `cuda_emulated`. It checks everything on the host side of the CUDA path: which
// backend call each op makes, with which shapes, strides, offsets, geometries and indices,
// and that every result matches the CPU's. Each call does what the contract says with plain
// loops, applying the same functors as the kernels where they share them (backend/pointwise.hpp,
// optim/update_rules.hpp, core/random.hpp's Philox).
//
// What it cannot check: the kernels themselves (launch geometry, shared memory, warp
// shuffles, atomics), cuBLAS's argument mapping, and the device's libm. Those need a GPU
// (scripts/gpu_check.sh).
//
// Under AddressSanitizer, "device" memory is poisoned outside backend calls, so host code
// that dereferences a CUDA tensor's data() directly (a bug on a real GPU) fails loudly here.
#include <latent/backend/cuda/backend.hpp>
#include <latent/core/random.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define LATENT_EMULATOR_POISON 1
#endif

namespace latent::cuda {
namespace {

using pointwise::BinaryFn;
using pointwise::UnaryFn;

// Offsets of linear index i over desc (row-major), for out, a, b and c.
struct Offsets {
  int64_t out, a, b, c;
};
Offsets offsets(const StridedDesc& d, int64_t i) {
  Offsets o{d.out_offset, d.a_offset, d.b_offset, d.c_offset};
  for (int k = d.rank - 1; k >= 0; --k) {
    const int64_t idx = i % d.shape[k];
    i /= d.shape[k];
    o.out += idx * d.out_strides[k];
    o.a += idx * d.a_strides[k];
    o.b += idx * d.b_strides[k];
    o.c += idx * d.c_strides[k];
  }
  return o;
}
int64_t numel(const StridedDesc& d) {
  int64_t n = 1;
  for (int k = 0; k < d.rank; ++k) n *= d.shape[k];
  return n;
}

template <typename T, typename F>
void map1(T* out, const T* a, const StridedDesc& d, F f) {
  const int64_t n = numel(d);
  for (int64_t i = 0; i < n; ++i) {
    auto o = offsets(d, i);
    out[o.out] = f(a[o.a]);
  }
}
template <typename T, typename F>
void map2(T* out, const T* a, const T* b, const StridedDesc& d, F f) {
  const int64_t n = numel(d);
  for (int64_t i = 0; i < n; ++i) {
    auto o = offsets(d, i);
    out[o.out] = f(a[o.a], b[o.b]);
  }
}

template <typename T>
void unary(UnaryOp op, T* out, const T* a, const StridedDesc& d, double p0, double p1) {
  switch (op) {
#define LATENT_EMULATED_UNARY(name) \
  case UnaryOp::name: return map1(out, a, d, UnaryFn<UnaryOp::name, T>{p0, p1});
    LATENT_POINTWISE_UNARY_OPS(LATENT_EMULATED_UNARY)
#undef LATENT_EMULATED_UNARY
  }
  LATENT_CHECK(false, "emulated cuda unary: unknown op ", static_cast<int>(op));
}
template <typename T>
void binary(BinaryOp op, T* out, const T* a, const T* b, const StridedDesc& d) {
  switch (op) {
#define LATENT_EMULATED_BINARY(name) \
  case BinaryOp::name: return map2(out, a, b, d, BinaryFn<BinaryOp::name, T>{});
    LATENT_POINTWISE_BINARY_OPS(LATENT_EMULATED_BINARY)
#undef LATENT_EMULATED_BINARY
  }
  LATENT_CHECK(false, "emulated cuda binary: unknown op ", static_cast<int>(op));
}

template <typename T>
void reduce(ReduceOp op, const T* x, int64_t outer, int64_t R, int64_t inner, T* out, int64_t* index,
            double scale) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* src = x + o * R * inner + i;
      const int64_t w = o * inner + i;
      if (op == ReduceOp::Sum) {
        double acc = 0;
        for (int64_t r = 0; r < R; ++r) acc += static_cast<double>(src[r * inner]);
        out[w] = static_cast<T>(acc * scale);
        continue;
      }
      LATENT_CHECK(R >= 1, "emulated cuda reduce: max/min over an empty extent");
      T best = src[0];
      int64_t at = 0;
      for (int64_t r = 1; r < R && !std::isnan(best); ++r) {
        const T v = src[r * inner];
        if (std::isnan(v) || (op == ReduceOp::Max ? v > best : v < best)) {
          best = v;
          at = r;
        }
      }
      out[w] = best;
      if (index) index[w] = at;
    }
}

template <typename T>
void softmax(const T* x, int64_t outer, int64_t R, int64_t inner, T* out, bool log_space) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* src = x + o * R * inner + i;
      T* dst = out + o * R * inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t r = 0; r < R; ++r) m = std::fmax(m, src[r * inner]);
      if (!std::isfinite(m) && !std::isnan(m)) m = T(0);
      T s = 0;
      for (int64_t r = 0; r < R; ++r) s += std::exp(src[r * inner] - m);
      for (int64_t r = 0; r < R; ++r)
        dst[r * inner] = log_space ? src[r * inner] - (m + std::log(s)) : std::exp(src[r * inner] - m) * (T(1) / s);
    }
}

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, int64_t sa, const T* b,
          int64_t ldb, int64_t sb, T beta, T* c, int64_t ldc, int64_t sc, int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  check_gemm_args(ta, tb, m, n, k, lda, ldb, ldc, sc, batch);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q) {
          const T av = ta ? a[p * sa + q * lda + i] : a[p * sa + i * lda + q];
          const T bv = tb ? b[p * sb + j * ldb + q] : b[p * sb + q * ldb + j];
          acc += static_cast<double>(av) * bv;
        }
        T& dst = c[p * sc + i * ldc + j];
        dst = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : static_cast<double>(beta) * dst));
      }
}

// im2col with the kernel's indexing (conv_column_source); col2im as a scatter over the
// same indexing (not the kernel's per-pixel gather), so the two kernels' index math is
// checked against each other through the CPU's results.
template <typename T>
void im2col(const T* x, T* cols, const ConvGeometry& g) {
  const int64_t total = g.batch * g.channels * g.kh * g.kw * g.oh * g.ow;
  for (int64_t w = 0; w < total; ++w) {
    int64_t col;
    const int64_t src = conv_column_source(g, w, &col);
    cols[col] = src >= 0 ? x[src] : T(0);
  }
}
template <typename T>
void col2im(const T* cols, T* x, const ConvGeometry& g) {
  std::fill(x, x + g.batch * g.channels * g.height * g.width, T(0));
  const int64_t total = g.batch * g.channels * g.kh * g.kw * g.oh * g.ow;
  for (int64_t w = 0; w < total; ++w) {
    int64_t col;
    const int64_t src = conv_column_source(g, w, &col);
    if (src >= 0) x[src] += cols[col];
  }
}

template <typename T>
void max_pool(const T* x, T* out, int64_t* index, int64_t planes, int64_t H, int64_t W, const PoolWindow& g) {
  for (int64_t w = 0; w < planes * g.oh * g.ow; ++w) {
    int64_t at;
    out[w] = max_pool_cell(x + (w / (g.oh * g.ow)) * H * W, H, W, g, (w / g.ow) % g.oh, w % g.ow, &at);
    if (index) index[w] = at;
  }
}

template <typename T>
void philox(RandomDistribution dist, T* out, int64_t n, uint64_t seed, uint64_t first_block) {
  constexpr int64_t per = sizeof(T) == 4 ? 4 : 2;
  for (int64_t b = 0; b * per < n; ++b) {
    uint32_t w[4];
    philox::block(first_block + static_cast<uint64_t>(b), seed, w);
    T z[4];
    if constexpr (sizeof(T) == 4) {
      if (dist == RandomDistribution::Uniform) {
        for (int j = 0; j < 4; ++j) z[j] = philox::uniform_float(w[j]);
      } else {
        philox::box_muller_float(philox::uniform_float(w[0]), philox::uniform_float(w[1]), z[0], z[1]);
        philox::box_muller_float(philox::uniform_float(w[2]), philox::uniform_float(w[3]), z[2], z[3]);
      }
    } else {
      if (dist == RandomDistribution::Uniform) {
        for (int j = 0; j < 2; ++j) z[j] = philox::uniform_double(w[2 * j], w[2 * j + 1]);
      } else {
        philox::box_muller_double(philox::uniform_double(w[0], w[1]), philox::uniform_double(w[2], w[3]), z[0], z[1]);
      }
    }
    for (int64_t j = 0; j < per && b * per + j < n; ++j) out[b * per + j] = z[j];
  }
}

class EmulatedBackend final : public Backend {
 public:
  int device_count() override { return 1; }
  std::string no_device_reason() override { return ""; }
  void set_device(int device) override { check(device); }
  void synchronize(int device) override { check(device); }

  void* allocate(int device, size_t bytes) override {
    check(device);
    void* p = ::operator new(std::max<size_t>(bytes, 1), std::align_val_t{256});
    std::lock_guard<std::mutex> lock(mutex_);
    live_[p] = bytes;
    stats_.allocated_bytes += bytes;
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    poison(p, bytes);
    return p;
  }
  void deallocate(int, void* ptr, size_t bytes) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.erase(ptr);
      stats_.allocated_bytes -= bytes;
    }
    unpoison(ptr, bytes);
    ::operator delete(ptr, std::align_val_t{256});
  }
  MemoryStats memory_stats(int) override { return stats_; }
  void empty_cache(int) override {}
  void copy_host_to_device(int, void* dst, const void* src, size_t bytes) override {
    Open open(*this);
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_device_to_host(int, void* dst, const void* src, size_t bytes) override {
    Open open(*this);
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_device_to_device(int, void* dst, const void* src, size_t bytes) override {
    Open open(*this);
    if (bytes) std::memmove(dst, src, bytes);
  }

  // Pinned memory is ordinary host memory here, asynchronous copies are synchronous, and
  // every event has been reached.
  void* host_alloc_pinned(size_t bytes) override { return ::operator new(std::max<size_t>(bytes, 1)); }
  void host_free_pinned(void* ptr) noexcept override { ::operator delete(ptr); }
  void copy_pinned_to_device_async(int device, void* dst, const void* src, size_t bytes) override {
    copy_host_to_device(device, dst, src, bytes);
  }
  void* event_create(int device) override {
    check(device);
    return new int(0);
  }
  void event_destroy(void* event) noexcept override { delete static_cast<int*>(event); }
  void event_record(int device, void* event) override {
    check(device);
    *static_cast<int*>(event) = 1;
  }
  bool event_query(void* event) override { return *static_cast<int*>(event) == 1; }
  void event_synchronize(void*) override {}
  float event_elapsed_ms(void* start, void* end) override {
    LATENT_CHECK(event_query(start) && event_query(end), "cuda Event.elapsed_ms: both events must be recorded");
    return 0.0f;
  }

  void fill_f32(int, float* out, int64_t n, float v) override { fill(out, n, v); }
  void fill_f64(int, double* out, int64_t n, double v) override { fill(out, n, v); }
  void strided_copy_f32(int, float* out, const float* a, const StridedDesc& d) override { copy(out, a, d); }
  void strided_copy_f64(int, double* out, const double* a, const StridedDesc& d) override { copy(out, a, d); }
  void binary_f32(int, BinaryOp op, float* out, const float* a, const float* b, const StridedDesc& d) override {
    Open open(*this);
    binary(op, out, a, b, d);
  }
  void binary_f64(int, BinaryOp op, double* out, const double* a, const double* b, const StridedDesc& d) override {
    Open open(*this);
    binary(op, out, a, b, d);
  }
  void unary_f32(int, UnaryOp op, float* out, const float* a, const StridedDesc& d, double p0, double p1) override {
    Open open(*this);
    unary(op, out, a, d, p0, p1);
  }
  void unary_f64(int, UnaryOp op, double* out, const double* a, const StridedDesc& d, double p0, double p1) override {
    Open open(*this);
    unary(op, out, a, d, p0, p1);
  }
  void gather_f32(int, float* out, const float* a, const int64_t* idx, const StridedDesc& d, int64_t s) override {
    gather(out, a, idx, d, s);
  }
  void gather_f64(int, double* out, const double* a, const int64_t* idx, const StridedDesc& d, int64_t s) override {
    gather(out, a, idx, d, s);
  }
  void scatter_add_f32(int, float* a, const float* src, const int64_t* idx, const StridedDesc& d, int64_t s) override {
    scatter_add(a, src, idx, d, s);
  }
  void scatter_add_f64(int, double* a, const double* src, const int64_t* idx, const StridedDesc& d,
                       int64_t s) override {
    scatter_add(a, src, idx, d, s);
  }
  void im2col_f32(int, const float* x, float* cols, const ConvGeometry& g) override {
    Open open(*this);
    im2col(x, cols, g);
  }
  void im2col_f64(int, const double* x, double* cols, const ConvGeometry& g) override {
    Open open(*this);
    im2col(x, cols, g);
  }
  void col2im_f32(int, const float* cols, float* x, const ConvGeometry& g) override {
    Open open(*this);
    col2im(cols, x, g);
  }
  void col2im_f64(int, const double* cols, double* x, const ConvGeometry& g) override {
    Open open(*this);
    col2im(cols, x, g);
  }
  void max_pool2d_f32(int, const float* x, float* out, int64_t* index, int64_t planes, int64_t H, int64_t W,
                      const PoolWindow& g) override {
    Open open(*this);
    max_pool(x, out, index, planes, H, W, g);
  }
  void max_pool2d_f64(int, const double* x, double* out, int64_t* index, int64_t planes, int64_t H, int64_t W,
                      const PoolWindow& g) override {
    Open open(*this);
    max_pool(x, out, index, planes, H, W, g);
  }
  void max_pool_gather_f32(int, const float* x, const int64_t* idx, float* out, int64_t planes, int64_t HW,
                           int64_t oHW) override {
    pool_gather(x, idx, out, planes, HW, oHW);
  }
  void max_pool_gather_f64(int, const double* x, const int64_t* idx, double* out, int64_t planes, int64_t HW,
                           int64_t oHW) override {
    pool_gather(x, idx, out, planes, HW, oHW);
  }
  void max_pool_scatter_f32(int, const float* g, const int64_t* idx, float* out, int64_t planes, int64_t HW,
                            int64_t oHW) override {
    pool_scatter(g, idx, out, planes, HW, oHW);
  }
  void max_pool_scatter_f64(int, const double* g, const int64_t* idx, double* out, int64_t planes, int64_t HW,
                            int64_t oHW) override {
    pool_scatter(g, idx, out, planes, HW, oHW);
  }
  void adam_step_f32(int, float* w, const float* g, float* m, float* v, float* vmax, int64_t n,
                     const optim::AdamRule<float>& rule) override {
    Open open(*this);
    for (int64_t i = 0; i < n; ++i) rule(i, w, g, m, v, vmax);
  }
  void adam_step_f64(int, double* w, const double* g, double* m, double* v, double* vmax, int64_t n,
                     const optim::AdamRule<double>& rule) override {
    Open open(*this);
    for (int64_t i = 0; i < n; ++i) rule(i, w, g, m, v, vmax);
  }
  void sgd_step_f32(int, float* w, const float* g, float* buf, int64_t n, const optim::SgdRule<float>& rule) override {
    Open open(*this);
    for (int64_t i = 0; i < n; ++i) rule(i, w, g, buf);
  }
  void sgd_step_f64(int, double* w, const double* g, double* buf, int64_t n,
                    const optim::SgdRule<double>& rule) override {
    Open open(*this);
    for (int64_t i = 0; i < n; ++i) rule(i, w, g, buf);
  }
  void rmsprop_step_f32(int, float* w, const float* g, float* s, float* a, float* buf, int64_t n,
                        const optim::RmspropRule<float>& rule) override {
    Open open(*this);
    for (int64_t i = 0; i < n; ++i) rule(i, w, g, s, a, buf);
  }
  void rmsprop_step_f64(int, double* w, const double* g, double* s, double* a, double* buf, int64_t n,
                        const optim::RmspropRule<double>& rule) override {
    Open open(*this);
    for (int64_t i = 0; i < n; ++i) rule(i, w, g, s, a, buf);
  }
  void where_f32(int, float* out, const float* c, const float* a, const float* b, const StridedDesc& d) override {
    where(out, c, a, b, d);
  }
  void where_f64(int, double* out, const double* c, const double* a, const double* b,
                 const StridedDesc& d) override {
    where(out, c, a, b, d);
  }
  void sum_f32(int, const float* a, int64_t n, float* out) override { sum(a, n, out); }
  void sum_f64(int, const double* a, int64_t n, double* out) override { sum(a, n, out); }
  void reduce_f32(int, ReduceOp op, const float* x, int64_t outer, int64_t R, int64_t inner, float* out,
                  int64_t* index, double scale) override {
    Open open(*this);
    reduce(op, x, outer, R, inner, out, index, scale);
  }
  void reduce_f64(int, ReduceOp op, const double* x, int64_t outer, int64_t R, int64_t inner, double* out,
                  int64_t* index, double scale) override {
    Open open(*this);
    reduce(op, x, outer, R, inner, out, index, scale);
  }
  void softmax_f32(int, const float* x, int64_t outer, int64_t R, int64_t inner, float* out, bool ls) override {
    Open open(*this);
    softmax(x, outer, R, inner, out, ls);
  }
  void softmax_f64(int, const double* x, int64_t outer, int64_t R, int64_t inner, double* out, bool ls) override {
    Open open(*this);
    softmax(x, outer, R, inner, out, ls);
  }
  void gemm_f32(int, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc,
                int64_t batch) override {
    Open open(*this);
    gemm(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
  }
  void gemm_f64(int, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                int64_t sa, const double* b, int64_t ldb, int64_t sb, double beta, double* c, int64_t ldc,
                int64_t sc, int64_t batch) override {
    Open open(*this);
    gemm(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
  }
  void philox_f32(int, RandomDistribution dist, float* out, int64_t n, uint64_t seed, uint64_t first) override {
    Open open(*this);
    philox(dist, out, n, seed, first);
  }
  void philox_f64(int, RandomDistribution dist, double* out, int64_t n, uint64_t seed, uint64_t first) override {
    Open open(*this);
    philox(dist, out, n, seed, first);
  }

 private:
  // While a backend call runs, device memory is readable (unpoisoned); outside, host code
  // touching it is an AddressSanitizer error. Calls do not nest.
  struct Open {
    explicit Open(EmulatedBackend& b) : backend(b) { backend.set_poisoned(false); }
    ~Open() { backend.set_poisoned(true); }
    EmulatedBackend& backend;
  };
  void set_poisoned([[maybe_unused]] bool on) {
#if defined(LATENT_EMULATOR_POISON)
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [p, bytes] : live_) on ? poison(p, bytes) : unpoison(p, bytes);
#endif
  }
  static void poison([[maybe_unused]] void* p, [[maybe_unused]] size_t bytes) {
#if defined(LATENT_EMULATOR_POISON)
    ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
  }
  static void unpoison([[maybe_unused]] void* p, [[maybe_unused]] size_t bytes) {
#if defined(LATENT_EMULATOR_POISON)
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
  }
  static void check(int device) {
    LATENT_CHECK(device == 0, "cuda: device index ", device, " out of range (1 device(s))");
  }

  template <typename T>
  void fill(T* out, int64_t n, T v) {
    Open open(*this);
    std::fill(out, out + n, v);
  }
  template <typename T>
  void copy(T* out, const T* a, const StridedDesc& d) {
    Open open(*this);
    map1(out, a, d, [](T v) { return v; });
  }
  template <typename T>
  void where(T* out, const T* c, const T* a, const T* b, const StridedDesc& d) {
    Open open(*this);
    const int64_t n = numel(d);
    for (int64_t i = 0; i < n; ++i) {
      auto o = offsets(d, i);
      out[o.out] = pointwise::WhereFn<T>{}(c[o.a], a[o.b], b[o.c]);
    }
  }
  template <typename T>
  void gather(T* out, const T* a, const int64_t* idx, const StridedDesc& d, int64_t dim_stride) {
    Open open(*this);
    const int64_t n = numel(d);
    for (int64_t i = 0; i < n; ++i) {
      auto o = offsets(d, i);
      out[o.out] = a[o.a + idx[o.c] * dim_stride];
    }
  }
  template <typename T>
  void scatter_add(T* a, const T* src, const int64_t* idx, const StridedDesc& d, int64_t dim_stride) {
    Open open(*this);
    const int64_t n = numel(d);
    for (int64_t i = 0; i < n; ++i) {
      auto o = offsets(d, i);
      a[o.a + idx[o.c] * dim_stride] += src[o.b];
    }
  }
  template <typename T>
  void pool_gather(const T* x, const int64_t* idx, T* out, int64_t planes, int64_t HW, int64_t oHW) {
    Open open(*this);
    for (int64_t w = 0; w < planes * oHW; ++w) out[w] = idx[w] >= 0 && idx[w] < HW ? x[(w / oHW) * HW + idx[w]] : T(0);
  }
  template <typename T>
  void pool_scatter(const T* g, const int64_t* idx, T* out, int64_t planes, int64_t HW, int64_t oHW) {
    Open open(*this);
    std::fill(out, out + planes * HW, T(0));
    for (int64_t w = 0; w < planes * oHW; ++w)
      if (idx[w] >= 0 && idx[w] < HW) out[(w / oHW) * HW + idx[w]] += g[w];
  }
  template <typename T>
  void sum(const T* a, int64_t n, T* out) {
    Open open(*this);
    double acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]);
    *out = static_cast<T>(acc);
  }

  std::mutex mutex_;
  std::map<void*, size_t> live_;
  MemoryStats stats_;
};

[[maybe_unused]] const bool registered = [] {
  if (!backend_slot()) backend_slot() = new EmulatedBackend();
  return true;
}();

}  // namespace
}  // namespace latent::cuda
