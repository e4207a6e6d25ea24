// PyTorch parity of pooling and resampling (cases: scripts/fixture_cases/pooling.py;
// harness and tolerances: parity.hpp). The default float tolerance holds: every output is
// a short sum (a window, or two interpolation taps per dim) of O(1) values.
#include <latent/nn/pooling.hpp>

#include "parity.hpp"

using namespace latent;
using namespace latent::parity;
namespace fn = latent::nn::functional;

namespace {

template <typename C>
IntPair optional_pair_arg(const C& c, const char* key) {
  if (c.arg(key).is_null()) return {};
  return pair_arg(c, key);
}
template <typename C>
fn::InterpolateOptions interpolate_args(const C& c) {
  fn::InterpolateOptions o;
  if (!c.arg("size").is_null()) o.size = c.ints("size");
  if (!c.arg("scale_factor").is_null()) o.scale_factor = c.arg("scale_factor").template get<std::vector<double>>();
  o.mode = c.s("mode");
  if (!c.arg("align_corners").is_null()) o.align_corners = c.b("align_corners");
  if (!c.arg("recompute_scale_factor").is_null()) o.recompute_scale_factor = c.b("recompute_scale_factor");
  return o;
}

// clang-format off
const OpTable& pooling_ops() {
  static const OpTable table = {
    {"max_pool2d",          both([](auto& c) {
       return fn::max_pool2d_with_indices(c.x(0), pair_arg(c, "kernel"), optional_pair_arg(c, "stride"),
                                          pair_arg(c, "padding"), pair_arg(c, "dilation"), c.b("ceil_mode")); })},
    {"avg_pool2d",          both([](auto& c) {
       std::optional<int64_t> divisor;
       if (!c.arg("divisor_override").is_null()) divisor = c.i("divisor_override");
       return fn::avg_pool2d(c.x(0), pair_arg(c, "kernel"), optional_pair_arg(c, "stride"), pair_arg(c, "padding"),
                             c.b("ceil_mode"), c.b("count_include_pad"), divisor); })},
    {"adaptive_avg_pool2d", both([](auto& c) { return fn::adaptive_avg_pool2d(c.x(0), pair_arg(c, "output_size")); })},
    {"interpolate",         both([](auto& c) { return fn::interpolate(c.x(0), interpolate_args(c)); })},
    {"pixel_shuffle",       both([](auto& c) { return fn::pixel_shuffle(c.x(0), c.i("factor")); })},
    {"pixel_unshuffle",     both([](auto& c) { return fn::pixel_unshuffle(c.x(0), c.i("factor")); })},
  };
  return table;
}
// clang-format on

const Family kPooling{"pooling", pooling_ops};

}  // namespace

TEST_CASE("parity: max/avg/adaptive pooling, interpolate, pixel shuffle match PyTorch", "[parity][pooling]") {
  CHECK(run_family("pooling") > 0);
}
