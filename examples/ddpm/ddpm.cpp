// ddpm_mnist / ddpm_fashion (RECIPES R9-R10): a denoising diffusion model on MNIST or
// FashionMNIST at 32x32 (28 padded by 2), one channel. Writes to --out (default
// out/ddpm_<dataset>):
//   real.png                  a grid of training images
//   epoch_NNN.png             samples of the EMA model after each epoch (fixed noise)
//   losses.csv, losses.png    step,epoch,loss and the curve
//   checkpoint.safetensors    model, EMA, optimizer, generators and counters after each
//                             epoch (--resume continues from it), with the model and
//                             diffusion settings, which --sample and --resume reuse
//   model.safetensors         the EMA weights alone (PyTorch state_dict names)
// and with --sample (from the checkpoint, no training):
//   samples_<sampler>.png     a grid (one row per class with --classes)
//   sampling_<sampler>.gif    the reverse process, a frame every --frame-every steps
//   samples_<sampler>.safetensors  with --export N: N more images ("samples", (N, 1, 32, 32)
//                             in [-1, 1]; metadata layout=pad) for the fid example
//
//   ddpm_fashion [--epochs 10 | --max-steps N] [--width 32] [--mults 1,2,2] [--attention 8]
//   ddpm_fashion --sample [--sampler ddpm|ddim] [--steps 50] [--eta 0]
//   either with --device cuda (or cuda:N) to train or sample on a GPU
#include <latent/data.hpp>
#include <latent/diffusion.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include <chrono>
#include <optional>
#include <sstream>

#include "../common/example.hpp"
#include "../common/saved_config.hpp"
#include "ddpm.hpp"

using namespace latent;

namespace {

struct DdpmArgs {
  examples::CommonArgs common;
  std::string dataset;
  std::string split = "train";
  std::string device = "cpu";
  int64_t limit = 0;
  double lr = 1e-3;  // R9: AdamW lr 1e-3
  double ema_decay = 0.999;
  // U-Net
  int64_t width = 32;
  std::vector<int64_t> mults = {1, 2, 2};
  std::string attention = "8";  // comma-separated sizes, "all" (R10) or "none"
  int64_t heads = 4, time_dim = 128, groups = 1;
  double dropout = 0.0;
  // diffusion
  int64_t timesteps = 1000, first_timestep = 0;
  std::string schedule = "linear", prediction = "epsilon";
  bool unit_range = false;  // the seed's [0, 1] instead of [-1, 1]
  // conditioning
  bool classes = false;
  double label_dropout = 0.1, guidance = 3.0;
  // sampling
  bool sample_only = false, resume = false, raw_weights = false;
  std::string sampler = "ddim";
  int64_t steps = 50, num_samples = 64, frame_every = 0, export_count = 0;
  int64_t max_steps = 0;  // training budget in optimizer steps; 0: --epochs decides
  double eta = 0.0;
};

std::vector<int64_t> parse_attention(const std::string& spec) {
  if (spec == "all" || spec == "none") return {};
  std::vector<int64_t> sizes;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) sizes.push_back(std::stoll(item));
  return sizes;
}

diffusion::UNetOptions unet_options(const DdpmArgs& a) {
  diffusion::UNetOptions o;
  o.in_channels = 1;
  o.image_size = 32;
  o.base_channels = a.width;
  o.channel_mults = a.mults;
  o.attention = a.attention != "none";
  o.attention_resolutions = parse_attention(a.attention);
  o.num_heads = a.heads;
  o.time_embed_dim = a.time_dim;
  o.norm_groups = a.groups;
  o.dropout = a.dropout;
  o.num_classes = a.classes ? 10 : 0;
  return o;
}

// The schedule and prediction type both schedulers share. Training uses the DDPM
// scheduler's forward process; sampling either scheduler.
template <typename Options>
Options scheduler_options(const DdpmArgs& a) {
  Options o;
  o.num_train_timesteps = a.timesteps;
  o.beta_schedule = diffusion::parse_beta_schedule(a.schedule);
  o.prediction_type = diffusion::parse_prediction_type(a.prediction);
  return o;
}

diffusion::DDPMSchedulerOptions ddpm_options(const DdpmArgs& a) {
  return scheduler_options<diffusion::DDPMSchedulerOptions>(a);
}

diffusion::DDIMSchedulerOptions ddim_options(const DdpmArgs& a) {
  auto o = scheduler_options<diffusion::DDIMSchedulerOptions>(a);
  o.timestep_spacing = diffusion::TimestepSpacing::Trailing;  // ends at t = T - 1, as DDPM starts
  return o;
}

// Grid options for images in the model's data range.
io::GridOptions grid_options(const DdpmArgs& a, int64_t nrow) {
  io::GridOptions g;
  g.nrow = nrow;
  g.normalize = true;
  g.value_range = a.unit_range ? std::pair{0.0, 1.0} : std::pair{-1.0, 1.0};
  return g;
}

// Samples `count` images with the EMA model (labels: one row of `per_row` per class when
// conditional). on_step sees every step (progress, GIF frames).
TensorF sample_images(diffusion::UNet<float>& model, const DdpmArgs& a, const TensorF& noise,
                      const std::function<void(const diffusion::SamplingStep<float>&)>& on_step, Generator& gen) {
  model.eval();
  const int64_t n = noise.size(0);
  std::function<TensorF(const TensorF&, const TensorF&)> eps;
  if (a.classes) {
    const int64_t per_row = std::max<int64_t>(1, n / 10);
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[i] = std::min<int64_t>(9, i / per_row);
    eps = diffusion::classifier_free_guidance<float>(
        [&model](const TensorF& x, const TensorF& t, const IndexTensor& y) { return model(x, t, y); },
        from_vector<int64_t>(labels), model.null_label(), a.guidance);
  } else {
    eps = [&model](const TensorF& x, const TensorF& t) { return model(x, t); };
  }
  const std::pair<double, double> range = a.unit_range ? std::pair{0.0, 1.0} : std::pair{-1.0, 1.0};
  diffusion::SamplingOptions<float> options{.eta = a.eta, .generator = &gen, .clamp_to = range, .callback = on_step};
  if (a.sampler == "ddpm") {
    diffusion::DDPMScheduler<float> scheduler(ddpm_options(a));
    return diffusion::sample_loop<float>(eps, scheduler, noise, options);
  }
  diffusion::DDIMScheduler<float> scheduler(ddim_options(a));
  scheduler.set_timesteps(a.steps);
  return diffusion::sample_loop<float>(eps, scheduler, noise, options);
}

// Classifier-free guidance training: each label is replaced by the null label with
// probability p, so one model learns both the conditional and the unconditional noise.
IndexTensor drop_labels(const IndexTensor& labels, double p, int64_t null_label, Generator& gen) {
  const auto draws = rand<float>({labels.size(0)}, gen).to_vector();
  auto y = labels.to_vector();
  for (size_t i = 0; i < y.size(); ++i)
    if (draws[i] < p) y[i] = null_label;
  return from_vector<int64_t>(y);
}

// The settings a checkpoint must be read with (the U-Net's shape, the diffusion process and
// the data range), saved in its metadata so --sample and --resume rebuild the same model
// without the options being repeated. Checkpoints without it take the command line's.
constexpr const char* kConfigKey = "ddpm.config";

nlohmann::json saved_config(const DdpmArgs& a) {
  return {{"width", a.width},           {"mults", a.mults},         {"attention", a.attention},
          {"heads", a.heads},           {"time-dim", a.time_dim},   {"groups", a.groups},
          {"dropout", a.dropout},       {"classes", a.classes},     {"timesteps", a.timesteps},
          {"schedule", a.schedule},     {"prediction", a.prediction}, {"unit-range", a.unit_range}};
}

// Takes each setting from the checkpoint's config; an option given on the command line
// must agree with it (a different --width cannot load these weights). A config that cannot
// be read (not JSON, not an object, a setting of the wrong type) is an error naming the key.
void apply_saved_config(DdpmArgs& a, const io::SafeTensors& file, const CLI::App& app) {
  const examples::SavedConfig saved(file, kConfigKey, "ddpm");
  if (!saved.present()) return;
  auto take = [&](const std::string& key, auto& value) {
    using Value = std::decay_t<decltype(value)>;
    const std::optional<Value> stored = saved.get<Value>(key);
    if (!stored) return;
    LATENT_CHECK(app.count("--" + key) == 0 || *stored == value, "ddpm: --", key, " ", nlohmann::json(value).dump(),
                 " was given, but ", file.source(), " was trained with --", key, " ", saved.dump(key));
    value = *stored;
  };
  take("width", a.width);
  take("mults", a.mults);
  take("attention", a.attention);
  take("heads", a.heads);
  take("time-dim", a.time_dim);
  take("groups", a.groups);
  take("dropout", a.dropout);
  take("classes", a.classes);
  take("timesteps", a.timesteps);
  take("schedule", a.schedule);
  take("prediction", a.prediction);
  take("unit-range", a.unit_range);
}

int64_t sampling_steps(const DdpmArgs& a) { return a.sampler == "ddpm" ? a.timesteps : a.steps; }

// --export: N images in batches of --batch-size (whole rows of ten classes when
// conditional, so every class gets its share), in [-1, 1] whatever the training range.
void export_samples(diffusion::UNet<float>& model, const DdpmArgs& a, Generator& gen) {
  const int64_t batch = a.classes ? std::max<int64_t>(10, a.common.batch_size / 10 * 10) : a.common.batch_size;
  const auto path = a.common.out / ("samples_" + a.sampler + ".safetensors");
  const int64_t per_batch = sampling_steps(a);
  io::Progress progress("export (" + a.sampler + ")", (a.export_count + batch - 1) / batch * per_batch);
  std::vector<TensorF> parts;
  int64_t done_steps = 0;
  for (int64_t start = 0; start < a.export_count; start += batch) {
    const int64_t n = std::min(batch, a.export_count - start);
    auto images = sample_images(model, a, randn<float>({n, 1, 32, 32}, gen).to(model.parameters().front().device()),
                                [&](const diffusion::SamplingStep<float>&) { progress.update(++done_steps); }, gen);
    parts.push_back((a.unit_range ? images * 2.0f - 1.0f : images).cpu());
  }
  progress.finish();
  // "layout": the images are 28x28 data padded to 32 (R10), which fid's --real-layout auto reads.
  io::save_safetensors(path, io::NamedTensors{{"samples", cat(parts, 0)}}, {{"layout", "pad"}});
  std::cout << "wrote " << a.export_count << " images to " << path.string() << "\n";
}

// Rows of the sample grid: one per class when conditional.
int64_t grid_row(const DdpmArgs& a) { return a.classes ? std::max<int64_t>(1, a.num_samples / 10) : 8; }

std::string epoch_file(int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch_%03lld.png", static_cast<long long>(epoch));
  return name;
}

int ddpm_main(int argc, char** argv, const std::string& dataset) {
  DdpmArgs a;
  a.dataset = dataset;
  a.common.epochs = 10;
  a.common.batch_size = 64;
  a.common.out = "out/ddpm_" + dataset;
  const std::string title = dataset == "mnist" ? "MNIST" : "FashionMNIST";

  CLI::App app{"DDPM on " + title + " at 32x32 (RECIPES R9-R10)"};
  examples::add_common_options(app, a.common, title + " directory (default: the usual places, see data/mnist.hpp)");
  app.add_option("--split", a.split, "training split")->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  app.add_option("--limit", a.limit, "train on the first N images only (0: all)")->capture_default_str();
  app.add_option("--lr", a.lr, "AdamW learning rate")->capture_default_str();
  app.add_option("--ema", a.ema_decay, "EMA decay of the weights used for sampling (0: none)")->capture_default_str();
  app.add_option("--width", a.width, "U-Net base channels (R10: 64)")->capture_default_str();
  app.add_option("--mults", a.mults, "channel multiplier per level (R10: 1,2,4,4)")->delimiter(',')->capture_default_str();
  app.add_option("--attention", a.attention, "sizes with self-attention: e.g. 8,4; all (R10); none")
      ->capture_default_str();
  app.add_option("--heads", a.heads, "attention heads")->capture_default_str();
  app.add_option("--time-dim", a.time_dim, "sinusoidal time embedding size (R10: 256)")->capture_default_str();
  app.add_option("--groups", a.groups, "GroupNorm groups (R10: 1)")->capture_default_str();
  app.add_option("--dropout", a.dropout, "dropout inside the ResNet blocks")->capture_default_str();
  app.add_option("--timesteps", a.timesteps, "diffusion steps T")->capture_default_str();
  app.add_option("--first-timestep", a.first_timestep, "training draws t from [first, T) (the course: 1)")
      ->capture_default_str();
  app.add_option("--schedule", a.schedule, "beta schedule")
      ->check(CLI::IsMember({"linear", "cosine", "scaled_linear", "squaredcos_cap_v2"}))
      ->capture_default_str();
  app.add_option("--prediction", a.prediction, "what the model predicts")
      ->check(CLI::IsMember({"epsilon", "sample", "v_prediction"}))
      ->capture_default_str();
  app.add_flag("--unit-range", a.unit_range, "keep images in [0, 1] as the course does (default [-1, 1])");
  app.add_flag("--classes", a.classes, "class-conditional model; sample grids get one row per class");
  app.add_option("--label-dropout", a.label_dropout, "share of training labels replaced by the null label (CFG)")
      ->capture_default_str();
  app.add_option("--guidance", a.guidance, "classifier-free guidance scale when sampling with --classes")
      ->capture_default_str();
  app.add_option("--max-steps", a.max_steps,
                 "stop training after this many optimizer steps in all (a fixed budget; the last epoch is partial)")
      ->capture_default_str();
  app.add_flag("--sample", a.sample_only, "only sample from <out>/checkpoint.safetensors: grid and GIF");
  app.add_flag("--raw-weights", a.raw_weights, "with --sample: the trained weights instead of their EMA");
  app.add_flag("--resume", a.resume, "continue training from <out>/checkpoint.safetensors");
  examples::add_device_option(app, a.device);
  app.add_option("--sampler", a.sampler, "reverse process for sample grids")
      ->check(CLI::IsMember({"ddpm", "ddim"}))
      ->capture_default_str();
  app.add_option("--steps", a.steps, "DDIM steps")->capture_default_str();
  app.add_option("--eta", a.eta, "DDIM eta (0: deterministic)")->capture_default_str();
  app.add_option("--num-samples", a.num_samples, "images per sample grid")->capture_default_str();
  app.add_option("--export", a.export_count,
                 "with --sample: also write N images to samples_<sampler>.safetensors (for fid), --batch-size at a time")
      ->capture_default_str();
  app.add_option("--frame-every", a.frame_every, "GIF frame every N steps (0: 20 for DDPM, 1 for DDIM)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  examples::start("ddpm_" + dataset, a.common);

  const auto checkpoint_path = a.common.out / "checkpoint.safetensors";
  std::optional<io::SafeTensors> saved;
  if (a.sample_only || a.resume) {
    saved = io::SafeTensors::read_file(checkpoint_path);
    apply_saved_config(a, *saved, app);
  }

  const Device device = examples::pick_device(a.device);
  auto model = std::make_shared<diffusion::UNet<float>>(unet_options(a));
  auto ema_model = std::make_shared<diffusion::UNet<float>>(unet_options(a));
  model->to(device);  // before the optimizer and the EMA take their state from it
  ema_model->to(device);
  optim::AdamOptions adam = optim::AdamW<float>::defaults();
  adam.lr = a.lr;
  optim::AdamW<float> optimizer(model->parameters(), adam);
  optim::EMA<float> ema(*model, a.ema_decay, /*warmup=*/true);
  Generator train_gen(a.common.seed + 1);
  std::cout << "U-Net: " << model->num_parameters() << " parameters, widths " << a.width << " x {";
  for (size_t i = 0; i < a.mults.size(); ++i) std::cout << (i ? "," : "") << a.mults[i];
  std::cout << "}, attention " << a.attention << "\n";

  io::Checkpoint checkpoint;
  checkpoint.add("model", *model).add("ema", ema).add("optimizer", optimizer).add("train_rng", train_gen);
  checkpoint.counters["epoch"] = 0;
  checkpoint.counters["step"] = 0;
  if (saved) {
    checkpoint.load(*saved);
    std::cout << "loaded " << checkpoint_path.string() << " (after epoch " << checkpoint.counters.at("epoch") << ")\n";
  }
  if (a.raw_weights)
    ema_model->load_state_dict(model->state_dict(), true);
  else
    ema.copy_to(*ema_model);

  Generator sample_gen(a.common.seed + 2);
  const auto fixed_noise = randn<float>({a.num_samples, 1, 32, 32}, sample_gen).to(device);

  if (a.sample_only) {
    const int64_t total = sampling_steps(a);
    const int64_t every = a.frame_every > 0 ? a.frame_every : (a.sampler == "ddpm" ? 20 : 1);
    const auto grid = grid_options(a, grid_row(a));
    const auto first = io::make_grid(fixed_noise.clamp(grid.value_range->first, grid.value_range->second), grid);
    io::GifWriter gif(a.common.out / ("sampling_" + a.sampler + ".gif"), static_cast<int>(first.size(2)),
                      static_cast<int>(first.size(1)), /*delay_centiseconds=*/8);
    gif.add_frame(first);
    io::Progress progress("sampling (" + a.sampler + ")", total);
    const auto images = sample_images(
        *ema_model, a, fixed_noise,
        [&](const diffusion::SamplingStep<float>& s) {
          progress.update(s.index + 1);
          if ((s.index + 1) % every == 0 || s.index + 1 == s.count)
            gif.add_frame(io::make_grid(s.sample.clamp(grid.value_range->first, grid.value_range->second), grid));
        },
        sample_gen);
    progress.finish();
    gif.close();
    io::save_image(a.common.out / ("samples_" + a.sampler + ".png"), images, grid);
    std::cout << "wrote samples_" << a.sampler << ".png and sampling_" << a.sampler << ".gif\n";
    if (a.export_count > 0) export_samples(*ema_model, a, sample_gen);
    return 0;
  }

  const auto loaded = examples::load_images(dataset, a.split, a.common.data, a.limit);
  // R10: 28 -> 32 by padding (exact pixels); [-1, 1] unless --unit-range.
  data::Transform transform = a.unit_range ? data::Transform(data::Pad(2))
                                           : data::Transform(data::Compose{data::Pad(2), data::Normalize({0.5}, {0.5})});
  data::ImageDataset train(loaded.images, loaded.labels, transform);
  data::DataLoader loader(train, {.batch_size = a.common.batch_size, .shuffle = true, .seed = a.common.seed,
                                  .pin_memory = device.is_cuda()});
  std::cout << title << " " << a.split << ": " << train.size() << " images of 32x32, " << loader.size()
            << " steps per epoch\n";
  io::save_image(a.common.out / "real.png", train.images().narrow(0, 0, std::min<int64_t>(64, train.size())),
                 grid_options(a, 8));

  diffusion::DDPMScheduler<float> scheduler(ddpm_options(a));
  io::CsvWriter losses(a.common.out / (a.resume ? "losses_resumed.csv" : "losses.csv"), {"step", "epoch", "loss"});
  std::vector<double> curve_steps, curve;
  int64_t step = checkpoint.counters.at("step");
  auto budget_spent = [&] { return a.max_steps > 0 && step >= a.max_steps; };
  for (int64_t epoch = checkpoint.counters.at("epoch"); epoch < a.common.epochs && !budget_spent(); ++epoch) {
    loader.set_epoch(epoch);
    model->train();
    io::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(a.common.epochs),
                          loader.size());
    int64_t i = 0;
    double epoch_loss = 0;
    for (auto& batch : loader) {
      const int64_t n = batch.images.size(0);
      const auto images = batch.images.to(device);
      const auto t = diffusion::random_timesteps(n, a.timesteps, train_gen, a.first_timestep);
      // Drawn on the CPU and copied, so a seed gives the same run on either device.
      const auto noise = randn<float>(batch.images.shape(), train_gen).to(device);
      const auto x_t = scheduler.add_noise(images, noise, t);
      IndexTensor y;
      if (a.classes) y = drop_labels(batch.labels, a.label_dropout, model->null_label(), train_gen);
      const auto prediction = (*model)(x_t, t, y);
      auto loss = nn::functional::mse_loss(prediction, scheduler.training_target(images, noise, t));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      ema.update(*model);
      const double value = loss.item();
      epoch_loss += value;
      ++step;
      losses.row(step, epoch + 1, value);
      curve_steps.push_back(static_cast<double>(step));
      curve.push_back(value);
      progress.update(++i, {{"loss", value}});
      if (budget_spent()) break;
    }
    progress.finish();
    if (budget_spent()) std::cout << "reached --max-steps " << a.max_steps << " in epoch " << epoch + 1 << "\n";
    ema.copy_to(*ema_model);
    Generator epoch_gen(a.common.seed + 3);
    io::Progress sampling("samples (" + a.sampler + ")", sampling_steps(a));
    const auto samples = sample_images(
        *ema_model, a, fixed_noise, [&](const diffusion::SamplingStep<float>& s) { sampling.update(s.index + 1); },
        epoch_gen);
    sampling.finish();
    io::save_image(a.common.out / epoch_file(epoch + 1), samples, grid_options(a, grid_row(a)));
    checkpoint.counters["epoch"] = epoch + 1;
    checkpoint.counters["step"] = step;
    checkpoint.metadata[kConfigKey] = saved_config(a).dump();
    checkpoint.save(checkpoint_path);
    io::save_module(*ema_model, a.common.out / "model.safetensors");
    losses.flush_to_disk();
    std::printf("epoch %lld: mean loss %.4f; wrote %s and the checkpoint\n", static_cast<long long>(epoch + 1),
                epoch_loss / static_cast<double>(std::max<int64_t>(1, i)), epoch_file(epoch + 1).c_str());
  }
  losses.close();
  if (!curve.empty())
    io::save_loss_plot(a.common.out / (a.resume ? "losses_resumed.png" : "losses.png"), curve_steps, {{"mse", curve}},
                       std::nullopt, {.title = "DDPM " + title});
  return 0;
}

}  // namespace

int run_ddpm(int argc, char** argv, const std::string& dataset) {
  return examples::run_main(dataset == "mnist" ? "ddpm_mnist" : "ddpm_fashion",
                            [&] { return ddpm_main(argc, argv, dataset); });
}
