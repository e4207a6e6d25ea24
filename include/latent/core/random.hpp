// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11), the generator
// cuRAND and PyTorch's CUDA backend use. The stream is a pure function of (seed, offset),
// so the CUDA backend reproduces the CPU's numbers element for element:
//   block j of a draw = philox(counter = {lo(offset + j), hi(offset + j), 0, 0},
//                              key = {lo(seed), hi(seed)}), four 32-bit words.
// float:  rand uses word i for element i; randn pairs words (2k, 2k+1) by Box-Muller.
// double: rand uses words (2i, 2i+1) for element i; randn uses block k for elements 2k, 2k+1.
// A draw of n elements advances the generator's offset by the number of blocks it used.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <mutex>

#include "error.hpp"

namespace latent {

namespace philox {
using Block = std::array<uint32_t, 4>;

#if defined(__CUDACC__)
#define LATENT_HOST_DEVICE __host__ __device__
#else
#define LATENT_HOST_DEVICE
#endif

LATENT_HOST_DEVICE inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter c with key k, written into out[0..3].
LATENT_HOST_DEVICE inline void block(uint64_t counter, uint64_t seed, uint32_t out[4]) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

// Uniform in [0, 1) from 24 (float) or 53 (double) random bits.
LATENT_HOST_DEVICE inline float uniform_float(uint32_t w) { return (w >> 8) * (1.0f / 16777216.0f); }
LATENT_HOST_DEVICE inline double uniform_double(uint32_t lo, uint32_t hi) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 32 | lo) >> 11;
  return bits * (1.0 / 9007199254740992.0);
}
// Box-Muller on two uniforms in [0, 1): u1 is mapped to (0, 1] so log never sees 0.
LATENT_HOST_DEVICE inline void box_muller_float(float u1, float u2, float& z0, float& z1) {
  float r = sqrtf(-2.0f * logf(1.0f - u1));
  float theta = 6.2831853071795864769f * u2;
  z0 = r * cosf(theta);
  z1 = r * sinf(theta);
}
LATENT_HOST_DEVICE inline void box_muller_double(double u1, double u2, double& z0, double& z1) {
  double r = sqrt(-2.0 * log(1.0 - u1));
  double theta = 6.2831853071795864769 * u2;
  z0 = r * cos(theta);
  z1 = r * sin(theta);
}
}  // namespace philox

// A generator is a seed plus an offset (in Philox blocks). Thread-safe draws.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5EEDull) : seed_(seed) {}
  Generator(const Generator& other) : seed_(other.seed_), offset_(other.offset_) {}
  Generator& operator=(const Generator& other) {
    std::lock_guard<std::mutex> lock(mutex_);
    seed_ = other.seed_;
    offset_ = other.offset_;
    return *this;
  }

  void manual_seed(uint64_t seed) {
    std::lock_guard<std::mutex> lock(mutex_);
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    std::lock_guard<std::mutex> lock(mutex_);
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves `blocks` Philox blocks and returns the offset of the first.
  uint64_t reserve(uint64_t blocks) {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t first = offset_;
    offset_ += blocks;
    return first;
  }

  // Scalar draws (one block each), for host-side decisions such as shuffles.
  uint32_t next_u32() {
    uint32_t w[4];
    philox::block(reserve(1), seed_, w);
    return w[0];
  }
  double next_double() {
    uint32_t w[4];
    philox::block(reserve(1), seed_, w);
    return philox::uniform_double(w[0], w[1]);
  }
  // Uniform integer in [0, n) without modulo bias worth noting (64 random bits).
  uint64_t next_below(uint64_t n) {
    uint32_t w[4];
    philox::block(reserve(1), seed_, w);
    uint64_t r = (static_cast<uint64_t>(w[1]) << 32) | w[0];
    return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * n) >> 64);
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  std::mutex mutex_;
};

// The process-wide default generator (as torch.manual_seed's).
inline Generator& default_generator() {
  static Generator g;
  return g;
}
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace latent
