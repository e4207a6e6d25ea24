// Tensor creation: constants, ranges, from host data, and random tensors from the
// Philox stream described in core/random.hpp (the same numbers on every device).
#pragma once
#include <cmath>
#include <vector>

#include "common.hpp"

namespace latent {

template <typename T = float>
Tensor<T> empty(const Shape& shape, Device device = kCPU) {
  return Tensor<T>::empty(shape, device);
}

template <typename T>
void fill_buffer(Tensor<T>& t, T value) {
  // t is contiguous and freshly allocated
  if (t.numel() == 0) return;
  if (t.device().is_cuda()) {
    if constexpr (detail::is_cuda_type<T>) {
      if constexpr (std::is_same_v<T, float>) cuda::backend().fill_f32(t.device().index, t.data(), t.numel(), value);
      else cuda::backend().fill_f64(t.device().index, t.data(), t.numel(), value);
      return;
    }
    LATENT_CHECK(false, "fill: ", dtype_name<T>(), " tensors are not supported on ", t.device());
  }
  T* p = t.data();
  int64_t n = t.numel();
  parallel_for(n, 1, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, value); });
}

template <typename T = float>
Tensor<T> full(const Shape& shape, T value, Device device = kCPU) {
  auto t = Tensor<T>::empty(shape, device);
  fill_buffer(t, value);
  return t;
}
template <typename T = float>
Tensor<T> zeros(const Shape& shape, Device device = kCPU) { return full<T>(shape, T(0), device); }
template <typename T = float>
Tensor<T> ones(const Shape& shape, Device device = kCPU) { return full<T>(shape, T(1), device); }
template <typename T>
Tensor<T> zeros_like(const Tensor<T>& t) { return zeros<T>(t.shape(), t.device()); }
template <typename T>
Tensor<T> ones_like(const Tensor<T>& t) { return ones<T>(t.shape(), t.device()); }
template <typename T>
Tensor<T> full_like(const Tensor<T>& t, T value) { return full<T>(t.shape(), value, t.device()); }
template <typename T>
Tensor<T> empty_like(const Tensor<T>& t) { return Tensor<T>::empty(t.shape(), t.device()); }
// A 0-dim tensor holding `value` (scalars in binary ops broadcast like these).
template <typename T>
Tensor<T> scalar_tensor(T value, Device device = kCPU) { return full<T>(Shape{}, value, device); }

// Copies host data (row-major) into a new tensor of `shape` on `device`.
template <typename T>
Tensor<T> from_vector(const std::vector<T>& values, const Shape& shape, Device device = kCPU) {
  LATENT_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
               " values do not fill shape ", shape, " (", shape.numel(), " elements)");
  auto t = Tensor<T>::empty(shape, kCPU);
  std::copy(values.begin(), values.end(), t.data());
  return device.is_cpu() ? t : t.to(device);
}
template <typename T>
Tensor<T> from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
// tensor<float>({1, 2, 3}) or tensor<float>({1, 2, 3, 4}, {2, 2}).
template <typename T = float>
Tensor<T> tensor(std::initializer_list<T> values, const Shape& shape) {
  return from_vector(std::vector<T>(values), shape);
}
template <typename T = float>
Tensor<T> tensor(std::initializer_list<T> values) {
  return from_vector(std::vector<T>(values));
}

// [start, end) in steps of `step`, as torch.arange.
template <typename T = float>
Tensor<T> arange(double start, double end, double step = 1, Device device = kCPU) {
  LATENT_CHECK(step != 0, "arange: step must be nonzero");
  LATENT_CHECK((end - start) / step >= 0, "arange: upper bound ", end, " and lower bound ", start,
               " inconsistent with step sign ", step);
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  std::vector<T> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(start + i * step);
  return from_vector(v, Shape{n}, device);
}
template <typename T = float>
Tensor<T> arange(double end) { return arange<T>(0, end, 1); }

template <typename T = float>
Tensor<T> linspace(double start, double end, int64_t steps, Device device = kCPU) {
  LATENT_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  std::vector<T> v(steps);
  // As PyTorch: the first half counts up from start, the second half down from end.
  double step = steps > 1 ? (end - start) / (steps - 1) : 0;
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    v[i] = static_cast<T>(i < half ? start + step * i : end - step * (steps - 1 - i));
  return from_vector(v, Shape{steps}, device);
}

template <typename T = float>
Tensor<T> eye(int64_t n, int64_t m = -1, Device device = kCPU) {
  if (m < 0) m = n;
  auto t = zeros<T>(Shape{n, m});
  for (int64_t i = 0; i < std::min(n, m); ++i) t.data()[i * m + i] = T(1);
  return device.is_cpu() ? t : t.to(device);
}

// ---- random ----
namespace detail {
// Fills n values from the Philox stream: gen(block_words, first_element_of_block, out, n).
template <typename T, typename BlockFn>
Tensor<T> philox_tensor(const Shape& shape, Device device, Generator& gen, int64_t per_block,
                        BlockFn fn) {
  auto t = Tensor<T>::empty(shape, kCPU);
  int64_t n = t.numel();
  int64_t blocks = (n + per_block - 1) / per_block;
  uint64_t first = gen.reserve(blocks);
  uint64_t seed = gen.seed();
  T* p = t.data();
  parallel_for(blocks, per_block * 8, [&](int64_t b0, int64_t b1) {
    uint32_t w[4];
    for (int64_t b = b0; b < b1; ++b) {
      philox::block(first + b, seed, w);
      fn(w, b * per_block, p, n);
    }
  });
  return device.is_cpu() ? t : t.to(device);
}
}  // namespace detail

// Uniform in [low, high).
template <typename T = float>
Tensor<T> rand(const Shape& shape, Generator& gen = default_generator(), Device device = kCPU) {
  if constexpr (detail::is_cuda_type<T>) {
    if (device.is_cuda()) {  // generated on the device: same blocks, same numbers
      auto t = Tensor<T>::empty(shape, device);
      uint64_t first = gen.reserve(cuda::philox_blocks<T>(t.numel()));
      cuda::philox_fill(device.index, cuda::RandomDistribution::Uniform, t.data(), t.numel(), gen.seed(), first);
      return t;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    return detail::philox_tensor<T>(shape, device, gen, 4, [](uint32_t* w, int64_t i0, T* p, int64_t n) {
      for (int j = 0; j < 4 && i0 + j < n; ++j) p[i0 + j] = philox::uniform_float(w[j]);
    });
  } else {
    return detail::philox_tensor<T>(shape, device, gen, 2, [](uint32_t* w, int64_t i0, T* p, int64_t n) {
      for (int j = 0; j < 2 && i0 + j < n; ++j) p[i0 + j] = philox::uniform_double(w[2 * j], w[2 * j + 1]);
    });
  }
}
template <typename T = float>
Tensor<T> uniform(const Shape& shape, double low, double high, Generator& gen = default_generator(),
                  Device device = kCPU) {
  auto u = rand<T>(shape, gen, kCPU);
  T* p = u.data();
  for (int64_t i = 0; i < u.numel(); ++i) p[i] = static_cast<T>(low + (high - low) * p[i]);
  return device.is_cpu() ? u : u.to(device);
}

// Standard normal, Box-Muller on pairs of uniforms.
template <typename T = float>
Tensor<T> randn(const Shape& shape, Generator& gen = default_generator(), Device device = kCPU) {
  if constexpr (detail::is_cuda_type<T>) {
    if (device.is_cuda()) {  // generated on the device: same blocks, same pairs of words
      auto t = Tensor<T>::empty(shape, device);
      uint64_t first = gen.reserve(cuda::philox_blocks<T>(t.numel()));
      cuda::philox_fill(device.index, cuda::RandomDistribution::Normal, t.data(), t.numel(), gen.seed(), first);
      return t;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    return detail::philox_tensor<T>(shape, device, gen, 4, [](uint32_t* w, int64_t i0, T* p, int64_t n) {
      float z[4];
      philox::box_muller_float(philox::uniform_float(w[0]), philox::uniform_float(w[1]), z[0], z[1]);
      philox::box_muller_float(philox::uniform_float(w[2]), philox::uniform_float(w[3]), z[2], z[3]);
      for (int j = 0; j < 4 && i0 + j < n; ++j) p[i0 + j] = z[j];
    });
  } else {
    return detail::philox_tensor<T>(shape, device, gen, 2, [](uint32_t* w, int64_t i0, T* p, int64_t n) {
      double z[2];
      philox::box_muller_double(philox::uniform_double(w[0], w[1]), philox::uniform_double(w[2], w[3]),
                                z[0], z[1]);
      for (int j = 0; j < 2 && i0 + j < n; ++j) p[i0 + j] = z[j];
    });
  }
}
template <typename T = float>
Tensor<T> normal(const Shape& shape, double mean, double stddev, Generator& gen = default_generator(),
                 Device device = kCPU) {
  auto z = randn<T>(shape, gen, kCPU);
  T* p = z.data();
  for (int64_t i = 0; i < z.numel(); ++i) p[i] = static_cast<T>(mean + stddev * p[i]);
  return device.is_cpu() ? z : z.to(device);
}
template <typename T>
Tensor<T> rand_like(const Tensor<T>& t, Generator& gen = default_generator()) {
  return rand<T>(t.shape(), gen, t.device());
}
template <typename T>
Tensor<T> randn_like(const Tensor<T>& t, Generator& gen = default_generator()) {
  return randn<T>(t.shape(), gen, t.device());
}

// Integers uniform in [low, high), 64 random bits each (words 2i, 2i+1).
template <typename T = int64_t>
Tensor<T> randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator(),
                  Device device = kCPU) {
  LATENT_CHECK(high > low, "randint: expected low < high, got low=", low, " high=", high);
  uint64_t range = static_cast<uint64_t>(high - low);
  return detail::philox_tensor<T>(shape, device, gen, 2, [=](uint32_t* w, int64_t i0, T* p, int64_t n) {
    for (int j = 0; j < 2 && i0 + j < n; ++j) {
      uint64_t r = (static_cast<uint64_t>(w[2 * j + 1]) << 32) | w[2 * j];
      p[i0 + j] = static_cast<T>(low + static_cast<int64_t>((static_cast<unsigned __int128>(r) * range) >> 64));
    }
  });
}

// 1 with probability p (element-wise), else 0.
template <typename T = float>
Tensor<T> bernoulli(const Shape& shape, double p, Generator& gen = default_generator(), Device device = kCPU) {
  LATENT_CHECK(p >= 0 && p <= 1, "bernoulli: probability ", p, " outside [0, 1]");
  auto u = rand<T>(shape, gen, kCPU);
  T* d = u.data();
  for (int64_t i = 0; i < u.numel(); ++i) d[i] = d[i] < p ? T(1) : T(0);
  return device.is_cpu() ? u : u.to(device);
}
template <typename T>
Tensor<T> bernoulli(const Tensor<T>& probs, Generator& gen = default_generator()) {
  auto p = probs.cpu().contiguous();
  auto u = rand<T>(p.shape(), gen, kCPU);
  T* d = u.data();
  const T* q = p.data();
  for (int64_t i = 0; i < u.numel(); ++i) {
    LATENT_CHECK(q[i] >= 0 && q[i] <= 1, "bernoulli: probability ", q[i], " at flat index ", i,
                 " outside [0, 1]");
    d[i] = d[i] < q[i] ? T(1) : T(0);
  }
  return probs.device().is_cpu() ? u : u.to(probs.device());
}

// A random permutation of 0..n-1 (Fisher-Yates on the generator's scalar draws).
inline Tensor<int64_t> randperm(int64_t n, Generator& gen = default_generator(), Device device = kCPU) {
  LATENT_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  auto t = Tensor<int64_t>::empty(Shape{n}, kCPU);
  int64_t* p = t.data();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[static_cast<int64_t>(gen.next_below(i + 1))]);
  return device.is_cpu() ? t : t.to(device);
}

}  // namespace latent
