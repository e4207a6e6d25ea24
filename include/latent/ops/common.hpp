// Helpers shared by the op families: device checks and CUDA dispatch by element type.
#pragma once
#include <cstdlib>
#include <type_traits>

#include "../autograd/node.hpp"
#include "../backend/cpu/loops.hpp"
#include "../backend/cuda/backend.hpp"
#include "../core/tensor.hpp"

namespace latent {

namespace detail {
template <typename T>
void check_same_device(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
  LATENT_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ",
               a.device(), " (shape ", a.shape(), ") and ", b.device(), " (shape ", b.shape(), ")");
}
template <typename T>
void check_defined(const char* op, const Tensor<T>& a) {
  LATENT_CHECK(a.defined(), op, ": got an undefined tensor");
}
// For ops without a CUDA path yet (the CUDA backend issue adds them).
template <typename T>
void check_cpu(const char* op, const Tensor<T>& a) {
  LATENT_CHECK(a.device().is_cpu(), op, ": not implemented for ", a.device(), " tensors yet (shape ",
               a.shape(), ", ", dtype_name<T>(), "); move the tensor to the CPU with .cpu()");
}
// How the CUDA paths of the index ops (ops/index.hpp) treat an index. Host: check and
// normalise it on the host (a copy from the device, which waits for it). Done: it is a
// device index those ops already checked and normalised (what each of their backward
// passes hands on), so the copy is skipped.
enum class IndexCheck { Host, Done };

template <typename T>
constexpr bool is_cuda_type = std::is_same_v<T, float> || std::is_same_v<T, double>;

// The CUDA kernels' description of out and up to three operands over `shape` (operand
// strides as seen from the broadcast shape; offsets are already in the data pointers).
template <typename T>
cuda::StridedDesc strided_desc(const Shape& shape, const Tensor<T>& out, const Strides& sa, int64_t a_offset,
                               const Strides* sb = nullptr, int64_t b_offset = 0, const Strides* sc = nullptr) {
  cuda::StridedDesc d;
  d.rank = shape.rank();
  for (int i = 0; i < shape.rank(); ++i) {
    d.shape[i] = shape[i];
    d.out_strides[i] = out.strides()[i];
    d.a_strides[i] = sa[i];
    d.b_strides[i] = sb ? (*sb)[i] : 0;
    d.c_strides[i] = sc ? (*sc)[i] : 0;
  }
  d.out_offset = 0;
  d.a_offset = a_offset;
  d.b_offset = b_offset;
  return d;
}

// For element types the CUDA kernels are not instantiated for.
template <typename T>
[[noreturn]] void cuda_type_error(const char* op, const Tensor<T>& a) {
  LATENT_CHECK(false, op, ": CUDA kernels exist for float and double only, got ", dtype_name<T>(), " (shape ",
               a.shape(), ", ", a.device(), ")");
  std::abort();
}

// Strides of `t` seen from a broadcast `shape` (0 in broadcast dims).
template <typename T>
Strides broadcast_strides(const Tensor<T>& t, const Shape& shape) {
  Strides s;
  int lead = shape.rank() - t.dim();
  for (int i = 0; i < shape.rank(); ++i) {
    int j = i - lead;
    s.push_back(j < 0 || t.shape()[j] == 1 ? 0 : t.strides()[j]);
  }
  return s;
}
}  // namespace detail

}  // namespace latent
