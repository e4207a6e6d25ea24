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
// Box-Muller needs log, sin and cos. Host libm and CUDA's differ in the last bit for some
// inputs, so randn would differ between devices; these portable versions use only IEEE
// operations that are exact on both (+, -, *, /, sqrt, frexp/ldexp, explicit fma), so the
// CPU and the GPU give the same bits. Accuracy: within 2 ulp of the true value (double).

// log(x) for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with
// s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^23 (truncation below 1e-19).
LATENT_HOST_DEVICE inline double portable_log(double x) {
  int e;
  double m = frexp(x, &e);  // m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    e -= 1;
  }
  double s = (m - 1) / (m + 1);
  double s2 = s * s;
  double p = 1.0 / 23;
  p = fma(p, s2, 1.0 / 21);
  p = fma(p, s2, 1.0 / 19);
  p = fma(p, s2, 1.0 / 17);
  p = fma(p, s2, 1.0 / 15);
  p = fma(p, s2, 1.0 / 13);
  p = fma(p, s2, 1.0 / 11);
  p = fma(p, s2, 1.0 / 9);
  p = fma(p, s2, 1.0 / 7);
  p = fma(p, s2, 1.0 / 5);
  p = fma(p, s2, 1.0 / 3);
  p = fma(p, s2, 1.0);
  double log_m = 2 * s * p;
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  double de = static_cast<double>(e);
  return fma(de, ln2_hi, fma(de, ln2_lo, log_m));
}

// sin and cos of 2 pi u for u in [0, 1): 4u = k + f with k integer and |f| <= 1/2 (both
// exact), r = f pi/2 in [-pi/4, pi/4], Taylor series to r^19 / r^18, then the quadrant k.
LATENT_HOST_DEVICE inline void portable_sincos_2pi(double u, double& sin_out, double& cos_out) {
  double t = 4 * u;
  double k = floor(t + 0.5);
  double r = (t - k) * 1.57079632679489661923;
  double r2 = r * r;
  double sp = -1.0 / 121645100408832000.0;  // -1/19!
  sp = fma(sp, r2, 1.0 / 355687428096000.0);
  sp = fma(sp, r2, -1.0 / 1307674368000.0);
  sp = fma(sp, r2, 1.0 / 6227020800.0);
  sp = fma(sp, r2, -1.0 / 39916800.0);
  sp = fma(sp, r2, 1.0 / 362880.0);
  sp = fma(sp, r2, -1.0 / 5040.0);
  sp = fma(sp, r2, 1.0 / 120.0);
  sp = fma(sp, r2, -1.0 / 6.0);
  double sin_r = fma(sp * r2, r, r);
  double cp = 1.0 / 6402373705728000.0;  // 1/18!
  cp = fma(cp, r2, -1.0 / 20922789888000.0);
  cp = fma(cp, r2, 1.0 / 87178291200.0);
  cp = fma(cp, r2, -1.0 / 479001600.0);
  cp = fma(cp, r2, 1.0 / 3628800.0);
  cp = fma(cp, r2, -1.0 / 40320.0);
  cp = fma(cp, r2, 1.0 / 720.0);
  cp = fma(cp, r2, -1.0 / 24.0);
  cp = fma(cp, r2, 0.5);
  double cos_r = fma(-cp, r2, 1.0);
  switch (static_cast<int>(k) & 3) {
    case 0: sin_out = sin_r; cos_out = cos_r; break;
    case 1: sin_out = cos_r; cos_out = -sin_r; break;
    case 2: sin_out = -sin_r; cos_out = -cos_r; break;
    default: sin_out = -cos_r; cos_out = sin_r; break;
  }
}

// Box-Muller on two uniforms in [0, 1): u1 is mapped to (0, 1] so log never sees 0.
// Computed in double and rounded once for float.
LATENT_HOST_DEVICE inline void box_muller_double(double u1, double u2, double& z0, double& z1) {
  double r = sqrt(-2.0 * portable_log(1.0 - u1));
  double s, c;
  portable_sincos_2pi(u2, s, c);
  z0 = r * c;
  z1 = r * s;
}
LATENT_HOST_DEVICE inline void box_muller_float(float u1, float u2, float& z0, float& z1) {
  double a, b;
  box_muller_double(static_cast<double>(u1), static_cast<double>(u2), a, b);
  z0 = static_cast<float>(a);
  z1 = static_cast<float>(b);
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
