// latent::io: checkpoints. Everything of latent/nn.hpp, plus safetensors reading and
// writing and saving/loading modules with it (see io/safetensors.hpp).
//
//   #include <latent/io.hpp>
//   io::save_module(*net, "net.safetensors");            // PyTorch-style names, {"format": "pt"}
//   io::load_module(*other, "net.safetensors");          // strict by default
//   auto file = io::SafeTensors::read_file("model.safetensors");
//   auto w = file.get<float>("0.weight");                // F16/BF16/F64/ints converted
//   io::Checkpoint ckpt;                                 // training state (io/checkpoint.hpp)
//   ckpt.add("model", *net).add("opt", opt).add("rng", default_generator());
//   ckpt.save("ckpt.safetensors");  ckpt.load("ckpt.safetensors");
#pragma once

#include "nn.hpp"
#include "io/safetensors.hpp"
#include "io/checkpoint.hpp"
