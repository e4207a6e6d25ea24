// What every example trainer shares: the common command-line options (--epochs,
// --batch-size, --seed, --out, --threads, --data, with --help from CLI11), thread setup,
// the error handling of main, and the 2-D sample figures the parabola examples report.
#pragma once
#include <CLI/CLI.hpp>
#include <latent/data.hpp>
#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace examples {

struct CommonArgs {
  int epochs = 1;
  int64_t batch_size = 64;
  uint64_t seed = 0;
  std::filesystem::path out;
  int threads = 0;  // 0: OpenMP's default
  std::filesystem::path data;
};

inline void add_common_options(CLI::App& app, CommonArgs& a, const std::string& data_help) {
  app.add_option("--epochs", a.epochs, "passes over the training data")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", a.batch_size, "samples per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", a.seed, "seed of every random choice (weights, noise, batches)")->capture_default_str();
  app.add_option("--out", a.out, "output directory (created)")->capture_default_str();
  app.add_option("--threads", a.threads, "CPU threads (0: OpenMP's default)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--data", a.data, data_help)->capture_default_str();
}

// --device, for the trainers that run on a GPU: cpu, cuda or cuda:N.
inline void add_device_option(CLI::App& app, std::string& device) {
  app.add_option("--device", device, "where the models train and sample: cpu, cuda or cuda:N")->capture_default_str();
}

// The device --device names, checked: a CUDA device must exist in this build and machine.
inline latent::Device pick_device(const std::string& name) {
  const latent::Device d(name);
  if (d.is_cuda()) {
    LATENT_CHECK(latent::cuda::is_compiled(), "--device ", name, ": this program was built without the CUDA backend "
                 "(configure with nvcc on PATH, or -DLATENT_CUDA=ON)");
    const int count = latent::cuda::device_count();
    LATENT_CHECK(d.index < count, "--device ", name, ": ",
                 count == 0 ? "no CUDA device (" + latent::cuda::backend().no_device_reason() + ")"
                            : std::to_string(count) + " CUDA device(s) on this machine");
    std::cout << "device " << name << "\n";
  }
  return d;
}

// Applies --threads and --seed, creates --out, and prints what the run uses.
inline void start(const std::string& name, const CommonArgs& a) {
  if (a.threads > 0) latent::set_num_threads(a.threads);
  latent::manual_seed(a.seed);
  std::filesystem::create_directories(a.out);
  std::cout << name << ": " << latent::get_num_threads() << " thread(s), seed " << a.seed << ", writing to "
            << a.out.string() << "\n";
}

// Runs an example's body; an exception (bad input, a missing, truncated or mismatched file)
// becomes one line on stderr naming the example and exit status 1, not std::terminate.
template <typename Body>
int run_main(const char* name, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

// MNIST or FashionMNIST as loaded (N, 1, 28, 28) in [0, 1], with their labels; the first
// `limit` images when limit > 0.
struct LabeledImages {
  latent::Tensor<float> images;
  latent::IndexTensor labels;
  std::string title;  // "MNIST" or "FashionMNIST"
};

// `dataset` is "mnist" or "fashion" (FashionMNIST), `split` "train" or "test", `root` the
// --data directory (empty: the usual places). When MNIST's train split cannot be read, the
// error ends with "(with the test split only, <test_only_hint>)": what the example offers
// instead (the trainers' --split test by default).
inline LabeledImages load_images(const std::string& dataset, const std::string& split,
                                 const std::filesystem::path& root, int64_t limit = 0,
                                 const std::string& test_only_hint = "pass --split test") {
  using namespace latent;
  const auto which = split == "train" ? data::Split::Train : data::Split::Test;
  LabeledImages out;
  if (dataset == "mnist") {
    out.title = "MNIST";
    try {
      data::MNIST ds(which, root);
      out.images = ds.images();
      out.labels = ds.labels();
    } catch (const Error& e) {
      // This machine may hold the test split alone (scripts/download_mnist.sh fetches the rest).
      const std::string hint = split == "train" ? "\n(with the test split only, " + test_only_hint + ")" : "";
      throw Error(std::string(e.what()) + hint);
    }
  } else {
    out.title = "FashionMNIST";
    data::FashionMNIST ds(which, root);
    out.images = ds.images();
    out.labels = ds.labels();
  }
  if (limit > 0 && limit < out.images.size(0)) {
    out.images = out.images.narrow(0, 0, limit);
    out.labels = out.labels.narrow(0, 0, limit);
  }
  return out;
}

// How well 2-D samples (x, y) cover the parabola y = x^2 on [-1, 1] (RECIPES R1/R2).
struct ParabolaFit {
  double mean_abs_error = 0;            // mean |y - x^2|
  std::vector<double> quarter_share;    // share of x in [-1,-0.5), [-0.5,0), [0,0.5), [0.5,1]
  double outside = 0;                   // share of x outside [-1, 1]
};

inline ParabolaFit parabola_fit(const latent::Tensor<float>& samples) {
  auto v = samples.contiguous().to_vector();
  const size_t n = v.size() / 2;
  ParabolaFit fit;
  fit.quarter_share.assign(4, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double x = v[2 * i], y = v[2 * i + 1];
    fit.mean_abs_error += std::abs(y - x * x);
    if (x < -1 || x > 1) {
      fit.outside += 1;
      continue;
    }
    fit.quarter_share[std::min<size_t>(3, static_cast<size_t>((x + 1) * 2))] += 1;
  }
  fit.mean_abs_error /= static_cast<double>(n);
  fit.outside /= static_cast<double>(n);
  for (auto& q : fit.quarter_share) q /= static_cast<double>(n);
  return fit;
}

inline void print_fit(const ParabolaFit& f) {
  std::printf("mean |y - x^2| = %.4f; x per quarter of [-1, 1]: %.1f%% %.1f%% %.1f%% %.1f%% (outside: %.1f%%)\n",
              f.mean_abs_error, 100 * f.quarter_share[0], 100 * f.quarter_share[1], 100 * f.quarter_share[2],
              100 * f.quarter_share[3], 100 * f.outside);
}

}  // namespace examples
