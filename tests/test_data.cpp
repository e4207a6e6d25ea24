// latent::data (include/latent/data.hpp): IDX round trips and the reader's validation
// (truncation inside the header and the data, bad magic, bad dims, trailing bytes, damaged
// gzip streams: each a latent::Error naming the file), MNIST/FashionMNIST on small files
// written here and on the real files when present (skipped with a warning when absent),
// the "cannot find" message, transforms against interpolate and hand values, the
// DataLoader (batch counts, coverage, seeds and epochs, early exit, worker errors, the
// worker thread) and the synthetic parabola and Gaussian-ring sets.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <latent/data.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"

using namespace latent;
namespace fs = std::filesystem;
namespace fn = latent::nn::functional;
using Bytes = std::vector<uint8_t>;
using latent::testing::TempDir;

namespace {

using latent::testing::read_bytes;
using latent::testing::write_bytes;
Bytes slice(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<long>(n)); }

// `f()` throws latent::Error whose message contains every part.
void require_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) {
      INFO("message: " << msg);
      INFO("expected to contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
    return;
  } catch (const std::exception& e) {
    FAIL("expected latent::Error, got another exception: " << e.what());
  }
  FAIL("expected latent::Error containing '" << *parts.begin() << "', nothing was thrown");
}

Bytes pattern_bytes(size_t n, uint64_t seed) {
  Generator g(seed);
  Bytes b(n);
  for (auto& v : b) v = static_cast<uint8_t>(g.next_below(256));
  return b;
}

// F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False).
template <typename T>
Tensor<T> bilinear(const Tensor<T>& x, int64_t s) {
  fn::InterpolateOptions o;
  o.size = {s, s};
  o.mode = "bilinear";
  o.align_corners = false;
  return fn::interpolate(x, o);
}

fs::path shared_mnist() { return fs::path(LATENT_SOURCE_DIR) / ".." / "shared" / "data" / "mnist"; }
const fs::path kFashionDir = "/usr/share/datasets/fashion-mnist";

bool has_files(const fs::path& dir, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* n : names)
    if (!fs::exists(dir / n, ec)) return false;
  return true;
}

// An MNIST-layout directory with n small images (28x28 bytes i + pixel) and labels i % 10.
void write_fake_split(const fs::path& dir, const std::string& prefix, int64_t n, bool gzip) {
  Bytes images(static_cast<size_t>(n * 784)), labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    labels[static_cast<size_t>(i)] = static_cast<uint8_t>(i % 10);
    for (int64_t p = 0; p < 784; ++p) images[static_cast<size_t>(i * 784 + p)] = static_cast<uint8_t>((i * 7 + p) % 256);
  }
  const std::string ext = gzip ? ".gz" : "";
  data::write_idx(dir / (prefix + "-images-idx3-ubyte" + ext), {n, 28, 28}, images, gzip);
  data::write_idx(dir / (prefix + "-labels-idx1-ubyte" + ext), {n}, labels, gzip);
}

std::map<int64_t, int64_t> histogram(const IndexTensor& labels) {
  std::map<int64_t, int64_t> h;
  for (int64_t v : labels.to_vector()) ++h[v];
  return h;
}

}  // namespace

// ------------------------------------------------------------------ IDX files
TEST_CASE("idx: write_idx/read_idx round trips, raw and gzip, every element type", "[data][idx]") {
  TempDir dir;
  const Bytes bytes = pattern_bytes(3 * 4 * 5, 1);
  for (bool gz : {false, true}) {
    fs::path p = dir.path / (gz ? "a-idx3-ubyte.gz" : "a-idx3-ubyte");
    data::write_idx(p, {3, 4, 5}, bytes, gz);
    Bytes file = read_bytes(p);
    REQUIRE(file.size() > 2);
    CHECK((file[0] == 0x1f && file[1] == 0x8b) == gz);  // gzip magic only when asked for
    auto a = data::read_idx(p);
    CHECK(a.type == data::IdxType::UInt8);
    CHECK(a.shape == std::vector<int64_t>{3, 4, 5});
    CHECK(a.data == bytes);
    auto t = a.to_tensor<float>();
    CHECK(t.shape() == Shape{3, 4, 5});
    CHECK(t.to_vector()[7] == static_cast<float>(bytes[7]));
  }
  // Raw header layout: 00 00 08 03, then big-endian dims.
  Bytes raw = read_bytes(dir.path / "a-idx3-ubyte");
  CHECK(slice(raw, 16) == Bytes{0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5});
  // Atomic writes leave only the targets behind.
  CHECK(dir.listing() == std::vector<std::string>{"a-idx3-ubyte", "a-idx3-ubyte.gz"});

  // The other element types, big-endian: int8, int16, int32, float32, float64.
  struct Case {
    data::IdxType type;
    Bytes data;
    std::vector<double> expect;
  };
  std::vector<Case> cases = {
      {data::IdxType::Int8, {0xff, 0x05}, {-1, 5}},
      {data::IdxType::Int16, {0xff, 0xfe, 0x01, 0x00}, {-2, 256}},
      {data::IdxType::Int32, {0xff, 0xff, 0xff, 0xfd, 0x00, 0x01, 0x00, 0x00}, {-3, 65536}},
      {data::IdxType::Float32, {0x3f, 0xc0, 0x00, 0x00, 0xc0, 0x20, 0x00, 0x00}, {1.5, -2.5}},
      {data::IdxType::Float64, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0x04, 0, 0, 0, 0, 0, 0}, {1.5, -2.5}},
  };
  for (const auto& c : cases) {
    INFO(data::idx_type_name(c.type));
    for (bool gz : {false, true}) {
      fs::path p = dir.path / (gz ? "t.gz" : "t");
      data::write_idx(p, data::IdxArray{c.type, {2}, c.data}, gz);
      auto a = data::read_idx(p);
      CHECK(a.type == c.type);
      CHECK(a.data == c.data);
      CHECK(a.values<double>() == c.expect);
    }
  }
  // An empty array (a dim of 0) is well-formed.
  data::write_idx(dir.path / "empty", {0, 28, 28}, {}, false);
  CHECK(data::read_idx(dir.path / "empty").shape == std::vector<int64_t>{0, 28, 28});
  // write_idx checks what it is given.
  require_error([&] { data::write_idx(dir.path / "bad", {2, 3}, Bytes(5), false); },
                {"serialize_idx", "shape [2, 3]", "needs 6 data bytes, got 5"});
  require_error([&] { data::write_idx(dir.path / "bad", {1, 1, 1, 1, 1}, Bytes(1), false); }, {"1 to 4 dimensions"});
  CHECK(!fs::exists(dir.path / "bad"));
}

TEST_CASE("idx: truncated files, raw and gzip, cut in the header and in the data", "[data][idx]") {
  TempDir dir;
  const Bytes full = data::serialize_idx({data::IdxType::UInt8, {4, 6, 5}, pattern_bytes(120, 2)});
  REQUIRE(full.size() == 16 + 120);
  // Header cuts: inside the magic, right after it, inside the dims, right after the dims.
  for (size_t cut : {size_t(0), size_t(2), size_t(4), size_t(7), size_t(15), size_t(16), size_t(17), size_t(76),
                     full.size() - 1}) {
    for (bool gz : {false, true}) {
      INFO("cut at " << cut << (gz ? " (gzip)" : " (raw)"));
      fs::path p = dir.path / (gz ? "cut.gz" : "cut");
      Bytes b = slice(full, cut);
      write_bytes(p, gz ? data::detail::gzip_compress(b) : b);
      std::string where = cut < 4 ? "an IDX file starts with a 4-byte magic" : cut < 16 ? "inside its header" : "needs 120 data bytes";
      require_error([&] { data::read_idx(p); }, {"read_idx: '" + p.string() + "'", "truncated", where});
    }
  }
  // The gzip stream itself cut short (inside the gzip header, the deflate data, the trailer).
  const Bytes gz = data::detail::gzip_compress(full);
  fs::path p = dir.path / "stream.gz";
  for (size_t cut : {size_t(5), size_t(12), gz.size() / 2, gz.size() - 8, gz.size() - 4, gz.size() - 1}) {
    INFO("gzip stream of " << gz.size() << " bytes cut at " << cut);
    write_bytes(p, slice(gz, cut));
    require_error([&] { data::read_idx(p); }, {"read_idx: '" + p.string() + "'", "truncated"});
  }
}

TEST_CASE("idx: bad magic, unknown type, bad dims, trailing bytes", "[data][idx]") {
  TempDir dir;
  const Bytes good = data::serialize_idx({data::IdxType::UInt8, {2, 3}, Bytes(6, 9)});
  auto check_both = [&](const Bytes& b, std::initializer_list<std::string> parts) {
    for (bool gz : {false, true}) {
      fs::path p = dir.path / (gz ? "f.gz" : "f");
      write_bytes(p, gz ? data::detail::gzip_compress(b) : b);
      std::vector<std::string> all(parts);
      all.push_back("'" + p.string() + "'");
      INFO((gz ? "gzip" : "raw"));
      try {
        data::read_idx(p);
        FAIL("no error for " << p);
      } catch (const Error& e) {
        for (const auto& s : all) {
          INFO("message: " << e.what() << "\nexpected: " << s);
          CHECK(std::string(e.what()).find(s) != std::string::npos);
        }
      }
    }
  };
  Bytes b = good;
  b[0] = 1;
  check_both(b, {"bad magic number 01 00 08 02", "expected 00 00 <type> <dims>"});
  b = good;
  b[1] = 0x08;
  check_both(b, {"bad magic number"});
  b = good;
  b[2] = 0x07;
  check_both(b, {"unknown element type 0x07", "expected 08 (ubyte)"});
  b = good;
  b[3] = 0;
  check_both(b, {"0 dimensions", "expected 1 to 4"});
  b = good;
  b[3] = 5;
  check_both(b, {"5 dimensions", "expected 1 to 4"});
  // Dims that disagree with the data: one more row than stored (truncated), one fewer (trailing).
  b = good;
  b[7] = 3;
  check_both(b, {"truncated", "shape [3, 3]", "needs 9 data bytes"});
  b = good;
  b[7] = 1;
  check_both(b, {"3 unexpected trailing byte(s)", "shape [1, 3]"});
  // Trailing bytes after well-formed data.
  b = good;
  b.push_back(0);
  check_both(b, {"1 unexpected trailing byte(s)", "shape [2, 3]"});
  // A header promising more than 2^40 bytes is refused before anything is allocated.
  b = {0, 0, 0x0E, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  check_both(b, {"more than 2^40 bytes"});
  // Not there, or a directory.
  require_error([&] { data::read_idx(dir.path / "nope.gz"); }, {"read_idx: cannot open", "nope.gz", "no such file"});
  require_error([&] { data::read_idx(dir.path); }, {"is a directory", dir.path.string()});
}

TEST_CASE("idx: damaged gzip data are errors naming the file", "[data][idx]") {
  TempDir dir;
  fs::path p = dir.path / "d.gz";
  // Compressible (pattern) and incompressible (random, stored blocks) payloads.
  Bytes smooth(4000);
  for (size_t i = 0; i < smooth.size(); ++i) smooth[i] = static_cast<uint8_t>((i / 7) % 13);
  for (const Bytes& payload : {smooth, pattern_bytes(4000, 3)}) {
    const Bytes gz = data::detail::gzip_compress(data::serialize_idx({data::IdxType::UInt8, {4000}, payload}));
    REQUIRE(gz.size() > 40);
    // Inside the deflate data, then the CRC-32 and the length in the trailer.
    for (size_t at : {size_t(12), size_t(20), gz.size() / 3, gz.size() / 2, gz.size() - 20, gz.size() - 8,
                      gz.size() - 5, gz.size() - 1}) {
      INFO("byte " << at << " of " << gz.size() << " flipped");
      Bytes bad = gz;
      bad[at] ^= 0x5a;
      write_bytes(p, bad);
      require_error([&] { data::read_idx(p); }, {"read_idx: '" + p.string() + "'"});
    }
    // The CRC-32 alone: the data inflate fine, only the check fails.
    Bytes bad = gz;
    bad[gz.size() - 8] ^= 1;
    write_bytes(p, bad);
    require_error([&] { data::read_idx(p); }, {"'" + p.string() + "'", "corrupt gzip data", "incorrect data check"});
  }
}

// ------------------------------------------------------------------ MNIST / FashionMNIST
TEST_CASE("mnist: loads an MNIST-layout directory, raw or gz, and checks its files", "[data][mnist]") {
  TempDir dir;
  write_fake_split(dir.path, "t10k", 5, true);
  write_fake_split(dir.path, "train", 12, false);
  data::MNIST test(data::Split::Test, dir.path);
  REQUIRE(test.size() == 5);
  CHECK(test.images().shape() == Shape{5, 1, 28, 28});
  CHECK(test.labels().to_vector() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(test.images_file().filename() == "t10k-images-idx3-ubyte.gz");
  // ToTensor: byte / 255 in float.
  auto px = test.images().to_vector();
  CHECK(px[784 * 2 + 5] == static_cast<float>((2 * 7 + 5) % 256) / 255.0f);
  data::FashionMNIST train(data::Split::Train, dir.path);  // same layout, raw files
  CHECK(train.size() == 12);
  CHECK(train.images_file().filename() == "train-images-idx3-ubyte");
  auto ex = train.get(11);
  CHECK(ex.image.shape() == Shape{1, 28, 28});
  CHECK(ex.label == 1);

  // With a transform: the deterministic head at load, the random tail per batch.
  data::MNIST resized({.split = data::Split::Test, .root = dir.path,
                       .transform = data::Compose{data::Resize(32), data::RandomHorizontalFlip(1.0),
                                                  data::Normalize({0.5}, {0.5})}});
  CHECK(resized.images().shape() == Shape{5, 1, 32, 32});
  CHECK(resized.batch_transform().num_steps() == 2);
  auto batch = resized.get_batch(from_vector<int64_t>({3, 1}));
  CHECK(batch.images.shape() == Shape{2, 1, 32, 32});
  CHECK(batch.labels.to_vector() == std::vector<int64_t>{3, 1});
  auto manual = data::Normalize({0.5}, {0.5})(data::RandomHorizontalFlip(1.0)(
      bilinear(test.images(), 32)));
  LATENT_REQUIRE_CLOSE(batch.images[0], manual[3], 0, 0);
  data::MNIST lazy({.split = data::Split::Test, .root = dir.path, .transform = data::Resize(32), .eager = false});
  CHECK(lazy.images().shape() == Shape{5, 1, 28, 28});
  CHECK(lazy.get_batch(from_vector<int64_t>({0})).images.shape() == Shape{1, 1, 32, 32});

  // Malformed contents.
  TempDir bad;
  auto labels = [&](const Bytes& l) { data::write_idx(bad.path / "t10k-labels-idx1-ubyte", {int64_t(l.size())}, l); };
  data::write_idx(bad.path / "t10k-images-idx3-ubyte", {2, 28, 28}, Bytes(2 * 784, 0));
  labels({1, 2, 3});
  require_error([&] { data::MNIST(data::Split::Test, bad.path); }, {"MNIST: 2 images in '", "but 3 labels in '"});
  labels({1, 10});
  require_error([&] { data::MNIST(data::Split::Test, bad.path); },
                {"label 10 at index 1", "t10k-labels-idx1-ubyte", "not a class 0..9"});
  labels({1, 2});
  data::write_idx(bad.path / "t10k-images-idx3-ubyte", {2, 27, 28}, Bytes(2 * 27 * 28, 0));
  require_error([&] { data::FashionMNIST(data::Split::Test, bad.path); },
                {"FashionMNIST: '", "t10k-images-idx3-ubyte", "[N, 28, 28]", "shape [2, 27, 28]"});
}

TEST_CASE("mnist: missing files name every place looked at and how to get the data", "[data][mnist]") {
  TempDir dir;
  fs::path nowhere = dir.path / "no-such-dir";
  require_error([&] { data::MNIST(data::Split::Train, nowhere); },
                {"MNIST: cannot find the train split", "train-images-idx3-ubyte[.gz]", nowhere.string(),
                 "no such directory", "scripts/download_mnist.sh", "LATENT_DATA"});
  write_fake_split(dir.path, "t10k", 3, true);  // the test split only, as ../shared/data/mnist
  require_error([&] { data::MNIST(data::Split::Train, dir.path); },
                {dir.path.string(), "missing train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]"});
  fs::remove(dir.path / "t10k-labels-idx1-ubyte.gz");
  require_error([&] { data::FashionMNIST(data::Split::Test, dir.path); },
                {"FashionMNIST: cannot find the test split", "missing t10k-labels-idx1-ubyte[.gz]",
                 "apt-get install dataset-fashion-mnist"});

  // Default directories: $LATENT_DATA/<name> first, then ./data/<name>, then the fixed places.
  const char* old = std::getenv("LATENT_DATA");
  std::string saved = old ? old : "";
  ::setenv("LATENT_DATA", dir.path.c_str(), 1);
  auto roots = data::MNIST::default_roots();
  auto froots = data::FashionMNIST::default_roots();
  if (old) ::setenv("LATENT_DATA", saved.c_str(), 1);
  else ::unsetenv("LATENT_DATA");
  REQUIRE(roots.size() >= 3);
  CHECK(roots[0] == dir.path / "mnist");
  CHECK(roots[1] == fs::path("data") / "mnist");
  CHECK(std::find(roots.begin(), roots.end(), fs::path("..") / "shared" / "data" / "mnist") != roots.end());
  REQUIRE(froots.size() == 3);
  CHECK(froots[0] == dir.path / "fashion-mnist");
  CHECK(froots[2] == kFashionDir);

  // With the defaults: when no full MNIST is installed anywhere, the message lists them all.
  try {
    data::MNIST train(data::Split::Train);
    WARN("a full MNIST training split was found in the default directories (" << train.images_file()
         << "): the 'not found' message over the default directories was not checked");
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& r : data::MNIST::default_roots()) {
      INFO(msg);
      CHECK(msg.find(r.string()) != std::string::npos);
    }
    CHECK(msg.find("Offline, ../shared/data/mnist") != std::string::npos);
  }
}

TEST_CASE("mnist: the real MNIST test split when present", "[data][mnist][real]") {
  const fs::path dir = shared_mnist();
  if (!has_files(dir, {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})) {
    WARN("skipped: the MNIST test split is not in " << dir.lexically_normal() << " (see ../shared/DESIGN.md)");
    return;
  }
  auto labels_idx = data::read_idx(dir / "t10k-labels-idx1-ubyte.gz");
  CHECK(labels_idx.shape == std::vector<int64_t>{10000});
  CHECK(labels_idx.data[0] == 7);
  data::MNIST test(data::Split::Test, dir);
  REQUIRE(test.size() == 10000);
  CHECK(test.images().shape() == Shape{10000, 1, 28, 28});
  CHECK(test.labels().to_vector()[0] == 7);
  CHECK(test.images().min().item() == 0.0f);
  CHECK(test.images().max().item() == 1.0f);
  // The test split's class counts (as torchvision reports them).
  std::map<int64_t, int64_t> expect = {{0, 980}, {1, 1135}, {2, 1032}, {3, 1010}, {4, 982},
                                       {5, 892}, {6, 958},  {7, 1028}, {8, 974},  {9, 1009}};
  CHECK(histogram(test.labels()) == expect);
  // The default directories find it too (from the working directory or the source tree).
  data::MNIST by_default(data::Split::Test);
  CHECK(by_default.size() == 10000);
}

TEST_CASE("mnist: the real FashionMNIST when present", "[data][mnist][real]") {
  if (!has_files(kFashionDir, {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                               "t10k-labels-idx1-ubyte.gz"})) {
    WARN("skipped: FashionMNIST is not in " << kFashionDir << " (apt-get install dataset-fashion-mnist)");
    return;
  }
  data::FashionMNIST test(data::Split::Test);
  REQUIRE(test.size() == 10000);
  CHECK(test.labels().to_vector()[0] == 9);  // an ankle boot
  std::map<int64_t, int64_t> thousand, six_thousand;
  for (int64_t c = 0; c < 10; ++c) thousand[c] = 1000, six_thousand[c] = 6000;
  CHECK(histogram(test.labels()) == thousand);
  data::FashionMNIST train(data::Split::Train, kFashionDir);
  REQUIRE(train.size() == 60000);
  CHECK(train.images().shape() == Shape{60000, 1, 28, 28});
  CHECK(histogram(train.labels()) == six_thousand);
  CHECK(train.images().max().item() == 1.0f);
}

// ------------------------------------------------------------------ transforms
TEST_CASE("transforms: Resize is bilinear interpolate (align_corners=false)", "[data][transforms]") {
  Generator gen(5);
  auto x = rand<float>({3, 1, 28, 28}, gen);
  for (int64_t s : {32, 64, 20}) {
    auto y = data::Resize(s)(x);
    auto ref = bilinear(x, s);
    LATENT_REQUIRE_CLOSE(y, ref, 0, 0);
    LATENT_REQUIRE_CLOSE(data::Resize(s)(x[1]), ref[1], 0, 0);  // one (C, H, W) image
  }
  // Hand values: [[0, 1], [2, 3]] to 4x4 (PyTorch's result).
  auto small = tensor<double>({0, 1, 2, 3}, {1, 2, 2});
  auto up = data::Resize(4)(small);
  std::vector<double> expect = {0, .25, .75, 1, .5, .75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3};
  CHECK(up.to_vector() == expect);
  // The smaller edge gets the size, the aspect ratio is kept (truncated); (h, w) is exact.
  CHECK(data::Resize(10)(zeros<float>({1, 20, 40})).shape() == Shape{1, 10, 20});
  CHECK(data::Resize(10)(zeros<float>({2, 1, 30, 20})).shape() == Shape{2, 1, 15, 10});
  CHECK(data::Resize(7, 9)(zeros<float>({1, 28, 28})).shape() == Shape{1, 7, 9});
  CHECK(data::Resize(28)(x).is_same(x));
  require_error([] { data::Resize(0); }, {"Resize: size must be positive, got 0"});
  require_error([] { data::Resize(4)(zeros<float>({5})); }, {"Resize: expected an image", "[5]"});
}

TEST_CASE("transforms: Pad, Normalize", "[data][transforms]") {
  auto x = tensor<float>({1, 2, 3, 4}, {1, 2, 2});
  auto p = data::Pad(1, -1)(x);
  CHECK(p.shape() == Shape{1, 4, 4});
  CHECK(p.to_vector() == std::vector<float>{-1, -1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1, -1, -1, -1});
  CHECK(data::Pad({1, 2})(x).shape() == Shape{1, 6, 4});           // left/right 1, top/bottom 2
  auto q = data::Pad({1, 2, 3, 4})(x);                               // left 1, top 2, right 3, bottom 4
  CHECK(q.shape() == Shape{1, 8, 6});
  CHECK(q.at({0, 2, 1}) == 1);
  CHECK(q.at({0, 3, 2}) == 4);
  require_error([] { data::Pad({1, 2, 3}); }, {"Pad: padding must have 1, 2 or 4 values, got 3"});

  Generator gen(6);
  auto img = rand<float>({4, 1, 8, 8}, gen);
  auto n = data::Normalize({0.5}, {0.5})(img);
  LATENT_REQUIRE_CLOSE(n, img * 2.0 - 1.0, 1e-6, 1e-6);
  CHECK(n.min().item() >= -1.0f);
  CHECK(n.max().item() <= 1.0f);
  CHECK(data::Normalize({0.5}, {0.5})(zeros<float>({1, 2, 2})).to_vector() == std::vector<float>(4, -1.0f));
  CHECK(data::Normalize({0.5}, {0.5})(ones<float>({1, 2, 2})).to_vector() == std::vector<float>(4, 1.0f));
  // Per channel.
  auto rgb = ones<double>({3, 2, 2});
  auto m = data::Normalize({0.0, 0.5, 1.0}, {1.0, 0.25, 2.0})(rgb);
  CHECK(m.at({0, 0, 0}) == 1.0);
  CHECK(m.at({1, 1, 1}) == 2.0);
  CHECK(m.at({2, 0, 1}) == 0.0);
  require_error([&] { data::Normalize({0.1, 0.2}, {1, 1})(rgb); }, {"Normalize: 2 mean/std values for 3 channels"});
  require_error([] { data::Normalize({0.5}, {0.0}); }, {"Normalize: std must be finite and non-zero"});
}

TEST_CASE("transforms: random flips, Compose, split_deterministic", "[data][transforms]") {
  Generator g(7);
  auto x = rand<float>({2, 3, 4}, g);  // (C, H, W)
  Generator gen(1);
  auto h = data::RandomHorizontalFlip(1.0)(x, gen);
  auto v = data::RandomVerticalFlip(1.0)(x, gen);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        CHECK(h.at({c, i, j}) == x.at({c, i, 3 - j}));
        CHECK(v.at({c, i, j}) == x.at({c, 2 - i, j}));
      }
  LATENT_REQUIRE_CLOSE(data::RandomHorizontalFlip(1.0)(h, gen), x, 0, 0);
  CHECK(data::RandomHorizontalFlip(0.0)(x, gen).to_vector() == x.to_vector());
  CHECK(data::RandomVerticalFlip(0.0)(x, gen).to_vector() == x.to_vector());
  // A batch: one draw per image; both outcomes occur at p = 0.5, and a seed repeats them.
  auto batch = rand<float>({64, 1, 5, 5}, g);
  Generator a(3), b(3);
  auto fa = data::RandomHorizontalFlip(0.5)(batch, a);
  auto fb = data::RandomHorizontalFlip(0.5)(batch, b);
  CHECK(fa.to_vector() == fb.to_vector());
  auto mirrored = data::RandomHorizontalFlip(1.0)(batch, a);
  int flipped = 0, kept = 0;
  for (int64_t i = 0; i < 64; ++i) {
    bool same = fa[i].to_vector() == batch[i].to_vector(), flip = fa[i].to_vector() == mirrored[i].to_vector();
    CHECK(same != flip);
    flipped += flip;
    kept += same;
  }
  CHECK(flipped > 10);
  CHECK(kept > 10);
  require_error([] { data::RandomHorizontalFlip(1.5); }, {"RandomHorizontalFlip: p must be in [0, 1], got 1.5"});

  // Compose applies in order; the identity leaves the input alone.
  auto img = rand<float>({1, 28, 28}, g);
  data::Transform t = data::Compose{data::Resize(32), data::Normalize({0.5}, {0.5})};
  auto manual = data::Normalize({0.5}, {0.5})(data::Resize(32)(img));
  LATENT_REQUIRE_CLOSE(t(img), manual, 0, 0);
  CHECK(t.name() == "Compose(Resize(32), Normalize(mean (0.5), std (0.5)))");
  CHECK(!t.is_random());
  CHECK(data::Transform()(img).is_same(img));
  data::Compose nested{t, data::Pad(2)};  // Compose of Compose flattens
  CHECK(nested.num_steps() == 3);
  CHECK(nested(img).shape() == Shape{1, 36, 36});
  // The deterministic head and the rest: applying them in turn equals the whole.
  data::Transform mixed = data::Compose{data::Resize(32), data::RandomVerticalFlip(0.5), data::Normalize({0.5}, {0.5})};
  CHECK(mixed.is_random());
  auto [head, tail] = mixed.split_deterministic();
  CHECK(head.num_steps() == 1);
  CHECK(tail.num_steps() == 2);
  CHECK(!head.is_random());
  Generator s1(9), s2(9);
  LATENT_REQUIRE_CLOSE(tail(head(img), s1), mixed(img, s2), 0, 0);
}

// ------------------------------------------------------------------ DataLoader
namespace {
// Samples 0..n-1: x (n, 2) float rows (i, -i), y (n) = i.
data::TensorDataset<float, int64_t> counting(int64_t n) {
  auto y = arange<float>(0, static_cast<double>(n));
  auto x = cat<float>({y.reshape({n, 1}), (-y).reshape({n, 1})}, 1);
  std::vector<int64_t> labels(static_cast<size_t>(n));
  std::iota(labels.begin(), labels.end(), int64_t{0});
  return data::TensorDataset(x, from_vector<int64_t>(labels));
}
template <typename L>
std::vector<int64_t> epoch_indices(L& loader) {
  std::vector<int64_t> seen;
  for (auto& [x, y] : loader) {
    auto v = y.to_vector();
    auto xv = x.to_vector();
    for (size_t i = 0; i < v.size(); ++i) {
      CHECK(xv[2 * i] == static_cast<float>(v[i]));  // the rows travel together
      CHECK(xv[2 * i + 1] == -static_cast<float>(v[i]));
    }
    seen.insert(seen.end(), v.begin(), v.end());
  }
  return seen;
}

// Throws on the batch holding sample `bad`; records the threads get_batch ran on.
struct Faulty {
  int64_t n = 20, bad = 7;
  std::shared_ptr<std::vector<std::thread::id>> threads = std::make_shared<std::vector<std::thread::id>>();
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  int64_t size() const { return n; }
  IndexTensor get_batch(const IndexTensor& idx) const {
    {
      std::lock_guard<std::mutex> lock(*mutex);
      threads->push_back(std::this_thread::get_id());
    }
    for (int64_t i : idx.to_vector())
      LATENT_CHECK(i != bad, "Faulty: cannot load sample ", i);
    return idx;
  }
};
}  // namespace

TEST_CASE("dataloader: batch counts, drop_last, order, coverage", "[data][dataloader]") {
  auto ds = counting(10);
  data::DataLoader loader(ds, {.batch_size = 3});
  CHECK(loader.size() == 4);
  std::vector<int64_t> sizes;
  for (auto& [x, y] : loader) {
    CHECK(x.shape()[1] == 2);
    sizes.push_back(y.numel());
  }
  CHECK(sizes == std::vector<int64_t>{3, 3, 3, 1});
  CHECK(epoch_indices(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // no shuffle: in order
  data::DataLoader dropping(ds, {.batch_size = 3, .drop_last = true});
  CHECK(dropping.size() == 3);
  CHECK(epoch_indices(dropping) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(data::DataLoader(ds, {.batch_size = 20, .drop_last = true}).size() == 0);
  CHECK(data::DataLoader(ds, {.batch_size = 5, .drop_last = true}).size() == 2);
  int none = 0;
  for (auto& b : data::DataLoader(ds, {.batch_size = 20, .drop_last = true})) {
    (void)b;
    ++none;
  }
  CHECK(none == 0);

  // Shuffled: every sample once per epoch (103 samples, batches of 10: the last has 3).
  data::DataLoader shuffled(counting(103), {.batch_size = 10, .shuffle = true, .seed = 42});
  CHECK(shuffled.size() == 11);
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto seen = epoch_indices(shuffled);
    CHECK(seen.size() == 103);
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(103);
    std::iota(all.begin(), all.end(), int64_t{0});
    CHECK(seen == all);
  }
  data::DataLoader shuffled_drop(counting(103), {.batch_size = 10, .shuffle = true, .drop_last = true, .seed = 42});
  auto seen = epoch_indices(shuffled_drop);
  CHECK(seen.size() == 100);
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 100);
  require_error([&] { data::DataLoader(ds, {.batch_size = 0}); }, {"DataLoader: batch_size must be positive, got 0"});
}

TEST_CASE("dataloader: seeds and epochs", "[data][dataloader]") {
  data::DataLoaderOptions o{.batch_size = 8, .shuffle = true, .seed = 123};
  data::DataLoader a(counting(50), o), b(counting(50), o);
  auto a0 = epoch_indices(a), a1 = epoch_indices(a);
  auto b0 = epoch_indices(b), b1 = epoch_indices(b);
  CHECK(a0 == b0);  // same seed, same order
  CHECK(a1 == b1);
  CHECK(a0 != a1);  // a new epoch, a new order
  CHECK(a.epoch() == 2);
  a.set_epoch(0);  // replays epoch 0
  CHECK(epoch_indices(a) == a0);
  CHECK(a.order(1) == a1);
  o.seed = 124;
  data::DataLoader c(counting(50), o);
  CHECK(epoch_indices(c) != a0);
  // The worker thread and the calling thread give the same batches, random transforms included.
  TempDir dir;
  write_fake_split(dir.path, "t10k", 9, true);
  data::MNIST flips(data::Split::Test, dir.path, data::RandomHorizontalFlip(0.5));
  auto run = [&](int prefetch) {
    std::vector<float> all;
    data::DataLoader l(flips, {.batch_size = 4, .shuffle = true, .seed = 5, .prefetch = prefetch});
    for (int e = 0; e < 2; ++e)
      for (auto& batch : l) {
        auto v = batch.images.to_vector();
        all.insert(all.end(), v.begin(), v.end());
        CHECK(batch.labels.numel() == batch.images.shape()[0]);
      }
    return all;
  };
  CHECK(run(0) == run(2));
  CHECK(run(1) == run(3));
}

TEST_CASE("dataloader: early exit, dropping the loader, worker errors, the worker thread", "[data][dataloader]") {
  auto start = std::chrono::steady_clock::now();
  // Break while the worker waits on a full queue; then again, every epoch; then drop it.
  {
    data::DataLoader loader(counting(1000), {.batch_size = 10, .shuffle = true, .prefetch = 1});
    for (int e = 0; e < 5; ++e) {
      int n = 0;
      for (auto& batch : loader) {
        (void)batch;
        if (++n == 2) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          break;
        }
      }
      CHECK(n == 2);
    }
  }
  // An iterator may outlive its loader; dropping it mid-epoch stops the worker.
  {
    std::optional<data::DataLoader<data::TensorDataset<float, int64_t>>::Iterator> it;
    {
      data::DataLoader loader(counting(100), {.batch_size = 10});
      it = loader.begin();
    }
    ++*it;
    CHECK(std::get<1>(**it).to_vector()[0] == 10);
  }
  // Leaving a loop by an exception of the loop body.
  data::DataLoader loader(counting(100), {.batch_size = 10});
  CHECK_THROWS_AS(([&] {
                    for (auto& batch : loader) {
                      (void)batch;
                      throw std::runtime_error("body");
                    }
                  }()),
                  std::runtime_error);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));

  // A batch that cannot be made: the batches before it arrive, then its error.
  for (int prefetch : {0, 1, 3}) {
    INFO("prefetch " << prefetch);
    Faulty faulty;
    data::DataLoader l(faulty, {.batch_size = 3, .prefetch = prefetch});
    std::vector<int64_t> got;
    require_error(
        [&] {
          for (auto& idx : l) {
            auto v = idx.to_vector();
            got.insert(got.end(), v.begin(), v.end());
          }
        },
        {"Faulty: cannot load sample 7"});
    CHECK(got == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
    // The first batch failing: begin() throws.
    Faulty first{.n = 5, .bad = 0};
    data::DataLoader f(first, {.batch_size = 2, .prefetch = prefetch});
    require_error([&] { f.begin(); }, {"Faulty: cannot load sample 0"});
  }
  // Batches are made on the worker thread with prefetch > 0, on the caller's without.
  for (int prefetch : {0, 2}) {
    Faulty probe{.n = 6, .bad = -1};
    data::DataLoader l(probe, {.batch_size = 2, .prefetch = prefetch});
    int batches = 0;
    for (auto& idx : l) batches += idx.numel() > 0;
    CHECK(batches == 3);
    REQUIRE(probe.threads->size() == 3);
    for (auto id : *probe.threads) CHECK((id == std::this_thread::get_id()) == (prefetch == 0));
  }
}

// ------------------------------------------------------------------ synthetic sets
TEST_CASE("synthetic: parabola points and the Gaussian ring", "[data][synthetic]") {
  Generator gen(0);
  auto p = data::parabola_points(20000, gen);
  REQUIRE(p.shape() == Shape{20000, 2});
  auto v = p.to_vector();
  double sum = 0, sq = 0, lo = 1, hi = -1;
  for (size_t i = 0; i < v.size(); i += 2) {
    const float x = v[i], y = v[i + 1];
    CHECK(y == x * x);
    lo = std::min<double>(lo, x);
    hi = std::max<double>(hi, x);
    sum += x;
    sq += static_cast<double>(x) * x;
  }
  CHECK(lo >= -1.0);
  CHECK(hi < 1.0);
  CHECK(lo < -0.99);
  CHECK(hi > 0.99);
  CHECK(std::abs(sum / 20000) < 0.02);                  // mean 0
  CHECK(std::abs(sq / 20000 - 1.0 / 3.0) < 0.02);      // variance 1/3
  Generator again(0);
  CHECK(data::parabola_points(20000, again).to_vector() == v);
  auto ds = data::parabola_dataset(3840, 0);
  CHECK(ds.size() == 3840);
  data::DataLoader loader(ds, {.batch_size = 128, .shuffle = true});
  CHECK(loader.size() == 30);
  for (auto& [pts] : loader) CHECK(pts.shape() == Shape{128, 2});

  // The ring: 8 modes on a circle of radius 2, std 0.02, modes drawn uniformly.
  auto centers = data::gaussian_ring_centers<double>();
  CHECK(centers.shape() == Shape{8, 2});
  CHECK(centers.at({0, 0}) == 2.0);
  CHECK(std::abs(centers.at({2, 1}) - 2.0) < 1e-12);  // 90 degrees
  auto [pts, mode] = data::gaussian_ring<double>(16000, gen);
  REQUIRE(pts.shape() == Shape{16000, 2});
  auto pv = pts.to_vector();
  auto mv = mode.to_vector();
  std::vector<double> sx(8), sy(8), sxx(8), n(8);
  for (size_t i = 0; i < mv.size(); ++i) {
    auto k = static_cast<size_t>(mv[i]);
    REQUIRE(k < 8);
    sx[k] += pv[2 * i];
    sy[k] += pv[2 * i + 1];
    sxx[k] += pv[2 * i] * pv[2 * i];
    n[k] += 1;
  }
  for (size_t k = 0; k < 8; ++k) {
    INFO("mode " << k);
    CHECK(std::abs(n[k] - 2000) < 200);
    const double mx = sx[k] / n[k], my = sy[k] / n[k];
    CHECK(std::abs(mx - centers.at({int64_t(k), 0})) < 0.003);
    CHECK(std::abs(my - centers.at({int64_t(k), 1})) < 0.003);
    const double sd = std::sqrt(sxx[k] / n[k] - mx * mx);
    CHECK(std::abs(sd - 0.02) < 0.002);
  }
  auto ring = data::gaussian_ring_dataset(100, 1, {.modes = 4, .radius = 1.0, .stddev = 0.0});
  CHECK(ring.size() == 100);
  auto [rp, rm] = ring.tensors();
  auto rpv = rp.to_vector();
  auto rmv = rm.to_vector();
  for (size_t i = 0; i < rmv.size(); ++i) {
    const double a = 2 * std::numbers::pi * static_cast<double>(rmv[i]) / 4;
    CHECK(std::abs(rpv[2 * i] - std::cos(a)) < 1e-6);
    CHECK(std::abs(rpv[2 * i + 1] - std::sin(a)) < 1e-6);
  }
  require_error([] { data::TensorDataset(zeros<float>({3, 2}), zeros<float>({4})); },
                {"TensorDataset: every tensor must have the same size of dim 0", "tensor 1 has shape [4]"});
}
