// PyTorch parity of the loss functions (nn/functional/loss.hpp), every loss with every
// reduction; cases in scripts/fixture_cases/loss.py, harness and tolerances in parity.hpp.
#include <latent/nn/functional/loss.hpp>

#include "parity.hpp"

using namespace latent;
using namespace latent::parity;
namespace F = latent::nn::functional;

namespace {

// Optional tensor inputs follow the required ones; args say which are present.
template <typename C>
auto optional_x(const C& c, const char* flag, size_t k) {
  return c.b(flag) ? c.x(k) : Tensor<ValueOf(c)>();
}

// clang-format off
const OpTable& loss_ops() {
  static const OpTable table = {
    {"mse_loss",       both([](auto& c) { return F::mse_loss(c.x(0), c.x(1), c.s("reduction")); })},
    {"l1_loss",        both([](auto& c) { return F::l1_loss(c.x(0), c.x(1), c.s("reduction")); })},
    {"smooth_l1_loss", both([](auto& c) { return F::smooth_l1_loss(c.x(0), c.x(1), c.s("reduction"), c.d("beta")); })},
    {"huber_loss",     both([](auto& c) { return F::huber_loss(c.x(0), c.x(1), c.s("reduction"), c.d("delta")); })},
    {"binary_cross_entropy", both([](auto& c) {
       return F::binary_cross_entropy(c.x(0), c.x(1), optional_x(c, "weighted", 2), c.s("reduction")); })},
    {"binary_cross_entropy_with_logits", both([](auto& c) {
       size_t pw = c.b("weighted") ? 3 : 2;
       return F::binary_cross_entropy_with_logits(c.x(0), c.x(1), optional_x(c, "weighted", 2), c.s("reduction"),
                                                  optional_x(c, "pos_weighted", pw)); })},
    {"cross_entropy", both([](auto& c) {
       return F::cross_entropy(c.x(0), c.idx(0), optional_x(c, "weighted", 1), c.i("ignore_index"), c.s("reduction"),
                               c.d("label_smoothing")); })},
    {"cross_entropy_probs", both([](auto& c) {
       return F::cross_entropy(c.x(0), c.x(1), optional_x(c, "weighted", 2), -100, c.s("reduction"),
                               c.d("label_smoothing")); })},
    {"nll_loss", both([](auto& c) {
       return F::nll_loss(c.x(0), c.idx(0), optional_x(c, "weighted", 1), c.i("ignore_index"), c.s("reduction")); })},
    {"kl_div", both([](auto& c) { return F::kl_div(c.x(0), c.x(1), c.s("reduction"), c.b("log_target")); })},
  };
  return table;
}
// clang-format on

const Family kLoss{"loss", loss_ops};

}  // namespace

TEST_CASE("parity: loss functions match PyTorch (values and gradients, every reduction)", "[parity][loss]") {
  CHECK(run_family("loss") > 0);
}
