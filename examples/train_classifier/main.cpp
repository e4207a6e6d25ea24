// train_classifier (RECIPES R8): trains metrics::ImageClassifier on MNIST or FashionMNIST,
// the feature extractor of classifier-FID and the Inception Score (the `fid` example). The
// images are prepared as the generators see them: 28 -> 32 bilinear, then [-1, 1].
// Writes to --out (default out/classifier_<dataset>):
//   classifier.safetensors   the weights after the last epoch (PyTorch state_dict names)
//   metrics.csv              epoch,train_loss,train_accuracy,test_loss,test_accuracy
//   test_errors.png          up to 64 misclassified test images
//
//   train_classifier [--dataset fashion|mnist] [--epochs 3] [--batch-size 128] [--lr 1e-3]
//
// The MNIST train split is not on every machine (scripts/download_mnist.sh fetches it);
// --train-on-test N trains on the first 10000 - N test images and measures accuracy on the
// last N, so the classifier can be built from the test split alone (say so when you quote
// FIDs computed with it: its features have seen most of the real statistics' images).
#include <latent/data.hpp>
#include <latent/io.hpp>
#include <latent/metrics/classifier.hpp>
#include <latent/nn.hpp>

#include "../common/example.hpp"

using namespace latent;

namespace {

struct Evaluation {
  double loss = 0, accuracy = 0;
  std::vector<int64_t> wrong;  // indices of misclassified images
};

Evaluation evaluate(metrics::ImageClassifier<float>& model, const TensorF& images, const IndexTensor& labels,
                    int64_t batch_size) {
  NoGradGuard no_grad;
  model.eval();
  Evaluation e;
  const int64_t n = images.size(0);
  int64_t correct = 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t len = std::min(batch_size, n - start);
    TensorF logits = model(images.narrow(0, start, len));
    IndexTensor target = labels.narrow(0, start, len);
    e.loss += nn::functional::cross_entropy(logits, target, {}, -100, "sum").item();
    auto predicted = argmax(logits, 1).to_vector();
    auto truth = target.contiguous().to_vector();
    for (int64_t i = 0; i < len; ++i) {
      if (predicted[i] == truth[i]) {
        ++correct;
      } else {
        e.wrong.push_back(start + i);
      }
    }
  }
  e.loss /= static_cast<double>(n);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return e;
}

}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.epochs = 3;
  args.batch_size = 128;
  std::string dataset = "fashion";
  double lr = 1e-3;
  int64_t limit = 0, train_on_test = 0;

  CLI::App app{"Train the small CNN that classifier-FID and the Inception Score use (RECIPES R8)"};
  examples::add_common_options(app, args, "dataset directory (default: the usual places, see data/mnist.hpp)");
  app.add_option("--dataset", dataset, "fashion or mnist")->capture_default_str()->check(
      CLI::IsMember({"fashion", "mnist"}));
  app.add_option("--lr", lr, "Adam learning rate (cosine-annealed to 0 over the run)")->capture_default_str();
  app.add_option("--limit", limit, "train on the first N training images only (0: all)")->capture_default_str();
  app.add_option("--train-on-test", train_on_test,
                 "train on the first 10000 - N test images, evaluate on the last N (no train split needed)")
      ->check(CLI::Range(int64_t{1}, int64_t{9999}));
  CLI11_PARSE(app, argc, argv);
  if (args.out.empty()) args.out = "out/classifier_" + dataset;
  examples::start("train_classifier", args);

  const data::Compose prepare{data::Resize(32), data::Normalize({0.5}, {0.5})};
  examples::LabeledImages test_raw = examples::load_images(dataset, "test", args.data);
  examples::LabeledImages train_raw;
  if (train_on_test > 0) {
    const int64_t n_train = test_raw.images.size(0) - train_on_test;
    const int64_t n_used = limit > 0 ? std::min(limit, n_train) : n_train;
    train_raw = {test_raw.images.narrow(0, 0, n_used), test_raw.labels.narrow(0, 0, n_used), test_raw.title};
    test_raw.images = test_raw.images.narrow(0, n_train, train_on_test);
    test_raw.labels = test_raw.labels.narrow(0, n_train, train_on_test);
    std::cout << "--train-on-test: training on test images 0.." << n_train - 1 << ", evaluating on the last "
              << train_on_test << "\n";
  } else {
    train_raw = examples::load_images(dataset, "train", args.data, limit, "pass --train-on-test N");
  }
  data::ImageDataset train(train_raw.images, train_raw.labels, prepare);
  data::ImageDataset test(test_raw.images, test_raw.labels, prepare);
  data::DataLoader loader(train, {.batch_size = args.batch_size, .shuffle = true, .seed = args.seed});
  std::cout << train_raw.title << ": " << train.size() << " training and " << test.size() << " test images of 32x32, "
            << loader.size() << " steps per epoch\n";

  metrics::ImageClassifier<float> model;
  optim::AdamOptions adam;
  adam.lr = lr;
  optim::Adam<float> opt(model.parameters(), adam);
  optim::CosineAnnealingLR schedule(opt, static_cast<int64_t>(args.epochs) * loader.size());

  io::CsvWriter csv(args.out / "metrics.csv", {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"});
  Evaluation last;
  for (int64_t epoch = 0; epoch < args.epochs; ++epoch) {
    loader.set_epoch(epoch);
    model.train();
    io::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(args.epochs), loader.size());
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, step = 0;
    for (auto& batch : loader) {
      TensorF logits = model(batch.images);
      TensorF loss = nn::functional::cross_entropy(logits, batch.labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
      schedule.step();
      const int64_t b = batch.labels.numel();
      loss_sum += loss.item() * static_cast<double>(b);
      seen += b;
      auto predicted = argmax(logits.detach(), 1).to_vector();
      auto truth = batch.labels.contiguous().to_vector();
      for (int64_t i = 0; i < b; ++i) correct += predicted[i] == truth[i];
      progress.update(++step, {{"loss", loss.item()}, {"acc", static_cast<double>(correct) / static_cast<double>(seen)}});
    }
    progress.finish();
    last = evaluate(model, test.images(), test.labels(), 500);
    const double train_loss = loss_sum / static_cast<double>(seen);
    const double train_acc = static_cast<double>(correct) / static_cast<double>(seen);
    csv.row(epoch + 1, train_loss, train_acc, last.loss, last.accuracy);
    csv.flush_to_disk();
    io::save_module(model, args.out / "classifier.safetensors",
                    {{"dataset", dataset}, {"test_accuracy", std::to_string(last.accuracy)}});
    std::printf("epoch %lld: train loss %.4f, train accuracy %.2f%%; test loss %.4f, test accuracy %.2f%%\n",
                static_cast<long long>(epoch + 1), train_loss, 100 * train_acc, last.loss, 100 * last.accuracy);
  }
  csv.close();
  if (!last.wrong.empty()) {
    const size_t shown = std::min<size_t>(64, last.wrong.size());
    IndexTensor idx = from_vector(std::vector<int64_t>(last.wrong.begin(), last.wrong.begin() + shown));
    io::save_image(args.out / "test_errors.png", index_select(test.images(), 0, idx),
                   {.nrow = 8, .normalize = true, .value_range = {{-1.0, 1.0}}});
  }
  std::printf("%s classifier: test accuracy %.2f%% (%lld of %lld wrong); wrote %s\n", dataset.c_str(),
              100 * last.accuracy, static_cast<long long>(last.wrong.size()), static_cast<long long>(test.size()),
              (args.out / "classifier.safetensors").string().c_str());
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("train_classifier", [&] { return example_main(argc, argv); });
}
