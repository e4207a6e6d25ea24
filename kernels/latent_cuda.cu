// The one CUDA implementation unit: implements latent::cuda::Backend (backend/cuda/backend.hpp)
// on the kernels in this folder and cuBLAS, and registers it at static-initialisation time.
// The CMake target latent::cuda compiles this file into the consumer's own program; a
// build without CMake compiles it once with nvcc and links it with cudart and cublas.
#include <latent/backend/cuda/backend.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "allocator.cuh"
#include "common.cuh"
#include "conv.cuh"
#include "elementwise.cuh"
#include "gemm.cuh"
#include "index.cuh"
#include "optim.cuh"
#include "pooling.cuh"
#include "random.cuh"
#include "reduce.cuh"
#include "softmax.cuh"

namespace latent::cuda {
namespace {

// What one device owns: its allocator, its stream and its cuBLAS handle (created lazily).
struct DeviceContext {
  explicit DeviceContext(int index) : device(index), allocator(index) {}
  int device;
  kernels::DeviceAllocator allocator;
  std::once_flag stream_once, blas_once;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
};

class CudaBackend final : public Backend {
 public:
  int device_count() override {
    std::call_once(count_once_, [this] {
      int n = 0;
      cudaError_t status = cudaGetDeviceCount(&n);
      if (status != cudaSuccess) {
        cudaGetLastError();
        reason_ = latent::detail::str_cat("cudaGetDeviceCount failed: ", cudaGetErrorName(status), " (",
                                          cudaGetErrorString(status), ")");
        n = 0;
      } else if (n == 0) {
        reason_ = "cudaGetDeviceCount found no device";
      }
      for (int i = 0; i < n; ++i) contexts_.push_back(std::make_unique<DeviceContext>(i));
      count_ = n;
    });
    return count_;
  }
  std::string no_device_reason() override {
    device_count();
    return reason_;
  }

  void set_device(int device) override { make_current(device); }
  void synchronize(int device) override {
    LATENT_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
  }

  // ---- memory ----
  void* allocate(int device, size_t bytes) override { return make_current(device).allocator.allocate(bytes); }
  void deallocate(int device, void* ptr, size_t bytes) override {
    if (device >= 0 && device < device_count()) contexts_[device]->allocator.deallocate(ptr, bytes);
  }
  MemoryStats memory_stats(int device) override { return checked(device).allocator.stats(); }
  void empty_cache(int device) override {
    DeviceContext& ctx = make_current(device);
    LATENT_CUDA_CHECK(cudaDeviceSynchronize());
    ctx.allocator.empty_cache();
  }
  void copy_host_to_device(int device, void* dst, const void* host_src, size_t bytes) override {
    // Returns once host_src is staged: the caller may free it right away.
    LATENT_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream(device)));
  }
  void copy_device_to_host(int device, void* host_dst, const void* src, size_t bytes) override {
    cudaStream_t s = stream(device);
    LATENT_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, s));
    LATENT_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  void copy_device_to_device(int device, void* dst, const void* src, size_t bytes) override {
    LATENT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream(device)));
  }

  void* host_alloc_pinned(size_t bytes) override {
    void* p = nullptr;
    device_count();
    LATENT_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    return p;
  }
  void host_free_pinned(void* ptr) noexcept override {
    if (cudaFreeHost(ptr) != cudaSuccess) cudaGetLastError();  // a destructor's path: never throws
  }
  void copy_pinned_to_device_async(int device, void* dst, const void* host_src, size_t bytes) override {
    LATENT_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream(device)));
  }
  void* event_create(int device) override {
    make_current(device);
    cudaEvent_t e = nullptr;
    LATENT_CUDA_CHECK(cudaEventCreate(&e));
    return e;
  }
  void event_destroy(void* event) noexcept override {
    if (cudaEventDestroy(static_cast<cudaEvent_t>(event)) != cudaSuccess) cudaGetLastError();
  }
  void event_record(int device, void* event) override {
    LATENT_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), stream(device)));
  }
  bool event_query(void* event) override {
    cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (status == cudaErrorNotReady) {
      cudaGetLastError();
      return false;
    }
    LATENT_CUDA_CHECK(status);
    return true;
  }
  void event_synchronize(void* event) override {
    LATENT_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
  }
  float event_elapsed_ms(void* start, void* end) override {
    float ms = 0;
    LATENT_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
    return ms;
  }

  // ---- kernels ----
  void fill_f32(int device, float* out, int64_t n, float value) override {
    kernels::fill(out, n, value, stream(device));
  }
  void fill_f64(int device, double* out, int64_t n, double value) override {
    kernels::fill(out, n, value, stream(device));
  }
  void strided_copy_f32(int device, float* out, const float* a, const StridedDesc& desc) override {
    kernels::strided_copy(out, a, desc, stream(device));
  }
  void strided_copy_f64(int device, double* out, const double* a, const StridedDesc& desc) override {
    kernels::strided_copy(out, a, desc, stream(device));
  }
  void binary_f32(int device, BinaryOp op, float* out, const float* a, const float* b,
                  const StridedDesc& desc) override {
    kernels::binary(op, out, a, b, desc, stream(device));
  }
  void binary_f64(int device, BinaryOp op, double* out, const double* a, const double* b,
                  const StridedDesc& desc) override {
    kernels::binary(op, out, a, b, desc, stream(device));
  }
  void unary_f32(int device, UnaryOp op, float* out, const float* a, const StridedDesc& desc, double p0,
                 double p1) override {
    kernels::unary(op, out, a, desc, p0, p1, stream(device));
  }
  void unary_f64(int device, UnaryOp op, double* out, const double* a, const StridedDesc& desc, double p0,
                 double p1) override {
    kernels::unary(op, out, a, desc, p0, p1, stream(device));
  }
  void gather_f32(int device, float* out, const float* a, const int64_t* index, const StridedDesc& desc,
                  int64_t dim_stride) override {
    kernels::gather(out, a, index, desc, dim_stride, stream(device));
  }
  void gather_f64(int device, double* out, const double* a, const int64_t* index, const StridedDesc& desc,
                  int64_t dim_stride) override {
    kernels::gather(out, a, index, desc, dim_stride, stream(device));
  }
  void scatter_add_f32(int device, float* a, const float* src, const int64_t* index, const StridedDesc& desc,
                       int64_t dim_stride) override {
    kernels::scatter_add(a, src, index, desc, dim_stride, stream(device));
  }
  void scatter_add_f64(int device, double* a, const double* src, const int64_t* index, const StridedDesc& desc,
                       int64_t dim_stride) override {
    kernels::scatter_add(a, src, index, desc, dim_stride, stream(device));
  }
  void im2col_f32(int device, const float* x, float* cols, const ConvGeometry& g) override {
    kernels::im2col(x, cols, g, stream(device));
  }
  void im2col_f64(int device, const double* x, double* cols, const ConvGeometry& g) override {
    kernels::im2col(x, cols, g, stream(device));
  }
  void col2im_f32(int device, const float* cols, float* x, const ConvGeometry& g) override {
    kernels::col2im(cols, x, g, stream(device));
  }
  void col2im_f64(int device, const double* cols, double* x, const ConvGeometry& g) override {
    kernels::col2im(cols, x, g, stream(device));
  }
  void max_pool2d_f32(int device, const float* x, float* out, int64_t* index, int64_t planes, int64_t H, int64_t W,
                      const PoolWindow& g) override {
    kernels::max_pool2d(x, out, index, planes, H, W, g, stream(device));
  }
  void max_pool2d_f64(int device, const double* x, double* out, int64_t* index, int64_t planes, int64_t H,
                      int64_t W, const PoolWindow& g) override {
    kernels::max_pool2d(x, out, index, planes, H, W, g, stream(device));
  }
  void max_pool_gather_f32(int device, const float* x, const int64_t* index, float* out, int64_t planes, int64_t HW,
                           int64_t oHW) override {
    kernels::max_pool_gather(x, index, out, planes, HW, oHW, stream(device));
  }
  void max_pool_gather_f64(int device, const double* x, const int64_t* index, double* out, int64_t planes,
                           int64_t HW, int64_t oHW) override {
    kernels::max_pool_gather(x, index, out, planes, HW, oHW, stream(device));
  }
  void max_pool_scatter_f32(int device, const float* g, const int64_t* index, float* out, int64_t planes, int64_t HW,
                            int64_t oHW) override {
    kernels::max_pool_scatter(g, index, out, planes, HW, oHW, stream(device));
  }
  void max_pool_scatter_f64(int device, const double* g, const int64_t* index, double* out, int64_t planes,
                            int64_t HW, int64_t oHW) override {
    kernels::max_pool_scatter(g, index, out, planes, HW, oHW, stream(device));
  }
  void adam_step_f32(int device, float* w, const float* g, float* m, float* v, float* vmax, int64_t n,
                     const optim::AdamRule<float>& rule) override {
    kernels::adam_step(w, g, m, v, vmax, n, rule, stream(device));
  }
  void adam_step_f64(int device, double* w, const double* g, double* m, double* v, double* vmax, int64_t n,
                     const optim::AdamRule<double>& rule) override {
    kernels::adam_step(w, g, m, v, vmax, n, rule, stream(device));
  }
  void sgd_step_f32(int device, float* w, const float* g, float* buf, int64_t n,
                    const optim::SgdRule<float>& rule) override {
    kernels::sgd_step(w, g, buf, n, rule, stream(device));
  }
  void sgd_step_f64(int device, double* w, const double* g, double* buf, int64_t n,
                    const optim::SgdRule<double>& rule) override {
    kernels::sgd_step(w, g, buf, n, rule, stream(device));
  }
  void rmsprop_step_f32(int device, float* w, const float* g, float* s, float* a, float* buf, int64_t n,
                        const optim::RmspropRule<float>& rule) override {
    kernels::rmsprop_step(w, g, s, a, buf, n, rule, stream(device));
  }
  void rmsprop_step_f64(int device, double* w, const double* g, double* s, double* a, double* buf, int64_t n,
                        const optim::RmspropRule<double>& rule) override {
    kernels::rmsprop_step(w, g, s, a, buf, n, rule, stream(device));
  }
  void where_f32(int device, float* out, const float* cond, const float* a, const float* b,
                 const StridedDesc& desc) override {
    kernels::where(out, cond, a, b, desc, stream(device));
  }
  void where_f64(int device, double* out, const double* cond, const double* a, const double* b,
                 const StridedDesc& desc) override {
    kernels::where(out, cond, a, b, desc, stream(device));
  }
  void sum_f32(int device, const float* a, int64_t n, float* out) override { sum(device, a, n, out); }
  void sum_f64(int device, const double* a, int64_t n, double* out) override { sum(device, a, n, out); }
  void reduce_f32(int device, ReduceOp op, const float* x, int64_t outer, int64_t R, int64_t inner, float* out,
                  int64_t* index, double scale) override {
    kernels::reduce(op, x, outer, R, inner, out, index, scale, stream(device));
  }
  void reduce_f64(int device, ReduceOp op, const double* x, int64_t outer, int64_t R, int64_t inner, double* out,
                  int64_t* index, double scale) override {
    kernels::reduce(op, x, outer, R, inner, out, index, scale, stream(device));
  }
  void softmax_f32(int device, const float* x, int64_t outer, int64_t R, int64_t inner, float* out,
                   bool log_space) override {
    kernels::softmax(x, outer, R, inner, out, log_space, stream(device));
  }
  void softmax_f64(int device, const double* x, int64_t outer, int64_t R, int64_t inner, double* out,
                   bool log_space) override {
    kernels::softmax(x, outer, R, inner, out, log_space, stream(device));
  }
  void gemm_f32(int device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                int64_t ldc, int64_t stride_c, int64_t batch) override {
    kernels::gemm(blas(device), trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                  stride_c, batch);
  }
  void gemm_f64(int device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double* a, int64_t lda, int64_t stride_a, const double* b, int64_t ldb, int64_t stride_b,
                double beta, double* c, int64_t ldc, int64_t stride_c, int64_t batch) override {
    kernels::gemm(blas(device), trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                  stride_c, batch);
  }
  void philox_f32(int device, RandomDistribution dist, float* out, int64_t n, uint64_t seed,
                  uint64_t first_block) override {
    kernels::philox(dist, out, n, seed, first_block, stream(device));
  }
  void philox_f64(int device, RandomDistribution dist, double* out, int64_t n, uint64_t seed,
                  uint64_t first_block) override {
    kernels::philox(dist, out, n, seed, first_block, stream(device));
  }

 private:
  DeviceContext& checked(int device) {
    int count = device_count();
    LATENT_CHECK(device >= 0 && device < count, "cuda: device index ", device, " out of range (",
                 count == 0 ? "no CUDA device: " + reason_ : latent::detail::str_cat(count, " device(s)"), ")");
    return *contexts_[device];
  }
  // The device's context, with the device made current for this host thread.
  DeviceContext& make_current(int device) {
    DeviceContext& ctx = checked(device);
    int current = -1;
    LATENT_CUDA_CHECK(cudaGetDevice(&current));
    if (current != device) LATENT_CUDA_CHECK(cudaSetDevice(device));
    return ctx;
  }
  cudaStream_t stream(int device) {
    DeviceContext& ctx = make_current(device);
    std::call_once(ctx.stream_once, [&] {
      LATENT_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
    });
    return ctx.stream;
  }
  cublasHandle_t blas(int device) {
    cudaStream_t s = stream(device);
    DeviceContext& ctx = *contexts_[device];
    std::call_once(ctx.blas_once, [&] {
      cublasHandle_t handle = nullptr;
      LATENT_CUDA_CHECK(cublasCreate(&handle));
      LATENT_CUDA_CHECK(cublasSetStream(handle, s));
      ctx.blas = handle;
    });
    return ctx.blas;
  }
  // Two-pass sum with a scratch buffer of partials from the caching allocator; freeing it
  // right after the launches is safe because its next user is on the same stream.
  template <typename T>
  void sum(int device, const T* a, int64_t n, T* out) {
    cudaStream_t s = stream(device);
    kernels::DeviceAllocator& alloc = contexts_[device]->allocator;
    size_t bytes = sizeof(double) * kernels::sum_partials(n);
    auto* workspace = static_cast<double*>(alloc.allocate(bytes));
    try {
      kernels::sum(a, n, out, workspace, s);
    } catch (...) {
      alloc.deallocate(workspace, bytes);
      throw;
    }
    alloc.deallocate(workspace, bytes);
  }

  std::once_flag count_once_;
  int count_ = 0;
  std::string reason_;
  std::vector<std::unique_ptr<DeviceContext>> contexts_;
};

// Registered before main; never destroyed, since storages may be freed during static destruction.
[[maybe_unused]] const bool registered = [] {
  if (!backend_slot()) backend_slot() = new CudaBackend();
  return true;
}();

}  // namespace
}  // namespace latent::cuda
