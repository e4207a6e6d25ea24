// latent's core benchmarks, timed with the method in bench_harness.hpp and printed as
// `BENCH lib=latent ...` lines; scripts/bench.sh runs them beside the PyTorch and LibTorch
// peers (benchmarks/peers/) and tabulates the ratios.
//
//   core_bench [--threads 1,2] [--workloads gemm_f32,add_f32,chain_f32,mlp_fwd_bwd,mlp_fwd,mlp_gemms,tiny_add,tiny_autograd,
//                          conv_d,convT_g1,convT_g2,conv_unet,bn2d,groupnorm,maxpool,upsample,adam_1m,
//                          gan_parabola,gan_dcgan,unet_train,unet_sample]
//              [--gemm-sizes 256,512,1024,2048] [--min-time 0.3] [--reps 5]
//              [--fixed-iters N]   (N calls per repetition: for perf/valgrind runs)
//              [--config]          (first print the GEMM backend and SIMD set as '# ' lines)
//              [--device cpu|cuda|cuda:N] [--dcgan-batches 64] [--unet-train-batch 8]
//              [--unet-sample-batch 16]
//   --device cuda runs gemm_f32, gan_dcgan, unet_train and unet_sample on the GPU (each call
//   waits for the device before the clock stops); scripts/gpu_bench.sh sets the GPU sizes.
//
// Workloads (the peers implement the same ones with the same shapes):
//   gemm_f32     C = A B, square float32 n x n (latent::mm); GFLOP/s = 2 n^3 / t.
//   add_f32      c = a + b on 2^20 floats; microseconds per call, and GB/s counting
//                12 bytes per element (two reads, one write).
//   chain_f32    (a * b + c).relu().sum() on 2^20 floats; microseconds per call.
//   mlp_fwd_bwd  3-layer MLP 2 -> 50 -> 50 -> 1 (ReLU), batch 512, weights and biases leaf
//                tensors requiring grad; one step = zero the grads (set to none, as
//                PyTorch's zero_grad() default), forward, loss = mean(out^2), backward.
//                Microseconds per step.
//   mlp_fwd      the same forward and loss with the graph recorded but no backward (a
//                diagnostic split of mlp_fwd_bwd).
//   mlp_gemms    the 8 matrix products of one mlp_fwd_bwd step (3 forward, 5 backward, with
//                the same transposed operands), no autograd: what the step costs in BLAS.
//   tiny_add     c = a + b on 64 floats: the fixed cost of one op (dispatch, allocation,
//                output tensor), which dominates small models. Microseconds per call.
//   tiny_autograd  y = (a * b + a).sum() on 64 floats requiring grad, then y.backward():
//                the fixed cost of recording and running a small graph (3 ops). Microseconds.
//   Layers, forward + backward (y = layer(x); y.backward(g) with x, weight and bias
//   requiring grad), microseconds per step, size = batch:
//   conv_d       Conv2d(16, 32, 3, stride 2, padding 1) on (64, 16, 16, 16)  (R3's D)
//   convT_g1     ConvTranspose2d(128, 128, 4, 2, 1) on (64, 128, 8, 8)      (R3's G)
//   convT_g2     ConvTranspose2d(128, 64, 4, 2, 1) on (64, 128, 16, 16)     (R3's G)
//   conv_unet    Conv2d(64, 64, 3, padding 1) on (8, 64, 32, 32)            (U-Net-like)
//   bn2d         BatchNorm2d(128) in training on (64, 128, 16, 16)
//   groupnorm    GroupNorm(32, 64) on (8, 64, 32, 32)
//   maxpool      max_pool2d 2x2 (stride 2) on (8, 64, 32, 32)
//   upsample     interpolate bilinear x2 (align_corners false) on (8, 64, 32, 32)
//   adam_1m      one Adam step over 1M parameters (4 tensors of 512 x 512), grads set.
//   End-to-end GAN training steps (gan::Trainer's step, BCE loss, n_critic 1), microseconds
//   per step, size = batch. One step: z = randn(N, latent); fake = G(z); D.zero_grad;
//   BCE(D(real), 1).backward; BCE(D(fake.detach()), 0).backward; optD.step; G.zero_grad;
//   BCE(D(fake), 1).backward (the same fake: G's forward runs once); optG.step; plus the
//   statistics the trainer reads back (the three losses' item(), mean D(real), mean D(fake)).
//   The real batch is fixed, made once outside the timed region; the noise is drawn inside.
//   gan_parabola RECIPES R2 at batch 512: G Linear(10,50) ReLU Linear(50,50) ReLU Linear(50,2),
//                D Linear(2,50) ReLU Linear(50,50) ReLU Linear(50,1) Sigmoid; Adam lr 3e-4;
//                real = 512 points (x, x^2), x ~ U(-1, 1).
//   gan_dcgan    RECIPES R3's DCGAN at batch 64 on (64, 1, 32, 32) real images ~ U(-1, 1)
//                (G: Linear, BatchNorm2d, 2 ConvTranspose2d, Conv2d; D: 4 Conv2d blocks with
//                LeakyReLU, Dropout2d and BatchNorm2d(eps 0.8), Linear, Sigmoid); Adam lr 2e-4,
//                betas (0.5, 0.999); R3's N(0, 0.02) init.
//   Diffusion U-Net (issue 5): RECIPES R10's model, diffusion::UNet<float> with
//   UNetOptions{.in_channels = 1, .image_size = 32} (base 64, mults {1,2,4,4}, attention at
//   every resolution, 4 heads, time dim 256, GroupNorm(1); 20,188,801 parameters; the peers
//   build the course's seed UNet(num_channels=1, img_size=32)), default init. Microseconds
//   per step, size = batch.
//   unet_train   one training step at batch 8: x (8,1,32,32) ~ N(0,1) fixed outside the timed
//                region; per step t ~ randint(1, 1000) (8) and noise ~ N(0,1) (8,1,32,32)
//                (as the seed), loss = mse(model(x, t), noise), backward, AdamW(lr 1e-3,
//                weight decay 1e-2) step, zero_grad.
//   unet_sample  one sampling step at batch 16 without autograd (NoGradGuard; torch:
//                inference_mode, model.eval() as the seed's sampler): eps = model(x, t) at
//                t = 500 for the whole batch, then the seed's DDPM update (R9)
//                x = (x - (1 - a_t) / sqrt(1 - abar_t) eps) / sqrt(a_t) + sqrt(beta_t) z,
//                z ~ N(0,1): latent's DDPMScheduler(recipe_r9()).step. x is fixed (16,1,32,32).
#include <CLI/CLI.hpp>
#include <latent/diffusion.hpp>
#include <latent/gan.hpp>
#include <latent/latent.hpp>
#include <latent/nn.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "../examples/common/dcgan.hpp"
#include "bench_harness.hpp"

using namespace latent;

namespace {

constexpr int64_t kElementwiseN = int64_t(1) << 20;
constexpr int64_t kTinyN = 64;

struct Mlp {
  TensorF x, w1, b1, w2, b2, w3, b3;
  Mlp() {
    manual_seed(0);
    x = randn<float>({512, 2});
    w1 = (randn<float>({2, 50}) * 0.5).requires_grad_();
    b1 = (randn<float>({50}) * 0.1).requires_grad_();
    w2 = (randn<float>({50, 50}) * 0.14).requires_grad_();
    b2 = (randn<float>({50}) * 0.1).requires_grad_();
    w3 = (randn<float>({50, 1}) * 0.14).requires_grad_();
    b3 = (randn<float>({1}) * 0.1).requires_grad_();
  }
  TensorF loss() const {
    auto h1 = (x.mm(w1) + b1).relu();
    auto h2 = (h1.mm(w2) + b2).relu();
    auto out = h2.mm(w3) + b3;
    return out.square().mean();
  }
  void zero_grad() const {
    for (const TensorF* p : {&w1, &b1, &w2, &b2, &w3, &b3}) p->zero_grad();
  }
};

// Times one forward + backward of `layer` on a fresh (requires-grad) x.
template <typename Layer>
void bench_layer(const std::string& name, const Shape& x_shape, std::vector<TensorF> params, Layer layer,
                 const bench::Options& opt, int threads) {
  manual_seed(7);
  auto x = randn<float>(x_shape).requires_grad_();
  for (auto& p : params) p.requires_grad_();
  TensorF g;
  {
    NoGradGuard no_grad;
    g = randn<float>(layer(x).shape());
  }
  auto t = bench::time_it([&] {
    x.zero_grad();
    for (auto& p : params) p.zero_grad();
    layer(x).backward(g);
  }, opt);
  bench::report("latent", name, x_shape[0], threads, "us", t.median_s * 1e6, t);
}

using Net = std::shared_ptr<nn::Sequential<float>>;

// RECIPES R2's networks (as examples/parabola_gan), default init.
Net parabola_generator() {
  return nn::sequential<float>(std::make_shared<nn::Linear<float>>(10, 50), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(50, 50), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(50, 2));
}
Net parabola_discriminator() {
  return nn::sequential<float>(std::make_shared<nn::Linear<float>>(2, 50), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(50, 50), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(50, 1), nn::Sigmoid<float>());
}

// Waits for the device's queued work (the clock of a GPU workload stops after it).
void sync(Device device) {
  if (device.is_cuda()) cuda::synchronize(device.index);
}

// Times gan::Trainer::step(real) (BCE, n_critic 1, fake detached for D's step) with the
// models and the real batch on `device`.
void bench_gan(const std::string& name, Net G, Net D, const TensorF& real, int64_t latent_dim,
               const optim::AdamOptions& adam, const bench::Options& opt, int threads, Device device = kCPU) {
  G->to(device);
  D->to(device);
  const auto real_on_device = real.to(device);
  optim::Adam<float> opt_g(G->parameters(), adam), opt_d(D->parameters(), adam);
  gan::TrainerOptions options;
  options.latent_dim = latent_dim;
  options.seed = 11;
  gan::Trainer<float> trainer(G, D, opt_g, opt_d, options);
  auto t = bench::time_it([&] {
    trainer.step(real_on_device);
    sync(device);
  }, opt);
  bench::report("latent", name, real.size(0), threads, "us", t.median_s * 1e6, t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"latent core benchmarks (BENCH lines on stdout)"};
  std::vector<int> threads{1, 2};
  std::vector<int> gemm_sizes{256, 512, 1024, 2048};
  std::vector<std::string> workloads;
  bench::Options opt;
  app.add_option("--threads", threads, "thread counts to run each workload at")->delimiter(',');
  app.add_option("--gemm-sizes", gemm_sizes, "square GEMM sizes")->delimiter(',');
  app.add_option("--workloads", workloads,
                 "subset of gemm_f32,add_f32,chain_f32,mlp_fwd_bwd,mlp_fwd,mlp_gemms,tiny_add,tiny_autograd,"
                 "conv_d,convT_g1,convT_g2,conv_unet,bn2d,groupnorm,maxpool,upsample,adam_1m,gan_parabola,gan_dcgan,"
                 "unet_train,unet_sample (default: all)")
      ->delimiter(',');
  app.add_option("--min-time", opt.min_time, "seconds per figure (all repetitions)");
  app.add_option("--reps", opt.reps, "repetitions per figure (median reported)");
  app.add_option("--fixed-iters", opt.fixed_iters, "calls per repetition, no calibration (for profilers)");
  bool config = false;
  app.add_flag("--config", config, "print latent's CPU configuration as '# ' lines first");
  std::string device_name = "cpu";
  std::vector<int> dcgan_batches{64};
  int64_t unet_train_batch = 8, unet_sample_batch = 16;
  app.add_option("--device", device_name, "cpu, cuda or cuda:N (GPU: gemm_f32, gan_dcgan, unet_train, unet_sample)");
  app.add_option("--dcgan-batches", dcgan_batches, "batch sizes of gan_dcgan")->delimiter(',');
  app.add_option("--unet-train-batch", unet_train_batch, "batch size of unet_train");
  app.add_option("--unet-sample-batch", unet_sample_batch, "batch size of unet_sample");
  CLI11_PARSE(app, argc, argv);
  const Device device(device_name);
  if (device.is_cuda()) {
    LATENT_CHECK(cuda::device_count() > device.index, "core_bench: --device ", device_name, " is not available (",
                 cuda::is_compiled() ? cuda::backend().no_device_reason() : "built without the CUDA backend", ")");
    for (const auto& w : workloads)
      LATENT_CHECK(w == "gemm_f32" || w == "gan_dcgan" || w == "unet_train" || w == "unet_sample",
                   "core_bench: workload ", w, " has no GPU form (--device ", device_name, ")");
    if (workloads.empty()) workloads = {"gemm_f32", "gan_dcgan", "unet_train", "unet_sample"};
  }

  if (config) {
#if defined(LATENT_USE_OPENBLAS)
    const char* gemm = "OpenBLAS cblas_sgemm (LATENT_USE_OPENBLAS)";
#else
    const char* gemm = "Eigen's GEMM";
#endif
    std::printf("# latent: GEMM by %s; Eigen %d.%d.%d SIMD: %s; OpenMP max threads %d\n", gemm,
                EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse(),
                get_num_threads());
  }

  const std::string lib = "latent";
  for (int nt : threads) {
    set_num_threads(nt);

    if (bench::selected(workloads, "gemm_f32")) {
      for (int n : gemm_sizes) {
        manual_seed(1);
        auto a = randn<float>({n, n}).to(device), b = randn<float>({n, n}).to(device);
        TensorF c;
        auto t = bench::time_it([&] {
          c = mm(a, b);
          sync(device);
        }, opt);
        double flops = 2.0 * double(n) * n * n;
        bench::report(lib, "gemm_f32", n, nt, "gflops", flops / t.median_s * 1e-9, t);
      }
    }
    if (bench::selected(workloads, "add_f32")) {
      manual_seed(2);
      auto a = randn<float>({kElementwiseN}), b = randn<float>({kElementwiseN});
      TensorF c;
      auto t = bench::time_it([&] { c = a + b; }, opt);
      bench::report(lib, "add_f32", kElementwiseN, nt, "us", t.median_s * 1e6, t);
      bench::report(lib, "add_f32", kElementwiseN, nt, "gbps", 12.0 * kElementwiseN / t.median_s * 1e-9, t);
    }
    if (bench::selected(workloads, "chain_f32")) {
      manual_seed(3);
      auto a = randn<float>({kElementwiseN}), b = randn<float>({kElementwiseN}),
           c = randn<float>({kElementwiseN});
      TensorF s;
      auto t = bench::time_it([&] { s = (a * b + c).relu().sum(); }, opt);
      bench::report(lib, "chain_f32", kElementwiseN, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "mlp_fwd_bwd")) {
      Mlp mlp;
      auto t = bench::time_it([&] {
        mlp.zero_grad();
        auto loss = mlp.loss();
        loss.backward();
      }, opt);
      bench::report(lib, "mlp_fwd_bwd", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "mlp_fwd")) {
      Mlp mlp;
      TensorF loss;
      auto t = bench::time_it([&] { loss = mlp.loss(); }, opt);
      bench::report(lib, "mlp_fwd", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "mlp_gemms")) {
      manual_seed(4);
      auto x = randn<float>({512, 2}), w1 = randn<float>({2, 50}), w2 = randn<float>({50, 50}),
           w3 = randn<float>({50, 1}), h1 = randn<float>({512, 50}), h2 = randn<float>({512, 50}),
           g1 = randn<float>({512, 50}), g2 = randn<float>({512, 50}), g3 = randn<float>({512, 1});
      std::vector<TensorF> r(8);
      auto t = bench::time_it([&] {
        r[0] = mm(x, w1), r[1] = mm(h1, w2), r[2] = mm(h2, w3);                 // forward
        r[3] = mm(h2.t(), g3), r[4] = mm(g3, w3.t()), r[5] = mm(h1.t(), g2);    // backward
        r[6] = mm(g2, w2.t()), r[7] = mm(x.t(), g1);
      }, opt);
      bench::report(lib, "mlp_gemms", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "tiny_add")) {
      manual_seed(5);
      auto a = randn<float>({kTinyN}), b = randn<float>({kTinyN});
      TensorF c;
      auto t = bench::time_it([&] { c = a + b; }, opt);
      bench::report(lib, "tiny_add", kTinyN, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "tiny_autograd")) {
      manual_seed(6);
      auto a = randn<float>({kTinyN}).requires_grad_(), b = randn<float>({kTinyN}).requires_grad_();
      auto t = bench::time_it([&] {
        a.zero_grad();
        b.zero_grad();
        (a * b + a).sum().backward();
      }, opt);
      bench::report(lib, "tiny_autograd", kTinyN, nt, "us", t.median_s * 1e6, t);
    }
    namespace F = nn::functional;
    auto conv_case = [&](const char* name, Shape x, Shape w, int64_t stride, int64_t pad) {
      if (!bench::selected(workloads, name)) return;
      auto weight = randn<float>(w) * 0.05, bias = zeros<float>({w[0]});
      bench_layer(name, x, {weight, bias}, [&](const TensorF& in) { return conv2d(in, weight, bias, stride, pad); },
                  opt, nt);
    };
    auto convT_case = [&](const char* name, Shape x, Shape w, int64_t stride, int64_t pad) {
      if (!bench::selected(workloads, name)) return;
      auto weight = randn<float>(w) * 0.05, bias = zeros<float>({w[1]});
      bench_layer(name, x, {weight, bias},
                  [&](const TensorF& in) { return conv_transpose2d(in, weight, bias, stride, pad); }, opt, nt);
    };
    conv_case("conv_d", {64, 16, 16, 16}, {32, 16, 3, 3}, 2, 1);
    convT_case("convT_g1", {64, 128, 8, 8}, {128, 128, 4, 4}, 2, 1);
    convT_case("convT_g2", {64, 128, 16, 16}, {128, 64, 4, 4}, 2, 1);
    conv_case("conv_unet", {8, 64, 32, 32}, {64, 64, 3, 3}, 1, 1);
    if (bench::selected(workloads, "bn2d")) {
      auto weight = ones<float>({128}), bias = zeros<float>({128});
      auto rm = zeros<float>({128}), rv = ones<float>({128});
      bench_layer("bn2d", {64, 128, 16, 16}, {weight, bias},
                  [&](const TensorF& in) { return F::batch_norm(in, rm, rv, weight, bias, true, 0.1, 1e-5); }, opt, nt);
    }
    if (bench::selected(workloads, "groupnorm")) {
      auto weight = ones<float>({64}), bias = zeros<float>({64});
      bench_layer("groupnorm", {8, 64, 32, 32}, {weight, bias},
                  [&](const TensorF& in) { return F::group_norm(in, 32, weight, bias, 1e-5); }, opt, nt);
    }
    if (bench::selected(workloads, "maxpool"))
      bench_layer("maxpool", {8, 64, 32, 32}, {}, [](const TensorF& in) { return F::max_pool2d(in, 2); }, opt, nt);
    if (bench::selected(workloads, "upsample"))
      bench_layer("upsample", {8, 64, 32, 32}, {},
                  [](const TensorF& in) { return F::interpolate(in, {.scale_factor = {2.0}, .mode = "bilinear"}); },
                  opt, nt);
    if (bench::selected(workloads, "adam_1m")) {
      manual_seed(8);
      std::vector<TensorF> params;
      for (int i = 0; i < 4; ++i) {
        params.push_back(randn<float>({512, 512}).requires_grad_());
        params.back().impl().grad = randn<float>({512, 512}).impl_ptr();
      }
      optim::Adam<float> adam(params, {.lr = 1e-3});
      auto t = bench::time_it([&] { adam.step(); }, opt);
      bench::report(lib, "adam_1m", 1 << 20, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "gan_parabola")) {
      manual_seed(9);
      auto G = parabola_generator(), D = parabola_discriminator();
      auto x = uniform<float>(Shape{512, 1}, -1.0, 1.0);
      auto real = cat<float>({x, x * x}, 1);  // (512, 2) points (x, x^2)
      optim::AdamOptions adam;                // R2: lr 3e-4, betas (0.9, 0.999)
      adam.lr = 3e-4;
      bench_gan("gan_parabola", G, D, real, 10, adam, opt, nt);
    }
    for (int batch : dcgan_batches) {
      if (!bench::selected(workloads, "gan_dcgan")) break;
      manual_seed(10);
      auto G = examples::make_dcgan_generator(100);
      auto D = examples::make_dcgan_discriminator();  // R3, as examples/dcgan_fashion
      G->apply([](nn::Module<float>& m) { examples::dcgan_init(m); });
      D->apply([](nn::Module<float>& m) { examples::dcgan_init(m); });
      auto real = uniform<float>(Shape{batch, 1, 32, 32}, -1.0, 1.0);
      optim::AdamOptions adam;  // R3: lr 2e-4, betas (0.5, 0.999)
      adam.lr = 2e-4;
      adam.beta1 = 0.5;
      bench_gan("gan_dcgan", G, D, real, 100, adam, opt, nt, device);
    }
    const diffusion::UNetOptions unet_options{.in_channels = 1, .image_size = 32};  // R10 at 32x32, 1 channel
    if (bench::selected(workloads, "unet_train")) {
      manual_seed(12);
      diffusion::UNet<float> model(unet_options);
      model.to(device);
      optim::AdamOptions adamw = optim::AdamW<float>::defaults();  // weight decay 1e-2, as torch's AdamW
      adamw.lr = 1e-3;                                              // R9
      optim::AdamW<float> optimizer(model.parameters(), adamw);
      const int64_t n = unet_train_batch;
      auto x = randn<float>({n, 1, 32, 32}).to(device);
      auto t = bench::time_it([&] {
        auto ts = randint<int64_t>(1, 1000, {n});  // the seed's randint(low=1, high=noise_steps)
        auto noise = randn<float>({n, 1, 32, 32}, default_generator(), device);
        auto loss = F::mse_loss(model(x, ts), noise);
        loss.backward();
        optimizer.step();
        optimizer.zero_grad();
        sync(device);
      }, opt);
      bench::report(lib, "unet_train", n, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "unet_sample")) {
      manual_seed(13);
      diffusion::UNet<float> model(unet_options);
      model.to(device);
      model.eval();
      diffusion::DDPMScheduler<float> scheduler(diffusion::DDPMSchedulerOptions::recipe_r9());
      const int64_t n = unet_sample_batch, step_t = 500;
      auto x = randn<float>({n, 1, 32, 32}).to(device);
      auto ts = full<int64_t>({n}, step_t);
      TensorF prev;
      auto t = bench::time_it([&] {
        NoGradGuard no_grad;
        prev = scheduler.step(model(x, ts), step_t, x).prev_sample;
        sync(device);
      }, opt);
      bench::report(lib, "unet_sample", n, nt, "us", t.median_s * 1e6, t);
    }
  }
  return 0;
}
