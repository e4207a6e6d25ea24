// The README's usage example is this file's readme_example.inc, verbatim: it is compiled
// and run here, and the README is checked to still show exactly this code.
#include "helpers.hpp"
#include <fstream>

#include "readme_example.inc"

TEST_CASE("readme: the usage example compiles, runs and converges", "[readme]") {
  REQUIRE(readme_example() < 1e-4);
}

TEST_CASE("readme: README.md shows readme_example.inc verbatim", "[readme]") {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string readme = slurp(LATENT_SOURCE_DIR "/README.md");
  std::string example = slurp(LATENT_SOURCE_DIR "/tests/readme_example.inc");
  REQUIRE(readme.find("```cpp\n" + example + "```") != std::string::npos);
}
