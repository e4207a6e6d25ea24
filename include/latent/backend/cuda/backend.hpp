// The host-side interface of the CUDA backend. CPU-only translation units see only this
// table of functions; the one implementation unit kernels/latent_cuda.cu (added to a build
// by the CMake target latent::cuda) registers an implementation at static-initialisation
// time. Without it every CUDA call throws a clear error instead of failing to link.
//
// Contract: pointers are device pointers on `device` unless named host_*; element counts,
// not bytes, except for memory functions.
//
// Streams and synchronisation: each device has one non-default stream (created on first
// use) and a cuBLAS handle bound to it; every kernel, copy and GEMM is enqueued on it, so
// work on one device runs in the order it was issued, from any host thread. Host-to-device
// copies return once the host buffer may be reused, except from pinned (page-locked)
// memory, whose copies are queued and return at once (the pinned buffer is freed with
// cudaFreeHost, which waits for the device); device-to-host copies, synchronize() and
// Event::synchronize() wait for the stream, so they are where asynchronous kernel errors
// surface. Events (cuda::Event) mark positions in a device's stream, for waiting and timing.
// The caching allocator hands a freed block to the next request of its size bucket without
// waiting: safe because the block's last use and its next use are on the same stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../core/error.hpp"
#include "../../core/shape.hpp"
#include "../../optim/update_rules.hpp"
#include "../pointwise.hpp"

namespace latent::cuda {

// Up to kMaxRank dims of shape and strides for strided kernels (passed by value): the
// output and up to three operands a, b, c (strides 0 in broadcast dims and unused operands).
struct StridedDesc {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t out_strides[kMaxRank] = {};
  int64_t a_strides[kMaxRank] = {};
  int64_t b_strides[kMaxRank] = {};
  int64_t c_strides[kMaxRank] = {};
  int64_t a_offset = 0, b_offset = 0, c_offset = 0, out_offset = 0;
};

// The element-wise functions (backend/pointwise.hpp), shared with the CPU loops.
using UnaryOp = pointwise::Unary;
using BinaryOp = pointwise::Binary;

// Reductions over R of a contiguous (outer, R, inner) layout (ops/reduce.hpp).
enum class ReduceOp { Sum, Max, Min };

// Philox draws (core/random.hpp): Uniform is rand's [0, 1), Normal is randn's Box-Muller.
enum class RandomDistribution { Uniform, Normal };

struct MemoryStats {
  size_t allocated_bytes = 0;
  size_t peak_allocated_bytes = 0;
  size_t cached_bytes = 0;
};

// The sliding blocks of a 2-D convolution (ops/conv.hpp's BlockGeometry) over a batch of
// contiguous (N, C, H, W) images, and where the column matrix keeps them: element
// (sample n, row r = (c*kh + i)*kw + j, block l = by*ow + bx) at n*sample_stride +
// r*row_stride + l. Block (by, bx) with tap (i, j) reads pixel (by*sh - ph + i*dh,
// bx*sw - pw + j*dw); pixels outside the image read as 0.
struct ConvGeometry {
  int64_t batch, channels, height, width;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t oh, ow;
  int64_t sample_stride, row_stride;
};

// Column element w (row-major over (batch, rows, blocks)): sets *col to its offset in the
// column matrix and returns the image offset it reads, or -1 for a pixel in the padding.
// The one definition of im2col's indexing, for the kernel and the host emulation.
LATENT_HOST_DEVICE inline int64_t conv_column_source(const ConvGeometry& g, int64_t w, int64_t* col) {
  const int64_t L = g.oh * g.ow, R = g.channels * g.kh * g.kw;
  const int64_t l = w % L, nr = w / L, r = nr % R, n = nr / R;
  const int64_t c = r / (g.kh * g.kw), i = (r / g.kw) % g.kh, j = r % g.kw;
  const int64_t y = (l / g.ow) * g.sh - g.ph + i * g.dh, x = (l % g.ow) * g.sw - g.pw + j * g.dw;
  *col = n * g.sample_stride + r * g.row_stride + l;
  const bool inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
  return inside ? ((n * g.channels + c) * g.height + y) * g.width + x : -1;
}

// A max-pooling window (nn/functional/pooling.hpp's PoolGeometry): kernel, stride, padding,
// dilation and the output size.
struct PoolWindow {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

// Max over output cell (oh, ow) of one contiguous (H, W) plane, with ATen's conventions
// (row-major window, padding never wins, the first maximum, a NaN wins); *index gets the
// flat in-plane index, starting at the window's first in-bounds position. The one
// definition for the kernel and the host emulation.
template <typename T>
LATENT_HOST_DEVICE inline T max_pool_cell(const T* plane, int64_t H, int64_t W, const PoolWindow& g, int64_t oh,
                                          int64_t ow, int64_t* index) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  const int64_t h_end = h0 + (g.kh - 1) * g.dh + 1, w_end = w0 + (g.kw - 1) * g.dw + 1;
  const int64_t h1 = h_end < H ? h_end : H, w1 = w_end < W ? w_end : W;
  while (h0 < 0) h0 += g.dh;
  while (w0 < 0) w0 += g.dw;
  T best = -static_cast<T>(INFINITY);
  int64_t at = h0 * W + w0;
  for (int64_t ih = h0; ih < h1; ih += g.dh)
    for (int64_t iw = w0; iw < w1; iw += g.dw) {
      const T v = plane[ih * W + iw];
      if (v > best || v != v) {
        best = v;
        at = ih * W + iw;
      }
    }
  *index = at;
  return best;
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int device_count() = 0;
  // Why device_count() is 0 (the CUDA runtime's error), or "" when devices were found.
  virtual std::string no_device_reason() = 0;
  virtual void set_device(int device) = 0;
  virtual void synchronize(int device) = 0;

  // Memory (caching allocator; free returns the block to the device's cache).
  virtual void* allocate(int device, size_t bytes) = 0;
  virtual void deallocate(int device, void* ptr, size_t bytes) = 0;
  virtual MemoryStats memory_stats(int device) = 0;
  virtual void empty_cache(int device) = 0;
  virtual void copy_host_to_device(int device, void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_device_to_host(int device, void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy_device_to_device(int device, void* dst, const void* src, size_t bytes) = 0;
  // Page-locked host memory (cudaHostAlloc) for CPU tensors whose copies to a device need not
  // wait (Tensor::pin_memory, DataLoaderOptions::pin_memory). Freeing it (cudaFreeHost)
  // waits for the device, so a buffer still being copied from is never released early.
  virtual void* host_alloc_pinned(size_t bytes) = 0;
  virtual void host_free_pinned(void* ptr) noexcept = 0;
  // Queues a copy from page-locked host memory on the device's stream and returns at once;
  // the host buffer must stay as it is until the stream has run the copy.
  virtual void copy_pinned_to_device_async(int device, void* dst, const void* host_src, size_t bytes) = 0;
  // Events on a device's stream (cuda::Event below): record marks the stream's current
  // position; query says whether the stream has passed it; elapsed is in milliseconds.
  virtual void* event_create(int device) = 0;
  virtual void event_destroy(void* event) noexcept = 0;
  virtual void event_record(int device, void* event) = 0;
  virtual bool event_query(void* event) = 0;
  virtual void event_synchronize(void* event) = 0;
  virtual float event_elapsed_ms(void* start, void* end) = 0;

  // Kernels, float and double. `desc` describes out/a/b over the broadcast shape.
  virtual void fill_f32(int device, float* out, int64_t n, float value) = 0;
  virtual void fill_f64(int device, double* out, int64_t n, double value) = 0;
  virtual void strided_copy_f32(int device, float* out, const float* a, const StridedDesc& desc) = 0;
  virtual void strided_copy_f64(int device, double* out, const double* a, const StridedDesc& desc) = 0;
  virtual void binary_f32(int device, BinaryOp op, float* out, const float* a, const float* b,
                          const StridedDesc& desc) = 0;
  virtual void binary_f64(int device, BinaryOp op, double* out, const double* a, const double* b,
                          const StridedDesc& desc) = 0;
  // out = f(a; p0, p1) over desc (a's strides in a_strides).
  virtual void unary_f32(int device, UnaryOp op, float* out, const float* a, const StridedDesc& desc, double p0,
                         double p1) = 0;
  virtual void unary_f64(int device, UnaryOp op, double* out, const double* a, const StridedDesc& desc, double p0,
                         double p1) = 0;
  // Indexing along a dim over desc's shape (the index's, broadcast): out at the out strides
  // = a at the a strides + index[c strides] * dim_stride (gather), or a at that place +=
  // src at the b strides (scatter_add, atomic). index: device int64 values in [0, len).
  virtual void gather_f32(int device, float* out, const float* a, const int64_t* index, const StridedDesc& desc,
                          int64_t dim_stride) = 0;
  virtual void gather_f64(int device, double* out, const double* a, const int64_t* index, const StridedDesc& desc,
                          int64_t dim_stride) = 0;
  virtual void scatter_add_f32(int device, float* a, const float* src, const int64_t* index, const StridedDesc& desc,
                               int64_t dim_stride) = 0;
  virtual void scatter_add_f64(int device, double* a, const double* src, const int64_t* index,
                               const StridedDesc& desc, int64_t dim_stride) = 0;
  // im2col: every element of the column matrix from the images x; col2im: images x (every
  // pixel written) as the sum of the column entries that read each pixel.
  virtual void im2col_f32(int device, const float* x, float* cols, const ConvGeometry& g) = 0;
  virtual void im2col_f64(int device, const double* x, double* cols, const ConvGeometry& g) = 0;
  virtual void col2im_f32(int device, const float* cols, float* x, const ConvGeometry& g) = 0;
  virtual void col2im_f64(int device, const double* cols, double* x, const ConvGeometry& g) = 0;
  // Max pooling of `planes` contiguous (H, W) planes into (oh, ow) planes, with the argmax's
  // flat index in its plane when index is not null; the gather (out = x at index) and the
  // scatter (out = 0, then out at index += g) between (H*W) and (oHW) planes.
  virtual void max_pool2d_f32(int device, const float* x, float* out, int64_t* index, int64_t planes, int64_t H,
                              int64_t W, const PoolWindow& g) = 0;
  virtual void max_pool2d_f64(int device, const double* x, double* out, int64_t* index, int64_t planes, int64_t H,
                              int64_t W, const PoolWindow& g) = 0;
  virtual void max_pool_gather_f32(int device, const float* x, const int64_t* index, float* out, int64_t planes,
                                   int64_t HW, int64_t oHW) = 0;
  virtual void max_pool_gather_f64(int device, const double* x, const int64_t* index, double* out, int64_t planes,
                                   int64_t HW, int64_t oHW) = 0;
  virtual void max_pool_scatter_f32(int device, const float* g, const int64_t* index, float* out, int64_t planes,
                                    int64_t HW, int64_t oHW) = 0;
  virtual void max_pool_scatter_f64(int device, const double* g, const int64_t* index, double* out,
                                    int64_t planes, int64_t HW, int64_t oHW) = 0;
  // One fused optimizer step over n contiguous elements of a parameter w, its gradient g
  // and its state buffers (null where the rule's options use none), with the rule the CPU
  // applies (optim/update_rules.hpp).
  virtual void adam_step_f32(int device, float* w, const float* g, float* m, float* v, float* vmax, int64_t n,
                             const optim::AdamRule<float>& rule) = 0;
  virtual void adam_step_f64(int device, double* w, const double* g, double* m, double* v, double* vmax, int64_t n,
                             const optim::AdamRule<double>& rule) = 0;
  virtual void sgd_step_f32(int device, float* w, const float* g, float* buf, int64_t n,
                            const optim::SgdRule<float>& rule) = 0;
  virtual void sgd_step_f64(int device, double* w, const double* g, double* buf, int64_t n,
                            const optim::SgdRule<double>& rule) = 0;
  virtual void rmsprop_step_f32(int device, float* w, const float* g, float* s, float* a, float* buf, int64_t n,
                                const optim::RmspropRule<float>& rule) = 0;
  virtual void rmsprop_step_f64(int device, double* w, const double* g, double* s, double* a, double* buf,
                                int64_t n, const optim::RmspropRule<double>& rule) = 0;
  // out = cond != 0 ? a : b over desc (cond, a, b in the a, b, c strides).
  virtual void where_f32(int device, float* out, const float* cond, const float* a, const float* b,
                         const StridedDesc& desc) = 0;
  virtual void where_f64(int device, double* out, const double* cond, const double* a, const double* b,
                         const StridedDesc& desc) = 0;
  virtual void sum_f32(int device, const float* a, int64_t n, float* out) = 0;  // out: 1 device value
  virtual void sum_f64(int device, const double* a, int64_t n, double* out) = 0;
  // x is a contiguous (outer, R, inner) array, out (and index, when not null, for Max and
  // Min) contiguous (outer, inner): out[o, i] = scale * sum over r of x[o, r, i] (Sum,
  // accumulated in double), or its maximum/minimum with the first index of it (NaN wins,
  // as on the CPU). R >= 1 for Max and Min.
  virtual void reduce_f32(int device, ReduceOp op, const float* x, int64_t outer, int64_t R, int64_t inner,
                          float* out, int64_t* index, double scale) = 0;
  virtual void reduce_f64(int device, ReduceOp op, const double* x, int64_t outer, int64_t R, int64_t inner,
                          double* out, int64_t* index, double scale) = 0;
  // softmax (or log_softmax) over R of a contiguous (outer, R, inner) array into out, same layout.
  virtual void softmax_f32(int device, const float* x, int64_t outer, int64_t R, int64_t inner, float* out,
                           bool log_space) = 0;
  virtual void softmax_f64(int device, const double* x, int64_t outer, int64_t R, int64_t inner, double* out,
                           bool log_space) = 0;
  // Row-major C[M,N] = alpha * op(A) op(B) + beta * C, batched with element strides.
  virtual void gemm_f32(int device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float* a, int64_t lda, int64_t stride_a, const float* b,
                        int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                        int64_t stride_c, int64_t batch) = 0;
  virtual void gemm_f64(int device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        double alpha, const double* a, int64_t lda, int64_t stride_a, const double* b,
                        int64_t ldb, int64_t stride_b, double beta, double* c, int64_t ldc,
                        int64_t stride_c, int64_t batch) = 0;
  // out[0, n) = the Philox stream of `seed` from block `first_block`, mapped to elements as
  // core/random.hpp says (float: 4 per block, double: 2). Uniform equals the CPU's rand bit
  // for bit; Normal is within 3 ulps of the CPU's randn (the host libm's log/sin/cos are not
  // the device's: on an H100, 1.5% of floats and 14% of doubles differ in the last bits).
  virtual void philox_f32(int device, RandomDistribution dist, float* out, int64_t n, uint64_t seed,
                          uint64_t first_block) = 0;
  virtual void philox_f64(int device, RandomDistribution dist, double* out, int64_t n, uint64_t seed,
                          uint64_t first_block) = 0;
};

// The argument checks of Backend::gemm_*, shared by the cuBLAS implementation and any other:
// raises each leading dimension that is never used (an operand of one row) to the minimum
// cuBLAS accepts, and throws for one that is too small, for extents over cuBLAS's 32-bit
// int, and for output batches that would overlap.
inline int64_t gemm_ld(const char* name, int64_t ld, int64_t rows, int64_t cols) {
  int64_t need = cols > 1 ? cols : 1;
  if (rows <= 1) return ld > need ? ld : need;
  LATENT_CHECK(ld >= need, "cuda gemm: leading dimension ", name, "=", ld, " is smaller than the ", cols,
               " columns of its row-major operand");
  return ld;
}
inline void check_gemm_args(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t& lda, int64_t& ldb,
                            int64_t& ldc, int64_t stride_c, int64_t batch) {
  lda = gemm_ld("lda", lda, trans_a ? k : m, trans_a ? m : k);
  ldb = gemm_ld("ldb", ldb, trans_b ? n : k, trans_b ? k : n);
  ldc = gemm_ld("ldc", ldc, m, n);
  for (int64_t v : {m, n, k, lda, ldb, ldc, batch})
    LATENT_CHECK(v <= 2147483647, "cuda gemm: extent ", v, " exceeds cuBLAS's 32-bit limit (m=", m, " n=", n,
                 " k=", k, " batch=", batch, ")");
  LATENT_CHECK(batch == 1 || stride_c >= (m - 1) * ldc + n, "cuda gemm: output batch stride ", stride_c,
               " makes the ", batch, " results of (", m, "x", n, ") overlap");
}

inline Backend*& backend_slot() {
  static Backend* slot = nullptr;
  return slot;
}

// The registered backend; throws when this program was built without latent::cuda.
inline Backend& backend() {
  Backend* b = backend_slot();
  LATENT_CHECK(b != nullptr,
               "CUDA backend not available: this program was built without latent::cuda "
               "(link the CMake target latent::cuda, or compile kernels/latent_cuda.cu into it)");
  return *b;
}

inline bool is_compiled() { return backend_slot() != nullptr; }
// Number of usable GPUs; 0 without the backend or without a device.
inline int device_count() { return is_compiled() ? backend().device_count() : 0; }
inline bool is_available() { return device_count() > 0; }
inline void synchronize(int device = 0) { backend().synchronize(device); }
// Caching-allocator statistics of `device` (bytes), and returning its cache to the driver.
inline MemoryStats memory_stats(int device = 0) { return backend().memory_stats(device); }
inline void empty_cache(int device = 0) { backend().empty_cache(device); }

// A CUDA event of one device (RAII): mark the stream's position, wait for it or time the
// work between two marks, as torch.cuda.Event(enable_timing=True).
class Event {
 public:
  explicit Event(int device = 0) : device_(device), handle_(backend().event_create(device)) {}
  ~Event() {
    if (handle_) backend().event_destroy(handle_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept : device_(o.device_), handle_(o.handle_) { o.handle_ = nullptr; }
  void record() { backend().event_record(device_, handle_); }
  bool query() const { return backend().event_query(handle_); }
  void synchronize() const { backend().event_synchronize(handle_); }
  // Milliseconds from this event to `end` (both recorded and reached).
  float elapsed_ms(const Event& end) const { return backend().event_elapsed_ms(handle_, end.handle_); }

 private:
  int device_;
  void* handle_;
};

// Philox blocks a draw of n elements of T uses (the generator's offset advances by this).
template <typename T>
constexpr uint64_t philox_blocks(int64_t n) {
  constexpr int64_t per_block = sizeof(T) == 4 ? 4 : 2;
  return static_cast<uint64_t>((n + per_block - 1) / per_block);
}
// Fills device memory out[0, n) with rand (Uniform) or randn (Normal) numbers.
inline void philox_fill(int device, RandomDistribution dist, float* out, int64_t n, uint64_t seed,
                        uint64_t first_block) {
  if (n > 0) backend().philox_f32(device, dist, out, n, seed, first_block);
}
inline void philox_fill(int device, RandomDistribution dist, double* out, int64_t n, uint64_t seed,
                        uint64_t first_block) {
  if (n > 0) backend().philox_f64(device, dist, out, n, seed, first_block);
}

}  // namespace latent::cuda
