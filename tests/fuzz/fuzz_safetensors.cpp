// libFuzzer target for the safetensors reader (latent/io/safetensors.hpp) and the training
// checkpoint loader (latent/io/checkpoint.hpp). Build and run
// with scripts/fuzz.sh (clang++ -fsanitize=fuzzer,address,undefined; the fixtures in
// tests/fixtures/safetensors/ are the seed corpus).
//
// Every input must either be rejected with latent::Error or be accepted; any other
// exception, crash or sanitizer report is a bug. An accepted file is also converted
// (get<double>, get<int64_t>) and written back as raw entries: the copy must read back
// with the same names, dtypes, shapes, bytes and metadata. Every accepted file is then
// loaded as a checkpoint (strict and not) into a small model, Adam, StepLR and generator:
// it must load or throw latent::Error.
#include <cstdint>
#include <cstdlib>
#include <latent/io/checkpoint.hpp>
#include <latent/nn/linear.hpp>
#include <latent/optim/adam.hpp>
#include <span>

using namespace latent;

namespace {

struct Training {
  std::shared_ptr<nn::Linear<float>> model = std::make_shared<nn::Linear<float>>(2, 3);
  optim::Adam<float> opt{model->parameters(), {.lr = 0.01}};
  optim::StepLR<float> sched{opt, 2, 0.5};
  Generator rng{1};
};

void load_as_checkpoint(const io::SafeTensors& file) {
  static Training t;
  for (bool strict : {true, false}) {
    io::Checkpoint c;
    c.add("model", *t.model).add("opt", t.opt).add("sched", t.sched).add("rng", t.rng);
    try {
      c.load(file, strict);
    } catch (const Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = io::SafeTensors::from_bytes(std::span<const uint8_t>(data, size));
    io::NamedTensors raw;
    for (const auto& e : file.entries()) {
      try {
        auto t = file.get<double>(e.name);
        if (t.numel() != e.numel()) std::abort();
      } catch (const Error&) {
      }
      try {
        (void)file.get<int64_t>(e.name);
      } catch (const Error&) {
      }
      raw.emplace_back(e.name, io::RawTensor{e.dtype, e.shape, std::vector<uint8_t>(e.bytes.begin(), e.bytes.end())});
    }
    auto copy = io::SafeTensors::from_bytes(io::serialize_safetensors(raw, file.metadata()));
    if (copy.size() != file.size() || copy.metadata() != file.metadata()) std::abort();
    for (const auto& e : file.entries()) {
      const auto& c = copy.entry(e.name);
      if (c.dtype != e.dtype || c.shape != e.shape || !std::equal(c.bytes.begin(), c.bytes.end(), e.bytes.begin(), e.bytes.end()))
        std::abort();
    }
    load_as_checkpoint(file);
  } catch (const Error&) {
  }
  return 0;
}
