// latent::data, the umbrella header: IDX files, MNIST/FashionMNIST, transforms, datasets,
// the DataLoader and the synthetic 2-D sets of the recipes.
//
//   #include <latent/data.hpp>
//   using namespace latent;
//   data::FashionMNIST train(data::Split::Train, {},                 // default directories
//                            data::Compose{data::Resize(32), data::Normalize({0.5}, {0.5})});
//   data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .drop_last = true, .seed = 1});
//   for (int epoch = 0; epoch < 3; ++epoch)
//     for (auto& [images, labels] : loader) { ... }     // (64, 1, 32, 32) in [-1, 1], (64) int64
//
//   auto a = data::read_idx("t10k-labels-idx1-ubyte.gz");             // raw or .gz, validated
//   data::DataLoader points(data::parabola_dataset(30 * 128, /*seed=*/0), {.batch_size = 128});
#pragma once

#include "latent.hpp"
#include "data/idx.hpp"
#include "data/transforms.hpp"
#include "data/dataset.hpp"
#include "data/mnist.hpp"
#include "data/dataloader.hpp"
#include "data/synthetic.hpp"
