// CPU caching allocator: 64-byte aligned blocks kept in size buckets, so steady-state
// training reuses freed buffers instead of paying malloc and page faults per op.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace latent {

struct AllocatorStats {
  size_t allocated_bytes = 0;       // bytes handed out and not yet returned
  size_t peak_allocated_bytes = 0;
  size_t cached_bytes = 0;          // bytes held in free lists
  size_t system_allocations = 0;    // times the allocator had to go to the system
};

class CpuCachingAllocator {
 public:
  static CpuCachingAllocator& instance() {
    static CpuCachingAllocator* a = new CpuCachingAllocator();  // never destroyed: storages may outlive statics
    return *a;
  }

  void* allocate(size_t bytes) {
    size_t size = round_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= size;
        note_alloc(size);
        return p;
      }
      ++stats_.system_allocations;
      note_alloc(size);
    }
    void* p = std::aligned_alloc(kAlignment, size);
    if (!p) {
      empty_cache();
      p = std::aligned_alloc(kAlignment, size);
      if (!p) throw std::bad_alloc();
    }
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    if (!p) return;
    size_t size = round_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.allocated_bytes -= size;
    if (stats_.cached_bytes + size > cache_limit_) {
      std::free(p);
      return;
    }
    free_[size].push_back(p);
    stats_.cached_bytes += size;
  }

  // Returns every cached block to the system.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void set_cache_limit(size_t bytes) { cache_limit_ = bytes; }

 private:
  static constexpr size_t kAlignment = 64;
  // Small blocks round to 64 bytes, larger ones to 1/8 of their power-of-two range,
  // bounding waste at 12.5% while keeping the number of buckets small.
  static size_t round_size(size_t bytes) {
    if (bytes <= 512) return ((bytes + 63) / 64) * 64 + (bytes == 0 ? 64 : 0);
    size_t p = 1;
    while (p < bytes) p <<= 1;
    size_t step = std::max<size_t>(p / 8, 64);
    return ((bytes + step - 1) / step) * step;
  }
  void note_alloc(size_t size) {
    stats_.allocated_bytes += size;
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes)
      stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
  size_t cache_limit_ = size_t(8) << 30;
};

inline AllocatorStats cpu_allocator_stats() { return CpuCachingAllocator::instance().stats(); }
inline void cpu_empty_cache() { CpuCachingAllocator::instance().empty_cache(); }

}  // namespace latent
