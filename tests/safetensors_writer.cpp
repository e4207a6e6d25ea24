// Writes safetensors files with latent for scripts/safetensors_roundtrip.sh check-latent,
// which loads them with PyTorch + safetensors:
//
//   safetensors_writer OUT_DIR
//
//   OUT_DIR/latent_mlp_f32.safetensors   save_module of Sequential(Linear(3,4), ReLU, Linear(4,2))
//   OUT_DIR/latent_mlp_f16.safetensors   the same, floats stored as F16
//   OUT_DIR/latent_mlp_bf16.safetensors  the same, floats stored as BF16
//   OUT_DIR/latent_mixed.safetensors     a Sequential<double> state dict (F64) beside int64,
//                                        int32, uint8, BOOL, float (inf/nan), 0-dim and empty
//                                        tensors
//
// The model files carry metadata "latent.model", "latent.input" and "latent.output" (the
// model's output on the input, computed with the weights as stored); the mixed file
// carries "latent.expected", every tensor's values. Both as JSON strings.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <latent/io.hpp>
#include <nlohmann/json.hpp>

using namespace latent;

namespace {

// Flat values as JSON, with inf/nan as strings (JSON has no such numbers).
template <typename T>
nlohmann::json values_json(const Tensor<T>& t) {
  nlohmann::json out = nlohmann::json::array();
  for (T v : t.to_vector()) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v)) out.push_back("nan");
      else if (std::isinf(v)) out.push_back(v > 0 ? "inf" : "-inf");
      else out.push_back(static_cast<double>(v));
    } else {
      out.push_back(static_cast<int64_t>(v));
    }
  }
  return out;
}
template <typename T>
nlohmann::json rows_json(const Tensor<T>& t) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(values_json(t[i]));
  return out;
}

std::shared_ptr<nn::Sequential<float>> make_mlp() {
  auto net = std::make_shared<nn::Sequential<float>>();
  net->push_back(std::make_shared<nn::Linear<float>>(3, 4));
  net->push_back(nn::ReLU<float>());
  net->push_back(std::make_shared<nn::Linear<float>>(4, 2));
  return net;
}

void write_mlp(const std::filesystem::path& path, io::StoreFloatsAs floats) {
  manual_seed(42);
  auto net = make_mlp();
  // Round the weights as they will be stored, so the recorded output is the stored model's.
  io::SaveOptions options{.floats = floats};
  auto stored = io::SafeTensors::from_bytes(io::serialize_safetensors(io::named_tensors(net->state_dict()), {}, options));
  net->load_state_dict(stored.state_dict<float>());
  auto x = linspace<float>(-2, 2, 18).reshape({6, 3});
  Tensor<float> y;
  {
    NoGradGuard no_grad;
    y = net->forward(x);
  }
  io::save_module(*net, path,
                  {{"latent.model", "Sequential(Linear(3,4),ReLU,Linear(4,2))"},
                   {"latent.input", rows_json(x).dump()},
                   {"latent.output", rows_json(y).dump()}},
                  options);
  std::cout << "wrote " << path.string() << "\n";
}

void write_mixed(const std::filesystem::path& path) {
  manual_seed(7);
  nn::Sequential<double> net{std::make_shared<nn::Linear<double>>(2, 3), nn::Tanh<double>(),
                             std::make_shared<nn::Linear<double>>(3, 1)};
  io::NamedTensors entries = io::named_tensors(net.state_dict());
  auto step = from_vector<int64_t>({int64_t{1} << 40, -5, 0}, {3});
  auto counts = from_vector<int32_t>({-7, 0, 2147483647}, {3});
  auto pixels = from_vector<uint8_t>({0, 128, 255, 1}, {2, 2});
  auto special = from_vector<float>({1.5f, -INFINITY, INFINITY, NAN, -0.0f}, {5});
  auto scalar = scalar_tensor<double>(2.25);
  auto empty = zeros<float>({0, 4});
  auto strided = arange<float>(0, 6).reshape({2, 3}).t();  // a non-contiguous view
  entries.emplace_back("optim.step", step);
  entries.emplace_back("stats.counts", counts);
  entries.emplace_back("image", pixels);
  entries.emplace_back("special", special);
  entries.emplace_back("scalar", scalar);
  entries.emplace_back("empty", empty);
  entries.emplace_back("strided", strided);
  entries.emplace_back("mask", io::RawTensor{"BOOL", {4}, {1, 0, 0, 1}});

  nlohmann::json expected = nlohmann::json::object();
  for (auto& [name, t] : net.state_dict()) expected[name] = values_json(t);
  expected["optim.step"] = values_json(step);
  expected["stats.counts"] = values_json(counts);
  expected["image"] = values_json(pixels);
  expected["special"] = values_json(special);
  expected["scalar"] = values_json(scalar);
  expected["empty"] = values_json(empty);
  expected["strided"] = values_json(strided);
  expected["mask"] = nlohmann::json::array({1, 0, 0, 1});
  io::save_safetensors(path, entries, {{"format", "pt"}, {"latent.expected", expected.dump()}});
  std::cout << "wrote " << path.string() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT_DIR\n";
    return 2;
  }
  try {
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    write_mlp(dir / "latent_mlp_f32.safetensors", io::StoreFloatsAs::Native);
    write_mlp(dir / "latent_mlp_f16.safetensors", io::StoreFloatsAs::F16);
    write_mlp(dir / "latent_mlp_bf16.safetensors", io::StoreFloatsAs::BF16);
    write_mixed(dir / "latent_mixed.safetensors");
  } catch (const std::exception& e) {
    std::cerr << "safetensors_writer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
