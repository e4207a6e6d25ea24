// latent::data: MNIST and FashionMNIST, as torchvision.datasets: images (N, 1, 28, 28)
// float in [0, 1] (byte / 255, as ToTensor), labels (N) int64 in 0..9.
//
//   data::MNIST test(data::Split::Test);                                    // default directories
//   data::FashionMNIST train(data::Split::Train, "/path/to/fashion-mnist",
//                            data::Compose{data::Resize(32), data::Normalize({0.5}, {0.5})});
//   data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
//
// Files: {train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte, each raw or
// with .gz (the raw file is used when both exist). An explicit root directory is the only
// place looked at; without one, the first of these holding both files of the split:
//   MNIST:        $LATENT_DATA/mnist, ./data/mnist, ../shared/data/mnist, and beside the
//                 source tree these headers come from: <source>/data/mnist (where
//                 scripts/download_mnist.sh puts it) and <source>/../shared/data/mnist
//   FashionMNIST: $LATENT_DATA/fashion-mnist, ./data/fashion-mnist,
//                 /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)
// When none holds the files the error lists every place looked at and how to get the data.
// The files are checked: 3-D ubyte images of 28x28, 1-D ubyte labels below 10, as many
// labels as images. The transform is applied as ImageDataset describes (deterministic
// leading steps once at load when `eager`).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "../latent.hpp"
#include "dataset.hpp"
#include "idx.hpp"
#include "transforms.hpp"

namespace latent::data {

enum class Split { Train, Test };
inline const char* split_name(Split s) { return s == Split::Train ? "train" : "test"; }

struct MNISTOptions {
  Split split = Split::Train;
  std::filesystem::path root{};  // empty: the default directories
  Transform transform{};         // identity by default
  bool eager = true;           // apply the transform's deterministic leading steps once, at load
};

namespace detail {

// The latent source tree these headers live in (<source>/include/latent/data/mnist.hpp),
// when the compiler gave an absolute path and the tree is there (not an installed copy of
// the headers); empty otherwise.
inline std::filesystem::path latent_source_root() {
  std::filesystem::path here(__FILE__);
  if (!here.is_absolute()) return {};
  auto root = here.parent_path().parent_path().parent_path().parent_path();
  std::error_code ec;
  if (!std::filesystem::exists(root / "scripts" / "download_mnist.sh", ec)) return {};
  return root;
}

inline std::string split_prefix(Split s) { return s == Split::Train ? "train" : "t10k"; }

struct SplitFiles {
  std::filesystem::path images, labels;
};

// The file `name` or `name.gz` in dir (raw first), or empty.
inline std::filesystem::path find_idx_file(const std::filesystem::path& dir, const std::string& name) {
  std::error_code ec;
  for (const auto& candidate : {dir / name, dir / (name + ".gz")})
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  return {};
}

// dataset: "MNIST" or "FashionMNIST"; subdir: the name under $LATENT_DATA and ./data.
inline std::vector<std::filesystem::path> default_roots(const std::string& dataset, const std::string& subdir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("LATENT_DATA"); env && *env) dirs.push_back(fs::path(env) / subdir);
  dirs.push_back(fs::path("data") / subdir);
  if (dataset == "MNIST") {
    dirs.push_back(fs::path("..") / "shared" / "data" / "mnist");
    if (auto src = latent_source_root(); !src.empty()) {
      dirs.push_back(src / "data" / "mnist");
      dirs.push_back(src.parent_path() / "shared" / "data" / "mnist");
    }
  } else {
    dirs.push_back("/usr/share/datasets/fashion-mnist");
  }
  // The same directory reached two ways is listed once.
  std::vector<fs::path> unique;
  std::vector<fs::path> seen;
  for (const auto& d : dirs) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(fs::absolute(d, ec), ec);
    if (ec) key = d.lexically_normal();
    bool dup = false;
    for (const auto& s : seen) dup |= s == key;
    if (!dup) {
      seen.push_back(key);
      unique.push_back(d);
    }
  }
  return unique;
}

inline std::string how_to_get(const std::string& dataset, Split split) {
  if (dataset == "MNIST")
    return latent::detail::str_cat(
        "To get MNIST: run scripts/download_mnist.sh [DIR] from the latent source tree (needs internet; DIR defaults to "
        "<source>/data/mnist), then pass DIR as root or set LATENT_DATA=PARENT with the files in PARENT/mnist.",
        split == Split::Test ? "" : " Offline, ../shared/data/mnist beside the project holds the test split only "
                                    "(Split::Test).");
  return "To get FashionMNIST: apt-get install dataset-fashion-mnist (Debian; puts the files in "
         "/usr/share/datasets/fashion-mnist), or download the four .gz files from "
         "https://github.com/zalandoresearch/fashion-mnist into DIR and pass DIR as root or set LATENT_DATA=PARENT "
         "with the files in PARENT/fashion-mnist.";
}

inline SplitFiles locate_split(const std::string& dataset, const std::string& subdir, Split split,
                               const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  const std::string prefix = split_prefix(split);
  const std::string images = prefix + "-images-idx3-ubyte", labels = prefix + "-labels-idx1-ubyte";
  const std::vector<fs::path> dirs = root.empty() ? default_roots(dataset, subdir) : std::vector<fs::path>{root};
  std::string looked;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::string why;
    if (!fs::is_directory(dir, ec)) {
      why = fs::exists(dir, ec) ? "not a directory" : "no such directory";
    } else {
      SplitFiles f{find_idx_file(dir, images), find_idx_file(dir, labels)};
      if (!f.images.empty() && !f.labels.empty()) return f;
      why = "missing ";
      if (f.images.empty()) why += images + "[.gz]";
      if (f.images.empty() && f.labels.empty()) why += " and ";
      if (f.labels.empty()) why += labels + "[.gz]";
    }
    std::string shown = dir.string();
    if (dir.is_relative()) shown += " (= " + fs::absolute(dir, ec).lexically_normal().string() + ")";
    looked += "\n  " + shown + ": " + why;
  }
  latent::detail::throw_error(__FILE__, __LINE__, dataset, ": cannot find the ", split_name(split), " split (",
                              images, "[.gz] and ", labels, "[.gz]); looked in", root.empty() ? "" : " the given root",
                              ":", looked, "\n", how_to_get(dataset, split));
}

// Reads and checks the split's two files: images (N, 1, 28, 28) in [0, 1], labels (N).
inline std::pair<Tensor<float>, IndexTensor> load_mnist_files(const std::string& dataset, const SplitFiles& f) {
  IdxArray im = read_idx(f.images);
  IdxArray lb = read_idx(f.labels);
  const std::string imn = f.images.string(), lbn = f.labels.string();
  LATENT_CHECK(im.type == IdxType::UInt8 && im.shape.size() == 3 && im.shape[1] == 28 && im.shape[2] == 28, dataset,
               ": '", imn, "' must hold ubyte images of shape [N, 28, 28], it holds ", idx_type_name(im.type),
               " elements of shape ", shape_string(im.shape));
  LATENT_CHECK(lb.type == IdxType::UInt8 && lb.shape.size() == 1, dataset, ": '", lbn,
               "' must hold ubyte labels of shape [N], it holds ", idx_type_name(lb.type), " elements of shape ",
               shape_string(lb.shape));
  LATENT_CHECK(im.shape[0] == lb.shape[0], dataset, ": ", im.shape[0], " images in '", imn, "' but ", lb.shape[0],
               " labels in '", lbn, "'");
  const int64_t n = im.shape[0];
  auto labels = Tensor<int64_t>::empty(Shape{n}, kCPU);
  int64_t* lp = labels.data();
  for (int64_t i = 0; i < n; ++i) {
    uint8_t v = lb.data[static_cast<size_t>(i)];
    LATENT_CHECK(v < 10, dataset, ": label ", int(v), " at index ", i, " in '", lbn, "' is not a class 0..9");
    lp[i] = v;
  }
  auto images = Tensor<float>::empty(Shape{n, 1, 28, 28}, kCPU);
  float* ip = images.data();
  const uint8_t* src = im.data.data();
  parallel_for(n * 784, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ip[i] = static_cast<float>(src[i]) / 255.0f;
  });
  return {images, labels};
}

}  // namespace detail

// MNIST and FashionMNIST: a split of four IDX files in an MNIST-layout directory.
class MnistLikeDataset : public ImageDataset {
 public:
  // The files read, and the split.
  const std::filesystem::path& images_file() const { return files_.images; }
  const std::filesystem::path& labels_file() const { return files_.labels; }
  Split split() const { return split_; }

 protected:
  MnistLikeDataset(const MNISTOptions& o, const std::string& dataset, const std::string& subdir)
      : files_(detail::locate_split(dataset, subdir, o.split, o.root)), split_(o.split) {
    auto loaded = detail::load_mnist_files(dataset, files_);
    static_cast<ImageDataset&>(*this) = ImageDataset(loaded.first, loaded.second, o.transform, o.eager);
  }

 private:
  detail::SplitFiles files_;
  Split split_ = Split::Train;
};

// The handwritten digits (LeCun, Cortes, Burges): 60000 train and 10000 test images.
class MNIST : public MnistLikeDataset {
 public:
  static constexpr const char* kClasses[10] = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};
  explicit MNIST(const MNISTOptions& o) : MnistLikeDataset(o, "MNIST", "mnist") {}
  explicit MNIST(Split split = Split::Train, std::filesystem::path root = {}, Transform transform = {}, bool eager = true)
      : MNIST(MNISTOptions{split, std::move(root), std::move(transform), eager}) {}
  // The directories looked in when no root is given, in order.
  static std::vector<std::filesystem::path> default_roots() { return detail::default_roots("MNIST", "mnist"); }
};

// Zalando's article images (Xiao, Rasul, Vollgraf 2017), in MNIST's format and sizes.
class FashionMNIST : public MnistLikeDataset {
 public:
  static constexpr const char* kClasses[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                               "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  explicit FashionMNIST(const MNISTOptions& o) : MnistLikeDataset(o, "FashionMNIST", "fashion-mnist") {}
  explicit FashionMNIST(Split split = Split::Train, std::filesystem::path root = {}, Transform transform = {},
                        bool eager = true)
      : FashionMNIST(MNISTOptions{split, std::move(root), std::move(transform), eager}) {}
  static std::vector<std::filesystem::path> default_roots() {
    return detail::default_roots("FashionMNIST", "fashion-mnist");
  }
};

}  // namespace latent::data
