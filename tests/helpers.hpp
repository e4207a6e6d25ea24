// Test helpers: element-wise comparison with a tolerance, and one-line gradchecks.
#pragma once
#include <catch2/catch.hpp>
#include <latent/latent.hpp>
#include <latent/nn/module.hpp>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace latent::testing {

// True when a and b have the same shape and |a - b| <= atol + rtol |b| everywhere;
// on failure `why` says where.
template <typename T>
bool all_close(const Tensor<T>& a, const Tensor<T>& b, double rtol, double atol, std::string* why = nullptr) {
  if (a.shape() != b.shape()) {
    if (why) *why = detail::str_cat("shape mismatch: ", a.shape(), " vs ", b.shape());
    return false;
  }
  auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) {
    double x = va[i], y = vb[i];
    bool both_nan = std::isnan(x) && std::isnan(y);
    bool same_inf = std::isinf(x) && x == y;
    if (!both_nan && !same_inf && !(std::abs(x - y) <= atol + rtol * std::abs(y))) {
      if (why) *why = detail::str_cat("at flat index ", i, ": ", x, " vs ", y, " (shape ", a.shape(), ")");
      return false;
    }
  }
  return true;
}

// Both: the exception type, and a message matching `matcher` (evaluates `expr` twice).
#define REQUIRE_ERROR(expr, matcher)          \
  do {                                        \
    REQUIRE_THROWS_AS(expr, ::latent::Error); \
    REQUIRE_THROWS_WITH(expr, matcher);       \
  } while (0)

#define LATENT_REQUIRE_CLOSE(a, b, rtol, atol)                              \
  do {                                                                      \
    std::string why_;                                                       \
    bool ok_ = ::latent::testing::all_close((a), (b), (rtol), (atol), &why_); \
    INFO(why_);                                                             \
    REQUIRE(ok_);                                                           \
  } while (0)

// Leaf double tensor with values drawn away from zero (kinks) for gradchecks.
inline TensorD leaf(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Generator gen(seed);
  return uniform<double>(shape, lo, hi, gen).requires_grad_();
}

inline void check_grads(const autograd::DoubleFn& f, const std::vector<TensorD>& inputs, bool second_order = true) {
  auto r1 = autograd::gradcheck(f, inputs);
  INFO(r1.message);
  REQUIRE(r1.ok);
  if (second_order) {
    auto r2 = autograd::gradgradcheck(f, inputs);
    INFO(r2.message);
    REQUIRE(r2.ok);
  }
}

// Makes `t` (a leaf of the test) the module's parameter `name`, so gradients reach it:
// how parity and gradcheck tests feed their inputs into a module.
template <typename T>
void use_as_parameter(nn::Module<T>& m, const std::string& name, const Tensor<T>& t) {
  m.unregister_parameter(name);
  m.register_parameter(name, t);
}

// A whole file as bytes, and bytes written as a whole file (corruption and truncation tests).
using Bytes = std::vector<uint8_t>;
inline Bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.is_open());
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
inline void write_bytes(const std::filesystem::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// An int64 index tensor of `shape` from values.
inline IndexTensor idx(std::vector<int64_t> values, const Shape& shape) { return from_vector<int64_t>(values, shape); }

// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() / ("latent_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace latent::testing
