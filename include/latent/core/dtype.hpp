// Element-type traits. Tensor<T> is templated on T; these give the runtime name used in
// messages and file formats (safetensors), and leave room for half/bfloat16 later.
#pragma once
#include <cstdint>
#include <type_traits>

namespace latent {

enum class DType { Float32, Float64, Int64, Int32, UInt8 };

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::UInt8: return "uint8";
  }
  return "?";
}
template <typename T>
const char* dtype_name() { return dtype_name(dtype_of<T>::value); }

// Types that autograd differentiates through.
template <typename T>
concept FloatingElement = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace latent
