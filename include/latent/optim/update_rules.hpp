// The per-element updates of the optimizers, written once for the CPU loops (optim/*.hpp)
// and the fused CUDA kernels (kernels/optim.cuh): a rule holds a step's constants, already
// rounded to T the way the optimizer computes them, and updates element i of a parameter
// w, given its gradient g and its state buffers (null when an option does not use them).
#pragma once
#include <cmath>
#include <cstdint>

#include "../backend/pointwise.hpp"  // LATENT_HOST_DEVICE

namespace latent::optim {

// torch.optim.Adam / AdamW (single-tensor path): see optim/adam.hpp.
template <typename T>
struct AdamRule {
  T step_size, bias2_sqrt, b2, one_minus_b1, one_minus_b2, eps, wd, decay;
  bool decoupled, maximize;
  LATENT_HOST_DEVICE void operator()(int64_t i, T* w, const T* grad, T* m, T* v, T* vmax) const {
    T g = maximize ? -grad[i] : grad[i];
    if (wd != T(0)) {
      if (decoupled) w[i] *= decay;
      else g += wd * w[i];
    }
    m[i] += (g - m[i]) * one_minus_b1;  // torch: exp_avg.lerp_(grad, 1 - beta1)
    v[i] = v[i] * b2 + one_minus_b2 * g * g;
    T second = v[i];
    if (vmax) {
      vmax[i] = vmax[i] < v[i] ? v[i] : vmax[i];
      second = vmax[i];
    }
    using std::sqrt;
    T denom = sqrt(second) / bias2_sqrt + eps;
    w[i] -= step_size * m[i] / denom;
  }
};

// torch.optim.SGD: see optim/sgd.hpp. buf is the momentum buffer (null without momentum).
template <typename T>
struct SgdRule {
  T lr, wd, momentum, damp;
  bool first, nesterov, maximize;
  LATENT_HOST_DEVICE void operator()(int64_t i, T* w, const T* grad, T* buf) const {
    T g = maximize ? -grad[i] : grad[i];
    if (wd != T(0)) g += wd * w[i];
    if (buf) {
      buf[i] = first ? g : momentum * buf[i] + damp * g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
    }
    w[i] -= lr * g;
  }
};

// torch.optim.RMSprop: see optim/rmsprop.hpp. a: the centered average (or null), buf the
// momentum buffer (or null).
template <typename T>
struct RmspropRule {
  T lr, alpha, one_minus_alpha, eps, wd, momentum;
  bool maximize;
  LATENT_HOST_DEVICE void operator()(int64_t i, T* w, const T* grad, T* s, T* a, T* buf) const {
    using std::sqrt;
    T g = maximize ? -grad[i] : grad[i];
    if (wd != T(0)) g += wd * w[i];
    s[i] = s[i] * alpha + one_minus_alpha * g * g;
    T avg;
    if (a) {
      a[i] += (g - a[i]) * one_minus_alpha;  // torch: grad_avg.lerp_(grad, 1 - alpha)
      avg = sqrt(s[i] - a[i] * a[i]) + eps;
    } else {
      avg = sqrt(s[i]) + eps;
    }
    if (buf) {
      buf[i] = buf[i] * momentum + g / avg;
      w[i] -= lr * buf[i];
    } else {
      w[i] -= lr * g / avg;
    }
  }
};

}  // namespace latent::optim
