// The epoch loop the image-GAN examples share (dcgan_fashion, dcgan_mnist, cgan_mnist):
// resume from <out>/checkpoint.safetensors when asked, train epoch by epoch behind a
// progress line, and after each epoch write epoch_NNN.png (the fixed batch drawn by
// `sample_grid`), the checkpoint and generator.safetensors. losses.csv
// (step,d_loss,g_loss,d_x,d_g_z; losses_resumed.csv after --resume, so the first run's rows
// stay) and its plot, then a summary line.
#pragma once
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace examples {

struct GanLoopOptions {
  std::string name;   // the program, for the summary line
  std::string title;  // of the loss plot
  std::filesystem::path out;
  int epochs = 1;
  bool resume = false;
  bool conditional = false;  // the trainer gets each batch's labels
  latent::io::GridOptions grid;
};

inline std::string epoch_file(int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch_%03lld.png", static_cast<long long>(epoch));
  return name;
}

template <class Loader>
void run_gan_epochs(latent::gan::Trainer<float>& trainer, latent::nn::Module<float>& G,
                    latent::nn::Module<float>& D, Loader& loader, const GanLoopOptions& o,
                    const std::function<latent::Tensor<float>()>& sample_grid) {
  using namespace latent;
  const auto checkpoint = o.out / "checkpoint.safetensors";
  int64_t first_epoch = 0;
  if (o.resume) {
    auto ckpt = trainer.load(checkpoint, [&](io::Checkpoint& c) { c.counters["epoch"] = 0; });
    first_epoch = ckpt.counters.at("epoch");
    std::cout << "resumed from " << checkpoint.string() << " after epoch " << first_epoch << "\n";
  }
  io::CsvWriter losses(o.out / (o.resume ? "losses_resumed.csv" : "losses.csv"),
                       {"step", "d_loss", "g_loss", "d_x", "d_g_z"});
  std::vector<double> steps, d_curve, g_curve;
  gan::StepStats last;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    loader.set_epoch(epoch);
    G.train();
    D.train();
    io::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs), loader.size());
    int64_t i = 0;
    for (auto& batch : loader) {
      last = o.conditional ? trainer.step(batch.images, batch.labels) : trainer.step(batch.images);
      losses.row(last.g_steps, last.d_loss, last.g_loss, last.d_x, last.d_g_z);
      steps.push_back(static_cast<double>(last.g_steps));
      d_curve.push_back(last.d_loss);
      g_curve.push_back(last.g_loss);
      progress.update(++i, {{"d_loss", last.d_loss}, {"g_loss", last.g_loss}, {"D(x)", last.d_x},
                            {"D(G(z))", last.d_g_z}});
    }
    progress.finish();
    const std::string name = epoch_file(epoch + 1);
    io::save_image(o.out / name, sample_grid(), o.grid);
    trainer.save(checkpoint, [&](io::Checkpoint& c) { c.counters["epoch"] = epoch + 1; });
    io::save_module(G, o.out / "generator.safetensors");
    losses.flush_to_disk();
    std::cout << "epoch " << epoch + 1 << ": wrote " << name << " and the checkpoint\n";
  }
  losses.close();
  if (!steps.empty())
    io::save_loss_plot(o.out / (o.resume ? "losses_resumed.png" : "losses.png"), steps,
                       {{"d_loss", d_curve}, {"g_loss", g_curve}}, std::nullopt, {.title = o.title});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %zu steps in %s (%.2f steps/s), %lld G steps in all; last d_loss=%.4f g_loss=%.4f D(x)=%.3f "
              "D(G(z))=%.3f\n",
              o.name.c_str(), steps.size(), io::format_duration(seconds).c_str(),
              seconds > 0 ? static_cast<double>(steps.size()) / seconds : 0.0,
              static_cast<long long>(trainer.g_steps()), last.d_loss, last.g_loss, last.d_x, last.d_g_z);
}

}  // namespace examples
