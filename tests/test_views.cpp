// Shapes, strides and storage sharing of views; contiguous/reshape copies; broadcasting;
// slicing, select/narrow bounds, split/chunk sizes (as PyTorch's); printing views.
#include "helpers.hpp"

using namespace latent;

namespace {
// 0, 1, ..., n-1 reshaped to `shape`.
TensorF iota(const Shape& shape) { return arange<float>(static_cast<double>(shape.numel())).reshape(shape); }

bool shares_storage(const TensorF& a, const TensorF& b) { return a.storage() == b.storage(); }

std::string str(const TensorF& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

std::vector<int64_t> sizes_along(const std::vector<TensorF>& parts, int dim) {
  std::vector<int64_t> s;
  for (const auto& p : parts) s.push_back(p.shape()[dim]);
  return s;
}
}  // namespace

TEST_CASE("views: shapes, strides and offsets of every view op", "[views]") {
  auto x = iota({2, 3, 4});
  REQUIRE(x.strides() == Strides{12, 4, 1});
  REQUIRE_FALSE(zeros<float>({2, 3}).is_view());
  REQUIRE_FALSE(x.clone().is_view());

  SECTION("view / reshape / flatten") {
    auto v = x.view({6, 4});
    CHECK(v.shape() == Shape{6, 4});
    CHECK(v.strides() == Strides{4, 1});
    CHECK(v.is_view());
    auto r = x.reshape({4, -1});
    CHECK(r.shape() == Shape{4, 6});
    CHECK(r.strides() == Strides{6, 1});
    auto f = x.flatten();
    CHECK(f.shape() == Shape{24});
    CHECK(f.strides() == Strides{1});
    auto f1 = x.flatten(1);
    CHECK(f1.shape() == Shape{2, 12});
    CHECK(f1.strides() == Strides{12, 1});
    auto f01 = x.flatten(0, 1);
    CHECK(f01.shape() == Shape{6, 4});
    auto f2 = x.flatten(-1);
    CHECK(f2.shape() == Shape{2, 3, 4});
    for (auto* t : {&v, &r, &f, &f1, &f01}) CHECK(shares_storage(*t, x));
  }
  SECTION("permute / transpose / t") {
    auto p = x.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.strides() == Strides{1, 12, 4});
    CHECK_FALSE(p.is_contiguous());
    CHECK(p.at({3, 1, 2}) == x.at({1, 2, 3}));
    auto q = x.permute({-1, 1, 0});
    CHECK(q.shape() == Shape{4, 3, 2});
    CHECK(q.strides() == Strides{1, 4, 12});
    auto tr = x.transpose(0, 2);
    CHECK(tr.shape() == Shape{4, 3, 2});
    CHECK(tr.strides() == Strides{1, 4, 12});
    auto tr2 = x.transpose(-1, -2);
    CHECK(tr2.shape() == Shape{2, 4, 3});
    CHECK(tr2.strides() == Strides{12, 1, 4});
    auto m = iota({2, 3});
    CHECK(m.t().shape() == Shape{3, 2});
    CHECK(m.t().strides() == Strides{1, 3});
    auto row = iota({3});
    CHECK(row.t().is_same(row));  // 1-D: t() is the identity
    for (auto* t : {&p, &q, &tr, &tr2}) CHECK(shares_storage(*t, x));
  }
  SECTION("unsqueeze / squeeze") {
    auto u0 = x.unsqueeze(0);
    CHECK(u0.shape() == Shape{1, 2, 3, 4});
    CHECK(u0.strides() == Strides{24, 12, 4, 1});
    auto u1 = x.unsqueeze(1);
    CHECK(u1.shape() == Shape{2, 1, 3, 4});
    CHECK(u1.strides() == Strides{12, 12, 4, 1});
    auto u3 = x.unsqueeze(-1);
    CHECK(u3.shape() == Shape{2, 3, 4, 1});
    CHECK(u3.strides() == Strides{12, 4, 1, 1});
    CHECK(u1.squeeze(1).shape() == Shape{2, 3, 4});
    CHECK(u1.squeeze(1).strides() == Strides{12, 4, 1});
    CHECK(u1.squeeze(0).shape() == Shape{2, 1, 3, 4});  // not size 1: unchanged
    CHECK(iota({1, 3, 1}).squeeze().shape() == Shape{3});
    CHECK(iota({1, 1}).squeeze().shape() == Shape{});
    // squeeze of a non-contiguous tensor keeps the strides of the kept dims.
    auto pt = x.permute({2, 0, 1}).unsqueeze(2);
    CHECK(pt.squeeze().shape() == Shape{4, 2, 3});
    CHECK(pt.squeeze().strides() == Strides{1, 12, 4});
    CHECK(shares_storage(pt.squeeze(), x));
  }
  SECTION("expand") {
    auto c = iota({3, 1});
    auto e = c.expand({2, 3, 4});
    CHECK(e.shape() == Shape{2, 3, 4});
    CHECK(e.strides() == Strides{0, 1, 0});
    CHECK(e.at({1, 2, 3}) == 2.0f);
    CHECK(shares_storage(e, c));
    auto e2 = c.expand({-1, 5});
    CHECK(e2.shape() == Shape{3, 5});
    CHECK(e2.strides() == Strides{1, 0});
    auto s = scalar_tensor<float>(4.0f).expand({2, 3});
    CHECK(s.strides() == Strides{0, 0});
    CHECK(s.to_vector() == std::vector<float>(6, 4.0f));
    auto z = iota({1}).expand({0});
    CHECK(z.shape() == Shape{0});
    CHECK(c.expand_as(iota({2, 3, 2})).shape() == Shape{2, 3, 2});
  }
  SECTION("narrow / slice / select / operator[]") {
    auto n = x.narrow(1, 1, 2);
    CHECK(n.shape() == Shape{2, 2, 4});
    CHECK(n.strides() == Strides{12, 4, 1});
    CHECK(n.offset() == 4);
    CHECK_FALSE(n.is_contiguous());
    auto s = x.slice(2, 0, 4, 2);
    CHECK(s.shape() == Shape{2, 3, 2});
    CHECK(s.strides() == Strides{12, 4, 2});
    CHECK(s.offset() == 0);
    auto s2 = x.slice(2, 1, 4, 2);
    CHECK(s2.offset() == 1);
    CHECK(s2.to_vector()[0] == 1.0f);
    auto sel = x.select(1, -1);
    CHECK(sel.shape() == Shape{2, 4});
    CHECK(sel.strides() == Strides{12, 1});
    CHECK(sel.offset() == 8);
    auto row = x[1];
    CHECK(row.shape() == Shape{3, 4});
    CHECK(row.offset() == 12);
    CHECK(row.is_contiguous());
    auto elem = x[1][2][3];
    CHECK(elem.dim() == 0);
    CHECK(elem.item() == 23.0f);
    for (auto* t : {&n, &s, &s2, &sel, &row}) CHECK(shares_storage(*t, x));
  }
  SECTION("split / chunk are views") {
    auto parts = x.split(2, 2);
    REQUIRE(parts.size() == 2);
    CHECK(parts[1].offset() == 2);
    CHECK(parts[1].strides() == Strides{12, 4, 1});
    CHECK(shares_storage(parts[1], x));
    auto chunks = x.chunk(3, 1);
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[2].offset() == 8);
    CHECK(chunks[2].shape() == Shape{2, 1, 4});
  }
}

TEST_CASE("views: view ops on 0-dim and size-0 tensors", "[views]") {
  auto s = scalar_tensor<float>(3.0f);
  CHECK(s.unsqueeze(0).shape() == Shape{1});
  CHECK(s.unsqueeze(-1).shape() == Shape{1});
  CHECK(s.reshape({1, 1}).shape() == Shape{1, 1});
  CHECK(s.flatten().shape() == Shape{1});
  CHECK(s.squeeze().shape() == Shape{});
  CHECK(s.transpose(0, 0).shape() == Shape{});
  CHECK(s.t().shape() == Shape{});
  CHECK(iota({1}).reshape({}).dim() == 0);
  CHECK(iota({1}).view({}).item() == 0.0f);
  auto e = zeros<float>({2, 0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.reshape({0, 5}).shape() == Shape{0, 5});
  CHECK(e.reshape({-1, 3}).shape() == Shape{0, 3});
  CHECK(e.permute({2, 1, 0}).shape() == Shape{3, 0, 2});
  CHECK(e.narrow(2, 1, 2).shape() == Shape{2, 0, 2});
  CHECK(e.flatten().shape() == Shape{0});
  CHECK(e.sum().item() == 0.0f);
  CHECK(e.sum({1}).shape() == Shape{2, 3});
}

TEST_CASE("views: writing through a view changes the base", "[views]") {
  auto x = zeros<float>({2, 3});
  x.select(0, 1).fill_(5);
  CHECK(x.to_vector() == std::vector<float>{0, 0, 0, 5, 5, 5});
  x.t().select(0, 0).add_(1.0);  // column 0
  CHECK(x.to_vector() == std::vector<float>{1, 0, 0, 6, 5, 5});
  x.slice(1, 0, 3, 2).mul_(2.0);  // columns 0 and 2
  CHECK(x.to_vector() == std::vector<float>{2, 0, 0, 12, 5, 10});
  x.view({6}).narrow(0, 1, 2).copy_(tensor<float>({7, 8}));
  CHECK(x.to_vector() == std::vector<float>{2, 7, 8, 12, 5, 10});
  auto parts = x.chunk(2, 1);
  parts[1].zero_();
  CHECK(x.to_vector() == std::vector<float>{2, 7, 0, 12, 5, 0});
  auto d = x.detach();
  d.fill_(1);
  CHECK(x.to_vector() == std::vector<float>(6, 1.0f));
  // ...and the other way round: views see writes to the base.
  auto col = x.select(1, 2);
  x.fill_(3);
  CHECK(col.to_vector() == std::vector<float>{3, 3});
  // Writes bump the version counter shared by every view of the storage.
  auto v0 = x.version();
  col.add_(1.0);
  CHECK(x.version() == v0 + 1);
  CHECK(col.version() == x.version());
}

TEST_CASE("views: contiguous copies only when needed", "[views]") {
  auto x = iota({2, 3});
  CHECK(x.contiguous().is_same(x));
  auto row = x[1];
  CHECK(row.is_contiguous());
  CHECK(row.contiguous().is_same(row));
  auto unit = iota({3, 1}).t();  // (1, 3) with strides (1, 1): contiguous despite the transpose
  CHECK(unit.is_contiguous());
  CHECK(unit.contiguous().is_same(unit));

  auto t = x.t();
  CHECK_FALSE(t.is_contiguous());
  auto c = t.contiguous();
  CHECK_FALSE(shares_storage(c, x));
  CHECK(c.is_contiguous());
  CHECK(c.strides() == Strides{2, 1});
  CHECK(c.to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK_FALSE(x.slice(1, 0, 3, 2).is_contiguous());
  CHECK_FALSE(x.narrow(1, 0, 2).is_contiguous());
  auto e = iota({3}).expand({2, 3});
  CHECK_FALSE(e.is_contiguous());
  CHECK(e.contiguous().to_vector() == std::vector<float>{0, 1, 2, 0, 1, 2});
  // clone always copies.
  auto k = x.clone();
  CHECK_FALSE(shares_storage(k, x));
  CHECK(k.to_vector() == x.to_vector());
}

TEST_CASE("views: reshape copies a non-contiguous tensor only when it cannot view it", "[views]") {
  auto x = iota({2, 3});
  auto r = x.t().reshape({6});
  CHECK_FALSE(shares_storage(r, x));
  CHECK(r.to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  auto g = iota({2, 3, 4}).permute({1, 0, 2});  // (3, 2, 4), strides (4, 12, 1)
  auto merged = g.reshape({3, 8});              // dims 1 and 2 cannot merge: copy
  CHECK_FALSE(shares_storage(merged, g));
  CHECK(merged.is_contiguous());
  auto split_last = g.reshape({3, 2, 2, 2});  // splitting a contiguous dim: still a view
  CHECK(shares_storage(split_last, g));
  CHECK(split_last.strides() == Strides{4, 12, 2, 1});
  auto t1 = x.t().reshape({3, 2, 1});  // adding a unit dim: a view
  CHECK(shares_storage(t1, x));
  CHECK(x.reshape({3, 2}).to_vector() == x.to_vector());
  CHECK(shares_storage(x.reshape({3, 2}), x));
  // The copy's values follow the logical (row-major) order of the view.
  auto s = iota({4, 4}).slice(1, 0, 4, 2).reshape({-1});
  CHECK(s.to_vector() == std::vector<float>{0, 2, 4, 6, 8, 10, 12, 14});
}

TEST_CASE("views: broadcasting shapes", "[views][broadcast]") {
  struct Case {
    Shape a, b, out;
  };
  std::vector<Case> cases{
      {{}, {}, {}},
      {{}, {3}, {3}},
      {{2, 3}, {}, {2, 3}},
      {{3}, {2, 3}, {2, 3}},
      {{2, 1}, {1, 3}, {2, 3}},
      {{5, 1, 4}, {3, 1}, {5, 3, 4}},
      {{1}, {7}, {7}},
      {{8, 1, 6, 1}, {7, 1, 5}, {8, 7, 6, 5}},
      {{0}, {1}, {0}},
      {{0}, {}, {0}},
      {{2, 0}, {0}, {2, 0}},
      {{1, 0}, {3, 1}, {3, 0}},
      {{0, 1}, {1, 5}, {0, 5}},
      {{2, 1, 0}, {4, 1}, {2, 4, 0}},
  };
  for (const auto& c : cases) {
    INFO("a " << c.a << ", b " << c.b);
    CHECK(broadcast_shapes(c.a, c.b, "test") == c.out);
    CHECK(broadcast_shapes(c.b, c.a, "test") == c.out);
    auto sum = zeros<float>(c.a) + ones<float>(c.b);
    CHECK(sum.shape() == c.out);
    CHECK(sum.numel() == c.out.numel());
    auto prod = ones<float>(c.b) * zeros<float>(c.a);
    CHECK(prod.shape() == c.out);
  }
  std::vector<std::pair<Shape, Shape>> bad{{{3}, {4}}, {{2, 3}, {3, 2}}, {{0}, {3}}, {{2, 3}, {3, 4, 1, 5}}, {{2, 0}, {3}}};
  for (const auto& [a, b] : bad) {
    INFO("a " << a << ", b " << b);
    CHECK_THROWS_AS(broadcast_shapes(a, b, "test"), Error);
    CHECK_THROWS_AS(zeros<float>(a) + zeros<float>(b), Error);
  }
  // Values: a row broadcast against a column.
  auto col = tensor<float>({1, 2}, {2, 1}), row = tensor<float>({10, 20, 30});
  CHECK((col + row).to_vector() == std::vector<float>{11, 21, 31, 12, 22, 32});
  CHECK((row - col).to_vector() == std::vector<float>{9, 19, 29, 8, 18, 28});
}

TEST_CASE("views: slicing with negative indices and steps", "[views]") {
  auto x = arange<float>(10);
  CHECK(x.slice(0, -3, 100).to_vector() == std::vector<float>{7, 8, 9});
  CHECK(x.slice(0, 1, -1, 3).to_vector() == std::vector<float>{1, 4, 7});
  CHECK(x.slice(0, -100, 3).to_vector() == std::vector<float>{0, 1, 2});
  CHECK(x.slice(0, 0, 10, 4).to_vector() == std::vector<float>{0, 4, 8});
  CHECK(x.slice(0, 2, 3, 5).to_vector() == std::vector<float>{2});
  CHECK(x.slice(0, 0, 10, 100).to_vector() == std::vector<float>{0});
  CHECK(x.slice(0, 5, 2).shape() == Shape{0});  // empty, as x[5:2]
  CHECK(x.slice(0, -2, -5).numel() == 0);
  CHECK(x.slice(0, 10, 20).shape() == Shape{0});
  CHECK(x.slice(0, -1, 10).to_vector() == std::vector<float>{9});
  auto m = iota({3, 4});
  auto s = m.slice(1, -3, 4, 2).slice(0, 0, 3, 2);  // rows 0, 2; columns 1, 3
  CHECK(s.shape() == Shape{2, 2});
  CHECK(s.to_vector() == std::vector<float>{1, 3, 9, 11});
  CHECK(s.strides() == Strides{8, 2});
  CHECK(s.offset() == 1);
  CHECK(m.slice(-1, 0, -1, 2).shape() == Shape{3, 2});
  CHECK_THROWS_AS(x.slice(0, 0, 5, 0), Error);
  CHECK_THROWS_AS(x.slice(0, 0, 5, -1), Error);
}

TEST_CASE("views: select and narrow bounds", "[views]") {
  auto x = iota({3, 4});
  CHECK(x.select(0, 0).to_vector() == std::vector<float>{0, 1, 2, 3});
  CHECK(x.select(0, 2).to_vector() == std::vector<float>{8, 9, 10, 11});
  CHECK(x.select(0, -1).to_vector() == std::vector<float>{8, 9, 10, 11});
  CHECK(x.select(0, -3).to_vector() == std::vector<float>{0, 1, 2, 3});
  CHECK(x.select(1, 3).to_vector() == std::vector<float>{3, 7, 11});
  CHECK_THROWS_AS(x.select(0, 3), Error);
  CHECK_THROWS_AS(x.select(0, -4), Error);
  CHECK_THROWS_AS(x.select(1, 4), Error);
  CHECK_THROWS_AS(x.select(2, 0), Error);
  CHECK(x.narrow(1, 2, 2).to_vector() == std::vector<float>{2, 3, 6, 7, 10, 11});
  CHECK(x.narrow(1, -2, 2).to_vector() == std::vector<float>{2, 3, 6, 7, 10, 11});
  CHECK(x.narrow(0, 3, 0).shape() == Shape{0, 4});
  CHECK(x.narrow(0, 0, 3).shape() == Shape{3, 4});
  CHECK_THROWS_AS(x.narrow(1, 3, 2), Error);
  CHECK_THROWS_AS(x.narrow(0, 0, 4), Error);
  CHECK_THROWS_AS(x.narrow(0, -4, 1), Error);
  CHECK_THROWS_AS(x.narrow(0, 1, -1), Error);
  CHECK_THROWS_AS(x.narrow(2, 0, 1), Error);
}

TEST_CASE("views: split and chunk sizes follow PyTorch", "[views]") {
  auto x = iota({10, 2});
  CHECK(sizes_along(x.split(3), 0) == std::vector<int64_t>{3, 3, 3, 1});
  CHECK(sizes_along(x.split(5), 0) == std::vector<int64_t>{5, 5});
  CHECK(sizes_along(x.split(10), 0) == std::vector<int64_t>{10});
  CHECK(sizes_along(x.split(20), 0) == std::vector<int64_t>{10});
  CHECK(sizes_along(x.split(1, 1), 1) == std::vector<int64_t>{1, 1});
  CHECK(sizes_along(x.split(4, -2), 0) == std::vector<int64_t>{4, 4, 2});
  // torch.chunk: chunks of ceil(n / chunks), so possibly fewer than asked for.
  CHECK(sizes_along(x.chunk(3), 0) == std::vector<int64_t>{4, 4, 2});
  CHECK(sizes_along(x.chunk(4), 0) == std::vector<int64_t>{3, 3, 3, 1});
  CHECK(sizes_along(x.chunk(6), 0) == std::vector<int64_t>{2, 2, 2, 2, 2});
  CHECK(sizes_along(x.chunk(10), 0) == std::vector<int64_t>(10, 1));
  CHECK(sizes_along(x.chunk(20), 0) == std::vector<int64_t>(10, 1));
  CHECK(sizes_along(x.chunk(1), 0) == std::vector<int64_t>{10});
  CHECK(sizes_along(x.chunk(2, 1), 1) == std::vector<int64_t>{1, 1});
  CHECK(sizes_along(x.chunk(3, 1), 1) == std::vector<int64_t>{1, 1});
  CHECK(sizes_along(iota({6}).chunk(4), 0) == std::vector<int64_t>{2, 2, 2});
  // Values of the last part.
  CHECK(x.split(3)[3].to_vector() == std::vector<float>{18, 19});
  // Empty dims: split gives one empty part, chunk gives `chunks` empty parts.
  auto e = zeros<float>({0, 2});
  CHECK(sizes_along(e.split(2), 0) == std::vector<int64_t>{0});
  CHECK(sizes_along(e.chunk(3), 0) == std::vector<int64_t>{0, 0, 0});
  CHECK_THROWS_AS(x.split(0), Error);
  CHECK_THROWS_AS(x.chunk(0), Error);
  CHECK_THROWS_AS(x.split(2, 2), Error);
}

TEST_CASE("views: printing a view prints its logical elements", "[views][print]") {
  auto x = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(str(x.t()) == "tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])");
  CHECK(str(x[1]) == "tensor([4., 5., 6.])");
  CHECK(str(x[1][2]) == "tensor(6.)");
  CHECK(str(x.slice(1, 0, 3, 2)) == "tensor([[1., 3.],\n        [4., 6.]])");
  CHECK(str(x.select(1, 1)) == "tensor([2., 5.])");
  CHECK(str(tensor<float>({1.5f, 2.5f}).expand({2, 2})) == "tensor([[1.5000, 2.5000],\n        [1.5000, 2.5000]])");
  CHECK(str(x.narrow(1, 3, 0)) == "tensor([], size=[2, 0])");
  auto w = ones<float>({2, 2}).requires_grad_();
  auto s = str(w.t());
  CHECK(s.rfind("tensor([[1., 1.],\n        [1., 1.]], grad_fn=<", 0) == 0);
  std::ostringstream d;
  d << tensor<double>({1, 2, 3, 4}, {2, 2}).t();
  CHECK(d.str() == "tensor([[1., 3.],\n        [2., 4.]], dtype=float64)");
}
