// Bad inputs throw latent::Error (AutogradError for backward-time failures) whose message
// names the op and spells out the offending shapes or values.
#include "helpers.hpp"

using namespace latent;
using Catch::Contains;

namespace {
TensorF z(const Shape& s) { return zeros<float>(s); }

// Matches an exception whose what() matches a string matcher.
struct WhatMatches : Catch::MatcherBase<Error> {
  explicit WhatMatches(const Catch::MatcherBase<std::string>& m) : m_(m) {}
  bool match(const Error& e) const override { return m_.match(e.what()); }
  std::string describe() const override { return "message " + m_.toString(); }
  const Catch::MatcherBase<std::string>& m_;
};
}  // namespace

// For expressions that must run once (a failed backward frees part of the graph).
#define REQUIRE_ERROR_ONCE(expr, type, matcher) REQUIRE_THROWS_MATCHES(expr, type, WhatMatches(matcher))

TEST_CASE("errors: mismatched broadcast shapes", "[errors]") {
  REQUIRE_ERROR(z({2, 3}) + z({4}), Contains("add: shapes [2, 3] and [4] cannot be broadcast together") &&
                                        Contains("3 vs 4"));
  REQUIRE_ERROR(z({2, 3}) * z({3, 2}), Contains("mul: shapes [2, 3] and [3, 2] cannot be broadcast"));
  REQUIRE_ERROR(z({2, 3}) - z({2, 2}), Contains("sub: shapes [2, 3] and [2, 2]"));
  REQUIRE_ERROR(z({5}) / z({0}), Contains("div: shapes [5] and [0]"));
  REQUIRE_ERROR(z({3}).pow(z({2})), Contains("pow: shapes [3] and [2]"));
  REQUIRE_ERROR(maximum(z({3}), z({2})), Contains("maximum: shapes [3] and [2]"));
  REQUIRE_ERROR(where(z({3}), z({3}), z({4})), Contains("where: shapes [3] and [4]"));
  REQUIRE_ERROR(z({2, 3}).expand({2, 4}), Contains("expand") && Contains("(4)") && Contains("(3)") &&
                                              Contains("[2, 4]") && Contains("[2, 3]"));
  REQUIRE_ERROR(z({2, 3}).expand({3}), Contains("expand") && Contains("[2, 3]"));
}

TEST_CASE("errors: matrix products", "[errors]") {
  REQUIRE_ERROR(z({2, 3}).mm(z({4, 5})), Contains("mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"));
  REQUIRE_ERROR(z({2, 3, 4}).mm(z({4, 5})), Contains("mm: expected 2-D tensors") && Contains("[2, 3, 4]"));
  REQUIRE_ERROR(z({2, 3}).matmul(z({4, 5})), Contains("shapes cannot be multiplied (2x3 and 4x5)"));
  REQUIRE_ERROR(scalar_tensor<float>(1).matmul(z({3})),
                Contains("matmul: both arguments need at least 1 dimension") && Contains("[]") && Contains("[3]"));
  REQUIRE_ERROR(z({3}).matmul(z({4})), Contains("matmul") && Contains("[3]") && Contains("[4]"));
  REQUIRE_ERROR(z({2, 2, 3}).matmul(z({2, 4, 2})),
                Contains("matmul: shapes [2, 2, 3] and [2, 4, 2] cannot be multiplied (2x3 and 4x2)"));
  REQUIRE_ERROR(z({2, 2, 3}).matmul(z({4, 2})), Contains("matmul: shapes [2, 2, 3] and [4, 2]"));
  REQUIRE_ERROR(z({2, 2, 3}).matmul(z({3, 3, 2})), Contains("matmul: shapes [2] and [3] cannot be broadcast"));
  REQUIRE_ERROR(z({2, 3}).bmm(z({2, 3, 4})), Contains("bmm: expected 3-D tensors") && Contains("[2, 3]") &&
                                                 Contains("[2, 3, 4]"));
  REQUIRE_ERROR(z({2, 2, 3}).bmm(z({3, 3, 2})), Contains("bmm: shapes [2, 2, 3] and [3, 3, 2] cannot be multiplied"));
  REQUIRE_ERROR(z({2, 2, 3}).bmm(z({2, 4, 2})), Contains("bmm: shapes [2, 2, 3] and [2, 4, 2]"));
  REQUIRE_ERROR(outer(z({2, 2}), z({2})), Contains("outer: expected 1-D tensors") && Contains("[2, 2]"));
  REQUIRE_ERROR(cdist(z({2, 3}), z({2, 4})), Contains("cdist: shapes [2, 3] and [2, 4]"));
  REQUIRE_ERROR(cdist(z({3}), z({3})), Contains("cdist") && Contains("[3]"));
}

TEST_CASE("errors: dims out of range", "[errors]") {
  auto x = z({2, 3});
  REQUIRE_ERROR(x.sum({2}), Contains("sum: dim 2 out of range for a tensor of rank 2 (expected in [-2, 1])"));
  REQUIRE_ERROR(x.sum({-3}), Contains("sum: dim -3 out of range"));
  REQUIRE_ERROR(x.sum({0, 0}), Contains("sum: dim 0 appears multiple times"));
  REQUIRE_ERROR(x.mean({5}), Contains("mean: dim 5 out of range"));
  REQUIRE_ERROR(x.var({2}), Contains("var: dim 2 out of range"));
  REQUIRE_ERROR(x.std({2}), Contains("std: dim 2 out of range"));
  REQUIRE_ERROR(x.amax({2}), Contains("amax: dim 2 out of range"));
  REQUIRE_ERROR(x.logsumexp({3}), Contains("logsumexp: dim 3 out of range"));
  REQUIRE_ERROR(x.norm(2, {2}), Contains("norm: dim 2 out of range"));
  REQUIRE_ERROR(x.norm(1, {2}), Contains("norm: dim 2 out of range"));
  REQUIRE_ERROR(x.norm(INFINITY, {-3}), Contains("norm: dim -3 out of range"));
  REQUIRE_ERROR(x.argmax(2), Contains("argmax: dim 2 out of range"));
  REQUIRE_ERROR(x.argmin(-3), Contains("argmin: dim -3 out of range"));
  REQUIRE_ERROR(max(x, 2), Contains("max: dim 2 out of range"));
  REQUIRE_ERROR(x.softmax(2), Contains("softmax: dim 2 out of range for a tensor of rank 2"));
  REQUIRE_ERROR(x.log_softmax(-3), Contains("log_softmax: dim -3 out of range"));
  REQUIRE_ERROR(x.transpose(0, 2), Contains("transpose: dim 2 out of range"));
  REQUIRE_ERROR(x.permute({0, 2}), Contains("permute: dim 2 out of range"));
  REQUIRE_ERROR(x.permute({0, 0}), Contains("permute: dim 0 repeated"));
  REQUIRE_ERROR(x.permute({0}), Contains("permute: number of dims (1) does not match the tensor's rank 2"));
  REQUIRE_ERROR(x.unsqueeze(3), Contains("unsqueeze: dim 3 out of range for a tensor of rank 3"));
  REQUIRE_ERROR(x.squeeze(2), Contains("squeeze: dim 2 out of range"));
  REQUIRE_ERROR(x.flatten(2), Contains("flatten: dim 2 out of range"));
  REQUIRE_ERROR(x.flatten(1, 0), Contains("flatten: start_dim 1 cannot come after end_dim 0"));
  REQUIRE_ERROR(x.size(2), Contains("size: dim 2 out of range"));
  REQUIRE_ERROR(x.select(2, 0), Contains("select: dim 2 out of range"));
  REQUIRE_ERROR(x.narrow(-3, 0, 1), Contains("narrow: dim -3 out of range"));
  REQUIRE_ERROR(x.split(1, 2), Contains("split: dim 2 out of range"));
  REQUIRE_ERROR(x.chunk(2, 5), Contains("chunk: dim 5 out of range"));
  REQUIRE_ERROR(cat(std::vector<TensorF>{x, x}, 2), Contains("cat: dim 2 out of range"));
  REQUIRE_ERROR(stack(std::vector<TensorF>{x, x}, 3), Contains("stack: dim 3 out of range"));
  REQUIRE_ERROR(gather(x, 2, zeros<int64_t>({2, 3})), Contains("gather: dim 2 out of range"));
  REQUIRE_ERROR(index_select(x, 2, zeros<int64_t>({1})), Contains("index_select: dim 2 out of range"));
  REQUIRE_ERROR(z({3, 2, 2}).t(), Contains("t: expects a tensor with <= 2 dimensions") && Contains("[3, 2, 2]"));
}

TEST_CASE("errors: indices out of range", "[errors]") {
  auto x = z({2, 3});
  REQUIRE_ERROR(gather(x, 1, tensor<int64_t>({0, 3}, {2, 1})),
                Contains("gather: index 3 is out of bounds for dimension 1 with size 3"));
  REQUIRE_ERROR(gather(x, 0, tensor<int64_t>({-3}, {1, 1})),
                Contains("gather: index -3 is out of bounds for dimension 0 with size 2"));
  REQUIRE_ERROR(gather(x, 1, zeros<int64_t>({2})),
                Contains("gather: index tensor must have the same number of dimensions") && Contains("[2]") &&
                    Contains("[2, 3]"));
  REQUIRE_ERROR(gather(x, 1, zeros<int64_t>({3, 1})), Contains("gather: index shape [3, 1] exceeds input shape [2, 3]"));
  REQUIRE_ERROR(scatter_add(x, 1, tensor<int64_t>({5, 0}, {2, 1}), z({2, 1})),
                Contains("scatter_add: index 5 is out of bounds for dimension 1 with size 3"));
  REQUIRE_ERROR(scatter_add(x, 1, zeros<int64_t>({2, 1}), z({2, 2})),
                Contains("scatter_add: src shape [2, 2] must match index shape [2, 1]"));
  REQUIRE_ERROR(index_select(x, 0, tensor<int64_t>({0, 2})),
                Contains("index_select: index 2 is out of bounds for dimension 0 with size 2"));
  REQUIRE_ERROR(index_select(x, 1, tensor<int64_t>({-4})),
                Contains("index_select: index -4 is out of bounds for dimension 1 with size 3"));
  REQUIRE_ERROR(index_select(x, 0, zeros<int64_t>({1, 1})), Contains("index_select: index must be 0-D or 1-D") &&
                                                                 Contains("[1, 1]"));
  REQUIRE_ERROR(index_add(x, 1, tensor<int64_t>({3}), z({2, 1})),
                Contains("index_add: index 3 is out of bounds for dimension 1 with size 3"));
  REQUIRE_ERROR(index_add(x, 1, tensor<int64_t>({0}), z({2, 2})),
                Contains("index_add: src shape [2, 2] does not match [2, 1]"));
  REQUIRE_ERROR(x.select(0, 2), Contains("select: index 2 out of range for dimension 0 of size 2 (shape [2, 3])"));
  REQUIRE_ERROR(x.select(1, -4), Contains("select: index -4 out of range for dimension 1 of size 3"));
  REQUIRE_ERROR(x[5], Contains("select: index 5 out of range"));
  REQUIRE_ERROR(x.narrow(1, 2, 2), Contains("narrow: start 2 + length 2 exceeds dimension 1 of size 3 (shape [2, 3])"));
  REQUIRE_ERROR(x.narrow(0, -3, 1), Contains("narrow: start -3") && Contains("dimension 0 of size 2"));
  REQUIRE_ERROR(x.at({2, 0}), Contains("at: index 2 out of range for dim 0 of shape [2, 3]"));
  REQUIRE_ERROR(x.at({0}), Contains("at: expected 2 indices for shape [2, 3], got 1"));
  REQUIRE_ERROR(one_hot(tensor<int64_t>({0, 3, 1}), 3), Contains("one_hot: class index 3 out of range [0, 3)"));
  REQUIRE_ERROR(one_hot(tensor<int64_t>({0, -1}), 3), Contains("one_hot: class index -1 out of range [0, 3)"));
  REQUIRE_ERROR(one_hot(zeros<int64_t>({0})), Contains("one_hot: cannot infer num_classes"));
}

TEST_CASE("errors: views and reshapes", "[errors]") {
  auto x = z({2, 3});
  REQUIRE_ERROR(x.view({4}), Contains("view: shape [4] is invalid for input of shape [2, 3] (6 elements)"));
  REQUIRE_ERROR(x.t().view({6}), Contains("view: size [6] is not compatible with input of shape [3, 2]") &&
                                     Contains("strides [1, 3]") && Contains("reshape"));
  REQUIRE_ERROR(x.reshape({-1, -1}), Contains("reshape: only one dimension can be inferred in shape [-1, -1]"));
  REQUIRE_ERROR(x.view({-1, 2, -1}), Contains("view: only one dimension can be inferred"));
  REQUIRE_ERROR(x.reshape({4, -1}), Contains("reshape: shape [4, -1] is invalid for input of shape [2, 3]"));
  REQUIRE_ERROR(x.reshape({7}), Contains("reshape: shape [7] is invalid for input of shape [2, 3] (6 elements)"));
  REQUIRE_ERROR(x.reshape({-2, -3}), Contains("reshape: invalid extent -2"));
  REQUIRE_ERROR(z({0, 3}).reshape({0, -1}), Contains("reshape: shape [0, -1] is invalid for input of shape [0, 3]"));
  REQUIRE_ERROR(x.slice(1, 0, 3, 0), Contains("slice: step must be positive, got 0"));
  REQUIRE_ERROR(x.split(0), Contains("split: split_size must be positive, got 0"));
  REQUIRE_ERROR(x.chunk(0), Contains("chunk: number of chunks must be positive, got 0"));
  REQUIRE_ERROR(zeros<float>({2, -1}), Contains("negative extent in shape [2, -1]"));
  REQUIRE_ERROR((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), Contains("rank above the maximum of 8"));
  auto s = scalar_tensor<float>(1);
  REQUIRE_ERROR(s.narrow(0, 0, 1), Contains("narrow: cannot be applied to a 0-dim tensor"));
  REQUIRE_ERROR(s.select(0, 0), Contains("select: cannot be applied to a 0-dim tensor"));
  REQUIRE_ERROR(s.slice(0, 0, 1), Contains("slice: cannot be applied to a 0-dim tensor"));
  REQUIRE_ERROR(s.split(1), Contains("split: expects at least a 1-dimensional tensor"));
  REQUIRE_ERROR(s.chunk(1), Contains("chunk: expects at least a 1-dimensional tensor"));
}

TEST_CASE("errors: joining and padding", "[errors]") {
  REQUIRE_ERROR(cat(std::vector<TensorF>{z({2, 3}), z({2, 4})}, 0),
                Contains("cat: sizes of tensors must match except in dimension 0") &&
                    Contains("expected 3 but got 4 in dimension 1 for tensor 1") && Contains("[2, 3]") &&
                    Contains("[2, 4]"));
  REQUIRE_ERROR(cat(std::vector<TensorF>{z({2, 3}), z({3})}, 0),
                Contains("cat: tensor 1 has 1 dims (shape [3]) but tensor 0 has 2 (shape [2, 3])"));
  REQUIRE_ERROR(cat(std::vector<TensorF>{}, 0), Contains("cat: expected a non-empty list"));
  REQUIRE_ERROR(cat(std::vector<TensorF>{scalar_tensor<float>(1), scalar_tensor<float>(2)}, 0),
                Contains("cat: zero-dimensional tensors (shape []) cannot be concatenated"));
  REQUIRE_ERROR(stack(std::vector<TensorF>{z({2, 3}), z({3, 2})}, 0),
                Contains("stack: expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] at entry 1"));
  REQUIRE_ERROR(pad(z({2, 3}), {1}), Contains("pad: padding length 1 must be even") && Contains("[2, 3]"));
  REQUIRE_ERROR(pad(z({3}), {1, 1, 1, 1}), Contains("pad: padding length 4") && Contains("[3]"));
  REQUIRE_ERROR(pad(z({2, 3}), {-2, -2}), Contains("pad: resulting size of dim 1 would be negative") &&
                                              Contains("[2, 3]"));
}

TEST_CASE("errors: bad op arguments", "[errors]") {
  auto x = z({2, 3});
  REQUIRE_ERROR(x.clamp(1, 0), Contains("clamp: min 1 is greater than max 0"));
  REQUIRE_ERROR(x.norm(3), Contains("norm: p must be 1, 2 or inf, got 3"));
  REQUIRE_ERROR(gelu(x, "fast"), Contains("gelu: approximate must be 'none' or 'tanh', got 'fast'"));
  REQUIRE_ERROR(z({0, 3}).mean(), Contains("mean: cannot take the mean of an empty reduction (shape [0, 3])"));
  REQUIRE_ERROR(z({0, 3}).amax({1}), Contains("amax: expected a non-empty tensor (shape [0, 3])"));
  REQUIRE_ERROR(max(z({2, 0}), 1), Contains("max: cannot reduce over a zero-size dimension 1 (shape [2, 0])"));
  REQUIRE_ERROR(arange<float>(0, 5, 0), Contains("arange: step must be nonzero"));
  REQUIRE_ERROR(arange<float>(5, 0, 1), Contains("arange: upper bound 0 and lower bound 5 inconsistent"));
  REQUIRE_ERROR(from_vector<float>({1, 2, 3}, {2, 2}), Contains("from_vector: 3 values do not fill shape [2, 2]"));
  REQUIRE_ERROR(randint(3, 3, {2}), Contains("randint: expected low < high, got low=3 high=3"));
  REQUIRE_ERROR(bernoulli<float>({2}, 1.5), Contains("bernoulli: probability 1.5 outside [0, 1]"));
}

TEST_CASE("errors: item on a tensor that is not one element", "[errors]") {
  REQUIRE_ERROR(z({2, 3}).item(), Contains("item: a Tensor with 6 elements (shape [2, 3]) cannot be converted to a scalar"));
  REQUIRE_ERROR(z({0}).item(), Contains("item: a Tensor with 0 elements (shape [0])"));
  REQUIRE(z({1, 1}).item() == 0.0f);
}

TEST_CASE("errors: backward misuse", "[errors][autograd]") {
  auto x = tensor<double>({1, 2, 3}).requires_grad_();
  auto y = x * 2.0;
  REQUIRE_ERROR(y.backward(), Contains("backward: grad can be implicitly created only for scalar outputs") &&
                                  Contains("[3]"));
  REQUIRE_ERROR(y.backward(ones<double>({2})),
                Contains("backward: gradient of shape [2] does not match output 0 of shape [3]"));
  REQUIRE_ERROR(zeros<double>({2}).sum().backward(),
                Contains("backward: tensor of shape [] does not require grad and does not have a grad_fn"));
  REQUIRE_ERROR(autograd::grad<double>({y}, {x}), Contains("grad: grad can be implicitly created only for scalar "
                                                           "outputs; output 0 has shape [3]"));
  REQUIRE_ERROR(autograd::grad<double>({y.sum()}, {zeros<double>({3})}),
                Contains("grad: input 0 (shape [3]) does not require grad"));
  REQUIRE_ERROR(y.requires_grad_(false), Contains("requires_grad_: you can only change requires_grad flags of leaf"));
}

TEST_CASE("errors: backward twice without retain_graph", "[errors][autograd]") {
  auto x = tensor<double>({1, 2}).requires_grad_();
  auto y = (x.exp() * x).sum();
  y.backward();
  REQUIRE_THROWS_AS(y.backward(), AutogradError);
  REQUIRE_ERROR(y.backward(), Contains("backward of 'sum'") && Contains("second time") && Contains("retain_graph"));
  // With retain_graph the second pass works and accumulates.
  auto x2 = tensor<double>({1, 2}).requires_grad_();
  auto y2 = (x2 * x2).sum();
  y2.backward(Tensor<double>(), true);
  y2.backward();
  REQUIRE(x2.grad().to_vector() == std::vector<double>{4, 8});
  // autograd::grad frees the graph too unless asked not to.
  auto x3 = tensor<double>({1, 2}).requires_grad_();
  auto y3 = (x3 * x3).sum();
  autograd::grad<double>({y3}, {x3});
  REQUIRE_THROWS_AS(autograd::grad<double>({y3}, {x3}), AutogradError);
}

TEST_CASE("errors: in-place on a leaf that requires grad", "[errors][inplace]") {
  auto leaf = ones<double>({2}).requires_grad_();
  auto other = ones<double>({2});
  REQUIRE_ERROR(leaf.add_(1.0), Contains("add_: a leaf tensor that requires grad (shape [2]) is being used in an "
                                         "in-place operation"));
  REQUIRE_ERROR(leaf.mul_(other), Contains("mul_: a leaf tensor that requires grad (shape [2])"));
  REQUIRE_ERROR(leaf.sub_(other), Contains("sub_: a leaf tensor"));
  REQUIRE_ERROR(leaf.div_(other), Contains("div_: a leaf tensor"));
  REQUIRE_ERROR(leaf.copy_(other), Contains("copy_: a leaf tensor"));
  REQUIRE_ERROR(leaf.clamp_(0, 1), Contains("clamp_: a leaf tensor"));
  REQUIRE_ERROR(leaf.relu_(), Contains("a leaf tensor that requires grad"));
  REQUIRE_ERROR(leaf.fill_(0), Contains("fill_: a leaf tensor that requires grad (shape [2])"));
  REQUIRE_ERROR(leaf.zero_(), Contains("a leaf tensor that requires grad"));
  REQUIRE(leaf.to_vector() == std::vector<double>{1, 1});  // nothing was written
  REQUIRE(leaf.version() == 0);
  {
    NoGradGuard no_grad;  // an optimizer step
    leaf.add_(1.0);
    leaf.zero_();
  }
  REQUIRE(leaf.to_vector() == std::vector<double>{0, 0});
}

TEST_CASE("errors: in-place on a view while recording", "[errors][inplace]") {
  auto x = tensor<double>({1, 2, 3}).requires_grad_();
  auto a = x * 2.0;
  REQUIRE_ERROR(a[0].add_(1.0), Contains("add_: in-place operation on a view (shape [])"));
  REQUIRE_ERROR(a.narrow(0, 0, 2).mul_(ones<double>({2})), Contains("mul_: in-place operation on a view (shape [2])"));
  // fill_/zero_ as well: overwriting part of `a` behind its graph's back would give wrong gradients.
  REQUIRE_ERROR(a.narrow(0, 1, 2).fill_(0), Contains("fill_: in-place operation on a view (shape [2])"));
  REQUIRE_ERROR(x[0].zero_(), Contains("in-place operation on a view (shape [])"));
  REQUIRE(x.to_vector() == std::vector<double>{1, 2, 3});
  REQUIRE(a.to_vector() == std::vector<double>{2, 4, 6});
}

TEST_CASE("errors: in-place change of a saved tensor is detected at backward", "[errors][inplace]") {
  SECTION("input saved by mul") {
    auto x = tensor<double>({1, 2}).requires_grad_();
    auto a = x * 2.0;
    auto b = a * a;
    a.mul_(3.0);
    REQUIRE_THROWS_AS(b.sum().backward(), AutogradError);
    REQUIRE_ERROR(b.sum().backward(), Contains("backward of 'mul'") && Contains("modified by an inplace operation") &&
                                          Contains("tensor of shape [2] is at version 1; expected version 0"));
  }
  SECTION("leaf changed under no_grad after use") {
    auto x = tensor<double>({1, 2}).requires_grad_();
    auto y = x.exp().sum();
    {
      NoGradGuard no_grad;
      x.add_(1.0);
    }
    REQUIRE_ERROR_ONCE(y.backward(), AutogradError,
                       Contains("backward of 'exp'") && Contains("modified by an inplace operation"));
  }
  SECTION("output saved by tanh") {
    auto x = tensor<double>({1, 2}).requires_grad_();
    auto y = (x * 1.0).tanh();
    y.mul_(2.0);
    REQUIRE_ERROR_ONCE(y.sum().backward(), AutogradError,
                       Contains("backward of 'tanh'") && Contains("modified by an inplace operation"));
  }
  SECTION("through a view of the saved tensor") {
    auto x = tensor<double>({1, 2}).requires_grad_();
    auto a = x * 1.0;
    auto y = a.sin().sum();
    {
      NoGradGuard no_grad;
      a[1].fill_(5);
    }
    REQUIRE_ERROR_ONCE(y.backward(), AutogradError,
                       Contains("backward of 'sin'") && Contains("modified by an inplace operation"));
  }
}

TEST_CASE("errors: in-place output shape must match", "[errors][inplace]") {
  auto a = z({3});
  REQUIRE_ERROR(a.add_(z({2, 3})), Contains("add_: output with shape [3] doesn't match the broadcast shape [2, 3]"));
  REQUIRE_ERROR(a.mul_(z({2})), Contains("mul_: shapes [3] and [2] cannot be broadcast"));
  REQUIRE_ERROR(a.copy_(z({4})), Contains("copy_: shapes [3] and [4] cannot be broadcast"));
  REQUIRE_ERROR(a.copy_(z({2, 3})), Contains("copy_: output with shape [3] doesn't match the broadcast shape [2, 3]"));
}

TEST_CASE("errors: CUDA without the CUDA backend", "[errors][device]") {
  if (cuda::is_compiled()) {
    WARN("latent::cuda is linked into this test program; nothing to check");
    return;
  }
  auto x = tensor<float>({1, 2, 3});
  REQUIRE_ERROR(x.to(Device("cuda:0")), Contains("CUDA backend not available") && Contains("latent::cuda"));
  REQUIRE_ERROR(x.cuda(), Contains("latent::cuda"));
  REQUIRE_ERROR(zeros<float>({2}, Device("cuda")), Contains("latent::cuda"));
  REQUIRE_ERROR(cuda::synchronize(), Contains("latent::cuda"));
  REQUIRE(cuda::device_count() == 0);
  REQUIRE_FALSE(cuda::is_available());
  REQUIRE(x.to(Device("cpu")).is_same(x));
}

TEST_CASE("errors: Device parsing", "[errors][device]") {
  REQUIRE(Device("cpu") == kCPU);
  REQUIRE(Device("cuda") == Device(DeviceType::CUDA, 0));
  REQUIRE(Device("cuda:3").index == 3);
  REQUIRE(Device("cuda:12").str() == "cuda:12");
  for (const char* bad : {"gpu", "", "CPU", "cuda0", "cuda:", "cuda:x", "cuda:-1", "cuda:1a", "cuda: 1", "cpu:0x"}) {
    INFO("device string '" << bad << "'");
    REQUIRE_ERROR(Device(bad), Contains(std::string("Device: cannot parse '") + bad + "'") &&
                                   Contains("expected cpu, cuda or cuda:N"));
  }
  REQUIRE_ERROR(Device("cuda:99999999999999999999"), Contains("Device: cannot parse 'cuda:99999999999999999999'"));
  REQUIRE_ERROR(Device(std::string("cuda:4294967297")), Contains("Device: cannot parse"));
}
