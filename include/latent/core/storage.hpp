// Storage: one reference-counted buffer on a device, shared by every view of it. It also
// carries the version counter that autograd uses to detect in-place changes of saved data.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>

#include "../backend/cuda/backend.hpp"
#include "allocator.hpp"
#include "device.hpp"

namespace latent {

class Storage {
 public:
  // pinned: page-locked host memory from the CUDA backend (a CPU storage only).
  Storage(size_t bytes, Device device, bool pinned = false) : bytes_(bytes), device_(device), pinned_(pinned) {
    LATENT_CHECK(!pinned || device.is_cpu(), "Storage: only CPU memory can be pinned, not ", device);
    if (bytes_ == 0) return;
    if (pinned)
      data_ = cuda::backend().host_alloc_pinned(bytes_);
    else if (device.is_cpu())
      data_ = CpuCachingAllocator::instance().allocate(bytes_);
    else
      data_ = cuda::backend().allocate(device.index, bytes_);
  }
  ~Storage() {
    if (!data_) return;
    if (pinned_)
      cuda::backend().host_free_pinned(data_);
    else if (device_.is_cpu())
      CpuCachingAllocator::instance().deallocate(data_, bytes_);
    else
      cuda::backend().deallocate(device_.index, data_, bytes_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  const Device& device() const { return device_; }
  bool pinned() const { return pinned_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  bool pinned_ = false;
  uint64_t version_ = 0;
};

}  // namespace latent
