// diffusion::UNet (RECIPES R10): the default model is the seed's (parameter counts, the
// state_dict layout of tests/fixtures/diffusion/unet_seed_layout.json), small float64
// models match PyTorch in output and gradients (unet_<case>_{state,io}.safetensors,
// regenerate with scripts/make_unet_fixtures.sh), option and input errors, the sinusoidal
// embedding in closed form, the conditional model, a gradcheck and a training step.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <latent/diffusion/unet.hpp>
#include <latent/io.hpp>
#include <nlohmann/json.hpp>

#include "helpers.hpp"

using namespace latent;

namespace {

std::filesystem::path unet_fixture(const std::string& name) {
  return std::filesystem::path(LATENT_FIXTURES_DIR) / "diffusion" / name;
}

// A tiny model for the cheap checks: 2 levels (8 -> 4 pixels), widths 2, 4, bottleneck 8.
diffusion::UNetOptions unet_tiny_options(int64_t num_classes = 0) {
  return {.in_channels = 1, .image_size = 8, .base_channels = 2, .channel_mults = {1, 2}, .num_heads = 2,
          .time_embed_dim = 8, .num_classes = num_classes};
}

// The options a fixture was made with (its "config" metadata, in UNetOptions names).
diffusion::UNetOptions unet_options_from(const io::SafeTensors& file) {
  auto it = file.metadata().find("config");
  REQUIRE(it != file.metadata().end());
  auto c = nlohmann::json::parse(it->second);
  diffusion::UNetOptions o;
  o.in_channels = c.at("in_channels");
  o.image_size = c.at("image_size");
  o.base_channels = c.at("base_channels");
  o.channel_mults = c.at("channel_mults").get<std::vector<int64_t>>();
  if (c.contains("attention_resolutions"))
    o.attention_resolutions = c.at("attention_resolutions").get<std::vector<int64_t>>();
  o.num_heads = c.at("num_heads");
  o.time_embed_dim = c.at("time_embed_dim");
  o.norm_groups = c.at("norm_groups");
  o.dropout = c.at("dropout");
  o.num_classes = c.at("num_classes");
  return o;
}

}  // namespace

TEST_CASE("unet: R10 defaults are the seed's model", "[unet]") {
  diffusion::UNet<float> mnist({.in_channels = 1});
  REQUIRE(mnist.num_parameters() == 20'188'801);
  REQUIRE(diffusion::UNet<float>().num_parameters() == 20'190'083);

  std::ifstream in(unet_fixture("unet_seed_layout.json"));
  INFO("missing tests/fixtures/diffusion/unet_seed_layout.json: run scripts/make_unet_fixtures.sh");
  REQUIRE(in.is_open());
  auto layout = nlohmann::json::parse(in);
  REQUIRE(layout.at("parameters") == 20'188'801);
  auto sd = mnist.state_dict();
  const auto& seed = layout.at("state_dict");
  REQUIRE(sd.size() == seed.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    INFO(sd[i].first << " vs the seed's " << seed[i][0]);
    REQUIRE(sd[i].first == seed[i][0].get<std::string>());  // same names, same order
    REQUIRE(sd[i].second.shape() == Shape(seed[i][1].get<std::vector<int64_t>>()));
  }
  auto shape_of = [&](const std::string& name) {
    auto it = nn::detail::find_named(sd, name);
    REQUIRE(it != sd.end());
    return it->second.shape();
  };
  REQUIRE(shape_of("inc.conv_stack.0.weight") == Shape{64, 1, 3, 3});
  REQUIRE(shape_of("down1.maxpool_conv.1.conv_stack.0.weight") == Shape{64, 64, 3, 3});
  REQUIRE(shape_of("down1.emb_projection.1.weight") == Shape{128, 256});
  REQUIRE(shape_of("sa1.mha.in_proj_weight") == Shape{384, 128});
  REQUIRE(shape_of("sa1.ln.weight") == Shape{128});
  REQUIRE(shape_of("sa1.mlp.1.weight") == Shape{128, 128});
  REQUIRE(shape_of("conv_bottleneck.1.mha.in_proj_weight") == Shape{1536, 512});
  REQUIRE(shape_of("up1.conv.0.conv_stack.0.weight") == Shape{512, 512, 3, 3});
  REQUIRE(shape_of("up1.conv.1.conv_stack.0.weight") == Shape{256, 512, 3, 3});
  REQUIRE(shape_of("sa6.mlp.3.bias") == Shape{64});
  REQUIRE(shape_of("outc.weight") == Shape{1, 64, 1, 1});
}

TEST_CASE("unet: matches PyTorch in float64 (output, input and parameter gradients)", "[unet]") {
  for (std::string name : {"small", "cond"}) {
    DYNAMIC_SECTION(name) {
      auto io_file = io::SafeTensors::read_file(unet_fixture("unet_" + name + "_io.safetensors"));
      const diffusion::UNetOptions options = unet_options_from(io_file);
      diffusion::UNet<double> unet(options);
      io::load_module(unet, unet_fixture("unet_" + name + "_state.safetensors"));  // strict: every name
      auto x = io_file.get<double>("x").requires_grad_();
      auto t = io_file.get<double>("t");
      IndexTensor labels = options.num_classes > 0 ? io_file.get<int64_t>("labels") : IndexTensor();
      auto out = unet(x, t, labels);
      LATENT_REQUIRE_CLOSE(out, io_file.get<double>("out"), 1e-9, 1e-12);
      (out * io_file.get<double>("w")).sum().backward();
      LATENT_REQUIRE_CLOSE(x.grad(), io_file.get<double>("grad.x"), 1e-9, 1e-12);
      auto params = unet.named_parameters();
      int checked = 0;
      for (const auto& entry : io_file.names()) {
        if (entry.rfind("grad.", 0) != 0 || entry == "grad.x") continue;
        auto it = nn::detail::find_named(params, entry.substr(5));
        INFO(entry);
        REQUIRE(it != params.end());
        LATENT_REQUIRE_CLOSE(it->second.grad(), io_file.get<double>(entry), 1e-9, 1e-12);
        ++checked;
      }
      REQUIRE(checked >= 15);

      // The same weights in float: what a user loading a PyTorch checkpoint gets.
      diffusion::UNet<float> unet_f(options);
      io::load_module(unet_f, unet_fixture("unet_" + name + "_state.safetensors"));
      NoGradGuard no_grad;
      auto out_f = unet_f(io_file.get<float>("x"), io_file.get<float>("t"), labels);
      LATENT_REQUIRE_CLOSE(out_f, io_file.get<float>("out"), 1e-3, 1e-4);
    }
  }
}

TEST_CASE("unet: sinusoidal embedding in closed form", "[unet]") {
  const std::vector<double> ts = {0.0, 1.0, 17.5, 999.0};
  for (int64_t dim : {2, 8, 256}) {
    auto pe = diffusion::sinusoidal_embedding(from_vector<double>(ts), dim);
    REQUIRE(pe.shape() == Shape{4, dim});
    auto v = pe.to_vector();
    for (size_t n = 0; n < ts.size(); ++n)
      for (int64_t i = 0; i < dim / 2; ++i) {
        const double f = std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
        CHECK(v[n * dim + 2 * i] == Approx(std::sin(ts[n] * f)).margin(1e-12));
        CHECK(v[n * dim + 2 * i + 1] == Approx(std::cos(ts[n] * f)).margin(1e-12));
      }
  }
  auto pe_f = diffusion::sinusoidal_embedding(from_vector<float>({5.0f}), 4);  // float, seed's formula
  LATENT_REQUIRE_CLOSE(pe_f, from_vector<float>({std::sin(5.0f), std::cos(5.0f), std::sin(0.05f), std::cos(0.05f)},
                                                {1, 4}), 1e-6, 1e-6);
  REQUIRE_ERROR(diffusion::sinusoidal_embedding(from_vector<double>({1.0}), 5), Catch::Contains("positive and even"));
  REQUIRE_ERROR(diffusion::sinusoidal_embedding(zeros<double>({2, 2}), 4), Catch::Contains("got shape [2, 2]"));

  // Differentiable in t, to second order (continuous-time models learn through it).
  auto t = latent::testing::leaf({3}, 7, 0.0, 5.0);
  latent::testing::check_grads(
      [](const std::vector<TensorD>& in) { return diffusion::sinusoidal_embedding(in[0], 8); }, {t});
}

TEST_CASE("unet: option and input validation", "[unet]") {
  using Catch::Contains;
  using Net = diffusion::UNet<float>;
  REQUIRE_ERROR(Net({.image_size = 60}), Contains("image_size (60) must be divisible by 2^(levels-1) = 2^3"));
  REQUIRE_ERROR(Net({.channel_mults = {}}), Contains("channel_mults must name at least one level"));
  REQUIRE_ERROR(Net({.channel_mults = {1, 0}}), Contains("channel_mults must be positive"));
  REQUIRE_ERROR(Net({.in_channels = 0}), Contains("in_channels (0)"));
  REQUIRE_ERROR(Net({.num_heads = 3}), Contains("the 128 channels of sa1 are not divisible by num_heads (3)"));
  REQUIRE_ERROR(Net({.num_heads = 0}), Contains("num_heads must be positive, got 0"));
  REQUIRE_ERROR(Net({.norm_groups = 3}), Contains("norm_groups (3) must divide every GroupNorm width, but inc has 64 "
                                                  "channels"));
  REQUIRE_ERROR(Net({.time_embed_dim = 255}), Contains("time_embed_dim must be positive and even"));
  REQUIRE_ERROR(Net({.attention_resolutions = {12}}), Contains("attention resolution 12 is not one of the model's "
                                                               "sizes (64, 32, 16, 8)"));
  REQUIRE_ERROR(Net({.attention_resolutions = {8}, .attention = false}), Contains("attention = false"));
  REQUIRE_ERROR(Net({.dropout = 1.0}), Contains("dropout must be in [0, 1), got 1"));
  REQUIRE_ERROR(Net({.num_classes = -1}), Contains("num_classes must be >= 0"));
  // Heads only matter where there is attention: 3 heads are fine without any.
  REQUIRE_NOTHROW(Net({.base_channels = 8, .attention = false, .num_heads = 3}));

  diffusion::UNet<double> unet(unet_tiny_options());
  auto x = zeros<double>({2, 1, 8, 8});
  REQUIRE_ERROR(unet(zeros<double>({2, 3, 8, 8}), std::vector<int64_t>{1, 2}), Contains("expected input (N, 1, H, W)"));
  REQUIRE_ERROR(unet(zeros<double>({2, 1, 5, 8}), std::vector<int64_t>{1, 2}),
                Contains("multiples of 2^(levels-1) = 2 for 2 levels, got input [2, 1, 5, 8]"));
  REQUIRE_ERROR(unet(x, std::vector<int64_t>{1, 2, 3}), Contains("timesteps must be (2) or a single value"));
  REQUIRE_ERROR(unet(x, std::vector<int64_t>{1, 2}, latent::testing::idx({0, 1}, {2})),
                Contains("labels given to an unconditional model"));
  diffusion::UNet<double> cond(unet_tiny_options(3));
  REQUIRE_ERROR(cond(x, std::vector<int64_t>{1, 2}, latent::testing::idx({0, 4}, {2})),
                Contains("label 4 at position 1 is outside [0, 3]"));
  REQUIRE_ERROR(cond(x, std::vector<int64_t>{1, 2}, latent::testing::idx({0}, {1})), Contains("labels must be (2)"));

  REQUIRE_ERROR(diffusion::ResNetBlock<float>(4, 8, {.residual = true}), Contains("needs in_channels == out_channels"));
}

TEST_CASE("unet: timesteps as float, int64 tensor, vector or one value for the batch", "[unet]") {
  diffusion::UNet<double> unet(unet_tiny_options());
  Generator gen(7);
  auto x = randn<double>({2, 1, 8, 8}, gen);
  NoGradGuard no_grad;
  auto a = unet(x, from_vector<double>({5.0, 5.0}));
  LATENT_REQUIRE_CLOSE(unet(x, latent::testing::idx({5, 5}, {2})), a, 0, 0);
  LATENT_REQUIRE_CLOSE(unet(x, std::vector<int64_t>{5, 5}), a, 0, 0);
  LATENT_REQUIRE_CLOSE(unet(x, from_vector<double>({5.0})), a, 1e-12, 1e-14);
  REQUIRE(a.shape() == x.shape());
  // Each sample sees its own timestep.
  auto b = unet(x, std::vector<int64_t>{5, 900});
  LATENT_REQUIRE_CLOSE(b.select(0, 0), a.select(0, 0), 1e-12, 1e-14);
  REQUIRE_FALSE(latent::testing::all_close(b.select(0, 1), a.select(0, 1), 1e-6, 0));
}

TEST_CASE("unet: conditional model and its null label", "[unet]") {
  diffusion::UNet<double> cond(unet_tiny_options(10));
  REQUIRE(cond.null_label() == 10);
  REQUIRE(cond.label_emb->weight.shape() == Shape{11, 8});
  auto names = cond.state_dict();
  REQUIRE(nn::detail::find_named(names, "label_emb.weight") != names.end());
  REQUIRE(cond.num_parameters() == diffusion::UNet<double>(unet_tiny_options()).num_parameters() + 11 * 8);

  Generator gen(3);
  auto x = randn<double>({1, 1, 8, 8}, gen).expand({3, 1, 8, 8}).contiguous();
  NoGradGuard no_grad;
  auto out = cond(x, std::vector<int64_t>{40}, latent::testing::idx({2, 7, 10}, {3}));
  auto o2 = out.select(0, 0), o7 = out.select(0, 1), onull = out.select(0, 2);
  REQUIRE_FALSE(latent::testing::all_close(o2, o7, 1e-6, 0));
  REQUIRE_FALSE(latent::testing::all_close(o2, onull, 1e-6, 0));
  // No labels = every sample unconditioned (the null row), as classifier-free guidance uses.
  auto uncond = cond(x.narrow(0, 0, 1), std::vector<int64_t>{40});
  LATENT_REQUIRE_CLOSE(uncond.select(0, 0), onull, 1e-14, 1e-14);
}

TEST_CASE("unet: gradcheck of a tiny U-Net w.r.t. its input", "[unet]") {
  // 4x4 pixels, 2 levels, attention everywhere, two GroupNorm groups, conditional.
  auto unet = std::make_shared<diffusion::UNet<double>>(
      diffusion::UNetOptions{.in_channels = 1, .image_size = 4, .base_channels = 4, .channel_mults = {1, 2},
                             .num_heads = 2, .time_embed_dim = 4, .norm_groups = 2, .num_classes = 2});
  auto x = latent::testing::leaf({2, 1, 4, 4}, 11);
  auto t = from_vector<double>({3.0, 250.0});
  auto labels = latent::testing::idx({1, 2}, {2});
  latent::testing::check_grads([&](const std::vector<TensorD>& in) { return (*unet)(in[0], t, labels); }, {x},
                               /*second_order=*/false);  // second order: 2.5 s under ASan
}

TEST_CASE("unet: float training step reaches every parameter; dropout only in training", "[unet]") {
  diffusion::UNet<float> unet(unet_tiny_options(2));
  Generator gen(5);
  auto x = randn<float>({4, 1, 8, 8}, gen), target = randn<float>({4, 1, 8, 8}, gen);
  auto t = std::vector<int64_t>{1, 10, 100, 999};
  auto labels = latent::testing::idx({0, 1, 2, 1}, {4});
  optim::Adam<float> opt(unet.parameters(), {.lr = 1e-2});
  float first = 0, last = 0;
  for (int step = 0; step < 5; ++step) {
    auto loss = (unet(x, t, labels) - target).square().mean();
    opt.zero_grad();
    loss.backward();
    if (step == 0) {
      first = loss.item();
      for (auto& [name, p] : unet.named_parameters()) {
        INFO(name);
        REQUIRE(p.grad().defined());
      }
    }
    last = loss.item();
    opt.step();
  }
  REQUIRE(last < first);

  diffusion::UNetOptions o = unet_tiny_options();
  o.dropout = 0.5;
  diffusion::UNet<float> dropped(o);
  auto sd = dropped.state_dict();
  // The Dropout sits after the GELU, so the second conv moves from index 3 to 4.
  REQUIRE(nn::detail::find_named(sd, "inc.conv_stack.4.weight")->second.shape() == Shape{2, 2, 3, 3});
  REQUIRE(dropped.num_parameters() == diffusion::UNet<float>(unet_tiny_options()).num_parameters());
  NoGradGuard no_grad;
  auto x1 = x.narrow(0, 0, 1);
  const std::vector<int64_t> t1{3};
  REQUIRE_FALSE(latent::testing::all_close(dropped(x1, t1), dropped(x1, t1), 1e-6, 0));
  dropped.eval();
  LATENT_REQUIRE_CLOSE(dropped(x1, t1), dropped(x1, t1), 0, 0);
}
