// fid (RECIPES R8): classifier-FID and Inception Score of generated images against the
// held-out test split, with the features and logits of a classifier from train_classifier.
//
//   fid --classifier out/classifier_fashion/classifier.safetensors --generator out/dcgan_fashion/generator.safetensors
//   fid --classifier ... --samples out/ddpm_fashion/samples_ddim.safetensors
//   fid --classifier ... --reference          # real vs real: N training images against the test split
//
// --generator takes R3's DCGAN generator (dcgan_fashion, or the PyTorch peer
// benchmarks/peers/dcgan_fashion_peer.py, which writes the same names) and draws --num
// images from fresh noise. --samples takes a safetensors file holding one image tensor
// (N, C, H, W) or (N, H, W) in [-1, 1] (as the ddpm trainers write). Images of another
// size than the classifier's are resized (bilinear up, area down). The figures are printed
// and, with --csv, appended as a row (label,num,fid,is_mean,is_std) to that file.
//
// The real 28x28 images are brought to the classifier's size the way the scored model saw
// its data: bilinear resize (R3's GANs) or zero padding (R10's DDPM pads 28 to 32).
// --real-layout auto takes "pad" when the samples file says so in its "layout" metadata
// (ddpm_fashion --export and its PyTorch peer write it), else "resize"; any other "layout"
// value is an error. Scoring padded samples against resized real images would count the
// layout as a difference.
#include <latent/data.hpp>
#include <latent/io.hpp>
#include <latent/metrics.hpp>
#include <latent/nn.hpp>

#include <fstream>
#include <optional>

#include "../common/dcgan.hpp"
#include "../common/example.hpp"

using namespace latent;

namespace {

// (N, C, S, S) at the classifier's size S, in [-1, 1].
TensorF fit_to(const TensorF& images, int64_t size, const std::string& source) {
  TensorF x = images.dim() == 3 ? images.unsqueeze(1) : images;
  LATENT_CHECK((x.dim() == 4 && x.size(0) > 0 && x.size(2) > 0 && x.size(3) > 0), "fid: ", source,
               ": expected images (N, C, H, W) or (N, H, W), got shape ", images.shape());
  if (x.size(2) == size && x.size(3) == size) return x.contiguous();
  nn::functional::InterpolateOptions o{.size = {size, size}, .mode = x.size(2) > size ? "area" : "bilinear"};
  return nn::functional::interpolate(x, o);
}

// The samples and their "layout" metadata (nullopt when absent).
std::pair<TensorF, std::optional<std::string>> load_samples(const std::filesystem::path& path) {
  auto file = io::SafeTensors::read_file(path);
  auto names = file.names();
  LATENT_CHECK(!names.empty(), "fid: '", path.string(), "' holds no tensors");
  const std::string name =
      std::find(names.begin(), names.end(), "samples") != names.end() ? std::string("samples") : names.front();
  LATENT_CHECK((names.size() == 1 || name == "samples"), "fid: '", path.string(), "' holds ", names.size(),
               " tensors and none is named 'samples'; expected one image tensor");
  auto layout = file.metadata().find("layout");
  if (layout == file.metadata().end()) return {file.get<float>(name), std::nullopt};
  return {file.get<float>(name), layout->second};
}

TensorF generate_dcgan(const std::filesystem::path& weights, int64_t latent_dim, int64_t num, uint64_t seed) {
  auto G = examples::make_dcgan_generator(latent_dim);
  io::load_module(*G, weights);
  G->eval();
  NoGradGuard no_grad;
  Generator gen(seed);
  std::vector<TensorF> parts;
  for (int64_t start = 0; start < num; start += 500)
    parts.push_back(G->forward(randn<float>({std::min<int64_t>(500, num - start), latent_dim}, gen)));
  return cat(parts, 0);
}

}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.batch_size = 500;
  std::string dataset = "fashion", label, real_layout = "auto";
  std::filesystem::path classifier_path, samples_path, generator_path, csv_path;
  int64_t num = 10000, latent_dim = 100;
  int splits = 10;
  bool reference = false;

  CLI::App app{"Classifier-FID and Inception Score of generated images against the test split (RECIPES R8)"};
  app.add_option("--classifier", classifier_path, "classifier.safetensors from train_classifier")->required();
  app.add_option("--dataset", dataset, "fashion or mnist (the real test split)")->capture_default_str()->check(
      CLI::IsMember({"fashion", "mnist"}));
  app.add_option("--data", args.data, "dataset directory (default: the usual places, see data/mnist.hpp)");
  auto* samples_opt = app.add_option("--samples", samples_path, "safetensors file of images (N, C, H, W) in [-1, 1]");
  auto* generator_opt =
      app.add_option("--generator", generator_path, "R3 DCGAN generator weights (dcgan_fashion's generator.safetensors)");
  auto* reference_opt = app.add_flag("--reference", reference, "score N real training images instead (the floor)");
  samples_opt->excludes(generator_opt)->excludes(reference_opt);
  generator_opt->excludes(reference_opt);
  app.add_option("--real-layout", real_layout,
                 "how real 28x28 images reach the classifier's size: resize, pad, or auto (the samples' metadata)")
      ->check(CLI::IsMember({"auto", "resize", "pad"}))
      ->capture_default_str();
  app.add_option("--num", num, "images to generate or to take from the training split")->capture_default_str()->check(
      CLI::PositiveNumber);
  app.add_option("--latent-dim", latent_dim, "generator noise size")->capture_default_str();
  app.add_option("--seed", args.seed, "seed of the generator's noise")->capture_default_str();
  app.add_option("--batch-size", args.batch_size, "images per classifier call")->capture_default_str();
  app.add_option("--splits", splits, "Inception Score splits")->capture_default_str();
  app.add_option("--threads", args.threads, "CPU threads (0: OpenMP's default)")->capture_default_str();
  app.add_option("--csv", csv_path, "append label,num,fid,is_mean,is_std to this CSV file");
  app.add_option("--label", label, "the row's label in --csv (default: the scored file's path)");
  CLI11_PARSE(app, argc, argv);
  if (samples_path.empty() && generator_path.empty() && !reference) {
    std::cerr << "fid: give --samples FILE, --generator FILE or --reference (see --help)\n";
    return 2;
  }
  if (args.threads > 0) set_num_threads(args.threads);

  metrics::ImageClassifier<float> classifier;
  io::load_module(classifier, classifier_path);
  classifier.eval();
  const int64_t size = classifier.options().image_size;

  TensorF fake;
  std::string source;
  std::optional<std::string> samples_layout;
  if (!samples_path.empty()) {
    source = samples_path.string();
    std::tie(fake, samples_layout) = load_samples(samples_path);
    if (fake.size(0) > num) fake = fake.narrow(0, 0, num);
  }
  if (real_layout == "auto") {
    // Guessing would score the samples against real images of another layout.
    if (samples_layout && *samples_layout != "resize" && *samples_layout != "pad")
      throw Error("'" + samples_path.string() + "' has \"layout\" metadata '" + *samples_layout +
                  "', expected \"resize\" or \"pad\"; pass --real-layout resize or --real-layout pad to choose");
    real_layout = samples_layout.value_or("resize");
  }
  constexpr int64_t kDataSize = 28;
  LATENT_CHECK(real_layout == "resize" || (size >= kDataSize && (size - kDataSize) % 2 == 0), "fid: --real-layout pad ",
               "needs a classifier size of 28 + an even number, the classifier takes ", size);
  const data::Transform to_size = real_layout == "pad" ? data::Transform(data::Pad((size - kDataSize) / 2))
                                                       : data::Transform(data::Resize(size));
  // The first `limit` images of a split (0: all) at the classifier's size, in [-1, 1].
  auto load = [&](const std::string& split, int64_t limit) {
    auto loaded = examples::load_images(dataset, split, args.data, limit,
                                        "--reference cannot run; --samples and --generator need the test split alone");
    return data::ImageDataset(loaded.images, loaded.labels, data::Compose{to_size, data::Normalize({0.5}, {0.5})})
        .images();
  };
  const TensorF real = load("test", 0);

  if (!generator_path.empty()) {
    source = generator_path.string();
    fake = generate_dcgan(generator_path, latent_dim, num, args.seed);
  } else if (reference) {
    source = dataset + " training split (reference)";
    fake = load("train", num);
  }
  fake = fit_to(fake, size, source);
  LATENT_CHECK((fake.size(1) == classifier.options().in_channels), "fid: ", source, " has ", fake.size(1),
               " channels, the classifier takes ", classifier.options().in_channels);

  auto features = [&](const TensorF& x) { return classifier.features(x); };
  metrics::FID<float> fid(features, {.batch_size = args.batch_size});
  fid.update(real, /*real=*/true);
  fid.update(fake, /*real=*/false);
  const double distance = fid.compute();

  std::vector<TensorF> logits;
  {
    NoGradGuard no_grad;
    for (int64_t start = 0; start < fake.size(0); start += args.batch_size)
      logits.push_back(classifier(fake.narrow(0, start, std::min(args.batch_size, fake.size(0) - start))));
  }
  auto [is_mean, is_std] = metrics::inception_score_from_logits(cat(logits, 0), splits);

  std::printf("%s: %lld images vs %lld %s test images (%s to %lld): FID %.3f, IS %.3f +- %.3f (%d splits)\n",
              source.c_str(), static_cast<long long>(fake.size(0)), static_cast<long long>(real.size(0)),
              dataset.c_str(), real_layout == "pad" ? "padded" : "resized", static_cast<long long>(size), distance,
              is_mean, is_std, splits);
  if (!csv_path.empty()) {
    const bool fresh = !std::filesystem::exists(csv_path);
    std::ofstream csv(csv_path, std::ios::app);
    if (fresh) csv << "label,num,fid,is_mean,is_std\n";
    csv << (label.empty() ? source : label) << "," << fake.size(0) << "," << distance << "," << is_mean << ","
        << is_std << "\n";
    LATENT_CHECK(csv.good(), "fid: could not append to '", csv_path.string(), "'");
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("fid", [&] { return example_main(argc, argv); });
}
