// latent::data transforms: composable image transforms, as torchvision.transforms on
// tensors. Each takes an image (C, H, W) or a batch (N, C, H, W) of float or double
// values and returns a new tensor; random ones draw from the Generator they are given.
//
//   data::Transform t = data::Compose{data::Resize(32), data::Normalize({0.5}, {0.5})};
//   Tensor<float> y = t(x);                       // x: (C, 28, 28) in [0, 1] -> (C, 32, 32) in [-1, 1]
//   Generator gen(7);
//   auto z = data::RandomHorizontalFlip(0.5)(batch, gen);   // one draw per image of the batch
//
// Resize is bilinear without antialiasing: for upscaling (28 -> 32 or 64) that is exactly
// torchvision's Resize on tensors, which is F.interpolate(mode="bilinear",
// align_corners=False); for downscaling torchvision (antialias=True, its default since
// 0.17) smooths first and the two differ. Random flips draw one uniform number per image
// (per leading index of a batch), flipping when it is below p, so a batch is flipped image
// by image; p = 1 always flips, p = 0 never does (the draws are still made, so the stream
// does not depend on p).
//
// A Transform is a list of steps, each deterministic or random; Compose concatenates lists.
// Datasets use split_deterministic() to apply the leading deterministic steps once to the
// whole image tensor at load, and the rest per batch.
#pragma once
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../latent.hpp"
#include "../nn/functional/pooling.hpp"

namespace latent::data {

namespace detail {
inline std::string join_numbers(const std::vector<double>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + latent::detail::str_cat(v[i]);
  return s;
}
template <typename T>
void check_image(const char* op, const Tensor<T>& x, int min_dim) {
  LATENT_CHECK(x.defined(), op, ": got an undefined tensor");
  LATENT_CHECK(x.dim() >= min_dim, op, ": expected an image (C, H, W) or a batch (N, C, H, W), got shape ", x.shape());
  latent::detail::check_cpu(op, x);
}
}  // namespace detail

// A transform step: callable on float and double tensors with a generator, with a name and
// a flag saying whether it draws random numbers.
template <typename F>
concept TransformStep = requires(const F& f, const Tensor<float>& xf, const Tensor<double>& xd, Generator& g) {
  { f(xf, g) } -> std::convertible_to<Tensor<float>>;
  { f(xd, g) } -> std::convertible_to<Tensor<double>>;
  { f.name() } -> std::convertible_to<std::string>;
  { F::kRandom } -> std::convertible_to<bool>;
};

// Resize(size): the smaller edge becomes `size`, the other keeps the aspect ratio
// (torchvision's int size, truncating as it does); Resize(h, w): exactly h x w. Bilinear,
// align_corners = false, no antialiasing.
class Resize {
 public:
  static constexpr bool kRandom = false;
  explicit Resize(int64_t size) : h_(size), w_(-1) {
    LATENT_CHECK(size > 0, "Resize: size must be positive, got ", size);
  }
  Resize(int64_t height, int64_t width) : h_(height), w_(width) {
    LATENT_CHECK(height > 0 && width > 0, "Resize: height and width must be positive, got (", height, ", ", width, ")");
  }
  std::string name() const {
    return w_ < 0 ? latent::detail::str_cat("Resize(", h_, ")") : latent::detail::str_cat("Resize(", h_, ", ", w_, ")");
  }
  // (H, W) -> the output size for an input of H x W.
  std::pair<int64_t, int64_t> output_size(int64_t H, int64_t W) const {
    if (w_ >= 0) return {h_, w_};
    if (W <= H) return {static_cast<int64_t>(static_cast<double>(h_) * static_cast<double>(H) / static_cast<double>(W)), h_};
    return {h_, static_cast<int64_t>(static_cast<double>(h_) * static_cast<double>(W) / static_cast<double>(H))};
  }
  // x: (..., H, W) with at least 2 dims -> (..., H', W').
  template <typename T>
  Tensor<T> operator()(const Tensor<T>& x, Generator& = default_generator()) const {
    detail::check_image("Resize", x, 2);
    const int n = x.dim();
    const int64_t H = x.shape()[n - 2], W = x.shape()[n - 1];
    LATENT_CHECK(H > 0 && W > 0, "Resize: the image must have non-zero height and width, got shape ", x.shape());
    auto [oh, ow] = output_size(H, W);
    LATENT_CHECK(oh > 0 && ow > 0, "Resize: ", name(), " of a ", H, "x", W, " image gives an empty ", oh, "x", ow,
                 " image (input shape ", x.shape(), ")");
    if (oh == H && ow == W) return x;
    int64_t planes = 1;
    for (int i = 0; i + 2 < n; ++i) planes *= x.shape()[i];
    if (planes == 0) {
      Shape s = x.shape();
      s[n - 2] = oh;
      s[n - 1] = ow;
      return Tensor<T>::empty(s, x.device());
    }
    nn::functional::InterpolateOptions o;
    o.size = {oh, ow};
    o.mode = "bilinear";
    o.align_corners = false;
    auto y = nn::functional::interpolate(x.reshape({planes, 1, H, W}), o);
    Shape s = x.shape();
    s[n - 2] = oh;
    s[n - 1] = ow;
    return y.reshape(s);
  }

 private:
  int64_t h_, w_;
};

// Constant padding of the last two dims, torchvision's Pad(padding, fill): one value for
// every side, two for (left/right, top/bottom), or four for (left, top, right, bottom).
class Pad {
 public:
  static constexpr bool kRandom = false;
  template <std::integral I>
  explicit Pad(I padding, double value = 0) : Pad(std::vector<int64_t>{static_cast<int64_t>(padding)}, value) {}
  // Pad({1, 2}) reads as a list of paddings (not as padding 1, value 2).
  explicit Pad(std::initializer_list<int64_t> padding, double value = 0)
      : Pad(std::vector<int64_t>(padding), value) {}
  explicit Pad(const std::vector<int64_t>& padding, double value = 0) : value_(value) {
    const size_t k = padding.size();
    LATENT_CHECK(k == 1 || k == 2 || k == 4, "Pad: padding must have 1, 2 or 4 values, got ", k);
    for (int64_t p : padding) LATENT_CHECK(p >= 0, "Pad: padding must be non-negative, got ", p);
    if (k == 1) ltrb_ = {padding[0], padding[0], padding[0], padding[0]};
    if (k == 2) ltrb_ = {padding[0], padding[1], padding[0], padding[1]};
    if (k == 4) ltrb_ = padding;
  }
  std::string name() const {
    return latent::detail::str_cat("Pad(left ", ltrb_[0], ", top ", ltrb_[1], ", right ", ltrb_[2], ", bottom ",
                                   ltrb_[3], ", value ", value_, ")");
  }
  template <typename T>
  Tensor<T> operator()(const Tensor<T>& x, Generator& = default_generator()) const {
    detail::check_image("Pad", x, 2);
    return latent::pad(x, {ltrb_[0], ltrb_[2], ltrb_[1], ltrb_[3]}, value_);
  }

 private:
  std::vector<int64_t> ltrb_;
  double value_;
};

// (x - mean[c]) / std[c] over the channel dim (dim -3); one value applies to every channel.
// Normalize({0.5}, {0.5}) maps [0, 1] to [-1, 1].
class Normalize {
 public:
  static constexpr bool kRandom = false;
  Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
    LATENT_CHECK(!mean_.empty() && mean_.size() == std_.size(), "Normalize: mean and std must be non-empty and "
                 "of the same length, got ", mean_.size(), " and ", std_.size(), " values");
    for (double s : std_)
      LATENT_CHECK(s != 0 && std::isfinite(s), "Normalize: std must be finite and non-zero, got (",
                   detail::join_numbers(std_), ")");
  }
  std::string name() const {
    return "Normalize(mean (" + detail::join_numbers(mean_) + "), std (" + detail::join_numbers(std_) + "))";
  }
  template <typename T>
  Tensor<T> operator()(const Tensor<T>& x, Generator& = default_generator()) const {
    detail::check_image("Normalize", x, 3);
    const int64_t C = x.shape()[x.dim() - 3];
    const int64_t k = static_cast<int64_t>(mean_.size());
    LATENT_CHECK(k == 1 || k == C, "Normalize: ", k, " mean/std values for ", C, " channels (dim -3 of shape ",
                 x.shape(), "); expected 1 or ", C);
    std::vector<T> m(mean_.begin(), mean_.end()), s(std_.begin(), std_.end());
    auto mt = from_vector<T>(m, Shape{k, 1, 1}), st = from_vector<T>(s, Shape{k, 1, 1});
    return (x - mt) / st;
  }

 private:
  std::vector<double> mean_, std_;
};

namespace detail {
// Flips each image (the last 3 dims; the last 2 for a 2-D input) whose uniform draw is
// below p: along W (horizontal) or H (vertical).
template <typename T>
Tensor<T> random_flip(const char* op, const Tensor<T>& x, double p, bool horizontal, Generator& gen) {
  check_image(op, x, 2);
  const int n = x.dim();
  const int64_t H = x.shape()[n - 2], W = x.shape()[n - 1];
  const int64_t per_image = n >= 3 ? x.shape()[n - 3] * H * W : H * W;
  int64_t images = 1;
  for (int i = 0; i + 3 < n; ++i) images *= x.shape()[i];
  std::vector<char> flip(static_cast<size_t>(images));
  bool any = false;
  for (auto& f : flip) any |= (f = gen.next_double() < p);
  if (!any) return x;
  NoGradGuard no_grad;  // transforms prepare data: no graph through them
  auto out = x.contiguous().clone();
  T* d = out.data();
  const int64_t planes = per_image / std::max<int64_t>(H * W, 1);
  for (int64_t i = 0; i < images; ++i) {
    if (!flip[static_cast<size_t>(i)]) continue;
    for (int64_t c = 0; c < planes; ++c) {
      T* plane = d + i * per_image + c * H * W;
      if (horizontal) {
        for (int64_t r = 0; r < H; ++r) std::reverse(plane + r * W, plane + (r + 1) * W);
      } else {
        for (int64_t r = 0; r < H / 2; ++r) std::swap_ranges(plane + r * W, plane + (r + 1) * W, plane + (H - 1 - r) * W);
      }
    }
  }
  return out;
}
inline void check_probability(const char* op, double p) {
  LATENT_CHECK(p >= 0 && p <= 1, op, ": p must be in [0, 1], got ", p);
}
}  // namespace detail

// Mirrors each image left-right with probability p (one draw per image).
class RandomHorizontalFlip {
 public:
  static constexpr bool kRandom = true;
  explicit RandomHorizontalFlip(double p = 0.5) : p_(p) { detail::check_probability("RandomHorizontalFlip", p); }
  std::string name() const { return latent::detail::str_cat("RandomHorizontalFlip(p ", p_, ")"); }
  template <typename T>
  Tensor<T> operator()(const Tensor<T>& x, Generator& gen = default_generator()) const {
    return detail::random_flip("RandomHorizontalFlip", x, p_, true, gen);
  }

 private:
  double p_;
};

// Mirrors each image top-bottom with probability p (one draw per image).
class RandomVerticalFlip {
 public:
  static constexpr bool kRandom = true;
  explicit RandomVerticalFlip(double p = 0.5) : p_(p) { detail::check_probability("RandomVerticalFlip", p); }
  std::string name() const { return latent::detail::str_cat("RandomVerticalFlip(p ", p_, ")"); }
  template <typename T>
  Tensor<T> operator()(const Tensor<T>& x, Generator& gen = default_generator()) const {
    return detail::random_flip("RandomVerticalFlip", x, p_, false, gen);
  }

 private:
  double p_;
};

// Any transform step or sequence of steps, type-erased; a default-constructed Transform is
// the identity. Copies share their steps.
class Transform {
 public:
  Transform() = default;
  template <TransformStep F>
    requires(!std::derived_from<F, Transform>)
  Transform(F f) {  // NOLINT: implicit, so Compose{Resize(32), Normalize(...)} reads naturally
    auto step = std::make_shared<Step>();
    step->name = f.name();
    step->random = F::kRandom;
    step->f = [f](const Tensor<float>& x, Generator& g) { return Tensor<float>(f(x, g)); };
    step->d = [f](const Tensor<double>& x, Generator& g) { return Tensor<double>(f(x, g)); };
    steps_.push_back(std::move(step));
  }

  template <typename T>
  Tensor<T> operator()(const Tensor<T>& x, Generator& gen = default_generator()) const {
    static_assert(FloatingElement<T>, "Transform: float or double tensors only");
    Tensor<T> y = x;
    for (const auto& s : steps_) {
      if constexpr (std::is_same_v<T, float>) y = s->f(y, gen);
      else y = s->d(y, gen);
    }
    return y;
  }

  bool is_identity() const { return steps_.empty(); }
  bool is_random() const {
    for (const auto& s : steps_)
      if (s->random) return true;
    return false;
  }
  size_t num_steps() const { return steps_.size(); }
  // "Compose(Resize(32), Normalize(...))", or the step's name, or "Identity".
  std::string name() const {
    if (steps_.empty()) return "Identity";
    if (steps_.size() == 1) return steps_[0]->name;
    std::string s = "Compose(";
    for (size_t i = 0; i < steps_.size(); ++i) s += (i ? ", " : "") + steps_[i]->name;
    return s + ")";
  }
  // {the leading deterministic steps, the rest}: applying first then second equals *this.
  std::pair<Transform, Transform> split_deterministic() const {
    Transform head, tail;
    size_t i = 0;
    while (i < steps_.size() && !steps_[i]->random) head.steps_.push_back(steps_[i++]);
    while (i < steps_.size()) tail.steps_.push_back(steps_[i++]);
    return {head, tail};
  }

 protected:
  struct Step {
    std::string name;
    bool random = false;
    std::function<Tensor<float>(const Tensor<float>&, Generator&)> f;
    std::function<Tensor<double>(const Tensor<double>&, Generator&)> d;
  };
  void append(const Transform& t) { steps_.insert(steps_.end(), t.steps_.begin(), t.steps_.end()); }
  std::vector<std::shared_ptr<const Step>> steps_;
};

// The transforms applied in order: Compose{Resize(32), Normalize({0.5}, {0.5})}.
class Compose : public Transform {
 public:
  Compose(std::initializer_list<Transform> transforms) {
    for (const auto& t : transforms) append(t);
  }
  explicit Compose(const std::vector<Transform>& transforms) {
    for (const auto& t : transforms) append(t);
  }
};

}  // namespace latent::data
