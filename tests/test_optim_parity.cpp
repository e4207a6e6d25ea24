// PyTorch parity of the optimizers and LR schedulers: tests/fixtures/optim/optim.json
// (written by scripts/make_optim_fixtures.py; schema at the top of that script) holds
// PyTorch's parameters after each of 10 steps on a fixed loss, for SGD, Adam, AdamW and
// RMSprop in their variants, with one or two parameter groups and optionally a scheduler,
// and learning-rate sequences of the schedulers alone. latent replays each run and must
// match every step:
//   float:  rtol 1e-5,  atol 1e-6   (the parity harness's float tolerance)
//   double: rtol 1e-10, atol 1e-12
//   learning rates (double in both libraries): rtol 1e-12, atol 1e-15 -- PyTorch chains
//   each epoch's lr from the previous one, latent uses the closed form; both are exact up
//   to rounding.
#include <latent/optim/adam.hpp>
#include <latent/optim/lr_scheduler.hpp>
#include <latent/optim/rmsprop.hpp>
#include <latent/optim/sgd.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>

#include "helpers.hpp"

using namespace latent;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kRegenerateOptim = "regenerate it with scripts/make_optim_fixtures.sh";

json load_optim_fixture() {
  fs::path path = fs::path(LATENT_FIXTURES_DIR) / "optim" / "optim.json";
  INFO("optimizer fixture " << path.string() << " is missing; " << kRegenerateOptim);
  REQUIRE(fs::is_regular_file(path));
  std::ifstream in(path);
  json j = json::parse(in);
  INFO("optimizer fixture " << path.string() << " has format " << j.value("format", -1) << ", expected 1; "
                            << kRegenerateOptim);
  REQUIRE(j.value("format", -1) == 1);
  return j;
}

template <typename T>
Tensor<T> tensor_of(const json& t) {
  std::vector<T> v;
  for (const auto& x : t.at("data")) v.push_back(static_cast<T>(x.get<double>()));
  return from_vector<T>(v, Shape(t.at("shape").get<std::vector<int64_t>>()));
}

template <typename T>
void check_tensor(const std::string& what, const Tensor<T>& got, const json& want) {
  const bool is_float = std::is_same_v<T, float>;
  std::string why;
  bool ok = testing::all_close(got, tensor_of<T>(want), is_float ? 1e-5 : 1e-10, is_float ? 1e-6 : 1e-12, &why);
  INFO(what << ": " << why);
  CHECK(ok);
}

void check_lrs(const std::string& what, const std::vector<double>& got, const json& want) {
  auto w = want.get<std::vector<double>>();
  INFO(what << ": latent has " << got.size() << " groups, PyTorch " << w.size());
  REQUIRE(got.size() == w.size());
  for (size_t g = 0; g < w.size(); ++g) {
    INFO(what << " group " << g << ": latent lr " << got[g] << ", PyTorch " << w[g]);
    CHECK(std::abs(got[g] - w[g]) <= 1e-15 + 1e-12 * std::abs(w[g]));
  }
}

optim::SGDOptions sgd_options(const json& o) {
  optim::SGDOptions s;
  s.lr = o.at("lr");
  s.momentum = o.at("momentum");
  s.dampening = o.at("dampening");
  s.weight_decay = o.at("weight_decay");
  s.nesterov = o.at("nesterov");
  s.maximize = o.at("maximize");
  return s;
}
optim::AdamOptions adam_options(const json& o) {
  optim::AdamOptions a;
  a.lr = o.at("lr");
  a.beta1 = o.at("beta1");
  a.beta2 = o.at("beta2");
  a.eps = o.at("eps");
  a.weight_decay = o.at("weight_decay");
  a.amsgrad = o.at("amsgrad");
  a.maximize = o.at("maximize");
  return a;
}
optim::RMSpropOptions rmsprop_options(const json& o) {
  optim::RMSpropOptions r;
  r.lr = o.at("lr");
  r.alpha = o.at("alpha");
  r.eps = o.at("eps");
  r.weight_decay = o.at("weight_decay");
  r.momentum = o.at("momentum");
  r.centered = o.at("centered");
  r.maximize = o.at("maximize");
  return r;
}

// The fixture's groups as latent groups of optimizer Opt (options parsed by parse).
template <typename Opt, typename T, typename Parse>
std::unique_ptr<optim::OptimizerBase<T>> build(const json& groups, const std::vector<Tensor<T>>& params, Parse parse) {
  std::vector<typename Opt::Base::Group> gs;
  for (const auto& g : groups) {
    std::vector<Tensor<T>> ps;
    for (const auto& k : g.at("params")) ps.push_back(params.at(k.get<size_t>()));
    gs.push_back({ps, parse(g.at("options"))});
  }
  auto defaults = gs.at(0).options;
  return std::make_unique<Opt>(std::move(gs), defaults);
}

template <typename T>
std::unique_ptr<optim::OptimizerBase<T>> make_optimizer(const std::string& kind, const json& groups,
                                                        const std::vector<Tensor<T>>& params) {
  if (kind == "SGD") return build<optim::SGD<T>>(groups, params, sgd_options);
  if (kind == "Adam") return build<optim::Adam<T>>(groups, params, adam_options);
  if (kind == "AdamW") return build<optim::AdamW<T>>(groups, params, adam_options);
  if (kind == "RMSprop") return build<optim::RMSprop<T>>(groups, params, rmsprop_options);
  FAIL("unknown optimizer '" << kind << "' in the fixture");
  return nullptr;
}

template <typename T>
std::unique_ptr<optim::LRScheduler<T>> make_scheduler(optim::OptimizerBase<T>& opt, const json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string kind = spec.at("type");
  const json& a = spec.at("args");
  if (kind == "StepLR") return std::make_unique<optim::StepLR<T>>(opt, a.at("step_size"), a.at("gamma"));
  if (kind == "ExponentialLR") return std::make_unique<optim::ExponentialLR<T>>(opt, a.at("gamma"));
  if (kind == "CosineAnnealingLR")
    return std::make_unique<optim::CosineAnnealingLR<T>>(opt, a.at("T_max"), a.at("eta_min"));
  if (kind == "LinearLR")
    return std::make_unique<optim::LinearLR<T>>(opt, a.at("start_factor"), a.at("end_factor"), a.at("total_iters"));
  if (kind == "LambdaLR" && a.at("factor") == "inverse_linear")
    return std::make_unique<optim::LambdaLR<T>>(opt, [](int64_t e) { return 1.0 / (1.0 + static_cast<double>(e)); });
  FAIL("unknown scheduler " << spec.dump() << " in the fixture");
  return nullptr;
}

template <typename T>
std::vector<double> lrs_of(const optim::OptimizerBase<T>& opt) {
  std::vector<double> out;
  for (size_t g = 0; g < opt.num_groups(); ++g) out.push_back(opt.lr(g));
  return out;
}

// The fixture's loss: sum_k sum(sin(p_k) c_k) + sum(p_k p_k d_k).
template <typename T>
Tensor<T> loss_of(const std::vector<Tensor<T>>& ps, const std::vector<Tensor<T>>& c, const std::vector<Tensor<T>>& d) {
  Tensor<T> total;
  for (size_t k = 0; k < ps.size(); ++k) {
    auto term = add(sum(mul(sin(ps[k]), c[k])), sum(mul(mul(ps[k], ps[k]), d[k])));
    total = k == 0 ? term : add(total, term);
  }
  return total;
}

template <typename T>
void replay(const json& tr) {
  const std::string label = tr.at("name").get<std::string>() + " (" + tr.at("dtype").get<std::string>() + ")";
  std::vector<Tensor<T>> params, c, d;
  for (const auto& p : tr.at("params")) params.push_back(tensor_of<T>(p).requires_grad_());
  for (const auto& t : tr.at("c")) c.push_back(tensor_of<T>(t));
  for (const auto& t : tr.at("d")) d.push_back(tensor_of<T>(t));
  auto opt = make_optimizer<T>(tr.at("optimizer"), tr.at("groups"), params);
  auto sched = make_scheduler<T>(*opt, tr.at("scheduler"));
  const auto& steps = tr.at("trajectory");
  for (size_t s = 0; s < steps.size(); ++s) {
    opt->zero_grad();
    loss_of(params, c, d).backward();
    opt->step();
    if (sched) sched->step();
    const std::string at = label + " after step " + std::to_string(s + 1);
    for (size_t k = 0; k < params.size(); ++k) check_tensor(at + ", parameter " + std::to_string(k), params[k], steps[s][k]);
    check_lrs(at, lrs_of(*opt), tr.at("lrs")[s]);
  }
}

}  // namespace

TEST_CASE("optim parity: SGD, Adam, AdamW, RMSprop trajectories match PyTorch step by step", "[optim][parity]") {
  json j = load_optim_fixture();
  const auto& trajectories = j.at("trajectories");
  REQUIRE(!trajectories.empty());
  std::set<std::string> optimizers;
  for (const auto& tr : trajectories) {
    const std::string dtype = tr.at("dtype");
    if (dtype == "float32") replay<float>(tr);
    else if (dtype == "float64") replay<double>(tr);
    else FAIL_CHECK(tr.at("name").get<std::string>() << ": unknown dtype '" << dtype << "'");
    optimizers.insert(tr.at("optimizer").get<std::string>());
  }
  CHECK(optimizers == std::set<std::string>{"SGD", "Adam", "AdamW", "RMSprop"});
}

TEST_CASE("optim parity: LR schedulers give PyTorch's learning rates epoch by epoch", "[optim][parity]") {
  json j = load_optim_fixture();
  const auto& schedules = j.at("schedules");
  REQUIRE(!schedules.empty());
  for (const auto& sc : schedules) {
    const std::string label = "schedule " + sc.at("name").get<std::string>();
    auto base = sc.at("base_lrs").get<std::vector<double>>();
    std::vector<optim::SGD<double>::Base::Group> groups;
    for (double lr : base) {
      optim::SGDOptions o;
      o.lr = lr;
      groups.push_back({{zeros<double>({2}).requires_grad_()}, o});
    }
    optim::SGD<double> opt(groups, groups.at(0).options);
    auto sched = make_scheduler<double>(opt, sc.at("scheduler"));
    const auto& lrs = sc.at("lrs");
    check_lrs(label + " at epoch 0", lrs_of(opt), lrs.at(0));
    for (size_t e = 1; e < lrs.size(); ++e) {
      opt.step();
      sched->step();
      check_lrs(label + " at epoch " + std::to_string(e), lrs_of(opt), lrs.at(e));
    }
    CHECK(sched->last_epoch() == static_cast<int64_t>(lrs.size()) - 1);
  }
}
