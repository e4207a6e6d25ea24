// The host-side interface of the CUDA backend. CPU-only translation units see only this
// table of functions; the one implementation unit kernels/latent_cuda.cu (added to a build
// by the CMake target latent::cuda) registers an implementation at static-initialisation
// time. Without it every CUDA call throws a clear error instead of failing to link.
//
// Contract: pointers are device pointers on the current device unless named host_*;
// element counts, not bytes, except for memory functions. All work is enqueued on the
// device's stream; copies to the host synchronise that stream before returning.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../../core/error.hpp"
#include "../../core/shape.hpp"

namespace latent::cuda {

// Up to kMaxRank dims of shape and strides for strided kernels (passed by value).
struct StridedDesc {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t out_strides[kMaxRank] = {};
  int64_t a_strides[kMaxRank] = {};
  int64_t b_strides[kMaxRank] = {};
  int64_t a_offset = 0, b_offset = 0, out_offset = 0;
};

enum class BinaryOp { Add, Sub, Mul, Div };

struct MemoryStats {
  size_t allocated_bytes = 0;
  size_t peak_allocated_bytes = 0;
  size_t cached_bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int device_count() = 0;
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

  // Kernels, float and double. `desc` describes out/a/b over the broadcast shape.
  virtual void fill_f32(int device, float* out, int64_t n, float value) = 0;
  virtual void fill_f64(int device, double* out, int64_t n, double value) = 0;
  virtual void strided_copy_f32(int device, float* out, const float* a, const StridedDesc& desc) = 0;
  virtual void strided_copy_f64(int device, double* out, const double* a, const StridedDesc& desc) = 0;
  virtual void binary_f32(int device, BinaryOp op, float* out, const float* a, const float* b,
                          const StridedDesc& desc) = 0;
  virtual void binary_f64(int device, BinaryOp op, double* out, const double* a, const double* b,
                          const StridedDesc& desc) = 0;
  virtual void sum_f32(int device, const float* a, int64_t n, float* out) = 0;  // out: 1 device value
  virtual void sum_f64(int device, const double* a, int64_t n, double* out) = 0;
  // Row-major C[M,N] = alpha * op(A) op(B) + beta * C, batched with element strides.
  virtual void gemm_f32(int device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float* a, int64_t lda, int64_t stride_a, const float* b,
                        int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                        int64_t stride_c, int64_t batch) = 0;
  virtual void gemm_f64(int device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        double alpha, const double* a, int64_t lda, int64_t stride_a, const double* b,
                        int64_t ldb, int64_t stride_b, double beta, double* c, int64_t ldc,
                        int64_t stride_c, int64_t batch) = 0;
};

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

}  // namespace latent::cuda
