// The denoising U-Net of RECIPES R10 (DDPM, arXiv:2006.11239, as the course's PyTorch
// seed builds it), with its building blocks: ResNetBlock, Down, Up, SelfAttention and the
// sinusoidal time embedding. UNetOptions{} is the seed's model exactly (module names,
// parameter shapes, 20,190,083 parameters with 3 channels), so io::load_module reads a
// state_dict saved from it; the options generalise depth, widths, attention placement,
// GroupNorm groups, dropout and a class embedding for classifier-free guidance.
//
//   diffusion::UNet<float> unet({.in_channels = 1, .image_size = 32});
//   auto eps = unet(x_t, t);                 // x_t (N, C, H, W), t (N) timesteps -> (N, C, H, W)
//   diffusion::UNet<float> cond({.in_channels = 1, .image_size = 32, .num_classes = 10});
//   auto eps_c = cond(x_t, t, labels);       // labels (N) in [0, 10]; 10 = the null label
// t may be a Tensor<T> of float timesteps, an IndexTensor or a std::vector<int64_t>.
//
// N = batch, C = image channels, H x W = spatial size, D = time_embed_dim.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../nn.hpp"

namespace latent::diffusion {

// Transformer positional encoding of (float) timesteps: t (N) -> (N, D) with
// PE(t, 2i) = sin(t * f_i), PE(t, 2i+1) = cos(t * f_i), f_i = exp(2i * -ln(10000) / D),
// the seed's pos_encoding (f_i computed in T; the seed always uses float32, which a float
// model reproduces and a double one refines).
template <typename T>
Tensor<T> sinusoidal_embedding(const Tensor<T>& t, int64_t dim) {
  latent::detail::check_defined("sinusoidal_embedding", t);
  LATENT_CHECK(dim > 0 && dim % 2 == 0, "sinusoidal_embedding: dim must be positive and even, got ", dim);
  LATENT_CHECK(t.dim() <= 1, "sinusoidal_embedding: timesteps must be (N) or a scalar, got shape ", t.shape());
  const int64_t n = t.numel(), half = dim / 2;
  std::vector<T> freqs(static_cast<size_t>(half));
  const T scale = -std::log(T(10000)) / static_cast<T>(dim);
  for (int64_t i = 0; i < half; ++i) freqs[static_cast<size_t>(i)] = std::exp(static_cast<T>(2 * i) * scale);
  auto args = t.reshape({n, 1}) * from_vector<T>(freqs, {1, half}, t.device());  // (N, D/2)
  // stack on a new last dim then flatten: sin lands on even columns, cos on odd ones.
  return stack<T>({args.sin(), args.cos()}, 2).reshape({n, dim});
}

struct ResNetBlockOptions {
  int64_t mid_channels = 0;  // 0: out_channels
  bool residual = false;     // gelu(x + block(x)); needs in_channels == out_channels
  int64_t norm_groups = 1;
  double dropout = 0.0;      // after the GELU; 0 adds no module (the seed's names)
};

// conv_stack = Conv3x3(in, mid, no bias) GroupNorm(g, mid) GELU [Dropout]
//              Conv3x3(mid, out, no bias) GroupNorm(g, out).
// x: (N, in, H, W) -> (N, out, H, W)
template <typename T = float>
class ResNetBlock : public nn::UnaryModule<T> {
 public:
  ResNetBlock(int64_t in_channels, int64_t out_channels, ResNetBlockOptions options = {})
      : nn::UnaryModule<T>("ResNetBlock"), residual(options.residual) {
    const int64_t mid = options.mid_channels > 0 ? options.mid_channels : out_channels;
    LATENT_CHECK(!residual || in_channels == out_channels, "ResNetBlock: a residual block needs in_channels == "
                 "out_channels, got ", in_channels, " and ", out_channels);
    const nn::Conv2dOptions conv3{.padding = 1, .bias = false};
    conv_stack = this->register_module("conv_stack", std::make_shared<nn::Sequential<T>>());
    conv_stack->push_back(std::make_shared<nn::Conv2d<T>>(in_channels, mid, 3, conv3));
    conv_stack->push_back(std::make_shared<nn::GroupNorm<T>>(options.norm_groups, mid));
    conv_stack->push_back(nn::GELU<T>());
    if (options.dropout > 0) conv_stack->push_back(std::make_shared<nn::Dropout<T>>(options.dropout));
    conv_stack->push_back(std::make_shared<nn::Conv2d<T>>(mid, out_channels, 3, conv3));
    conv_stack->push_back(std::make_shared<nn::GroupNorm<T>>(options.norm_groups, out_channels));
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    return residual ? gelu(x + (*conv_stack)(x)) : (*conv_stack)(x);
  }
  std::string extra_repr() const override { return residual ? "residual=True" : ""; }

  bool residual;
  std::shared_ptr<nn::Sequential<T>> conv_stack;
};

namespace detail {
// `block` with the given shape: Down and Up take norm_groups and dropout from the caller.
inline ResNetBlockOptions with_shape(ResNetBlockOptions block, bool residual, int64_t mid_channels = 0) {
  block.residual = residual;
  block.mid_channels = mid_channels;
  return block;
}
}  // namespace detail

// The seed's ResizeBlock: Down and Up add Linear(emb_dim, out)(SiLU(emb)) to every pixel.
template <typename T = float>
class ResizeBlock : public nn::Module<T> {
 public:
  ResizeBlock(const char* name, int64_t out_channels, int64_t emb_dim) : nn::Module<T>(name) {
    emb_projection = this->register_module(
        "emb_projection", nn::sequential<T>(nn::SiLU<T>(), std::make_shared<nn::Linear<T>>(emb_dim, out_channels)));
  }
  // x (N, out, H, W), emb (N or 1, emb_dim) -> (N, out, H, W)
  Tensor<T> add_emb(const Tensor<T>& x, const Tensor<T>& emb) {
    auto e = (*emb_projection)(emb);
    return x + e.reshape({e.size(0), e.size(1), 1, 1});
  }

  std::shared_ptr<nn::Sequential<T>> emb_projection;
};

// maxpool_conv = MaxPool2d(2) ResNetBlock(in, in, residual) ResNetBlock(in, out), + emb.
// x: (N, in, H, W), emb (N, emb_dim) -> (N, out, H/2, W/2)
template <typename T = float>
class Down : public ResizeBlock<T> {
 public:
  // block: norm_groups and dropout of its ResNetBlocks (each sets its own mid and residual).
  Down(int64_t in_channels, int64_t out_channels, int64_t emb_dim = 256, ResNetBlockOptions block = {})
      : ResizeBlock<T>("Down", out_channels, emb_dim) {
    maxpool_conv = this->register_module(
        "maxpool_conv",
        nn::sequential<T>(std::make_shared<nn::MaxPool2d<T>>(2),
                          std::make_shared<ResNetBlock<T>>(in_channels, in_channels, detail::with_shape(block, true)),
                          std::make_shared<ResNetBlock<T>>(in_channels, out_channels, detail::with_shape(block, false))));
  }
  Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& emb) { return this->add_emb((*maxpool_conv)(x), emb); }
  Tensor<T> operator()(const Tensor<T>& x, const Tensor<T>& emb) {
    this->run_forward_pre_hooks();
    return forward(x, emb);
  }

  std::shared_ptr<nn::Sequential<T>> maxpool_conv;
};

// Bilinear x2 (align_corners) of x, cat [skip, x] on channels, conv = ResNetBlock(in, in,
// residual) ResNetBlock(in, out, mid = in / 2), + emb. in = skip's + x's channels.
// x: (N, Cx, H/2, W/2), skip (N, in - Cx, H, W), emb (N, emb_dim) -> (N, out, H, W)
template <typename T = float>
class Up : public ResizeBlock<T> {
 public:
  Up(int64_t in_channels, int64_t out_channels, int64_t emb_dim = 256, ResNetBlockOptions block = {})
      : ResizeBlock<T>("Up", out_channels, emb_dim) {
    up = this->register_module("up", std::make_shared<nn::Upsample<T>>(nn::functional::InterpolateOptions{
                                         .scale_factor = {2.0}, .mode = "bilinear", .align_corners = true}));
    conv = this->register_module(
        "conv", nn::sequential<T>(
                    std::make_shared<ResNetBlock<T>>(in_channels, in_channels, detail::with_shape(block, true)),
                    std::make_shared<ResNetBlock<T>>(in_channels, out_channels,
                                                     detail::with_shape(block, false, in_channels / 2))));
  }
  Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& skip, const Tensor<T>& emb) {
    auto h = (*up)(x);
    LATENT_CHECK(skip.dim() == 4 && skip.size(0) == h.size(0) && skip.size(2) == h.size(2) &&
                     skip.size(3) == h.size(3),
                 "Up: the skip connection ", skip.shape(), " does not match the upsampled input ", h.shape());
    return this->add_emb((*conv)(cat<T>({skip, h}, 1)), emb);
  }
  Tensor<T> operator()(const Tensor<T>& x, const Tensor<T>& skip, const Tensor<T>& emb) {
    this->run_forward_pre_hooks();
    return forward(x, skip, emb);
  }

  std::shared_ptr<nn::Upsample<T>> up;
  std::shared_ptr<nn::Sequential<T>> conv;
};

// Self-attention over the H*W pixels as tokens: a = mha(ln(x)) + x; a = mlp(a) + a with
// mlp = LayerNorm Linear GELU Linear. The seed passes the spatial size to the constructor;
// here it comes from the input (no parameter depends on it).
// x: (N, C, H, W) -> (N, C, H, W)
template <typename T = float>
class SelfAttention : public nn::UnaryModule<T> {
 public:
  explicit SelfAttention(int64_t channels, int64_t num_heads = 4)
      : nn::UnaryModule<T>("SelfAttention"), channels(channels) {
    mha = this->register_module("mha", std::make_shared<nn::MultiheadAttention<T>>(
                                           channels, num_heads, nn::MultiheadAttentionOptions{.batch_first = true}));
    ln = this->register_module("ln", std::make_shared<nn::LayerNorm<T>>(channels));
    mlp = this->register_module(
        "mlp", nn::sequential<T>(std::make_shared<nn::LayerNorm<T>>(channels),
                                 std::make_shared<nn::Linear<T>>(channels, channels), nn::GELU<T>(),
                                 std::make_shared<nn::Linear<T>>(channels, channels)));
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    LATENT_CHECK(x.dim() == 4 && x.size(1) == channels, "SelfAttention: expected (N, ", channels,
                 ", H, W), got ", x.shape());
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    auto seq = x.reshape({n, channels, h * w}).transpose(1, 2);  // (N, HW, C)
    auto x_ln = (*ln)(seq);
    auto a = (*mha)(x_ln, x_ln, x_ln, Tensor<T>(), /*need_weights=*/false).first + seq;
    a = (*mlp)(a) + a;
    return a.transpose(1, 2).reshape({n, channels, h, w});
  }
  std::string extra_repr() const override { return latent::detail::str_cat(channels); }

  int64_t channels;
  std::shared_ptr<nn::MultiheadAttention<T>> mha;
  std::shared_ptr<nn::LayerNorm<T>> ln;
  std::shared_ptr<nn::Sequential<T>> mlp;
};

// Defaults are R10's model; only in_channels usually changes (1 for MNIST). Level i
// (0 <= i < L = channel_mults.size()) has base_channels * channel_mults[i] channels at
// image_size / 2^i pixels.
struct UNetOptions {
  int64_t in_channels = 3;
  int64_t image_size = 64;
  int64_t base_channels = 64;
  std::vector<int64_t> channel_mults = {1, 2, 4, 4};
  // Spatial sizes whose blocks get SelfAttention; empty = every size (R10). attention =
  // false puts none anywhere.
  std::vector<int64_t> attention_resolutions = {};
  bool attention = true;
  int64_t num_heads = 4;
  int64_t time_embed_dim = 256;
  int64_t norm_groups = 1;  // GroupNorm groups in every ResNetBlock
  double dropout = 0.0;     // inside every ResNetBlock; 0 = no Dropout modules
  int64_t num_classes = 0;  // > 0: label_emb with num_classes + 1 rows, the last the null label
};

// Layout for L levels, ch[i] = base * mult[i] (R10 for the defaults, whose names it keeps):
//   inc = ResNetBlock(C, ch[0]); down{i} = Down(ch[i-1], ch[i]) [+ sa{i}], i = 1..L-1;
//   conv_bottleneck = ResNetBlock(ch[L-1], 2 ch[L-1]) [SelfAttention] ResNetBlock(.., ch[L-1]);
//   up{j+1} = Up(current + ch[L-2-j], ch[max(L-3-j, 0)]) on the skip of level L-2-j
//   [+ sa{L+j}], j = 0..L-2; outc = Conv1x1(ch[0], C). [..] = if that size is attended.
// The time embedding (plus label_emb(labels) when conditional) feeds every Down and Up.
template <typename T = float>
class UNet : public nn::Module<T> {
 public:
  explicit UNet(UNetOptions options = {}) : nn::Module<T>("UNet"), options(std::move(options)) {
    check_options();
    const auto& o = this->options;
    const int64_t L = levels(), D = o.time_embed_dim;
    const ResNetBlockOptions block{.norm_groups = o.norm_groups, .dropout = o.dropout};
    inc = this->register_module("inc", std::make_shared<ResNetBlock<T>>(o.in_channels, width(0), block));
    downs.resize(static_cast<size_t>(L));
    down_attention.resize(static_cast<size_t>(L));
    for (int64_t i = 1; i < L; ++i) {
      downs[i] = this->register_module("down" + std::to_string(i),
                                       std::make_shared<Down<T>>(width(i - 1), width(i), D, block));
      if (attends(i))
        down_attention[i] = this->register_module("sa" + std::to_string(i),
                                                  std::make_shared<SelfAttention<T>>(width(i), o.num_heads));
    }
    const int64_t deep = width(L - 1);
    conv_bottleneck = this->register_module("conv_bottleneck", std::make_shared<nn::Sequential<T>>());
    conv_bottleneck->push_back(std::make_shared<ResNetBlock<T>>(deep, 2 * deep, block));
    if (attends(L - 1)) conv_bottleneck->push_back(std::make_shared<SelfAttention<T>>(2 * deep, o.num_heads));
    conv_bottleneck->push_back(std::make_shared<ResNetBlock<T>>(2 * deep, deep, block));
    int64_t current = deep;
    for (int64_t j = 0; j + 1 < L; ++j) {
      const int64_t skip = L - 2 - j, out = up_width(j);
      ups.push_back(this->register_module("up" + std::to_string(j + 1),
                                          std::make_shared<Up<T>>(current + width(skip), out, D, block)));
      up_attention.push_back(attends(skip) ? this->register_module("sa" + std::to_string(L + j),
                                                                   std::make_shared<SelfAttention<T>>(out, o.num_heads))
                                           : nullptr);
      current = out;
    }
    outc = this->register_module("outc", std::make_shared<nn::Conv2d<T>>(width(0), o.in_channels, 1));
    if (o.num_classes > 0)
      label_emb = this->register_module("label_emb", std::make_shared<nn::Embedding<T>>(o.num_classes + 1, D));
  }

  // x (N, C, H, W) with H, W multiples of 2^(L-1); t (N) or a scalar/(1) for the whole
  // batch, float timesteps; labels (N) in [0, num_classes] for a conditional model
  // (undefined: every sample gets the null label num_classes). -> (N, C, H, W)
  Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& t, const IndexTensor& labels = {}) {
    latent::detail::check_defined("UNet", x);
    latent::detail::check_defined("UNet", t);
    const int64_t L = levels(), factor = int64_t{1} << (L - 1);
    LATENT_CHECK(x.dim() == 4 && x.size(1) == options.in_channels, "UNet: expected input (N, ",
                 options.in_channels, ", H, W), got ", x.shape());
    const int64_t n = x.size(0);
    LATENT_CHECK(x.size(2) % factor == 0 && x.size(3) % factor == 0,
                 "UNet: H and W must be multiples of 2^(levels-1) = ", factor, " for ", L, " levels, got input ",
                 x.shape());
    LATENT_CHECK(t.dim() <= 1 && (t.numel() == n || t.numel() == 1), "UNet: timesteps must be (", n,
                 ") or a single value for input ", x.shape(), ", got shape ", t.shape());
    // (N or 1, D), on x's device (timesteps often come from the CPU)
    auto emb = sinusoidal_embedding(t.to(x.device()).reshape({t.numel()}), options.time_embed_dim);
    if (options.num_classes > 0) {
      emb = emb + (*label_emb)(class_labels(labels, n));
    } else {
      LATENT_CHECK(!labels.defined(), "UNet: labels given to an unconditional model (num_classes = 0)");
    }
    std::vector<Tensor<T>> skips{(*inc)(x)};
    for (int64_t i = 1; i < L; ++i) {
      auto h = (*downs[i])(skips.back(), emb);
      skips.push_back(down_attention[i] ? (*down_attention[i])(h) : h);
    }
    auto h = (*conv_bottleneck)(skips.back());
    for (int64_t j = 0; j + 1 < L; ++j) {
      h = (*ups[j])(h, skips[L - 2 - j], emb);
      if (up_attention[j]) h = (*up_attention[j])(h);
    }
    return (*outc)(h);
  }
  // Integer timesteps, as the seed's sampling loop passes them.
  Tensor<T> forward(const Tensor<T>& x, const IndexTensor& t, const IndexTensor& labels = {}) {
    latent::detail::check_defined("UNet", t);
    return forward(x, t.template to<T>(), labels);
  }
  Tensor<T> forward(const Tensor<T>& x, const std::vector<int64_t>& t, const IndexTensor& labels = {}) {
    return forward(x, from_vector<int64_t>(t), labels);
  }
  template <typename Timesteps>
  Tensor<T> operator()(const Tensor<T>& x, const Timesteps& t, const IndexTensor& labels = {}) {
    this->run_forward_pre_hooks();
    return forward(x, t, labels);
  }

  int64_t levels() const { return static_cast<int64_t>(options.channel_mults.size()); }
  int64_t width(int64_t level) const { return options.base_channels * options.channel_mults[level]; }
  int64_t resolution(int64_t level) const { return options.image_size >> level; }
  // Classifier-free guidance's "no label" class.
  int64_t null_label() const { return options.num_classes; }

  UNetOptions options;
  std::shared_ptr<ResNetBlock<T>> inc;
  std::vector<std::shared_ptr<Down<T>>> downs;                    // [0] unused: down{i} is downs[i]
  std::vector<std::shared_ptr<SelfAttention<T>>> down_attention;  // null where a level has none
  std::shared_ptr<nn::Sequential<T>> conv_bottleneck;
  std::vector<std::shared_ptr<Up<T>>> ups;                        // up{j+1} is ups[j]
  std::vector<std::shared_ptr<SelfAttention<T>>> up_attention;
  std::shared_ptr<nn::Conv2d<T>> outc;
  std::shared_ptr<nn::Embedding<T>> label_emb;

 private:
  int64_t up_width(int64_t j) const { return width(std::max<int64_t>(levels() - 3 - j, 0)); }
  bool attends(int64_t level) const {
    if (!options.attention) return false;
    const auto& r = options.attention_resolutions;
    return r.empty() || std::find(r.begin(), r.end(), resolution(level)) != r.end();
  }
  IndexTensor class_labels(const IndexTensor& labels, int64_t n) const {
    if (!labels.defined()) return full<int64_t>({n}, null_label());
    LATENT_CHECK(labels.dim() == 1 && labels.size(0) == n, "UNet: labels must be (", n, "), got ", labels.shape());
    auto c = labels.cpu().contiguous();
    for (int64_t i = 0; i < n; ++i)
      LATENT_CHECK(c.data()[i] >= 0 && c.data()[i] <= options.num_classes, "UNet: label ", c.data()[i],
                   " at position ", i, " is outside [0, ", options.num_classes, "] (num_classes = ",
                   options.num_classes, " is the null label)");
    return c;
  }

  void check_options() const;
};

template <typename T>
void UNet<T>::check_options() const {
  const auto& o = options;
  LATENT_CHECK(o.in_channels > 0 && o.base_channels > 0 && o.image_size > 0, "UNet: in_channels (", o.in_channels,
               "), base_channels (", o.base_channels, ") and image_size (", o.image_size, ") must be positive");
  LATENT_CHECK(!o.channel_mults.empty(), "UNet: channel_mults must name at least one level");
  for (int64_t m : o.channel_mults)
    LATENT_CHECK(m > 0, "UNet: channel_mults must be positive, got ", Shape(o.channel_mults));
  const int64_t L = levels();
  LATENT_CHECK(L <= 30 && o.image_size % (int64_t{1} << (L - 1)) == 0, "UNet: image_size (", o.image_size,
               ") must be divisible by 2^(levels-1) = 2^", L - 1, " for ", L, " levels (channel_mults ",
               Shape(o.channel_mults), ")");
  LATENT_CHECK(o.time_embed_dim > 0 && o.time_embed_dim % 2 == 0, "UNet: time_embed_dim must be positive and even "
               "(sin/cos pairs), got ", o.time_embed_dim);
  LATENT_CHECK(o.num_heads > 0, "UNet: num_heads must be positive, got ", o.num_heads);
  LATENT_CHECK(o.norm_groups > 0, "UNet: norm_groups must be positive, got ", o.norm_groups);
  LATENT_CHECK(o.dropout >= 0 && o.dropout < 1, "UNet: dropout must be in [0, 1), got ", o.dropout);
  LATENT_CHECK(o.num_classes >= 0, "UNet: num_classes must be >= 0 (0 = unconditional), got ", o.num_classes);
  LATENT_CHECK(o.attention || o.attention_resolutions.empty(), "UNet: attention_resolutions ",
               Shape(o.attention_resolutions), " given with attention = false");
  for (int64_t r : o.attention_resolutions) {
    bool found = false;
    for (int64_t i = 0; i < L; ++i) found = found || resolution(i) == r;
    std::string sizes;
    for (int64_t i = 0; i < L; ++i) sizes += latent::detail::str_cat(i ? ", " : "", resolution(i));
    LATENT_CHECK(found, "UNet: attention resolution ", r, " is not one of the model's sizes (", sizes, ")");
  }
  // Every GroupNorm and attention width, named by the block that has it.
  auto groups_divide = [&](const std::string& block, int64_t c) {
    LATENT_CHECK(c % o.norm_groups == 0, "UNet: norm_groups (", o.norm_groups, ") must divide every GroupNorm "
                 "width, but ", block, " has ", c, " channels");
  };
  auto heads_divide = [&](const std::string& block, int64_t c) {
    LATENT_CHECK(c % o.num_heads == 0, "UNet: the ", c, " channels of ", block, " are not divisible by num_heads (",
                 o.num_heads, ")");
  };
  groups_divide("inc", width(0));
  for (int64_t i = 1; i < L; ++i) {
    groups_divide(latent::detail::str_cat("down", i), width(i - 1));
    groups_divide(latent::detail::str_cat("down", i), width(i));
    if (attends(i)) heads_divide(latent::detail::str_cat("sa", i), width(i));
  }
  groups_divide("conv_bottleneck", 2 * width(L - 1));
  if (attends(L - 1)) heads_divide("conv_bottleneck's attention", 2 * width(L - 1));
  int64_t current = width(L - 1);
  for (int64_t j = 0; j + 1 < L; ++j) {
    const std::string up = latent::detail::str_cat("up", j + 1);
    const int64_t in = current + width(L - 2 - j);
    groups_divide(up, in);
    groups_divide(up + " (mid)", in / 2);
    groups_divide(up, up_width(j));
    if (attends(L - 2 - j)) heads_divide(latent::detail::str_cat("sa", L + j), up_width(j));
    current = up_width(j);
  }
}

}  // namespace latent::diffusion
