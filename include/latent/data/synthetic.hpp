// latent::data synthetic 2-D datasets of the recipes (../shared/RECIPES.md):
//   R1/R2: points on the parabola y = x^2 with x ~ U(-1, 1);
//   R8:    the ring of 8 Gaussians, the usual picture of mode collapse.
//
//   Generator gen(0);
//   Tensor<float> pts = data::parabola_points(30 * 128, gen);          // (3840, 2): columns x, y
//   data::DataLoader loader(data::parabola_dataset(30 * 128, 0), {.batch_size = 128, .shuffle = true});
//   auto [ring, mode] = data::gaussian_ring(1000, gen);               // (1000, 2) points, (1000) mode index
//
// The ring follows the unrolled-GAN paper's toy set (Metz et al. 2016, "Unrolled
// Generative Adversarial Networks", section 3.1), which RECIPES R8 refers to without
// numbers: 8 modes with means on a circle of radius 2, at angles 2 pi k / 8 starting on
// the positive x axis, standard deviation 0.02 per coordinate, each point's mode drawn
// uniformly. All three are options.
#pragma once
#include <cmath>
#include <cstdint>
#include <numbers>
#include <utility>
#include <vector>

#include "../latent.hpp"
#include "dataset.hpp"

namespace latent::data {

// n points (x, x^2), x ~ U(-1, 1): an (n, 2) tensor.
template <typename T = float>
Tensor<T> parabola_points(int64_t n, Generator& gen = default_generator()) {
  LATENT_CHECK(n >= 0, "parabola_points: n must be non-negative, got ", n);
  NoGradGuard no_grad;
  auto x = uniform<T>(Shape{n, 1}, -1.0, 1.0, gen);
  return cat<T>({x, x * x}, 1);
}

// The same points as a dataset (batches: std::tuple<Tensor<T>> of (B, 2)), from a seed.
template <typename T = float>
TensorDataset<T> parabola_dataset(int64_t n, uint64_t seed) {
  Generator gen(seed);
  return TensorDataset<T>(parabola_points<T>(n, gen));
}

struct GaussianRingOptions {
  int64_t modes = 8;
  double radius = 2.0;
  double stddev = 0.02;
};

// The (modes, 2) mode means: radius * (cos, sin)(2 pi k / modes).
template <typename T = float>
Tensor<T> gaussian_ring_centers(const GaussianRingOptions& o = {}) {
  LATENT_CHECK(o.modes > 0, "gaussian_ring_centers: modes must be positive, got ", o.modes);
  std::vector<T> c;
  for (int64_t k = 0; k < o.modes; ++k) {
    const double a = 2 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(o.modes);
    c.push_back(static_cast<T>(o.radius * std::cos(a)));
    c.push_back(static_cast<T>(o.radius * std::sin(a)));
  }
  return from_vector<T>(c, Shape{o.modes, 2});
}

// n points of the ring mixture: {(n, 2) points, (n) mode of each point}.
template <typename T = float>
std::pair<Tensor<T>, IndexTensor> gaussian_ring(int64_t n, Generator& gen = default_generator(),
                                                const GaussianRingOptions& o = {}) {
  LATENT_CHECK(n >= 0, "gaussian_ring: n must be non-negative, got ", n);
  LATENT_CHECK(o.stddev >= 0 && std::isfinite(o.stddev), "gaussian_ring: stddev must be finite and non-negative, got ",
               o.stddev);
  NoGradGuard no_grad;
  auto centers = gaussian_ring_centers<T>(o);
  IndexTensor mode = randint(0, o.modes, Shape{n}, gen);
  auto noise = normal<T>(Shape{n, 2}, 0.0, o.stddev, gen);
  return {index_select(centers, 0, mode) + noise, mode};
}

// The ring as a dataset of (points, modes), from a seed.
template <typename T = float>
TensorDataset<T, int64_t> gaussian_ring_dataset(int64_t n, uint64_t seed, const GaussianRingOptions& o = {}) {
  Generator gen(seed);
  auto ring = gaussian_ring<T>(n, gen, o);
  return TensorDataset<T, int64_t>(ring.first, ring.second);
}

}  // namespace latent::data
