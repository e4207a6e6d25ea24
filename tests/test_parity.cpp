// PyTorch parity: every case in tests/fixtures/<family>.json (written by
// scripts/make_fixtures.py; regenerate with scripts/make_fixtures.sh, schema at the top of
// that script) is run through latent in its dtype (float32 -> float, float64 -> double),
// and the outputs and the gradients of sum_k sum(output_k * upstream_k) w.r.t. every input
// that requires grad are compared with PyTorch's.
//
// Tolerance: |latent - torch| <= atol + rtol * |torch| element-wise, with
//   float:  rtol 1e-5,  atol 1e-6   (the atol only matters near 0)
//   double: rtol 1e-10, atol 1e-12
// Index outputs (argmax, max's indices) must match exactly.
//
// Each op is one line in ops() below. A fixture op without a line fails the test (no
// silent skips), as do a missing fixtures directory and a fixture file that no TEST_CASE
// here reads.
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

using namespace latent;
using json = nlohmann::json;

namespace {

namespace fs = std::filesystem;

template <typename T> struct Tol;
template <> struct Tol<float> {
  static constexpr double rtol = 1e-5, atol = 1e-6;
};
template <> struct Tol<double> {
  static constexpr double rtol = 1e-10, atol = 1e-12;
};

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

double number(const json& v, const std::string& what) {
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

// clang-format off
const std::map<std::string, OpFn>& ops() {
  static const std::map<std::string, OpFn> table = {
    // ---- elementwise
    {"add",         both([](auto& c) { return add(c.x(0), c.x(1)); })},
    {"sub",         both([](auto& c) { return sub(c.x(0), c.x(1)); })},
    {"mul",         both([](auto& c) { return mul(c.x(0), c.x(1)); })},
    {"div",         both([](auto& c) { return div(c.x(0), c.x(1)); })},
    {"add_scalar",  both([](auto& c) { return c.x(0) + c.d("scalar"); })},
    {"sub_scalar",  both([](auto& c) { return c.x(0) - c.d("scalar"); })},
    {"mul_scalar",  both([](auto& c) { return c.x(0) * c.d("scalar"); })},
    {"div_scalar",  both([](auto& c) { return c.x(0) / c.d("scalar"); })},
    {"rsub",        both([](auto& c) { return c.d("scalar") - c.x(0); })},
    {"rdiv",        both([](auto& c) { return c.d("scalar") / c.x(0); })},
    {"neg",         both([](auto& c) { return -c.x(0); })},
    {"pow_scalar",  both([](auto& c) { return c.x(0).pow(c.d("exponent")); })},
    {"pow",         both([](auto& c) { return c.x(0).pow(c.x(1)); })},
    {"exp",         both([](auto& c) { return c.x(0).exp(); })},
    {"log",         both([](auto& c) { return c.x(0).log(); })},
    {"log1p",       both([](auto& c) { return c.x(0).log1p(); })},
    {"expm1",       both([](auto& c) { return c.x(0).expm1(); })},
    {"sqrt",        both([](auto& c) { return c.x(0).sqrt(); })},
    {"rsqrt",       both([](auto& c) { return c.x(0).rsqrt(); })},
    {"abs",         both([](auto& c) { return c.x(0).abs(); })},
    {"sign",        both([](auto& c) { return c.x(0).sign(); })},
    {"sin",         both([](auto& c) { return c.x(0).sin(); })},
    {"cos",         both([](auto& c) { return c.x(0).cos(); })},
    {"erf",         both([](auto& c) { return c.x(0).erf(); })},
    {"square",      both([](auto& c) { return c.x(0).square(); })},
    // ---- activations, clamp, minimum/maximum, where
    {"tanh",        both([](auto& c) { return c.x(0).tanh(); })},
    {"sigmoid",     both([](auto& c) { return c.x(0).sigmoid(); })},
    {"relu",        both([](auto& c) { return c.x(0).relu(); })},
    {"leaky_relu",  both([](auto& c) { return c.x(0).leaky_relu(c.d("negative_slope")); })},
    {"elu",         both([](auto& c) { return elu(c.x(0), c.d("alpha")); })},
    {"gelu",        both([](auto& c) { return gelu(c.x(0), c.s("approximate")); })},
    {"silu",        both([](auto& c) { return silu(c.x(0)); })},
    {"softplus",    both([](auto& c) { return softplus(c.x(0), c.d("beta"), c.d("threshold")); })},
    {"clamp",       both([](auto& c) { return c.x(0).clamp(c.d("min"), c.d("max")); })},
    {"clamp_min",   both([](auto& c) { return c.x(0).clamp_min(c.d("min")); })},
    {"clamp_max",   both([](auto& c) { return c.x(0).clamp_max(c.d("max")); })},
    {"minimum",     both([](auto& c) { return minimum(c.x(0), c.x(1)); })},
    {"maximum",     both([](auto& c) { return maximum(c.x(0), c.x(1)); })},
    {"where",       both([](auto& c) { return where(c.x(0), c.x(1), c.x(2)); })},
    // ---- reductions, softmax
    {"sum",         both([](auto& c) { return c.x(0).sum(c.dims(), c.b("keepdim")); })},
    {"mean",        both([](auto& c) { return c.x(0).mean(c.dims(), c.b("keepdim")); })},
    {"var",         both([](auto& c) { return c.x(0).var(c.dims(), c.b("unbiased"), c.b("keepdim")); })},
    {"std",         both([](auto& c) { return c.x(0).std(c.dims(), c.b("unbiased"), c.b("keepdim")); })},
    {"amax",        both([](auto& c) { return c.x(0).amax(c.dims(), c.b("keepdim")); })},
    {"amin",        both([](auto& c) { return c.x(0).amin(c.dims(), c.b("keepdim")); })},
    {"max_dim",     both([](auto& c) { return latent::max(c.x(0), c.i("dim"), c.b("keepdim")); })},
    {"min_dim",     both([](auto& c) { return latent::min(c.x(0), c.i("dim"), c.b("keepdim")); })},
    {"argmax",      both([](auto& c) { return c.x(0).argmax(c.i("dim"), c.b("keepdim")); })},
    {"argmin",      both([](auto& c) { return c.x(0).argmin(c.i("dim"), c.b("keepdim")); })},
    {"logsumexp",   both([](auto& c) { return c.x(0).logsumexp(c.dims(), c.b("keepdim")); })},
    {"norm",        both([](auto& c) { return c.x(0).norm(c.d("p"), c.dims(), c.b("keepdim")); })},
    {"softmax",     both([](auto& c) { return c.x(0).softmax(c.i("dim")); })},
    {"log_softmax", both([](auto& c) { return c.x(0).log_softmax(c.i("dim")); })},
    // ---- linear algebra
    {"matmul",      both([](auto& c) { return c.x(0).matmul(c.x(1)); })},
    {"mm",          both([](auto& c) { return mm(c.b("transpose_a") ? c.x(0).t() : c.x(0),
                                                 c.b("transpose_b") ? c.x(1).t() : c.x(1)); })},
    {"bmm",         both([](auto& c) { return c.x(0).bmm(c.x(1)); })},
    {"outer",       both([](auto& c) { return outer(c.x(0), c.x(1)); })},
    {"cdist",       both([](auto& c) { return cdist(c.x(0), c.x(1)); })},
    // ---- indexing and joining
    {"cat",         both([](auto& c) { return cat(c.xs, c.i("dim")); })},
    {"stack",       both([](auto& c) { return stack(c.xs, c.i("dim")); })},
    {"split",       both([](auto& c) { return c.x(0).split(c.i("size"), c.i("dim")); })},
    {"chunk",       both([](auto& c) { return c.x(0).chunk(c.i("chunks"), c.i("dim")); })},
    {"gather",      both([](auto& c) { return gather(c.x(0), c.i("dim"), c.idx(0)); })},
    {"index_select",both([](auto& c) { return index_select(c.x(0), c.i("dim"), c.idx(0)); })},
    {"one_hot",     both([](auto& c) { return one_hot<ValueOf(c)>(c.idx(0), c.i("num_classes")); })},
    {"pad",         both([](auto& c) { return pad(c.x(0), c.ints("pads"), c.d("value")); })},
    // ---- views (the gradients flow back through them)
    {"transpose",   both([](auto& c) { return c.x(0).transpose(c.i("dim0"), c.i("dim1")); })},
    {"t",           both([](auto& c) { return c.x(0).t(); })},
    {"permute",     both([](auto& c) { return c.x(0).permute(c.dims()); })},
    {"expand",      both([](auto& c) { return c.x(0).expand(c.shape("shape")); })},
    {"narrow",      both([](auto& c) { return c.x(0).narrow(c.i("dim"), c.i("start"), c.i("length")); })},
    {"slice",       both([](auto& c) { return c.x(0).slice(c.i("dim"), c.i("start"), c.i("end"), c.i("step")); })},
    {"select",      both([](auto& c) { return c.x(0).select(c.i("dim"), c.i("index")); })},
    {"unsqueeze",   both([](auto& c) { return c.x(0).unsqueeze(c.i("dim")); })},
    {"squeeze",     both([](auto& c) { return c.arg("dim").is_null() ? c.x(0).squeeze() : c.x(0).squeeze(c.i("dim")); })},
    {"flatten",     both([](auto& c) { return c.x(0).flatten(c.i("start"), c.i("end")); })},
    {"reshape",     both([](auto& c) { return c.x(0).reshape(c.shape("shape")); })},
    {"view",        both([](auto& c) { return c.x(0).view(c.shape("shape")); })},
    {"view_chain",  both([](auto& c) {  // as view_chain() in make_fixtures.py
       auto y = c.x(0).permute({2, 0, 1}).narrow(0, 1, 3).slice(2, 0, 3, 2);
       y = y.reshape({3, 4}).unsqueeze(0).expand({2, 3, 4});
       return y.transpose(1, 2).exp() * c.x(1); })},
  };
  return table;
}
// clang-format on

// The fixture families, one TEST_CASE each below.
const std::vector<std::string> kFamilies = {"elementwise", "activation", "reduce", "linalg", "index", "view"};

const char* kRegenerate = "regenerate them with scripts/make_fixtures.sh";

fs::path fixtures_dir() { return fs::path(LATENT_FIXTURES_DIR); }

// The parsed fixture file of `family`; fails the test with a clear message when absent.
json load_family(const std::string& family) {
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

Shape shape_of(const json& t) { return Shape(t.at("shape").get<std::vector<int64_t>>()); }

template <typename T>
Tensor<T> float_tensor(const json& t) {
  const auto& data = t.at("data");
  std::vector<T> v;
  v.reserve(data.size());
  for (const auto& x : data) v.push_back(static_cast<T>(x.get<double>()));
  return from_vector<T>(v, shape_of(t));
}
IndexTensor index_tensor(const json& t) {
  return from_vector<int64_t>(t.at("data").get<std::vector<int64_t>>(), shape_of(t));
}

// The worst error seen, as a fraction of the tolerance (LATENT_PARITY_VERBOSE=1 prints it
// per family, to see how much headroom the tolerances leave).
struct Worst {
  double ratio = 0;
  std::string where;
};
Worst& worst() {
  static Worst w;
  return w;
}

template <typename T>
void check_close(const std::string& what, const Tensor<T>& actual, const json& expected) {
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
    double err = std::abs(x - y), tol = Tol<T>::atol + Tol<T>::rtol * std::abs(y);
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
void run_case(const json& cs, const OpFn& fn, const std::string& label) {
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
    check_close(what, outs[k].f, expected[k]);
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
    check_close(what, got[g], grads[k]);
  }
}

// Runs every case of one family; returns how many ran.
int run_family(const std::string& family) {
  worst() = {};
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
    auto it = ops().find(op);
    if (it == ops().end()) {
      FAIL_CHECK(label << ": fixture op '" << op << "' has no C++ mapping in tests/test_parity.cpp");
      continue;
    }
    try {
      if (dtype == "float32") run_case<float>(cs, it->second, label);
      else if (dtype == "float64") run_case<double>(cs, it->second, label);
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

}  // namespace

TEST_CASE("parity: fixtures exist, each file has a TEST_CASE, each op a mapping", "[parity]") {
  fs::path dir = fixtures_dir();
  {
    INFO("PyTorch parity fixtures directory " << dir.string() << " is missing; " << kRegenerate);
    REQUIRE(fs::is_directory(dir));
  }
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") files.insert(e.path().stem().string());
  for (const auto& f : files) {
    INFO("fixture file " << f << ".json has no TEST_CASE in tests/test_parity.cpp (add it to kFamilies)");
    CHECK(std::find(kFamilies.begin(), kFamilies.end(), f) != kFamilies.end());
  }
  for (const auto& family : kFamilies) {
    json j = load_family(family);
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& cs : j.at("cases")) {
      std::string op = cs.at("op");
      INFO(family << " case '" << cs.at("name").get<std::string>() << "': op '" << op << "' has no C++ mapping");
      CHECK(ops().count(op) == 1);
      seen.insert({cs.at("name").get<std::string>(), cs.at("dtype").get<std::string>()});
    }
    // Every case comes in both dtypes.
    for (const auto& [name, dtype] : seen) {
      INFO(family << " case '" << name << "' lacks a dtype");
      CHECK(seen.count({name, dtype == "float32" ? "float64" : "float32"}) == 1);
    }
  }
}

TEST_CASE("parity: elementwise ops match PyTorch", "[parity]") { CHECK(run_family("elementwise") > 0); }
TEST_CASE("parity: activations, clamp, minimum/maximum, where match PyTorch", "[parity]") {
  CHECK(run_family("activation") > 0);
}
TEST_CASE("parity: reductions and softmax match PyTorch", "[parity]") { CHECK(run_family("reduce") > 0); }
TEST_CASE("parity: matmul, mm, bmm, outer, cdist match PyTorch", "[parity]") { CHECK(run_family("linalg") > 0); }
TEST_CASE("parity: cat, stack, split, gather, index_select, one_hot, pad match PyTorch", "[parity]") {
  CHECK(run_family("index") > 0);
}
TEST_CASE("parity: gradients flow through views as in PyTorch", "[parity]") { CHECK(run_family("view") > 0); }
