// One thread pool (OpenMP) for everything, with a grain size so tiny tensors never pay
// for a parallel region (the parabola GAN's 50-wide layers are dominated by overhead).
#pragma once
#include <algorithm>
#include <cstdint>
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace latent {

// Elements below which element-wise loops stay on one thread.
inline constexpr int64_t kParallelGrain = 32768;

inline int get_num_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}
inline void set_num_threads(int n) {
#if defined(_OPENMP)
  omp_set_num_threads(std::max(n, 1));
#else
  (void)n;
#endif
}

// Calls f(begin, end) over [0, n) in contiguous chunks, in parallel when the work
// (n * cost_per_item elements) is above the grain and we are not already in a region.
template <typename F>
void parallel_for(int64_t n, int64_t cost_per_item, F&& f) {
  if (n <= 0) return;
#if defined(_OPENMP)
  int threads = omp_get_max_threads();
  if (threads > 1 && n > 1 && n * std::max<int64_t>(cost_per_item, 1) >= kParallelGrain &&
      !omp_in_parallel()) {
    int chunks = static_cast<int>(std::min<int64_t>(threads, n));
#pragma omp parallel num_threads(chunks)
    {
      int t = omp_get_thread_num();
      int64_t begin = n * t / chunks, end = n * (t + 1) / chunks;
      if (begin < end) f(begin, end);
    }
    return;
  }
#endif
  f(int64_t(0), n);
}

}  // namespace latent
