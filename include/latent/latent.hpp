// latent: a header-only C++20 tensor library with reverse-mode autograd.
//
//   #include <latent/latent.hpp>
//   using namespace latent;
//   auto x = randn<float>({4, 3}).requires_grad_();
//   auto w = randn<float>({3, 2}).requires_grad_();
//   auto loss = x.matmul(w).relu().sum();
//   loss.backward();                 // x.grad(), w.grad() now hold dloss/dx, dloss/dw
//
// Layers, optimizers, GAN and diffusion modules build on this core (see docs/layout.md).
#pragma once

#include "core/error.hpp"
#include "core/shape.hpp"
#include "core/device.hpp"
#include "core/dtype.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "backend/cpu/parallel.hpp"
#include "ops/creation.hpp"
#include "ops/view.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"
#include "ops/index.hpp"
#include "ops/linalg.hpp"
#include "ops/softmax.hpp"
#include "ops/inplace.hpp"
#include "autograd/engine.hpp"
#include "autograd/functions.hpp"
#include "core/tensor_methods.hpp"
#include "core/print.hpp"
#include "autograd/gradcheck.hpp"
