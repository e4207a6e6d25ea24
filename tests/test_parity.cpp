// PyTorch parity of the core tensor ops (harness and tolerances: parity.hpp).
#include "parity.hpp"

using namespace latent;
using namespace latent::parity;

namespace {

// clang-format off
const OpTable& core_ops() {
  static const OpTable table = {
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

const Family kElementwise{"elementwise", core_ops};
const Family kActivation{"activation", core_ops};
const Family kReduce{"reduce", core_ops};
const Family kLinalg{"linalg", core_ops};
const Family kIndex{"index", core_ops};
const Family kView{"view", core_ops};

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
    INFO("fixture file " << f << ".json is registered by no test file (parity::Family)");
    CHECK(registry().count(f) == 1);
  }
  for (const auto& [family, info] : registry()) {
    json j = load_family(family);
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& cs : j.at("cases")) {
      std::string op = cs.at("op");
      INFO(family << " case '" << cs.at("name").get<std::string>() << "': op '" << op << "' has no C++ mapping");
      CHECK(info.table().count(op) == 1);
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
