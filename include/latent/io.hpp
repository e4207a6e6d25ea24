// latent::io: checkpoints and visual output. Everything of latent/nn.hpp, plus safetensors
// reading and writing and saving/loading modules with it (see io/safetensors.hpp), PNG
// image grids, animated GIFs, plots, CSV logs and a progress line.
//
//   #include <latent/io.hpp>
//   io::save_module(*net, "net.safetensors");            // PyTorch-style names, {"format": "pt"}
//   io::load_module(*other, "net.safetensors");          // strict by default
//   auto file = io::SafeTensors::read_file("model.safetensors");
//   auto w = file.get<float>("0.weight");                // F16/BF16/F64/ints converted
//   io::Checkpoint ckpt;                                 // training state (io/checkpoint.hpp)
//   ckpt.add("model", *net).add("opt", opt).add("rng", default_generator());
//   ckpt.save("ckpt.safetensors");  ckpt.load("ckpt.safetensors");
//   io::save_image("grid.png", fake, {.nrow = 8, .normalize = true, .value_range = {{-1, 1}}});
//   io::GifWriter gif("sampling.gif", 242, 242, 8);  gif.add_frame(io::make_grid(x));  // io/gif.hpp
//   io::save_loss_plot("loss.png", steps, {{"d_loss", d}, {"g_loss", g}});           // io/plot.hpp
//   io::CsvWriter log("log.csv", {"step", "loss"});  log.row(step, loss);            // io/csv.hpp
//   io::Progress bar("train", steps);  bar.update(step, {{"loss", loss}});          // io/progress.hpp
#pragma once

#include "nn.hpp"
#include "io/safetensors.hpp"
#include "io/checkpoint.hpp"
#include "io/csv.hpp"
#include "io/image.hpp"
#include "io/gif.hpp"
#include "io/plot.hpp"
#include "io/progress.hpp"
