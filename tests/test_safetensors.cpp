// safetensors (latent/io/safetensors.hpp): F16/BF16 conversions, round trips of every
// dtype, files made by PyTorch + safetensors (tests/fixtures/safetensors/, regenerate
// with scripts/safetensors_roundtrip.sh make-fixtures), byte-identical layout with the
// Python library, save_module/load_module, atomic writes, and the reader's validation:
// every malformed file is a latent::Error naming the file and what is wrong.
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latent/io.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

#include "helpers.hpp"

using namespace latent;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using latent::testing::TempDir;

namespace {

fs::path fixture(const std::string& name) { return fs::path(LATENT_FIXTURES_DIR) / "safetensors" / name; }

using latent::testing::read_bytes;
using latent::testing::write_bytes;

nlohmann::json expected_json() {
  std::ifstream in(fixture("expected.json"));
  INFO("missing tests/fixtures/safetensors/expected.json: run scripts/safetensors_roundtrip.sh make-fixtures");
  REQUIRE(in.is_open());
  return nlohmann::json::parse(in);
}


// A file from a header (padded to 8 bytes with spaces unless told) and a data buffer.
Bytes make_file(const std::string& header, const Bytes& data = {}, bool pad = true) {
  std::string h = header;
  if (pad) h.append((8 - h.size() % 8) % 8, ' ');
  Bytes out(8 + h.size() + data.size());
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(h.begin(), h.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<long>(h.size()));
  return out;
}
uint64_t header_length(const Bytes& f) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(f[i]) << (8 * i);
  return n;
}
void set_header_length(Bytes& f, uint64_t n) {
  for (int i = 0; i < 8; ++i) f[i] = static_cast<uint8_t>(n >> (8 * i));
}
std::string header_of(const Bytes& f) { return std::string(f.begin() + 8, f.begin() + 8 + static_cast<long>(header_length(f))); }
Bytes data_of(const Bytes& f) { return Bytes(f.begin() + 8 + static_cast<long>(header_length(f)), f.end()); }
// The file with `from` replaced by `to` in its header (re-padded), data unchanged.
Bytes edit_header(const Bytes& f, const std::string& from, const std::string& to) {
  std::string h = header_of(f);
  auto at = h.find(from);
  INFO("'" << from << "' not in header " << h);
  REQUIRE(at != std::string::npos);
  h.replace(at, from.size(), to);
  while (!h.empty() && h.back() == ' ') h.pop_back();
  return make_file(h, data_of(f));
}

// Reading `f` throws latent::Error whose message contains every part.
void require_rejected(const Bytes& f, std::initializer_list<std::string> parts) {
  try {
    io::SafeTensors::from_bytes(f);
  } catch (const Error& e) {
    std::string what = e.what();
    INFO(what);
    CHECK(what.find("safetensors: <buffer>: ") != std::string::npos);
    for (auto& p : parts) CHECK(what.find(p) != std::string::npos);
    return;
  } catch (const std::exception& e) {
    FAIL("not a latent::Error: " << e.what());
  }
  FAIL("accepted a malformed file: " << std::string(f.begin(), f.end()));
}
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// A small valid file: F32 "a" [2] = {1, 2} and U8 "b" [3], as the writer lays it out.
Bytes small_file() {
  return make_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})",
      {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 7, 8, 9});
}

std::shared_ptr<nn::Sequential<float>> mlp(uint64_t seed) {
  manual_seed(seed);
  auto net = std::make_shared<nn::Sequential<float>>();
  net->push_back(std::make_shared<nn::Linear<float>>(3, 4));
  net->push_back(nn::ReLU<float>());
  net->push_back(std::make_shared<nn::Linear<float>>(4, 2));
  return net;
}
template <typename T>
Tensor<T> rows(const nlohmann::json& j) {
  std::vector<T> v;
  for (auto& r : j)
    for (auto& x : r) v.push_back(x.get<T>());
  return from_vector<T>(v, {static_cast<int64_t>(j.size()), static_cast<int64_t>(j[0].size())});
}
double json_number(const nlohmann::json& v) {
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  return v.get<double>();
}
bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

}  // namespace

// ---------------------------------------------------------------------------------------

TEST_CASE("safetensors: F16 and BF16 conversions are exact and round to nearest even", "[safetensors]") {
  SECTION("every F16 and BF16 value decodes exactly and encodes back to itself") {
    for (uint32_t h = 0; h < 65536; ++h) {
      const auto bits = static_cast<uint16_t>(h);
      float f = io::half_bits_to_float(bits);
      const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
      double want = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
      if (h & 0x8000) want = -want;
      if (exp == 31) {
        REQUIRE((mant ? std::isnan(f) : std::isinf(f)));
      } else {
        INFO("half bits " << h);
        REQUIRE(same_value(f, want));
      }
      if (!std::isnan(f)) REQUIRE(io::float_to_half_bits(f) == bits);

      float g = io::bfloat16_bits_to_float(bits);
      uint32_t fb;
      std::memcpy(&fb, &g, 4);
      REQUIRE(fb == h << 16);
      if (!std::isnan(g)) REQUIRE(io::float_to_bfloat16_bits(g) == bits);
    }
  }
  SECTION("F16 edge cases") {
    CHECK(io::float_to_half_bits(0.0) == 0x0000);
    CHECK(io::float_to_half_bits(-0.0) == 0x8000);
    CHECK(io::float_to_half_bits(1.0) == 0x3c00);
    CHECK(io::float_to_half_bits(1 + std::ldexp(1, -11)) == 0x3c00);      // tie -> even (down)
    CHECK(io::float_to_half_bits(1 + 3 * std::ldexp(1, -11)) == 0x3c02);  // tie -> even (up)
    CHECK(io::float_to_half_bits(1 + std::ldexp(1, -11) + std::ldexp(1, -30)) == 0x3c01);  // above the tie
    CHECK(io::float_to_half_bits(65504.0) == 0x7bff);
    CHECK(io::float_to_half_bits(65519.0) == 0x7bff);
    CHECK(io::float_to_half_bits(65520.0) == 0x7c00);  // the tie with 65536 rounds to even: overflow
    CHECK(io::float_to_half_bits(1e10) == 0x7c00);
    CHECK(io::float_to_half_bits(-1e300) == 0xfc00);
    CHECK(io::float_to_half_bits(std::numeric_limits<double>::infinity()) == 0x7c00);
    CHECK(io::float_to_half_bits(-std::numeric_limits<double>::infinity()) == 0xfc00);
    CHECK(io::float_to_half_bits(std::numeric_limits<double>::quiet_NaN()) == 0x7e00);
    CHECK(std::isnan(io::half_bits_to_float(io::float_to_half_bits(-std::numeric_limits<double>::quiet_NaN()))));
    CHECK(io::float_to_half_bits(std::ldexp(1, -14)) == 0x0400);                       // smallest normal
    CHECK(io::float_to_half_bits(std::ldexp(1, -14) - std::ldexp(1, -25)) == 0x0400);  // tie -> even (normal)
    CHECK(io::float_to_half_bits(std::ldexp(1, -24)) == 0x0001);                       // smallest subnormal
    CHECK(io::float_to_half_bits(std::ldexp(1, -25)) == 0x0000);                       // tie -> even (zero)
    CHECK(io::float_to_half_bits(-std::ldexp(1, -25)) == 0x8000);
    CHECK(io::float_to_half_bits(1.5 * std::ldexp(1, -25)) == 0x0001);
    CHECK(io::float_to_half_bits(3 * std::ldexp(1, -25)) == 0x0002);  // tie between 1 and 2 units -> 2
    CHECK(io::float_to_half_bits(1e-300) == 0x0000);
    CHECK(io::float_to_half_bits(std::numeric_limits<double>::denorm_min()) == 0x0000);
    CHECK(io::half_bits_to_float(0x0001) == std::ldexp(1.0f, -24));
    CHECK(io::half_bits_to_float(0x03ff) == std::ldexp(1023.0f, -24));
    CHECK(io::half_bits_to_float(0x7bff) == 65504.0f);
    // A double is rounded once: float(x) lands on the tie and would round down.
    double x = 1 + std::ldexp(1, -11) + std::ldexp(1, -40);
    CHECK(io::float_to_half_bits(x) == 0x3c01);
    CHECK(io::float_to_half_bits(static_cast<float>(x)) == 0x3c00);
  }
  SECTION("BF16 edge cases") {
    CHECK(io::float_to_bfloat16_bits(1.0) == 0x3f80);
    CHECK(io::float_to_bfloat16_bits(-0.0) == 0x8000);
    CHECK(io::float_to_bfloat16_bits(1 + std::ldexp(1, -8)) == 0x3f80);      // tie -> even (down)
    CHECK(io::float_to_bfloat16_bits(1 + 3 * std::ldexp(1, -8)) == 0x3f82);  // tie -> even (up)
    CHECK(io::float_to_bfloat16_bits(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up to inf
    CHECK(io::float_to_bfloat16_bits(std::numeric_limits<double>::infinity()) == 0x7f80);
    CHECK(io::float_to_bfloat16_bits(std::numeric_limits<double>::quiet_NaN()) == 0x7fc0);
    CHECK(io::float_to_bfloat16_bits(std::ldexp(1, -133)) == 0x0001);  // smallest subnormal
    CHECK(io::float_to_bfloat16_bits(std::ldexp(1, -134)) == 0x0000);  // tie -> zero
    CHECK(io::float_to_bfloat16_bits(std::ldexp(3, -134)) == 0x0002);  // tie -> even
    CHECK(io::float_to_bfloat16_bits(std::ldexp(1, -126)) == 0x0080);  // smallest normal
    CHECK(io::float_to_bfloat16_bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
    CHECK(io::float_to_bfloat16_bits(3.0e38) == 0x7f62);
  }
}

TEST_CASE("safetensors: round trip of every dtype, 0-dim and empty tensors, metadata", "[safetensors]") {
  auto f32 = from_vector<float>({1.5f, -2.25f, 3e-8f, 1e30f, INFINITY, -0.0f}, {2, 3});
  auto f64 = from_vector<double>({0.1, -1e300, 5e-324, NAN}, {4});
  auto i64 = from_vector<int64_t>({std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()}, {2, 2});
  auto i32 = from_vector<int32_t>({std::numeric_limits<int32_t>::min(), 5, std::numeric_limits<int32_t>::max()}, {3});
  auto u8 = from_vector<uint8_t>({0, 1, 200, 255}, {1, 4});
  auto scalar = scalar_tensor<float>(2.5f);
  auto empty = zeros<float>({0, 3});
  auto empty2 = zeros<int64_t>({2, 0, 5});
  auto strided = arange<double>(0, 6).reshape({2, 3}).t();  // not contiguous: written row-major
  Bytes i16{0x00, 0x80, 0xff, 0xff, 0x34, 0x12};           // -32768, -1, 0x1234
  Bytes u16{0xff, 0xff, 0x00, 0x00}, u32{0xff, 0xff, 0xff, 0xff}, i8{0x80, 0x7f};
  Bytes u64{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0};
  io::NamedTensors entries{{"f32", f32},
                           {"f64", f64},
                           {"i64", i64},
                           {"i32", i32},
                           {"u8", u8},
                           {"scalar", scalar},
                           {"empty", empty},
                           {"empty2", empty2},
                           {"strided", strided},
                           {"bool", io::RawTensor{"BOOL", {3}, {1, 0, 1}}},
                           {"i16", io::RawTensor{"I16", {3}, i16}},
                           {"u16", io::RawTensor{"U16", {2}, u16}},
                           {"u32", io::RawTensor{"U32", {1}, u32}},
                           {"i8", io::RawTensor{"I8", {2}, i8}},
                           {"u64", io::RawTensor{"U64", {2}, u64}},
                           {"f8", io::RawTensor{"F8_E4M3", {2}, {1, 2}}},
                           {"f4", io::RawTensor{"F4", {2, 2}, {0x12, 0x34}}}};
  io::Metadata meta{{"format", "pt"}, {"note", "h\u00e9llo \"q\" \\ \n\t\x01"}, {"", "empty key"}};
  auto bytes = io::serialize_safetensors(entries, meta);
  auto file = io::SafeTensors::from_bytes(bytes);
  REQUIRE(file.size() == entries.size());
  REQUIRE(file.metadata() == meta);
  REQUIRE(file.header_size() % 8 == 0);
  REQUIRE(bytes[8] == '{');

  LATENT_REQUIRE_CLOSE(file.get<float>("f32"), f32, 0, 0);
  REQUIRE(std::signbit(file.get<float>("f32").to_vector()[5]));
  LATENT_REQUIRE_CLOSE(file.get<double>("f64"), f64, 0, 0);
  REQUIRE(file.get<double>("f64").to_vector()[2] == 5e-324);
  REQUIRE(file.get<int64_t>("i64").to_vector() == i64.to_vector());
  REQUIRE(file.get<int64_t>("i64").shape() == Shape{2, 2});
  REQUIRE(file.get<int32_t>("i32").to_vector() == i32.to_vector());
  REQUIRE(file.get<uint8_t>("u8").to_vector() == u8.to_vector());
  REQUIRE(file.get<float>("scalar").dim() == 0);
  REQUIRE(file.get<float>("scalar").item() == 2.5f);
  REQUIRE(file.entry("scalar").shape.empty());
  REQUIRE(file.get<float>("empty").shape() == Shape{0, 3});
  REQUIRE(file.get<int64_t>("empty2").shape() == Shape{2, 0, 5});
  REQUIRE(file.entry("empty2").bytes.empty());
  REQUIRE(file.get<double>("strided").to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
  REQUIRE(file.get<uint8_t>("bool").to_vector() == std::vector<uint8_t>{1, 0, 1});
  REQUIRE(file.get<int64_t>("i16").to_vector() == std::vector<int64_t>{-32768, -1, 0x1234});
  REQUIRE(file.get<int64_t>("u16").to_vector() == std::vector<int64_t>{65535, 0});
  REQUIRE(file.get<int64_t>("u32").to_vector() == std::vector<int64_t>{4294967295LL});
  REQUIRE(file.get<int32_t>("i8").to_vector() == std::vector<int32_t>{-128, 127});
  REQUIRE(file.get<double>("u64").to_vector() == std::vector<double>{18446744073709551615.0, 1.0});
  REQUIRE(file.entry("f4").bytes.size() == 2);

  SECTION("dtype strings and byte spans") {
    REQUIRE(file.entry("f32").dtype == "F32");
    REQUIRE(file.entry("f64").dtype == "F64");
    REQUIRE(file.entry("i64").dtype == "I64");
    REQUIRE(file.entry("i32").dtype == "I32");
    REQUIRE(file.entry("u8").dtype == "U8");
    REQUIRE(file.entry("bool").dtype == "BOOL");
    REQUIRE(file.entry("strided").dtype == "F64");
    REQUIRE(file.entry("f32").bytes.size() == 24);
    REQUIRE(file.entry("f32").shape == std::vector<int64_t>{2, 3});
  }
  SECTION("conversions between dtypes") {
    REQUIRE(file.get<double>("i64").to_vector()[3] == 9223372036854775807.0);
    REQUIRE(file.get<float>("u8").to_vector() == std::vector<float>{0, 1, 200, 255});
    REQUIRE(file.get<double>("bool").to_vector() == std::vector<double>{1, 0, 1});
    REQUIRE(file.get<float>("f64").to_vector()[0] == 0.1f);
    REQUIRE(file.get<int64_t>("u8").to_vector() == std::vector<int64_t>{0, 1, 200, 255});
    auto e = error_of([&] { file.get<int64_t>("f32"); });
    CHECK_THAT(e, Catch::Contains("'f32'") && Catch::Contains("floating dtype F32") && Catch::Contains("Tensor<int64>"));
    e = error_of([&] { file.get<int32_t>("i64"); });
    CHECK_THAT(e, Catch::Contains("element 0 (-9223372036854775808) of I64 does not fit in Tensor<int32>"));
    e = error_of([&] { file.get<uint8_t>("i32"); });
    CHECK_THAT(e, Catch::Contains("does not fit in Tensor<uint8>"));
    e = error_of([&] { file.get<int64_t>("u64"); });
    CHECK_THAT(e, Catch::Contains("18446744073709551615"));
    e = error_of([&] { file.get<float>("f8"); });
    CHECK_THAT(e, Catch::Contains("dtype F8_E4M3, which latent does not convert"));
    e = error_of([&] { file.get<float>("nope"); });
    CHECK_THAT(e, Catch::Contains("safetensors: <buffer>: no tensor named 'nope'"));
  }
  SECTION("floats stored as F16, BF16, F32, F64") {
    io::NamedTensors two{{"f", f32}, {"d", f64}, {"i", i64}};
    for (auto [how, name] : {std::pair{io::StoreFloatsAs::F16, "F16"}, std::pair{io::StoreFloatsAs::BF16, "BF16"},
                             std::pair{io::StoreFloatsAs::F32, "F32"}, std::pair{io::StoreFloatsAs::F64, "F64"}}) {
      auto r = io::SafeTensors::from_bytes(io::serialize_safetensors(two, {}, {.floats = how}));
      REQUIRE(r.entry("f").dtype == name);
      REQUIRE(r.entry("d").dtype == name);
      REQUIRE(r.entry("i").dtype == "I64");  // integers unchanged
      auto got = r.get<double>("f").to_vector();
      auto src = f32.to_vector();
      for (size_t k = 0; k < src.size(); ++k) {
        double want = src[k];
        if (how == io::StoreFloatsAs::F16) want = io::half_bits_to_float(io::float_to_half_bits(src[k]));
        if (how == io::StoreFloatsAs::BF16) want = io::bfloat16_bits_to_float(io::float_to_bfloat16_bits(src[k]));
        INFO(name << " element " << k);
        REQUIRE(same_value(got[k], want));
      }
    }
  }
  SECTION("no metadata: no __metadata__ key") {
    auto b = io::serialize_safetensors({{"x", f32}});
    REQUIRE(header_of(b).rfind(R"({"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", 0) == 0);
    REQUIRE(io::SafeTensors::from_bytes(b).metadata().empty());
    auto none = io::serialize_safetensors({});
    REQUIRE(none == make_file("{}"));  // as the reference: 8 bytes "{}" + 6 spaces
    REQUIRE(io::SafeTensors::from_bytes(none).size() == 0);
  }
  SECTION("writer errors") {
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"a", f32}, {"a", f64}}); }),
               Catch::Contains("the tensor name 'a' appears twice"));
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"__metadata__", f32}}); }), Catch::Contains("reserved"));
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"u", Tensor<float>()}}); }), Catch::Contains("'u' is undefined"));
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"r", io::RawTensor{"F32", {2}, {1, 2, 3}}}}); }),
               Catch::Contains("raw tensor 'r' has 3 bytes, but shape and dtype F32 take 8"));
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"r", io::RawTensor{"Q8", {1}, {1}}}}); }),
               Catch::Contains("unknown dtype \"Q8\""));
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"r", io::RawTensor{"F4", {3}, {1, 2}}}}); }),
               Catch::Contains("not a whole number of bytes"));
    CHECK_THAT(error_of([&] { io::serialize_safetensors({{"bad\xff", f32}}); }), Catch::Contains("not valid UTF-8"));
  }
}

TEST_CASE("safetensors: the writer lays files out byte for byte as the Python library", "[safetensors]") {
  auto expected = expected_json();
  SECTION("mixed dtypes and names (layout.safetensors)") {
    io::NamedTensors entries;
    for (auto& t : expected["layout"]["tensors"]) {
      std::string dtype = t["dtype"];
      Shape shape(t["shape"].get<std::vector<int64_t>>());
      std::vector<double> v;
      for (auto& x : t["values"]) v.push_back(x.get<double>());
      auto name = t["name"].get<std::string>();
      auto as = [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> w(v.begin(), v.end());
        return from_vector<T>(w, shape);
      };
      if (dtype == "F32") entries.emplace_back(name, as(float{}));
      else if (dtype == "F64") entries.emplace_back(name, as(double{}));
      else if (dtype == "I64") entries.emplace_back(name, as(int64_t{}));
      else if (dtype == "I32") entries.emplace_back(name, as(int32_t{}));
      else if (dtype == "U8") entries.emplace_back(name, as(uint8_t{}));
      else {
        io::RawTensor raw{dtype, shape.vec(), {}};
        for (double x : v) {
          if (dtype == "BOOL") {
            raw.bytes.push_back(x != 0);
          } else {
            uint16_t h = dtype == "F16" ? io::float_to_half_bits(x) : io::float_to_bfloat16_bits(x);
            raw.bytes.push_back(static_cast<uint8_t>(h));
            raw.bytes.push_back(static_cast<uint8_t>(h >> 8));
          }
        }
        entries.emplace_back(name, raw);
      }
    }
    auto ours = io::serialize_safetensors(entries);
    auto theirs = read_bytes(fixture("layout.safetensors"));
    INFO("latent:      " << header_of(ours) << "\nsafetensors: " << header_of(theirs));
    REQUIRE(ours == theirs);
  }
  SECTION("save_module of the model loaded from PyTorch's file (mlp.safetensors)") {
    TempDir dir;
    auto net = mlp(123);
    io::load_module(*net, fixture("mlp.safetensors"));
    io::save_module(*net, dir.path / "mlp.safetensors");
    REQUIRE(read_bytes(dir.path / "mlp.safetensors") == read_bytes(fixture("mlp.safetensors")));
  }
}

TEST_CASE("safetensors: reads files made by PyTorch + safetensors", "[safetensors]") {
  auto expected = expected_json();
  SECTION("every dtype, values and metadata (dtypes.safetensors)") {
    auto file = io::SafeTensors::read_file(fixture("dtypes.safetensors"));
    auto& ex = expected["dtypes"];
    io::Metadata meta;
    for (auto& [k, v] : ex["metadata"].items()) meta[k] = v.get<std::string>();
    REQUIRE(file.metadata() == meta);
    REQUIRE(file.size() == ex["tensors"].size());
    for (auto& [name, t] : ex["tensors"].items()) {
      INFO("tensor " << name);
      const auto& e = file.entry(name);
      REQUIRE(e.dtype == t["dtype"].get<std::string>());
      REQUIRE(e.shape == t["shape"].get<std::vector<int64_t>>());
      auto got = file.get<double>(name);
      REQUIRE(got.shape() == Shape(e.shape));
      auto v = got.to_vector();
      REQUIRE(v.size() == t["values"].size());
      for (size_t k = 0; k < v.size(); ++k) {
        INFO("element " << k << ": " << v[k] << " vs " << t["values"][k]);
        if (e.dtype == "I64")
          REQUIRE(file.get<int64_t>(name).to_vector()[k] == t["values"][k].get<int64_t>());
        else
          REQUIRE(same_value(v[k], json_number(t["values"][k])));
      }
    }
    REQUIRE(file.get<float>("scalar").dim() == 0);
    REQUIRE(file.get<float>("empty").shape() == Shape{0, 3});
    REQUIRE(file.get<float>("cube").at({1, 2, 3}) == 23.0f);
    // torch's float32 -> F16 / BF16 conversions, bit for bit.
    auto src = file.get<float>("f32_source").to_vector();
    const auto& f16 = file.entry("f16");
    const auto& bf16 = file.entry("bf16");
    for (size_t k = 0; k < src.size(); ++k) {
      uint16_t h = static_cast<uint16_t>(f16.bytes[2 * k] | (f16.bytes[2 * k + 1] << 8));
      uint16_t b = static_cast<uint16_t>(bf16.bytes[2 * k] | (bf16.bytes[2 * k + 1] << 8));
      INFO("element " << k << " = " << src[k]);
      if (std::isnan(src[k])) {  // NaN payloads are the converter's choice (torch writes BF16 NaN as 0xffff)
        CHECK(std::isnan(io::half_bits_to_float(h)));
        CHECK(std::isnan(io::bfloat16_bits_to_float(b)));
        continue;
      }
      CHECK(io::float_to_half_bits(src[k]) == h);
      CHECK(io::float_to_bfloat16_bits(src[k]) == b);
    }
  }
  SECTION("a PyTorch model's state_dict loads into the same latent model (mlp.safetensors)") {
    auto& ex = expected["mlp"];
    auto x = rows<float>(ex["input"]);
    auto net = mlp(5);
    io::load_module(*net, fixture("mlp.safetensors"));
    LATENT_REQUIRE_CLOSE(net->forward(x), rows<float>(ex["output"]), 1e-6, 1e-6);
    // Into a double model: F32 converted; compared with the same weights run in float64.
    manual_seed(5);
    nn::Sequential<double> net64{std::make_shared<nn::Linear<double>>(3, 4), nn::ReLU<double>(),
                                 std::make_shared<nn::Linear<double>>(4, 2)};
    io::load_module(net64, fixture("mlp.safetensors"));
    LATENT_REQUIRE_CLOSE(net64.forward(rows<double>(ex["input"])), rows<double>(ex["output_f64"]), 1e-12, 1e-12);
    auto file = io::SafeTensors::read_file(fixture("mlp.safetensors"));
    REQUIRE(file.names() == std::vector<std::string>{"0.bias", "0.weight", "2.bias", "2.weight"});
    REQUIRE(file.metadata() == io::Metadata{{"format", "pt"}});
  }
}

TEST_CASE("safetensors: save_module / load_module round trip and strict-mode errors", "[safetensors]") {
  TempDir dir;
  const fs::path path = dir.path / "net.safetensors";
  auto a = mlp(1), b = mlp(2);
  auto x = randn<float>({7, 3});
  io::save_module(*a, path, {{"epoch", "3"}});
  io::load_module(*b, path);
  LATENT_REQUIRE_CLOSE(b->forward(x), a->forward(x), 0, 0);
  auto file = io::SafeTensors::read_file(path);
  REQUIRE(file.metadata() == io::Metadata{{"epoch", "3"}, {"format", "pt"}});
  REQUIRE(file.names() == std::vector<std::string>{"0.bias", "0.weight", "2.bias", "2.weight"});
  io::save_module(*a, path, {{"format", "latent"}});
  REQUIRE(io::SafeTensors::read_file(path).metadata().at("format") == "latent");

  SECTION("stored as BF16, loaded into float and double modules") {
    io::save_module(*a, path, {}, {.floats = io::StoreFloatsAs::BF16});
    REQUIRE(io::SafeTensors::read_file(path).entry("0.weight").dtype == "BF16");
    io::load_module(*b, path);
    auto w = a->get<nn::Linear<float>>(0)->weight.to_vector(), got = b->get<nn::Linear<float>>(0)->weight.to_vector();
    for (size_t k = 0; k < w.size(); ++k) REQUIRE(got[k] == io::bfloat16_bits_to_float(io::float_to_bfloat16_bits(w[k])));
    nn::Sequential<double> d{std::make_shared<nn::Linear<double>>(3, 4), nn::ReLU<double>(),
                             std::make_shared<nn::Linear<double>>(4, 2)};
    io::load_module(d, path);
    REQUIRE(d.get<nn::Linear<double>>(2)->bias.to<float>().to_vector() == b->get<nn::Linear<float>>(2)->bias.to_vector());
  }
  SECTION("missing keys") {
    auto bigger = mlp(3);
    bigger->push_back(nn::ReLU<float>());
    bigger->push_back(std::make_shared<nn::Linear<float>>(2, 1));
    auto e = error_of([&] { io::load_module(*bigger, path); });
    CHECK_THAT(e, Catch::Contains(path.string()) && Catch::Contains("missing key(s): \"4.weight\" \"4.bias\""));
    io::load_module(*bigger, path, /*strict=*/false);
    LATENT_REQUIRE_CLOSE(bigger->get<nn::Linear<float>>(2)->weight, a->get<nn::Linear<float>>(2)->weight, 0, 0);
  }
  SECTION("unexpected keys, even of a dtype latent does not convert") {
    auto entries = io::named_tensors(a->state_dict());
    entries.emplace_back("extra", from_vector<int64_t>({1}));
    entries.emplace_back("fp8", io::RawTensor{"F8_E5M2", {1}, {0}});
    io::save_safetensors(path, entries);
    auto e = error_of([&] { io::load_module(*b, path); });
    CHECK_THAT(e, Catch::Contains(path.string()) && Catch::Contains("unexpected key(s): \"extra\" \"fp8\""));
    io::load_module(*b, path, /*strict=*/false);
    LATENT_REQUIRE_CLOSE(b->forward(x), a->forward(x), 0, 0);
  }
  SECTION("shape mismatch, strict or not") {
    manual_seed(4);
    nn::Sequential<float> wide{std::make_shared<nn::Linear<float>>(3, 5), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(5, 2)};
    for (bool strict : {true, false}) {
      auto e = error_of([&] { io::load_module(wide, path, strict); });
      CHECK_THAT(e, Catch::Contains(path.string()) && Catch::Contains("size mismatch for 0.bias"));
    }
  }
  SECTION("missing file") {
    auto e = error_of([&] { io::load_module(*b, dir.path / "absent.safetensors"); });
    CHECK_THAT(e, Catch::Contains("absent.safetensors") && Catch::Contains("cannot open"));
    e = error_of([&] { io::SafeTensors::read_file(dir.path); });
    CHECK_THAT(e, Catch::Contains("is a directory"));
  }
}

TEST_CASE("safetensors: writes are atomic", "[safetensors]") {
  TempDir dir;
  auto t = from_vector<float>({1, 2, 3});
  const fs::path target = dir.path / "model.safetensors";
  io::save_safetensors(target, {{"t", t}});
  const Bytes before = read_bytes(target);
  REQUIRE(dir.listing() == std::vector<std::string>{"model.safetensors"});

  SECTION("into a directory that does not exist") {
    auto missing = dir.path / "no" / "such" / "dir" / "x.safetensors";
    auto e = error_of([&] { io::save_safetensors(missing, {{"t", t}}); });
    CHECK_THAT(e, Catch::Contains(missing.string()) && Catch::Contains("No such file or directory"));
    CHECK_FALSE(fs::exists(missing));
  }
  SECTION("over a directory: the rename fails, the temporary file is removed") {
    fs::create_directories(dir.path / "taken.safetensors" / "inside");
    auto e = error_of([&] { io::save_safetensors(dir.path / "taken.safetensors", {{"t", t}}); });
    CHECK_THAT(e, Catch::Contains("taken.safetensors") && Catch::Contains("rename"));
    REQUIRE(dir.listing() == std::vector<std::string>{"model.safetensors", "taken.safetensors"});
    REQUIRE(fs::exists(dir.path / "taken.safetensors" / "inside"));
  }
  SECTION("invalid entries leave the existing target untouched") {
    auto e = error_of([&] { io::save_safetensors(target, {{"t", t}, {"t", t}}); });
    CHECK_THAT(e, Catch::Contains(target.string()) && Catch::Contains("appears twice"));
    REQUIRE(read_bytes(target) == before);
    REQUIRE(dir.listing() == std::vector<std::string>{"model.safetensors"});
  }
  SECTION("a successful write replaces the target") {
    io::save_safetensors(target, {{"t", t}, {"u", t}});
    REQUIRE(io::SafeTensors::read_file(target).size() == 2);
    REQUIRE(dir.listing() == std::vector<std::string>{"model.safetensors"});
  }
}

TEST_CASE("safetensors: malformed files are rejected with a clear error", "[safetensors]") {
  const Bytes good = small_file();
  REQUIRE(io::SafeTensors::from_bytes(good).get<float>("a").to_vector() == std::vector<float>{1, 2});
  const std::string a_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

  SECTION("shorter than 8 bytes") {
    for (size_t n = 0; n < 8; ++n)
      require_rejected(Bytes(good.begin(), good.begin() + static_cast<long>(n)),
                       {"the file is " + std::to_string(n) + " bytes long, shorter than the 8-byte header length"});
  }
  SECTION("header length past the end of the file, or absurdly large") {
    for (uint64_t n : {header_length(good) + 12, uint64_t{1} << 40, ~uint64_t{0}}) {
      Bytes f = good;
      set_header_length(f, n);
      require_rejected(f, {"header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(good.size()) + " bytes"});
    }
    Bytes huge(8 + 100'000'001 + 7, ' ');
    set_header_length(huge, 100'000'001);
    require_rejected(huge, {"header length 100000001 is above the format's limit of 100000000 bytes"});
  }
  SECTION("header length changed: the JSON or the data no longer fit") {
    const uint64_t n = header_length(good);
    for (uint64_t m : {uint64_t{0}, uint64_t{1}, n - 1, n - 8, n + 1, n + 8}) {
      Bytes f = good;
      set_header_length(f, m);
      INFO("header length " << m << " instead of " << n);
      REQUIRE_THROWS_AS(io::SafeTensors::from_bytes(f), Error);
    }
  }
  SECTION("header not valid JSON") {
    require_rejected(make_file(R"({"a":)"), {"header is not valid JSON"});
    require_rejected(make_file("not json"), {"header is not valid JSON"});
    require_rejected(make_file(std::string("{}\0\0", 4), {}, false), {"header is not valid JSON"});
    require_rejected(make_file(std::string("{}") + '\0'), {"header is not valid JSON: NUL byte at header offset 2"});
    require_rejected(make_file(std::string("{\"a\0\":1}", 8)), {"NUL byte at header offset 3"});
    require_rejected(make_file("{\"\xff\":1}"), {"header is not valid JSON"});  // not UTF-8
    require_rejected(make_file("{/* c */}"), {"header is not valid JSON"});
    require_rejected(make_file(""), {"header is not valid JSON"});
  }
  SECTION("header not a JSON object") {
    require_rejected(make_file("[1,2]"), {"the header is an array, not a JSON object"});
    require_rejected(make_file("\"str\""), {"the header is a string, not a JSON object"});
    require_rejected(make_file("null"), {"the header is null, not a JSON object"});
    require_rejected(make_file("3"), {"the header is an integer, not a JSON object"});
  }
  SECTION("entry missing a field or of the wrong JSON type") {
    require_rejected(edit_header(good, R"("dtype":"F32",)", ""), {"tensor 'a' has no \"dtype\""});
    require_rejected(edit_header(good, R"("shape":[2],)", ""), {"tensor 'a' has no \"shape\""});
    require_rejected(edit_header(good, R"(,"data_offsets":[0,8])", ""), {"tensor 'a' has no \"data_offsets\""});
    require_rejected(edit_header(good, a_entry, R"("a":5)"), {"tensor 'a' is described by an integer, not an object"});
    require_rejected(edit_header(good, a_entry, R"("a":[])"), {"tensor 'a' is described by an array"});
    require_rejected(edit_header(good, R"("dtype":"F32")", R"("dtype":32)"), {"tensor 'a': dtype is an integer, not a string"});
    require_rejected(edit_header(good, R"("shape":[2])", R"("shape":2)"), {"tensor 'a': shape is an integer, not an array"});
    require_rejected(edit_header(good, R"("shape":[2])", R"("shape":{"0":2})"), {"shape is an object"});
    require_rejected(edit_header(good, R"("data_offsets":[0,8])", R"("data_offsets":"0,8")"),
                     {"tensor 'a': data_offsets must be [begin, end], found \"0,8\""});
  }
  SECTION("unknown dtype") {
    require_rejected(edit_header(good, R"("F32")", R"("Q8")"), {"tensor 'a' has the unknown dtype \"Q8\"", "known: BOOL"});
    require_rejected(edit_header(good, R"("F32")", R"("f32")"), {"unknown dtype \"f32\""});
    require_rejected(edit_header(good, R"("F32")", R"("")"), {"unknown dtype \"\""});
  }
  SECTION("negative or non-integer shape") {
    require_rejected(edit_header(good, "[2]", "[-2]"), {"tensor 'a': shape must hold non-negative integers, found a negative integer (-2)"});
    require_rejected(edit_header(good, "[2]", "[2.0]"), {"shape must hold non-negative integers, found a non-integer number (2.0)"});
    require_rejected(edit_header(good, "[2]", "[2.5]"), {"found a non-integer number (2.5)"});
    require_rejected(edit_header(good, "[2]", "[\"2\"]"), {"found a string (\"2\")"});
    require_rejected(edit_header(good, "[2]", "[null]"), {"found null"});
    require_rejected(edit_header(good, "[2]", "[[2]]"), {"found an array"});
    require_rejected(edit_header(good, "[2]", "[18446744073709551616]"), {"non-integer number"});  // > uint64
    require_rejected(edit_header(good, "[2]", "[9223372036854775808,0]"), {"shape extent 9223372036854775808 is above the int64 range"});
  }
  SECTION("data_offsets not [begin, end] with begin <= end") {
    require_rejected(edit_header(good, "[0,8]", "[0]"), {"tensor 'a': data_offsets must be [begin, end], found [0]"});
    require_rejected(edit_header(good, "[0,8]", "[0,8,8]"), {"data_offsets must be [begin, end], found [0,8,8]"});
    require_rejected(edit_header(good, "[0,8]", "[]"), {"found []"});
    require_rejected(edit_header(good, "[0,8]", "[8,0]"), {"tensor 'a': data_offsets [8, 0] has begin > end"});
    require_rejected(edit_header(good, "[0,8]", "[-1,8]"), {"data_offsets must hold non-negative integers, found a negative integer (-1)"});
    require_rejected(edit_header(good, "[0,8]", "[0,8.0]"), {"found a non-integer number (8.0)"});
  }
  SECTION("end beyond the buffer") {
    require_rejected(edit_header(good, "[8,11]", "[8,12]"), {"tensor 'b': data_offsets [8, 12] runs past the end of the 11-byte data buffer"});
    require_rejected(edit_header(good, "[8,11]", "[8,18446744073709551615]"), {"runs past the end"});
  }
  SECTION("byte count differs from numel * dtype size") {
    require_rejected(edit_header(good, "[3]", "[4]"), {"tensor 'b': data_offsets [8, 11] span 3 bytes, but shape [4] of U8 takes 4 bytes"});
    require_rejected(edit_header(good, R"("F32")", R"("F64")"), {"span 8 bytes, but shape [2] of F64 takes 16 bytes"});
    require_rejected(edit_header(good, "[2]", "[]"), {"span 8 bytes, but shape [] of F32 takes 4 bytes"});
    require_rejected(edit_header(good, "[2]", "[2,0]"), {"takes 0 bytes"});
    require_rejected(make_file(R"({"p":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", {1, 2}),
                     {"3 elements of F4 (4 bits) are not a whole number of bytes"});
  }
  SECTION("overlapping entries, holes, trailing bytes (the reference rejects all)") {
    Bytes data(12, 0);
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})", data),
                     {"tensor 'b' (data_offsets [4, 12]) overlaps 'a' (data_offsets [0, 8])"});
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[12],"data_offsets":[0,12]},"b":{"dtype":"U8","shape":[12],"data_offsets":[0,12]}})", data),
                     {"overlaps"});
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})", data),
                     {"bytes [0, 4) of the data buffer belong to no tensor (a hole before 'a'"});
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})", data),
                     {"bytes [4, 8) of the data buffer belong to no tensor (a hole before 'b'"});
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", Bytes(5, 0)),
                     {"the data buffer holds 5 bytes but the tensors cover only 4"});
    require_rejected(make_file("{}", Bytes(1, 0)), {"holds 1 bytes but the tensors cover only 0"});
    // Empty tensors may share an offset, anywhere (as the reference).
    auto ok = io::SafeTensors::from_bytes(make_file(
        R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"f":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"g":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
        Bytes(4, 9)));
    REQUIRE(ok.names() == std::vector<std::string>{"g", "a", "e", "f"});
  }
  SECTION("duplicate keys") {
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {1}),
                     {"the header names 'a' twice"});
    require_rejected(edit_header(good, R"("dtype":"F32")", R"("dtype":"F32","dtype":"F32")"),
                     {"the header repeats the key 'dtype' inside one of its objects"});
    require_rejected(make_file(R"({"__metadata__":{"k":"1","k":"2"}})"), {"repeats the key 'k'"});
    require_rejected(make_file(R"({"__metadata__":{},"__metadata__":{}})"), {"names '__metadata__' twice"});
  }
  SECTION("__metadata__ not an object of strings") {
    require_rejected(make_file(R"({"__metadata__":{"a":1}})"), {"__metadata__[\"a\"] is an integer, not a string"});
    require_rejected(make_file(R"({"__metadata__":{"a":{"b":"c"}}})"), {"__metadata__[\"a\"] is an object, not a string"});
    require_rejected(make_file(R"({"__metadata__":{"a":null}})"), {"__metadata__[\"a\"] is null"});
    require_rejected(make_file(R"({"__metadata__":["a"]})"), {"__metadata__ is an array, not an object of strings"});
    require_rejected(make_file(R"({"__metadata__":"a"})"), {"__metadata__ is a string"});
    REQUIRE(io::SafeTensors::from_bytes(make_file(R"({"__metadata__":null})")).metadata().empty());  // as the reference
  }
  SECTION("shape numel overflow") {
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})"),
                     {"tensor 'a': the element count of shape [4294967296,4294967296,0] overflows"});
    require_rejected(make_file(R"({"a":{"dtype":"F64","shape":[2305843009213693952,4],"data_offsets":[0,0]}})"),
                     {"overflows"});
    require_rejected(make_file(R"({"a":{"dtype":"U8","shape":[9223372036854775807,2],"data_offsets":[0,0]}})"),
                     {"overflows"});
  }
  SECTION("rank above latent's maximum: the file reads, get() says why it cannot") {
    auto f = io::SafeTensors::from_bytes(make_file(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", {1}));
    REQUIRE(f.entry("a").shape.size() == 9);
    CHECK_THAT(error_of([&] { f.get<float>("a"); }), Catch::Contains("tensor 'a' has rank 9, above latent's maximum of 8"));
  }
  SECTION("errors name the file") {
    TempDir dir;
    Bytes f = good;
    set_header_length(f, 1000);
    write_bytes(dir.path / "bad.safetensors", f);
    auto e = error_of([&] { io::SafeTensors::read_file(dir.path / "bad.safetensors"); });
    CHECK_THAT(e, Catch::StartsWith("safetensors: '" + (dir.path / "bad.safetensors").string() + "': header length 1000"));
  }
}

TEST_CASE("safetensors: every truncation of a valid file is rejected", "[safetensors]") {
  for (const char* name : {"dtypes.safetensors", "mlp.safetensors"}) {
    const Bytes f = read_bytes(fixture(name));
    REQUIRE_NOTHROW(io::SafeTensors::from_bytes(f));
    for (size_t n = 0; n < f.size(); ++n) {
      INFO(name << " truncated to " << n << " of " << f.size() << " bytes");
      REQUIRE_THROWS_AS(io::SafeTensors::from_bytes(std::span<const uint8_t>(f.data(), n)), Error);
    }
    // And every header length but the right one.
    const uint64_t right = header_length(f);
    for (uint64_t m = 0; m < f.size() + 16; ++m) {
      if (m == right) continue;
      Bytes g = f;
      set_header_length(g, m);
      INFO(name << " with header length " << m << " instead of " << right);
      REQUIRE_THROWS_AS(io::SafeTensors::from_bytes(g), Error);
    }
  }
}
