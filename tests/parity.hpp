// The PyTorch-parity harness shared by the test_parity*.cpp files: reads
// tests/fixtures/<family>.json (written by scripts/make_fixtures.py; regenerate with
// scripts/make_fixtures.sh, schema at the top of that script), runs every case through
// latent in its dtype (float32 -> float, float64 -> double), and compares the outputs and
// the gradients of sum_k sum(output_k * upstream_k) w.r.t. every input that requires grad
// with PyTorch's.
//
// Tolerance: |latent - torch| <= atol + rtol * |torch| element-wise, with
//   float:  rtol 1e-5,  atol 1e-6 unless the family registers another (the atol only
//           matters near 0)
//   double: rtol 1e-10, atol 1e-12
// Index outputs (argmax, max's indices) must match exactly.
//
// A fixture op without a line in its family's table fails the test (no silent skips), as
// do a missing fixtures directory and a fixture file that no test file registers.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include <latent/core/int_pair.hpp>

namespace latent::parity {

using json = nlohmann::json;
namespace fs = std::filesystem;


namespace fs = std::filesystem;

// |latent - torch| <= atol + rtol * |torch|. Double is fixed; a family whose float ops sum
// many terms (convolutions, norms) may register a looser float tolerance, and says why.
struct Tolerance {
  double rtol, atol;
};
inline constexpr Tolerance kFloatTolerance{1e-5, 1e-6};
inline constexpr Tolerance kDoubleTolerance{1e-10, 1e-12};

// One result of an op: a floating tensor or an index tensor, in the fixture's order.
template <typename T>
struct Out {
  Tensor<T> f;
  IndexTensor i;
  Out(Tensor<T> t) : f(std::move(t)) {}     // NOLINT: implicit on purpose
  Out(IndexTensor t) : i(std::move(t)) {}  // NOLINT
};
template <typename T> using Outs = std::vector<Out<T>>;

template <typename T> Outs<T> to_outs(const Tensor<T>& t) { return {t}; }
template <typename T> Outs<T> to_outs(const IndexTensor& t) { return {t}; }
template <typename T> Outs<T> to_outs(const std::pair<Tensor<T>, IndexTensor>& p) { return {p.first, p.second}; }
template <typename T> Outs<T> to_outs(const std::vector<Tensor<T>>& v) { return Outs<T>(v.begin(), v.end()); }

inline double number(const json& v, const std::string& what) {
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    throw std::runtime_error("fixture: " + what + " is the string '" + s + "', not a number");
  }
  return v.get<double>();
}

// What an op line sees: the case's inputs (floating and index ones, each in order) and args.
template <typename T>
struct Ctx {
  using value_type = T;
  std::vector<Tensor<T>> xs;
  std::vector<IndexTensor> idxs;
  const json& args;

  const Tensor<T>& x(size_t k) const { return xs.at(k); }
  const IndexTensor& idx(size_t k) const { return idxs.at(k); }
  const json& arg(const char* key) const {
    if (!args.contains(key)) throw std::runtime_error(std::string("fixture: missing arg '") + key + "'");
    return args.at(key);
  }
  double d(const char* key) const { return number(arg(key), key); }
  int64_t i(const char* key) const { return arg(key).template get<int64_t>(); }
  bool b(const char* key) const { return arg(key).template get<bool>(); }
  std::string s(const char* key) const { return arg(key).template get<std::string>(); }
  std::vector<int64_t> ints(const char* key) const { return arg(key).template get<std::vector<int64_t>>(); }
  std::vector<int64_t> dims() const { return ints("dims"); }
  Shape shape(const char* key) const { return Shape(ints(key)); }
};
// The element type inside an op line: ValueOf(c).
#define ValueOf(c) typename std::decay_t<decltype(c)>::value_type


struct OpFn {
  std::function<Outs<float>(Ctx<float>&)> f32;
  std::function<Outs<double>(Ctx<double>&)> f64;
  template <typename T> const auto& get() const {
    if constexpr (std::is_same_v<T, float>) return f32;
    else return f64;
  }
};
// One generic lambda serves both element types.
template <typename F>
OpFn both(F f) {
  return {[f](Ctx<float>& c) { return to_outs<float>(f(c)); }, [f](Ctx<double>& c) { return to_outs<double>(f(c)); }};
}

using OpTable = std::map<std::string, OpFn>;

// Every fixture family and the table mapping its ops to latent calls. A test file adds its
// family with a namespace-scope `const parity::Family name{"family", table_fn};` and runs
// it with `run_family("family")` in a TEST_CASE.
struct FamilyInfo {
  const OpTable& (*table)();
  Tolerance float_tolerance;
};
inline std::map<std::string, FamilyInfo>& registry() {
  static std::map<std::string, FamilyInfo> families;
  return families;
}
struct Family {
  Family(const std::string& name, const OpTable& (*table)(), Tolerance float_tolerance = kFloatTolerance) {
    registry()[name] = {table, float_tolerance};
  }
};

inline const char* kRegenerate = "regenerate them with scripts/make_fixtures.sh";

inline fs::path fixtures_dir() { return fs::path(LATENT_FIXTURES_DIR); }

// The parsed fixture file of `family`; fails the test with a clear message when absent.
inline json load_family(const std::string& family) {
  fs::path dir = fixtures_dir(), path = dir / (family + ".json");
  {
    INFO("PyTorch parity fixtures directory " << dir.string() << " is missing; " << kRegenerate);
    REQUIRE(fs::is_directory(dir));
  }
  {
    INFO("fixture file " << path.string() << " is missing; " << kRegenerate);
    REQUIRE(fs::is_regular_file(path));
  }
  std::ifstream in(path);
  json j = json::parse(in);
  INFO("fixture file " << path.string() << " has format " << j.value("format", -1) << " and family "
       << j.value("family", std::string("?")) << ", expected format 1 and family " << family);
  REQUIRE(j.value("format", -1) == 1);
  REQUIRE(j.value("family", std::string()) == family);
  return j;
}

inline Shape shape_of(const json& t) { return Shape(t.at("shape").get<std::vector<int64_t>>()); }

template <typename T>
Tensor<T> float_tensor(const json& t) {
  const auto& data = t.at("data");
  std::vector<T> v;
  v.reserve(data.size());
  for (const auto& x : data) v.push_back(static_cast<T>(x.get<double>()));
  return from_vector<T>(v, shape_of(t));
}
inline IndexTensor index_tensor(const json& t) {
  return from_vector<int64_t>(t.at("data").get<std::vector<int64_t>>(), shape_of(t));
}

// The worst error seen, as a fraction of the tolerance (LATENT_PARITY_VERBOSE=1 prints it
// per family, to see how much headroom the tolerances leave).
struct Worst {
  double ratio = 0;
  std::string where;
};
inline Worst& worst() {
  static Worst w;
  return w;
}

template <typename T>
void check_close(const std::string& what, const Tensor<T>& actual, const json& expected, Tolerance tolerance) {
  Shape want_shape = shape_of(expected);
  if (actual.shape() != want_shape) {
    FAIL_CHECK(what << ": shape " << actual.shape() << " vs PyTorch's " << want_shape);
    return;
  }
  auto got = actual.to_vector();
  const auto& want = expected.at("data");
  std::ostringstream bad;
  bad.precision(17);
  int n_bad = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    double x = got[k], y = static_cast<T>(want[k].get<double>());  // the fixture value in T
    double err = std::abs(x - y), tol = tolerance.atol + tolerance.rtol * std::abs(y);
    if (!(err <= tol)) {
      if (n_bad++ < 3) bad << "\n  flat index " << k << ": latent " << x << ", PyTorch " << y << " (|diff| " << err
                           << ", tolerance " << tol << ")";
    } else if (err / tol > worst().ratio) {
      worst() = {err / tol, what};
    }
  }
  INFO(what << " (shape " << want_shape << "): " << n_bad << " of " << got.size() << " elements differ" << bad.str());
  CHECK(n_bad == 0);
}

// CHECK that also ends the case on failure (REQUIRE would end the whole TEST_CASE).
#define CHECK_OR_RETURN(cond, msg) \
  do {                             \
    bool ok_ = (cond);             \
    INFO(msg);                     \
    CHECK(ok_);                    \
    if (!ok_) return;              \
  } while (0)

template <typename T>
void run_case(const json& cs, const OpFn& fn, const std::string& label, Tolerance tolerance) {
  Ctx<T> c{{}, {}, cs.at("args")};
  std::vector<Tensor<T>> grad_inputs;
  std::vector<size_t> grad_pos;  // fixture input index of each grad input
  const auto& inputs = cs.at("inputs");
  for (size_t k = 0; k < inputs.size(); ++k) {
    const auto& in = inputs[k];
    if (in.at("dtype") == "int64") {
      c.idxs.push_back(index_tensor(in));
      continue;
    }
    auto t = float_tensor<T>(in);
    if (in.at("requires_grad").get<bool>()) {
      t.requires_grad_();
      grad_inputs.push_back(t);
      grad_pos.push_back(k);
    }
    c.xs.push_back(t);
  }

  Outs<T> outs = fn.get<T>()(c);
  const auto& expected = cs.at("outputs");
  const auto& upstream = cs.at("upstream");
  CHECK_OR_RETURN(outs.size() == expected.size(),
                  label << ": latent returned " << outs.size() << " outputs, PyTorch " << expected.size());
  std::vector<Tensor<T>> roots, ups;
  for (size_t k = 0; k < outs.size(); ++k) {
    std::string what = label + " output " + std::to_string(k);
    if (expected[k].at("dtype") == "int64") {
      CHECK_OR_RETURN(outs[k].i.defined(), what << ": expected an index tensor");
      CHECK_OR_RETURN(outs[k].i.shape() == shape_of(expected[k]),
                      what << ": shapes " << outs[k].i.shape() << " vs " << shape_of(expected[k]));
      INFO(what << ": index values differ");
      CHECK(outs[k].i.to_vector() == expected[k].at("data").template get<std::vector<int64_t>>());
      continue;
    }
    CHECK_OR_RETURN(outs[k].f.defined(), what << ": expected a floating tensor");
    check_close(what, outs[k].f, expected[k], tolerance);
    if (!upstream[k].is_null()) {
      CHECK_OR_RETURN(outs[k].f.requires_grad(), what << ": PyTorch's output requires grad, latent's does not");
      roots.push_back(outs[k].f);
      ups.push_back(float_tensor<T>(upstream[k]));
    }
  }

  const auto& grads = cs.at("grads");
  std::vector<Tensor<T>> got;
  if (!roots.empty() && !grad_inputs.empty())
    got = autograd::grad<T>(roots, grad_inputs, ups, std::nullopt, false, /*allow_unused=*/true);
  for (size_t g = 0; g < grad_inputs.size(); ++g) {
    size_t k = grad_pos[g];
    if (grads[k].is_null()) continue;  // no differentiable output in PyTorch either
    std::string what = label + " grad of input " + std::to_string(k);
    CHECK_OR_RETURN(g < got.size() && got[g].defined(), what << ": latent gives no gradient");
    check_close(what, got[g], grads[k], tolerance);
  }
}

// Runs every case of one family; returns how many ran.
inline int run_family(const std::string& family) {
  worst() = {};
  auto fam = registry().find(family);
  {
    INFO("fixture family " << family << " is not registered (parity::Family) by any test file");
    REQUIRE(fam != registry().end());
  }
  const OpTable& table = fam->second.table();
  json j = load_family(family);
  const auto& cases = j.at("cases");
  {
    INFO("fixture file for " << family << " has no cases; " << kRegenerate);
    REQUIRE(!cases.empty());
  }
  int ran = 0;
  for (const auto& cs : cases) {
    std::string op = cs.at("op"), dtype = cs.at("dtype");
    std::string label = family + " case '" + cs.at("name").get<std::string>() + "' (" + dtype + ")";
    auto it = table.find(op);
    if (it == table.end()) {
      FAIL_CHECK(label << ": fixture op '" << op << "' has no C++ mapping in its family's op table");
      continue;
    }
    try {
      if (dtype == "float32") run_case<float>(cs, it->second, label, fam->second.float_tolerance);
      else if (dtype == "float64") run_case<double>(cs, it->second, label, kDoubleTolerance);
      else FAIL_CHECK(label << ": unknown dtype '" << dtype << "'");
    } catch (const std::exception& e) {
      FAIL_CHECK(label << " threw: " << e.what());
    }
    ++ran;
  }
  if (const char* v = std::getenv("LATENT_PARITY_VERBOSE"); v && std::string(v) == "1")
    std::cout << "parity " << family << ": " << ran << " cases; worst passing error " << worst().ratio
              << " of the tolerance, at " << worst().where << "\n";
  return ran;
}

// An (h, w) pair argument of a case, e.g. a kernel size.
template <typename C>
IntPair pair_arg(const C& c, const char* key) {
  auto v = c.ints(key);
  return IntPair(v.at(0), v.at(1));
}

}  // namespace latent::parity
