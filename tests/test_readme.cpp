// The README's code, kept honest. The usage example is readme_example.inc, verbatim: it
// is compiled and run here. The other snippets (tests/readme/*.inc) are fragments: each is
// compiled inside a function that declares what the fragment uses (the functions are never
// called: some of them train). The README is checked to show exactly these files and no
// other C++ block.
#include "helpers.hpp"
#include <fstream>
#include <latent/data.hpp>
#include <latent/diffusion.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>
#include <regex>

#include "readme_example.inc"

namespace readme_snippets {

using Net = std::shared_ptr<nn::Sequential<float>>;

[[maybe_unused]] void gan_snippet(Net G, Net D, optim::Adam<float>& opt_g, optim::Adam<float>& opt_d,
                                  data::DataLoader<data::ImageDataset>& loader) {
#include "readme/gan.inc"
}

[[maybe_unused]] void diffusion_snippet(const TensorF& x0) {
#include "readme/diffusion.inc"
}

[[maybe_unused]] void safetensors_snippet(Net net) {
#include "readme/safetensors.inc"
}

[[maybe_unused]] void checkpoint_snippet(Net G, Net D, optim::Adam<float>& opt_g, optim::Adam<float>& opt_d,
                                         int64_t step) {
#include "readme/checkpoint.inc"
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  INFO("cannot read " << path);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace readme_snippets

TEST_CASE("readme: the usage example compiles, runs and converges", "[readme]") {
  REQUIRE(readme_example() < 1e-4);
}

TEST_CASE("readme: README.md's C++ blocks are exactly the compiled files", "[readme]") {
  using readme_snippets::slurp;
  const std::string readme = slurp(LATENT_SOURCE_DIR "/README.md");
  std::vector<std::string> files = {"readme_example.inc", "readme/gan.inc", "readme/diffusion.inc",
                                    "readme/safetensors.inc", "readme/checkpoint.inc"};
  std::vector<std::string> compiled;
  for (const auto& f : files) compiled.push_back(slurp(LATENT_SOURCE_DIR "/tests/" + f));
  const std::regex block("```cpp\n([\\s\\S]*?)```");
  size_t blocks = 0;
  for (std::sregex_iterator it(readme.begin(), readme.end(), block), end; it != end; ++it, ++blocks) {
    const std::string code = (*it)[1];
    INFO("README block " << blocks + 1 << " is not one of tests/readme_example.inc, tests/readme/*.inc:\n" << code);
    CHECK(std::find(compiled.begin(), compiled.end(), code) != compiled.end());
  }
  CHECK(blocks == files.size());
}
