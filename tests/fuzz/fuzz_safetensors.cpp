// libFuzzer target for the safetensors reader (latent/io/safetensors.hpp). Build and run
// with scripts/fuzz.sh (clang++ -fsanitize=fuzzer,address,undefined; the fixtures in
// tests/fixtures/safetensors/ are the seed corpus).
//
// Every input must either be rejected with latent::Error or be accepted; any other
// exception, crash or sanitizer report is a bug. An accepted file is also converted
// (get<double>, get<int64_t>) and written back as raw entries: the copy must read back
// with the same names, dtypes, shapes, bytes and metadata.
#include <cstdint>
#include <cstdlib>
#include <latent/io/safetensors.hpp>
#include <span>

using namespace latent;

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
  } catch (const Error&) {
  }
  return 0;
}
