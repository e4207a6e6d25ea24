// Per-device caching allocator (host code): cudaMalloc'd blocks kept in size buckets and
// handed out again without a cudaMalloc/cudaFree (which synchronise the device). The same
// bucketing as the CPU's CpuCachingAllocator (core/allocator.hpp): waste at most 12.5%.
// Reuse needs no event: every use of device memory is on the device's one stream.
#pragma once
#include <map>
#include <mutex>
#include <vector>

#include "common.cuh"

namespace latent::cuda::kernels {

class DeviceAllocator {
 public:
  explicit DeviceAllocator(int device) : device_(device) {}
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // A block of at least `bytes` (256-byte aligned). The caller has made device_ current.
  void* allocate(size_t bytes) {
    size_t size = round_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= size;
      note_alloc(size);
      return p;
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it, give the cache back and try once more
      release_cached();
      status = cudaMalloc(&p, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      LATENT_CHECK(false, "CUDA out of memory: tried to allocate ", bytes, " bytes on cuda:", device_,
                   " (this allocator holds ", stats_.allocated_bytes, " bytes in use; the device has ", free_bytes,
                   " of ", total_bytes, " bytes free)");
    }
    LATENT_CUDA_CHECK(status);
    note_alloc(size);
    return p;
  }

  // Returns a block to its bucket. Never throws (called from destructors).
  void deallocate(void* p, size_t bytes) noexcept {
    if (!p) return;
    size_t size = round_size(bytes);
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.allocated_bytes -= size;
      free_[size].push_back(p);
      stats_.cached_bytes += size;
    } catch (...) {
      // out of host memory for the free list: the block leaks rather than crash a destructor
    }
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  // cudaFree of every cached block. The caller has made device_ current and synchronised.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached();
  }

 private:
  // Small blocks round to 512 bytes, larger ones to 1/8 of their power-of-two range.
  static size_t round_size(size_t bytes) {
    if (bytes <= 512) return 512;
    size_t p = 1;
    while (p < bytes) p <<= 1;
    size_t step = std::max<size_t>(p / 8, 512);
    return ((bytes + step - 1) / step) * step;
  }
  void note_alloc(size_t size) {
    stats_.allocated_bytes += size;
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  }
  void release_cached() {  // mutex_ held; frees every block, then reports the first failure
    cudaError_t first_error = cudaSuccess;
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) {
        cudaError_t status = cudaFree(p);
        if (first_error == cudaSuccess) first_error = status;
      }
    free_.clear();
    stats_.cached_bytes = 0;
    LATENT_CUDA_CHECK(first_error);
  }

  int device_;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  MemoryStats stats_;
};

}  // namespace latent::cuda::kernels
