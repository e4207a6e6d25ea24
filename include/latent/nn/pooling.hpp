// Pooling and resampling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Upsample,
// PixelShuffle, PixelUnshuffle, each a thin module over nn/functional/pooling.hpp with
// PyTorch's constructor arguments, defaults and repr. Arguments are validated when the
// module is built, not at its first forward.
// x: (N, C, H, W) or (C, H, W) -> (N, C, oH, oW) or (C, oH, oW) (Upsample: 4-D only).
#pragma once
#include "functional/pooling.hpp"
#include "module.hpp"

namespace latent::nn {

template <typename T = float>
class MaxPool2d : public UnaryModule<T> {
 public:
  MaxPool2d(IntPair kernel_size, IntPair stride = {}, IntPair padding = 0, IntPair dilation = 1,
            bool ceil_mode = false)
      : UnaryModule<T>("MaxPool2d"), kernel_size(kernel_size), stride(stride.value_or(kernel_size)),
        padding(padding), dilation(dilation), ceil_mode(ceil_mode) {
    functional::detail::check_pool_args("MaxPool2d", kernel_size, this->stride, padding, dilation);
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    return functional::max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
  }
  // PyTorch's return_indices=True: the output and the flat H*W index of each maximum.
  std::pair<Tensor<T>, IndexTensor> forward_with_indices(const Tensor<T>& x) {
    return functional::max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode);
  }
  std::string extra_repr() const override {
    return latent::detail::str_cat("kernel_size=", kernel_size.repr(), ", stride=", stride.repr(),
                                   ", padding=", padding.repr(), ", dilation=", dilation.repr(),
                                   ", ceil_mode=", detail::py_bool(ceil_mode));
  }

  IntPair kernel_size, stride, padding, dilation;
  bool ceil_mode;
};

template <typename T = float>
class AvgPool2d : public UnaryModule<T> {
 public:
  AvgPool2d(IntPair kernel_size, IntPair stride = {}, IntPair padding = 0, bool ceil_mode = false,
            bool count_include_pad = true, std::optional<int64_t> divisor_override = std::nullopt)
      : UnaryModule<T>("AvgPool2d"), kernel_size(kernel_size), stride(stride.value_or(kernel_size)),
        padding(padding), ceil_mode(ceil_mode), count_include_pad(count_include_pad),
        divisor_override(divisor_override) {
    functional::detail::check_pool_args("AvgPool2d", kernel_size, this->stride, padding, IntPair(1));
    LATENT_CHECK(!divisor_override || *divisor_override != 0, "AvgPool2d: divisor_override must be non-zero");
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    return functional::avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
  }
  std::string extra_repr() const override {  // PyTorch prints only these three
    return latent::detail::str_cat("kernel_size=", kernel_size.repr(), ", stride=", stride.repr(),
                                   ", padding=", padding.repr());
  }

  IntPair kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;
};

template <typename T = float>
class AdaptiveAvgPool2d : public UnaryModule<T> {
 public:
  explicit AdaptiveAvgPool2d(IntPair output_size) : UnaryModule<T>("AdaptiveAvgPool2d"), output_size(output_size) {
    LATENT_CHECK(output_size.h >= 0 && output_size.w >= 0, "AdaptiveAvgPool2d: output_size must be non-negative, got ",
                 IntPair::pair(output_size.h, output_size.w));
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::adaptive_avg_pool2d(x, output_size); }
  std::string extra_repr() const override { return "output_size=" + output_size.repr(); }

  IntPair output_size;
};

// nn.Upsample: F.interpolate with fixed options, e.g.
//   nn::Upsample<float>({.scale_factor = {2}, .mode = "bilinear", .align_corners = false})
template <typename T = float>
class Upsample : public UnaryModule<T> {
 public:
  explicit Upsample(functional::InterpolateOptions options) : UnaryModule<T>("Upsample"), options(std::move(options)) {
    const auto& o = this->options;
    LATENT_CHECK(o.size.empty() != o.scale_factor.empty(), "Upsample: exactly one of size and scale_factor must be "
                 "given, got ", o.size.empty() ? "neither" : "both");
    LATENT_CHECK(o.size.size() <= 2 && o.scale_factor.size() <= 2,
                 "Upsample: size and scale_factor take 1 or 2 values (for H and W)");
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::interpolate(x, options); }
  std::string extra_repr() const override {
    const auto& o = options;
    std::string info;
    if (!o.scale_factor.empty()) {
      info = o.scale_factor.size() == 1 ? detail::py_float(o.scale_factor[0])
                                        : "(" + detail::py_float(o.scale_factor[0]) + ", " +
                                              detail::py_float(o.scale_factor[1]) + ")";
      info = "scale_factor=" + info;
    } else {
      info = "size=" + (o.size.size() == 1 ? std::to_string(o.size[0]) : IntPair::pair(o.size[0], o.size[1]));
    }
    return info + ", mode='" + o.mode + "'";
  }

  functional::InterpolateOptions options;
};

template <typename T = float>
class PixelShuffle : public UnaryModule<T> {
 public:
  explicit PixelShuffle(int64_t upscale_factor) : UnaryModule<T>("PixelShuffle"), upscale_factor(upscale_factor) {
    LATENT_CHECK(upscale_factor > 0, "PixelShuffle: upscale_factor must be positive, got ", upscale_factor);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::pixel_shuffle(x, upscale_factor); }
  std::string extra_repr() const override { return "upscale_factor=" + std::to_string(upscale_factor); }

  int64_t upscale_factor;
};

template <typename T = float>
class PixelUnshuffle : public UnaryModule<T> {
 public:
  explicit PixelUnshuffle(int64_t downscale_factor)
      : UnaryModule<T>("PixelUnshuffle"), downscale_factor(downscale_factor) {
    LATENT_CHECK(downscale_factor > 0, "PixelUnshuffle: downscale_factor must be positive, got ", downscale_factor);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::pixel_unshuffle(x, downscale_factor); }
  std::string extra_repr() const override { return "downscale_factor=" + std::to_string(downscale_factor); }

  int64_t downscale_factor;
};

}  // namespace latent::nn
