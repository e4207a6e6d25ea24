// PyTorch parity of normalisation and embedding (cases: scripts/fixture_cases/norm.py;
// harness and tolerances: parity.hpp). Running statistics after a training step are extra
// outputs, compared like values (they carry no gradient in either library). The default
// float tolerance holds: statistics are summed in double, and every case normalises at
// most a few hundred O(1) values.
#include <latent/nn/embedding.hpp>
#include <latent/nn/norm.hpp>

#include "parity.hpp"

using namespace latent;
using namespace latent::parity;
namespace fn = latent::nn::functional;

namespace {

template <typename C>
std::optional<int64_t> optional_int(const C& c, const char* key) {
  if (c.arg(key).is_null()) return std::nullopt;
  return c.i(key);
}

// batch_norm or instance_norm in training: (y, running_mean, running_var after the step).
template <typename C, typename Norm>
auto with_running(C& c, const Tensor<ValueOf(c)>& w, const Tensor<ValueOf(c)>& b, size_t stats_at, Norm norm) {
  using T = ValueOf(c);
  auto rm = c.x(stats_at).clone(), rv = c.x(stats_at + 1).clone();
  auto y = norm(rm, rv, w, b);
  return std::vector<Tensor<T>>{y, rm, rv};
}

// clang-format off
const OpTable& norm_ops() {
  static const OpTable table = {
    {"batch_norm_train",           both([](auto& c) {
       return with_running(c, c.x(1), c.x(2), 3, [&](auto rm, auto rv, auto w, auto b) {
         return fn::batch_norm(c.x(0), rm, rv, w, b, true, c.d("momentum"), c.d("eps")); }); })},
    {"batch_norm_train_no_affine", both([](auto& c) {
       return with_running(c, {}, {}, 1, [&](auto rm, auto rv, auto w, auto b) {
         return fn::batch_norm(c.x(0), rm, rv, w, b, true, c.d("momentum"), c.d("eps")); }); })},
    {"batch_norm_batch_stats",     both([](auto& c) {
       return fn::batch_norm(c.x(0), {}, {}, c.x(1), c.x(2), true, 0.1, c.d("eps")); })},
    {"batch_norm_eval",            both([](auto& c) {
       return fn::batch_norm(c.x(0), c.x(3), c.x(4), c.x(1), c.x(2), false, 0.1, c.d("eps")); })},
    {"batch_norm2d_module_steps",  both([](auto& c) {
       using T = ValueOf(c);
       nn::BatchNorm2d<T> m(c.x(0).shape()[1], 1e-5, std::nullopt);
       {
         NoGradGuard no_grad;
         m.weight.copy_(c.x(2));
         m.bias.copy_(c.x(3));
       }
       m.forward(c.x(0));
       auto y_train = m.forward(c.x(1));
       m.eval();
       auto y_eval = m.forward(c.x(0));
       return std::vector<Tensor<T>>{y_train, y_eval, m.running_mean.clone(), m.running_var.clone()}; })},
    {"instance_norm",              both([](auto& c) {
       return fn::instance_norm(c.x(0), {}, {}, c.x(1), c.x(2), true, 0.1, c.d("eps")); })},
    {"instance_norm_plain",        both([](auto& c) { return fn::instance_norm(c.x(0), {}, {}, {}, {}, true, 0.1, c.d("eps")); })},
    {"instance_norm_running",      both([](auto& c) {
       return with_running(c, c.x(1), c.x(2), 3, [&](auto rm, auto rv, auto w, auto b) {
         return fn::instance_norm(c.x(0), rm, rv, w, b, true, c.d("momentum"), c.d("eps")); }); })},
    {"instance_norm_eval",         both([](auto& c) {
       return fn::instance_norm(c.x(0), c.x(3), c.x(4), c.x(1), c.x(2), false, 0.1, c.d("eps")); })},
    {"instance_norm2d_module",     both([](auto& c) { return nn::InstanceNorm2d<ValueOf(c)>(3).forward(c.x(0)); })},
    {"group_norm",                 both([](auto& c) {
       return fn::group_norm(c.x(0), c.i("num_groups"), c.x(1), c.x(2), c.d("eps")); })},
    {"group_norm_plain",           both([](auto& c) { return fn::group_norm(c.x(0), c.i("num_groups"), {}, {}, c.d("eps")); })},
    {"layer_norm",                 both([](auto& c) {
       return fn::layer_norm(c.x(0), c.shape("normalized_shape"), c.x(1), c.x(2), c.d("eps")); })},
    {"layer_norm_plain",           both([](auto& c) { return fn::layer_norm(c.x(0), c.shape("normalized_shape"), {}, {}, c.d("eps")); })},
    {"layer_norm_weight_only",     both([](auto& c) {
       return fn::layer_norm(c.x(0), c.shape("normalized_shape"), c.x(1), {}, c.d("eps")); })},
    {"embedding",                  both([](auto& c) { return fn::embedding(c.idx(0), c.x(0), optional_int(c, "padding_idx")); })},
  };
  return table;
}
// clang-format on

const Family kNorm{"norm", norm_ops};

}  // namespace

TEST_CASE("parity: batch/instance/group/layer norm (with running stats) and embedding match PyTorch",
          "[parity][norm]") {
  CHECK(run_family("norm") > 0);
}
