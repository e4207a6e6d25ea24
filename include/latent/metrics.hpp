// latent::metrics, the umbrella header: measures of generation quality (RECIPES R8).
//
//   #include <latent/metrics.hpp>
//   using namespace latent;
//   metrics::FID<float> fid(feature_extractor, {.batch_size = 256});      // streaming FID
//   fid.update(held_out_images, true);  fid.update(generated, false);
//   double d = fid.compute();
//   double f = metrics::frechet_distance(metrics::gaussian_stats(a), metrics::gaussian_stats(b));
//   auto [is_mean, is_std] = metrics::inception_score_from_logits(classifier(generated), 10);
//   auto cov = metrics::ring_mode_coverage(samples);                       // 8-Gaussian ring: modes hit
//   metrics::ImageClassifier<float> clf;          // the small CNN whose features classifier-FID uses
#pragma once

#include "latent.hpp"
#include "metrics/classifier.hpp"
#include "metrics/frechet.hpp"
#include "metrics/fid.hpp"
#include "metrics/inception_score.hpp"
#include "metrics/mode_coverage.hpp"
