// Training checkpoints (io/checkpoint.hpp): resuming is bit for bit, and every malformed or
// mismatched file is rejected before any registered object changes. Also the examples'
// settings saved in a checkpoint's metadata (examples/common/saved_config.hpp, ddpm's
// "ddpm.config"): read back as saved, or refused with the file and the key named.
#include <filesystem>
#include <fstream>
#include <latent/io.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../examples/common/saved_config.hpp"
#include "helpers.hpp"

using namespace latent;
using latent::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// A small regression run that touches every kind of state: weights, Adam moments and step
// counts, a StepLR epoch, an EMA, and the default generator (fresh noise every step).
struct Run {
  std::shared_ptr<nn::Sequential<float>> net;
  std::unique_ptr<optim::Adam<float>> opt;
  std::unique_ptr<optim::StepLR<float>> sched;
  std::unique_ptr<optim::EMA<float>> ema;
  int64_t step = 0;

  explicit Run(uint64_t seed, int64_t hidden = 16) {
    manual_seed(seed);
    net = nn::sequential<float>(std::make_shared<nn::Linear<float>>(3, hidden), nn::Tanh<float>(),
                                std::make_shared<nn::Linear<float>>(hidden, 1));
    opt = std::make_unique<optim::Adam<float>>(net->parameters(), optim::AdamOptions{.lr = 0.01});
    sched = std::make_unique<optim::StepLR<float>>(*opt, 3, 0.5);
    ema = std::make_unique<optim::EMA<float>>(*net, 0.9);
  }
  void train(int steps) {
    for (int i = 0; i < steps; ++i, ++step) {
      auto x = randn<float>({32, 3});
      auto y = x.sum({1}, true).sin();
      auto loss = (net->forward(x) - y).square().mean();
      opt->zero_grad();
      loss.backward();
      opt->step();
      sched->step();
      ema->update(*net);
    }
  }
  io::Checkpoint checkpoint() {
    io::Checkpoint c;
    c.add("model", *net).add("opt", *opt).add("sched", *sched).add("ema", *ema).add("rng", default_generator());
    return c;
  }
  void save(const fs::path& path) {
    auto c = checkpoint();
    c.counters["step"] = step;
    c.metadata["note"] = "unit test";
    c.save(path);
  }
  void load(const fs::path& path) {
    auto c = checkpoint();
    c.load(path);
    step = c.counters.at("step");
    REQUIRE(c.metadata.at("note") == "unit test");
  }
};

std::vector<float> flat(const nn::StateDict<float>& state) {
  std::vector<float> out;
  for (const auto& [name, t] : state) {
    auto v = t.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

using latent::testing::read_bytes;
using latent::testing::write_bytes;

}  // namespace

TEST_CASE("checkpoint: N steps, save, load, M steps equals N+M steps bit for bit", "[checkpoint]") {
  TempDir dir;
  const fs::path path = dir.path / "run.safetensors";

  Run straight(1);
  straight.train(12);

  Run first(1);
  first.train(7);
  first.save(path);

  Run resumed(99);  // different initial weights and generator state: all must come from the file
  resumed.load(path);
  CHECK(resumed.step == 7);
  CHECK(resumed.sched->last_epoch() == 7);
  CHECK(resumed.ema->num_updates() == 7);
  resumed.train(5);

  CHECK(flat(resumed.net->state_dict()) == flat(straight.net->state_dict()));
  CHECK(flat(resumed.ema->state_dict()) == flat(straight.ema->state_dict()));
  CHECK(flat(resumed.opt->state_dict().tensors) == flat(straight.opt->state_dict().tensors));
  CHECK(resumed.opt->state_dict().scalars == straight.opt->state_dict().scalars);
  CHECK(resumed.opt->lr(0) == straight.opt->lr(0));
  CHECK(default_generator().offset() == [&] {
    Run again(1);
    again.train(12);
    return default_generator().offset();
  }());
  // Only the checkpoint itself is in the directory: the temporary file was renamed.
  CHECK(dir.listing() == std::vector<std::string>{"run.safetensors"});
}

TEST_CASE("checkpoint: the file is a safetensors file with PyTorch-style names", "[checkpoint]") {
  TempDir dir;
  Run run(3);
  run.train(2);
  run.save(dir.path / "c.safetensors");
  auto file = io::SafeTensors::read_file(dir.path / "c.safetensors");
  CHECK(file.contains("model/0.weight"));
  CHECK(file.contains("model/2.bias"));
  CHECK(file.contains("ema/0.weight"));
  CHECK(file.contains("opt/state.0.exp_avg"));
  CHECK(file.metadata().count(io::Checkpoint::kMetadataKey) == 1);
  CHECK(file.metadata().at("note") == "unit test");
}

TEST_CASE("checkpoint: bad files and mismatches are rejected and change nothing", "[checkpoint]") {
  TempDir dir;
  const fs::path good = dir.path / "good.safetensors";
  Run saved(5);
  saved.train(3);
  saved.save(good);

  Run target(6);
  const auto before = flat(target.net->state_dict());
  const auto offset_before = default_generator().offset();
  auto unchanged = [&] {
    CHECK(flat(target.net->state_dict()) == before);
    CHECK(target.sched->last_epoch() == 0);
    CHECK(default_generator().offset() == offset_before);
  };

  SECTION("missing file") {
    CHECK_THROWS_WITH(target.load(dir.path / "nope.safetensors"), Catch::Contains("cannot open"));
  }
  SECTION("plain safetensors without checkpoint metadata") {
    io::save_module(*target.net, dir.path / "weights.safetensors");
    CHECK_THROWS_WITH(target.load(dir.path / "weights.safetensors"), Catch::Contains("not a latent checkpoint"));
  }
  SECTION("every truncation") {
    const auto bytes = read_bytes(good);
    const fs::path cut = dir.path / "cut.safetensors";
    for (size_t n = 0; n < bytes.size(); n += std::max<size_t>(1, bytes.size() / 97)) {
      write_bytes(cut, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
      INFO("truncated to " << n << " of " << bytes.size() << " bytes");
      CHECK_THROWS_AS(target.load(cut), Error);
    }
  }
  SECTION("corrupted checkpoint JSON") {
    auto file = io::SafeTensors::read_file(good);
    io::NamedTensors tensors;
    for (const auto& name : file.names()) tensors.emplace_back(name, file.get<float>(name));
    auto meta = file.metadata();
    meta[io::Checkpoint::kMetadataKey] = "{\"version\": 1, \"items\": {";
    io::save_safetensors(dir.path / "bad.safetensors", tensors, meta);
    CHECK_THROWS_WITH(target.load(dir.path / "bad.safetensors"), Catch::Contains("not valid JSON"));
    meta[io::Checkpoint::kMetadataKey] = "{\"version\": 2, \"items\": {}, \"counters\": {}}";
    io::save_safetensors(dir.path / "v2.safetensors", tensors, meta);
    CHECK_THROWS_WITH(target.load(dir.path / "v2.safetensors"), Catch::Contains("format version 2"));
  }
  SECTION("a model of another width") {
    const Generator rng_before = default_generator();
    Run wide(7, 17);  // reseeds the default generator: put it back for unchanged()
    wide.save(dir.path / "wide.safetensors");
    default_generator() = rng_before;
    CHECK_THROWS_WITH(target.load(dir.path / "wide.safetensors"),
                      Catch::Contains("item 'model'") && Catch::Contains("has shape [17") &&
                          Catch::Contains("but [16") && Catch::Contains("in the module"));
  }
  SECTION("items missing, unexpected or of another kind") {
    io::Checkpoint only_model;
    only_model.add("model", *saved.net);
    only_model.save(dir.path / "only_model.safetensors");
    CHECK_THROWS_WITH(target.load(dir.path / "only_model.safetensors"), Catch::Contains("no item 'opt'"));

    io::Checkpoint small;
    small.add("model", *target.net);
    CHECK_THROWS_WITH(small.load(good), Catch::Contains("not registered"));
    CHECK_NOTHROW(small.load(good, /*strict=*/false));  // loads the model only
    CHECK(flat(target.net->state_dict()) == flat(saved.net->state_dict()));
    return;  // the model changed on purpose
  }
  SECTION("registration errors") {
    io::Checkpoint c;
    c.add("model", *target.net);
    CHECK_THROWS_WITH(c.add("model", *target.opt), Catch::Contains("already registered"));
    CHECK_THROWS_WITH(c.add("a/b", *target.opt), Catch::Contains("no '/'"));
    c.metadata[io::Checkpoint::kMetadataKey] = "x";
    CHECK_THROWS_WITH(c.save(dir.path / "x.safetensors"), Catch::Contains("reserved"));
  }
  unchanged();
}

TEST_CASE("checkpoint: an example's JSON config in the metadata is read back, or refused naming the key",
          "[checkpoint]") {
  const auto with_config = [](const std::optional<std::string>& config) {
    io::Metadata meta{{"format", "pt"}};
    if (config) meta["ddpm.config"] = *config;
    auto bytes = io::serialize_safetensors({{"w", zeros<float>({2})}}, meta);
    return examples::SavedConfig(io::SafeTensors::from_bytes(bytes, "ckpt.safetensors"), "ddpm.config", "ddpm");
  };
  SECTION("no such key: an empty config") {
    const auto config = with_config(std::nullopt);
    CHECK_FALSE(config.present());
    CHECK_FALSE(config.get<int64_t>("width").has_value());
  }
  SECTION("settings as saved") {
    nlohmann::json saved{{"width", 8}, {"mults", {1, 2}}, {"attention", "none"}, {"classes", true}, {"dropout", 0.1}};
    const auto config = with_config(saved.dump());
    REQUIRE(config.present());
    CHECK(config.get<int64_t>("width") == int64_t{8});
    CHECK(config.get<std::vector<int64_t>>("mults") == std::vector<int64_t>{1, 2});
    CHECK(config.get<std::string>("attention") == std::string("none"));
    CHECK(config.get<bool>("classes") == true);
    CHECK(config.get<double>("dropout") == 0.1);
    CHECK_FALSE(config.get<int64_t>("heads").has_value());  // not saved: the command line's stays
    CHECK(config.dump("mults") == "[1,2]");
  }
  SECTION("corrupted: not JSON") {
    for (const char* bad : {"", "{\"width\": 8", "width=8", "{\"width\": 8} trailing"})
      CHECK_THROWS_WITH(with_config(std::string(bad)),
                        Catch::StartsWith("ddpm: ckpt.safetensors: the 'ddpm.config' metadata is not JSON: "));
  }
  SECTION("JSON, but not an object of settings") {
    CHECK_THROWS_WITH(with_config("[8, 16]"), Catch::Contains("the 'ddpm.config' metadata is not a JSON object") &&
                                                  Catch::Contains("it is array: [8,16]"));
    CHECK_THROWS_WITH(with_config("42"), Catch::Contains("'ddpm.config'") && Catch::Contains("it is number"));
    CHECK_THROWS_WITH(with_config("null"), Catch::Contains("'ddpm.config'") && Catch::Contains("it is null"));
  }
  SECTION("a setting of the wrong type") {
    const auto config = with_config(R"({"width": "eight", "mults": [1, "2"], "classes": 1})");
    CHECK_THROWS_WITH(config.get<int64_t>("width"),
                      Catch::StartsWith("ddpm: ckpt.safetensors: the 'ddpm.config' metadata has a bad 'width' "
                                        "(\"eight\"): "));
    CHECK_THROWS_WITH(config.get<std::vector<int64_t>>("mults"), Catch::Contains("has a bad 'mults' ([1,\"2\"])"));
    CHECK_THROWS_WITH(config.get<bool>("classes"), Catch::Contains("has a bad 'classes' (1)"));
  }
}
