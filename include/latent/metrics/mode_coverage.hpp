// latent::metrics mode coverage of 2-D samples (RECIPES R8): how many modes of a mixture a
// generator reaches, the usual way to show mode collapse on the ring of 8 Gaussians
// (data::gaussian_ring).
//
//   auto cov = metrics::ring_mode_coverage(samples);          // ring of data::GaussianRingOptions{}
//   cov.modes_hit;               // 0..8
//   cov.high_quality_fraction;   // share of samples within 3 stddev of their nearest mode
//   cov.per_mode;                // high-quality samples per mode
//   auto c2 = metrics::mode_coverage(samples, centers, /*threshold=*/0.06, /*min_count=*/10);
//
// The protocol is the one of VEEGAN (Srivastava et al. 2017, section 5.1, on the ring and
// grid mixtures of the unrolled-GAN paper):
//   - every sample is assigned to its nearest mode center (Euclidean; ties go to the lower
//     index);
//   - it is "high quality" when that distance is at most `threshold`; the protocol's
//     threshold is three standard deviations of the mixture components, 3 * 0.02 = 0.06 for
//     the default ring (ring_mode_coverage uses 3 * options.stddev). In 2-D a sample of
//     the true mixture passes with probability 1 - exp(-9/2) = 98.9%;
//   - a mode is hit (captured) when at least `min_count` high-quality samples are assigned
//     to it. min_count = 1 (one sample suffices) is the usual reading of that protocol; a
//     larger count asks for a mode to be covered rather than grazed.
// Samples with a non-finite coordinate are never high quality (a diverged generator scores
// low rather than throwing). Distances are computed in double.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "../data/synthetic.hpp"
#include "../latent.hpp"

namespace latent::metrics {

struct ModeCoverage {
  int64_t modes_hit = 0;              // modes with >= min_count high-quality samples
  double high_quality_fraction = 0;   // high-quality samples / all samples
  std::vector<int64_t> per_mode;      // high-quality samples assigned to each mode
};

// samples (N, 2) and centers (K, 2), any floating type and device; N >= 1, K >= 1,
// threshold > 0 (a distance), min_count >= 1.
template <typename T>
ModeCoverage mode_coverage(const Tensor<T>& samples, const Tensor<T>& centers, double threshold,
                           int64_t min_count = 1) {
  static_assert(std::is_floating_point_v<T>, "mode_coverage: needs float or double tensors");
  LATENT_CHECK((samples.defined() && centers.defined()), "mode_coverage: an argument is an undefined tensor");
  LATENT_CHECK((samples.dim() == 2 && samples.size(1) == 2 && samples.size(0) >= 1),
               "mode_coverage: samples must be (N, 2) 2-D points with N >= 1, got shape ", samples.shape());
  LATENT_CHECK((centers.dim() == 2 && centers.size(1) == 2 && centers.size(0) >= 1),
               "mode_coverage: centers must be (K, 2) mode centers with K >= 1, got shape ", centers.shape());
  LATENT_CHECK((threshold > 0 && std::isfinite(threshold)),
               "mode_coverage: threshold must be a positive finite distance (3 stddev of a mode), got ", threshold);
  LATENT_CHECK(min_count >= 1, "mode_coverage: min_count must be at least 1, got ", min_count);
  const std::vector<T> s = samples.to_vector(), c = centers.to_vector();
  const int64_t n = samples.size(0), k = centers.size(0);
  for (int64_t j = 0; j < 2 * k; ++j)
    LATENT_CHECK(std::isfinite(static_cast<double>(c[j])), "mode_coverage: center ", j / 2, " of ", k,
                 " has a non-finite coordinate");

  ModeCoverage out;
  out.per_mode.assign(static_cast<size_t>(k), 0);
  int64_t high_quality = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = s[2 * i], y = s[2 * i + 1];
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    int64_t best = 0;
    double best_d2 = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < k; ++j) {
      const double dx = x - static_cast<double>(c[2 * j]), dy = y - static_cast<double>(c[2 * j + 1]);
      const double d2 = dx * dx + dy * dy;
      if (d2 < best_d2) {
        best_d2 = d2;
        best = j;
      }
    }
    if (std::sqrt(best_d2) <= threshold) {
      ++high_quality;
      ++out.per_mode[static_cast<size_t>(best)];
    }
  }
  for (int64_t count : out.per_mode)
    if (count >= min_count) ++out.modes_hit;
  out.high_quality_fraction = static_cast<double>(high_quality) / static_cast<double>(n);
  return out;
}

// Coverage of the ring mixture of data::gaussian_ring with options o: its centers and the
// 3-standard-deviation threshold 3 * o.stddev.
template <typename T>
ModeCoverage ring_mode_coverage(const Tensor<T>& samples, const data::GaussianRingOptions& o = {},
                                int64_t min_count = 1) {
  LATENT_CHECK(o.stddev > 0, "ring_mode_coverage: the ring's stddev must be positive, got ", o.stddev);
  return mode_coverage(samples, data::gaussian_ring_centers<T>(o), 3 * o.stddev, min_count);
}

}  // namespace latent::metrics
