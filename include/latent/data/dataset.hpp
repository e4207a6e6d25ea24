// latent::data datasets in memory: what a DataLoader batches (the BatchDataset concept),
// TensorDataset (tensors sharing dim 0, batched together) and ImageDataset (float images
// with int64 class labels and a transform, the base of MNIST and FashionMNIST).
//
//   data::TensorDataset ds(points);                 // points (N, 2): batches are std::tuple<Tensor<float>>
//   data::TensorDataset pairs(x, labels);           // Tensor<float> (N, ...) and IndexTensor (N)
//   auto [xb, yb] = pairs.get_batch(from_vector<int64_t>({0, 5, 2}));
//
// Labels are IndexTensor (Tensor<int64_t>), the class-index type of cross_entropy,
// nll_loss and embedding. Dataset tensors live on the CPU; move batches to a device.
#pragma once
#include <concepts>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <utility>

#include "../latent.hpp"
#include "transforms.hpp"

namespace latent::data {

// What a DataLoader needs: the number of samples, and a batch for a 1-D tensor of sample
// indices. A dataset may also take a Generator, get_batch(indices, gen), for random
// transforms; the loader then passes one derived from its seed and the epoch.
template <typename D>
concept BatchDataset = requires(const D& d, const IndexTensor& indices) {
  { d.size() } -> std::convertible_to<int64_t>;
  d.get_batch(indices);
};

namespace detail {
// x (N, ...) contiguous on the CPU -> the rows `indices` (k, ...), copied; indices checked.
template <typename T>
Tensor<T> take_rows(const char* op, const Tensor<T>& x, const IndexTensor& indices) {
  LATENT_CHECK(indices.dim() == 1, op, ": sample indices must be a 1-D tensor, got shape ", indices.shape());
  const int64_t n = x.shape()[0], k = indices.numel();
  int64_t row = 1;
  for (int i = 1; i < x.dim(); ++i) row *= x.shape()[i];
  Shape s = x.shape();
  s[0] = k;
  auto out = Tensor<T>::empty(s, kCPU);
  auto idx = indices.contiguous();
  const int64_t* ip = idx.data();
  for (int64_t j = 0; j < k; ++j)
    LATENT_CHECK(ip[j] >= 0 && ip[j] < n, op, ": sample index ", ip[j], " is out of range for a dataset of ", n,
                 " samples");
  const T* src = x.data();
  T* dst = out.data();
  if (row > 0)
    for (int64_t j = 0; j < k; ++j) std::memcpy(dst + j * row, src + ip[j] * row, sizeof(T) * static_cast<size_t>(row));
  return out;
}

template <typename T>
Tensor<T> prepare_dataset_tensor(const char* op, const Tensor<T>& t, size_t position) {
  LATENT_CHECK(t.defined(), op, ": tensor ", position, " is undefined");
  LATENT_CHECK(t.dim() >= 1, op, ": tensor ", position, " must have a sample dim 0, got a 0-D tensor");
  LATENT_CHECK(t.is_cpu(), op, ": dataset tensors must be on the CPU, tensor ", position, " is on ", t.device(),
               " (move batches to the device instead)");
  return t.detach().contiguous();
}
}  // namespace detail

// One or more tensors sharing dim 0; sample i is row i of each. Batches are tuples in the
// order given, so `auto [x, y] = ds.get_batch(indices)`.
template <typename... Ts>
class TensorDataset {
  static_assert(sizeof...(Ts) >= 1, "TensorDataset: give at least one tensor");

 public:
  using Batch = std::tuple<Tensor<Ts>...>;
  using Example = std::tuple<Tensor<Ts>...>;

  explicit TensorDataset(Tensor<Ts>... tensors) : TensorDataset(std::index_sequence_for<Ts...>{}, tensors...) {}

  int64_t size() const { return size_; }
  const Batch& tensors() const { return tensors_; }
  // The rows `indices` (1-D) of every tensor.
  Batch get_batch(const IndexTensor& indices) const {
    return std::apply([&](const auto&... t) { return Batch{detail::take_rows("TensorDataset", t, indices)...}; },
                      tensors_);
  }
  // Sample i: row i of every tensor (dim 0 removed), views into the dataset.
  Example get(int64_t i) const {
    LATENT_CHECK(i >= 0 && i < size_, "TensorDataset: sample index ", i, " is out of range for a dataset of ", size_,
                 " samples");
    return std::apply([&](const auto&... t) { return Example{t.select(0, i)...}; }, tensors_);
  }

 private:
  template <size_t... I>
  TensorDataset(std::index_sequence<I...>, const Tensor<Ts>&... tensors)
      : tensors_{detail::prepare_dataset_tensor("TensorDataset", tensors, I)...} {
    size_ = std::get<0>(tensors_).shape()[0];
    (check_rows(std::get<I>(tensors_), I), ...);
  }
  template <typename T>
  void check_rows(const Tensor<T>& t, size_t position) const {
    LATENT_CHECK(t.shape()[0] == size_, "TensorDataset: every tensor must have the same size of dim 0; tensor 0 has ",
                 size_, " rows (shape ", std::get<0>(tensors_).shape(), "), tensor ", position, " has shape ", t.shape());
  }
  Batch tensors_;
  int64_t size_ = 0;
};

// A batch of labelled images: images (B, C, H, W) float, labels (B) int64.
struct ImageBatch {
  Tensor<float> images;
  IndexTensor labels;
};
struct ImageExample {
  Tensor<float> image;  // (C, H, W)
  int64_t label = 0;
};

// Float images (N, C, H, W) with int64 labels (N) and a transform. With `eager` (the
// default) the transform's leading deterministic steps (Resize, Pad, Normalize, ...) are
// applied once here to the whole image tensor, which is fast but holds every transformed
// image in memory (60000 MNIST images at 64x64 take 983 MB as float); the remaining steps
// (from the first random one on) run on every batch, with the generator get_batch is given
// (the DataLoader's, on its worker thread). Without `eager` every step runs per batch.
class ImageDataset {
 public:
  ImageDataset() = default;
  ImageDataset(Tensor<float> images, IndexTensor labels, Transform transform = {}, bool eager = true) {
    const char* op = "ImageDataset";
    images = detail::prepare_dataset_tensor(op, images, 0);
    labels = detail::prepare_dataset_tensor(op, labels, 1);
    LATENT_CHECK(images.dim() == 4, op, ": images must be (N, C, H, W), got shape ", images.shape());
    LATENT_CHECK(labels.dim() == 1 && labels.shape()[0] == images.shape()[0], op, ": labels must be (N) with N = ",
                 images.shape()[0], " (images shape ", images.shape(), "), got labels shape ", labels.shape());
    if (eager) {
      auto [head, tail] = transform.split_deterministic();
      if (!head.is_identity()) {
        NoGradGuard no_grad;
        images = head(images).contiguous();
        LATENT_CHECK(images.dim() == 4 && images.shape()[0] == labels.shape()[0], op, ": the transform ", head.name(),
                     " must keep (N, C, H, W) images, it gave shape ", images.shape());
      }
      transform = tail;
    }
    images_ = images;
    labels_ = labels;
    batch_transform_ = transform;
  }

  int64_t size() const { return labels_.defined() ? labels_.shape()[0] : 0; }
  // The images as stored (after the eager part of the transform) and the labels.
  const Tensor<float>& images() const { return images_; }
  const IndexTensor& labels() const { return labels_; }
  // What get_batch still applies to every batch.
  const Transform& batch_transform() const { return batch_transform_; }

  ImageBatch get_batch(const IndexTensor& indices, Generator& gen) const {
    ImageBatch b{detail::take_rows("ImageDataset", images_, indices), detail::take_rows("ImageDataset", labels_, indices)};
    if (!batch_transform_.is_identity()) {
      NoGradGuard no_grad;
      b.images = batch_transform_(b.images, gen);
    }
    return b;
  }
  ImageBatch get_batch(const IndexTensor& indices) const { return get_batch(indices, default_generator()); }
  // Image i (C, H, W) with the per-batch transform applied, and its label.
  ImageExample get(int64_t i, Generator& gen = default_generator()) const {
    LATENT_CHECK(i >= 0 && i < size(), "ImageDataset: sample index ", i, " is out of range for a dataset of ", size(),
                 " samples");
    auto b = get_batch(from_vector<int64_t>({i}), gen);
    return {b.images.select(0, 0), b.labels.data()[0]};
  }

 protected:
  Tensor<float> images_;
  IndexTensor labels_;
  Transform batch_transform_;
};

}  // namespace latent::data
