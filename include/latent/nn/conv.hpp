// nn::Conv2d and nn::ConvTranspose2d, as torch.nn, with PyTorch's default initialisation:
// weight ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias
// ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.size(1) * kh * kw (for the
// transposed layer that is out_channels / groups * kh * kw, as PyTorch computes it).
//
//   nn::Conv2d<float> conv(64, 128, 4, 2, 1);                             // PyTorch's positional order
//   nn::Conv2d<float> conv(64, 128, 4, {.stride = 2, .padding = 1, .bias = false});
//   auto up = std::make_shared<nn::ConvTranspose2d<float>>(128, 64, 4, 2, 1);
//
// A rectangular pair as the 4th argument must be spelled IntPair{2, 1} (a bare {2, 1} could
// also be an options struct) or go through the options: {.stride = {2, 1}}.
// x: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, oh, ow) or (C_out, oh, ow)
#pragma once
#include <string>

#include "../ops/conv.hpp"
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

// Conv2d's keyword arguments, in PyTorch's order (designated initializers must keep it).
struct Conv2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";  // "zeros" or "reflect"
};

struct ConvTranspose2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  IntPair dilation = 1;
};

namespace detail {
inline void check_conv_channels(const char* layer, int64_t in_channels, int64_t out_channels, int64_t groups) {
  LATENT_CHECK(in_channels > 0 && out_channels > 0, layer, ": in_channels and out_channels must be positive, got ",
               in_channels, " and ", out_channels);
  LATENT_CHECK(groups > 0, layer, ": groups must be positive, got ", groups);
  LATENT_CHECK(in_channels % groups == 0, layer, ": in_channels (", in_channels, ") must be divisible by groups (",
               groups, ")");
  LATENT_CHECK(out_channels % groups == 0, layer, ": out_channels (", out_channels,
               ") must be divisible by groups (", groups, ")");
}

// PyTorch's _ConvNd.reset_parameters.
template <typename T>
void reset_conv_parameters(Tensor<T>& weight, Tensor<T>& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(init::calculate_fans(weight).fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

// The parts of PyTorch's _ConvNd.extra_repr shared by both layers, after "stride=...".
inline std::string conv_repr_tail(const IntPair& padding, const IntPair& dilation, const IntPair& output_padding,
                                  int64_t groups, bool bias) {
  std::string s;
  if (!(padding == IntPair(0))) s += ", padding=" + padding.str();
  if (!(dilation == IntPair(1))) s += ", dilation=" + dilation.str();
  if (!(output_padding == IntPair(0))) s += ", output_padding=" + output_padding.str();
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias) s += ", bias=False";
  return s;
}
}  // namespace detail

template <typename T = float>
class Conv2d : public UnaryModule<T> {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, IntPair stride = 1, IntPair padding = 0,
         IntPair dilation = 1, int64_t groups = 1, bool bias = true, std::string padding_mode = "zeros",
         Device device = kCPU)
      : Conv2d(in_channels, out_channels, kernel_size,
               Conv2dOptions{stride, padding, dilation, groups, bias, std::move(padding_mode)}, device) {}

  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, const Conv2dOptions& options,
         Device device = kCPU)
      : UnaryModule<T>("Conv2d"),
        in_channels(in_channels),
        out_channels(out_channels),
        kernel_size(kernel_size),
        stride(options.stride),
        padding(options.padding),
        dilation(options.dilation),
        groups(options.groups),
        padding_mode(options.padding_mode) {
    detail::check_conv_channels("Conv2d", in_channels, out_channels, groups);
    latent::detail::check_window_args("Conv2d", kernel_size, stride, padding, dilation);
    LATENT_CHECK(padding_mode == "zeros" || padding_mode == "reflect", "Conv2d: padding_mode must be 'zeros' or "
                 "'reflect', got '", padding_mode, "'");
    weight = this->register_parameter(
        "weight", empty<T>({out_channels, in_channels / groups, kernel_size.h, kernel_size.w}, device));
    if (options.bias) this->bias = this->register_parameter("bias", empty<T>({out_channels}, device));
    reset_parameters();
  }

  void reset_parameters() { detail::reset_conv_parameters(weight, bias); }

  Tensor<T> forward(const Tensor<T>& x) override {
    if (padding_mode == "zeros") return conv2d(x, weight, bias, stride, padding, dilation, groups);
    return conv2d(pad_reflect(x, {padding.w, padding.w, padding.h, padding.h}), weight, bias, stride, 0, dilation,
                  groups);
  }

  std::string extra_repr() const override {
    std::string s = latent::detail::str_cat(in_channels, ", ", out_channels, ", kernel_size=", kernel_size.str(),
                                            ", stride=", stride.str());
    s += detail::conv_repr_tail(padding, dilation, 0, groups, bias.defined());
    if (padding_mode != "zeros") s += ", padding_mode=" + padding_mode;
    return s;
  }

  int64_t in_channels, out_channels;
  IntPair kernel_size, stride, padding, dilation;
  int64_t groups;
  std::string padding_mode;
  Tensor<T> weight, bias;
};

template <typename T = float>
class ConvTranspose2d : public UnaryModule<T> {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, IntPair stride = 1,
                  IntPair padding = 0, IntPair output_padding = 0, int64_t groups = 1, bool bias = true,
                  IntPair dilation = 1, Device device = kCPU)
      : ConvTranspose2d(in_channels, out_channels, kernel_size,
                        ConvTranspose2dOptions{stride, padding, output_padding, groups, bias, dilation}, device) {}

  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
                  const ConvTranspose2dOptions& options, Device device = kCPU)
      : UnaryModule<T>("ConvTranspose2d"),
        in_channels(in_channels),
        out_channels(out_channels),
        kernel_size(kernel_size),
        stride(options.stride),
        padding(options.padding),
        output_padding(options.output_padding),
        dilation(options.dilation),
        groups(options.groups) {
    detail::check_conv_channels("ConvTranspose2d", in_channels, out_channels, groups);
    latent::detail::check_window_args("ConvTranspose2d", kernel_size, stride, padding, dilation);
    LATENT_CHECK(output_padding.h >= 0 && output_padding.w >= 0 &&
                     (output_padding.h < stride.h || output_padding.h < dilation.h) &&
                     (output_padding.w < stride.w || output_padding.w < dilation.w),
                 "ConvTranspose2d: output_padding ", output_padding, " must be non-negative and smaller than "
                 "either stride ", stride, " or dilation ", dilation, " in each dim");
    weight = this->register_parameter(
        "weight", empty<T>({in_channels, out_channels / groups, kernel_size.h, kernel_size.w}, device));
    if (options.bias) this->bias = this->register_parameter("bias", empty<T>({out_channels}, device));
    reset_parameters();
  }

  void reset_parameters() { detail::reset_conv_parameters(weight, bias); }

  Tensor<T> forward(const Tensor<T>& x) override {
    return conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation);
  }

  std::string extra_repr() const override {
    return latent::detail::str_cat(in_channels, ", ", out_channels, ", kernel_size=", kernel_size.str(),
                                   ", stride=", stride.str()) +
           detail::conv_repr_tail(padding, dilation, output_padding, groups, bias.defined());
  }

  int64_t in_channels, out_channels;
  IntPair kernel_size, stride, padding, output_padding, dilation;
  int64_t groups;
  Tensor<T> weight, bias;
};

}  // namespace latent::nn
