// latent::nn and latent::optim: modules, layers, initialisation and optimizers.
//
//   auto net = nn::sequential<float>(std::make_shared<nn::Linear<float>>(2, 50), nn::ReLU<float>(),
//                                    std::make_shared<nn::Linear<float>>(50, 1));
//   optim::Adam<float> opt(net->parameters(), {.lr = 3e-4});
//   auto loss = net->forward(x).square().mean();
//   opt.zero_grad(); loss.backward(); opt.step();
#pragma once

#include "latent.hpp"
#include "nn/module.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/activation.hpp"
#include "nn/container.hpp"
#include "nn/conv.hpp"
#include "nn/pooling.hpp"
#include "nn/dropout.hpp"
#include "nn/embedding.hpp"
#include "nn/norm.hpp"
#include "nn/attention.hpp"
#include "nn/loss.hpp"
#include "nn/weight_reparam.hpp"
#include "optim/optimizer.hpp"
#include "optim/sgd.hpp"
#include "optim/adam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/clip.hpp"
#include "optim/lr_scheduler.hpp"
#include "optim/ema.hpp"
