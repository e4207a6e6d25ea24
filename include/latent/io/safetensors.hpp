// latent::io: reading and writing safetensors files, and saving/loading nn::Module state
// with them (PyTorch-style names: "0.weight", "encoder.fc1.bias", ...).
//
//   io::save_module(*net, "net.safetensors");                  // F32, {"format": "pt"}
//   io::load_module(*net, "net.safetensors");                  // strict: keys and shapes must match
//   auto file = io::SafeTensors::read_file("model.safetensors");
//   Tensor<float> w = file.get<float>("0.weight");             // F64/F32/F16/BF16/ints/BOOL -> float
//
// The format (https://huggingface.co/docs/safetensors; reference implementation
// github.com/huggingface/safetensors, safetensors/src/tensor.rs, whose checks this reader
// repeats): an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [2, 3],
//    "data_offsets": [begin, end]}, ...}
// (padded with spaces to a multiple of 8 bytes), then the data buffer. Offsets are
// relative to the buffer; data are little-endian and row-major. The tensors must cover
// the buffer exactly: sorted by offsets, each begins where the previous one ends (no
// holes, no overlaps) and the last ends at the end of the file. A header is at most
// 100,000,000 bytes (the reference limit).
//
// Writing follows the Python library byte for byte: tensors ordered by dtype alignment
// (largest first, in safetensors' Dtype order) then by name (bytewise), laid out in that
// order, "__metadata__" first, no whitespace, spaces to 8-byte alignment. Files are
// written atomically: to a temporary file in the target's directory, fsync'ed, then
// renamed over the target; on failure the temporary file is removed and the target is
// left as it was.
//
// Float tensors may be stored as F16 or BF16 (round to nearest, ties to even, overflow to
// infinity, computed from the exact value, so a double is rounded once; PyTorch rounds
// doubles to float first). F16 and BF16 are read exactly (bit manipulation).
#pragma once
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#endif

#include "../latent.hpp"

// Declared only: the reader and writer need the tensor core alone (the fuzz target builds
// with just this header); save_module/load_module are templates whose bodies need
// nn/module.hpp, which latent/io.hpp includes.
namespace latent::nn {
template <typename T> class Module;
}

namespace latent::io {

// Name -> tensor pairs in order: the same type as nn::StateDict<T> (Module::state_dict()).
template <typename T>
using StateDict = std::vector<std::pair<std::string, Tensor<T>>>;

// File-level metadata: the header's "__metadata__" object (string values only).
using Metadata = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------
// 16-bit floats: exact decoding and round-to-nearest-even encoding, by bit manipulation.
// ---------------------------------------------------------------------------------------

// IEEE binary16 bits -> float (exact: every half is a float).
inline float half_bits_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, nan (payload kept)
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);  // +-0
    // Subnormal: mant * 2^-24. Shift the leading 1 up to the implicit bit, one exponent step each.
    int e = -14;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    mant &= 0x3ffu;
    return std::bit_cast<float>(sign | (static_cast<uint32_t>(e + 127) << 23) | (mant << 13));
  }
  return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

// bfloat16 bits -> float (exact: bfloat16 is the top half of a float).
inline float bfloat16_bits_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

namespace detail {
// Rounds x to the nearest value of a binary format with E exponent bits and M stored
// mantissa bits (ties to even; past the largest finite value: infinity) and returns its
// 1 + E + M bit pattern. NaN becomes the quiet NaN of the same sign.
template <int E, int M>
uint16_t round_to_float16(double x) {
  constexpr int bias = (1 << (E - 1)) - 1;
  constexpr uint32_t exp_all = (1u << E) - 1;
  const uint64_t b = std::bit_cast<uint64_t>(x);
  const uint32_t sign = static_cast<uint32_t>(b >> 63) << (E + M);
  const int dexp = static_cast<int>((b >> 52) & 0x7ff);
  const uint64_t frac = b & ((uint64_t{1} << 52) - 1);
  if (dexp == 0x7ff)  // inf or nan
    return static_cast<uint16_t>(sign | (exp_all << M) | (frac ? (1u << (M - 1)) : 0u));
  if (dexp == 0) return static_cast<uint16_t>(sign);  // double subnormals are far below every 16-bit format
  const int e = dexp - 1023;                          // |x| = sig * 2^(e - 52)
  const uint64_t sig = (uint64_t{1} << 52) | frac;    // 53 significant bits
  // Normal target: keep M bits after the point. Subnormal target: units of 2^(1 - bias - M).
  const bool normal = e >= 1 - bias;
  const int shift = normal ? 52 - M : 52 - M + (1 - bias - e);
  if (shift > 53) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
  uint64_t q = sig >> shift;
  const uint64_t rem = sig & ((uint64_t{1} << shift) - 1), half = uint64_t{1} << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  if (!normal) return static_cast<uint16_t>(sign | q);  // q == 2^M is the smallest normal's pattern
  int biased = e + bias;
  if (q == (uint64_t{1} << (M + 1))) {  // rounded up to the next power of two
    q >>= 1;
    ++biased;
  }
  if (biased >= static_cast<int>(exp_all)) return static_cast<uint16_t>(sign | (exp_all << M));  // overflow
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(biased) << M) | (q & ((uint64_t{1} << M) - 1)));
}
}  // namespace detail

// float/double -> IEEE binary16 bits, round to nearest even (65520 and above: inf).
inline uint16_t float_to_half_bits(double x) { return detail::round_to_float16<5, 10>(x); }
// float/double -> bfloat16 bits, round to nearest even (as PyTorch's float -> bfloat16).
inline uint16_t float_to_bfloat16_bits(double x) { return detail::round_to_float16<8, 7>(x); }

// ---------------------------------------------------------------------------------------
// Dtypes
// ---------------------------------------------------------------------------------------

namespace detail {
enum class Kind { Float, Signed, Unsigned, Bool, Other };
struct DTypeInfo {
  const char* name;
  int bits;   // per element (F4 and F6 are packed)
  Kind kind;
};
// Every dtype of the format, in safetensors' Dtype order (increasing alignment): the
// writer orders tensors by descending position here, as the Python library does.
inline constexpr DTypeInfo kDTypes[] = {
    {"BOOL", 8, Kind::Bool},          {"F4", 4, Kind::Other},           {"F6_E2M3", 6, Kind::Other},
    {"F6_E3M2", 6, Kind::Other},      {"U8", 8, Kind::Unsigned},        {"I8", 8, Kind::Signed},
    {"F8_E5M2", 8, Kind::Other},      {"F8_E4M3", 8, Kind::Other},      {"F8_E8M0", 8, Kind::Other},
    {"F8_E4M3FNUZ", 8, Kind::Other},  {"F8_E5M2FNUZ", 8, Kind::Other},  {"I16", 16, Kind::Signed},
    {"U16", 16, Kind::Unsigned},      {"F16", 16, Kind::Float},         {"BF16", 16, Kind::Float},
    {"I32", 32, Kind::Signed},        {"U32", 32, Kind::Unsigned},      {"F32", 32, Kind::Float},
    {"C64", 64, Kind::Other},         {"F64", 64, Kind::Float},         {"I64", 64, Kind::Signed},
    {"U64", 64, Kind::Unsigned},
};
inline const DTypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}
inline int dtype_rank(const DTypeInfo* d) { return static_cast<int>(d - kDTypes); }
inline std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDTypes) {
    if (!s.empty()) s += ", ";
    s += d.name;
  }
  return s;
}
inline constexpr const char* kReadableDTypes = "F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL";

template <typename U>
U load_le(const uint8_t* p) {
  using Bits = std::conditional_t<sizeof(U) == 1, uint8_t,
               std::conditional_t<sizeof(U) == 2, uint16_t, std::conditional_t<sizeof(U) == 4, uint32_t, uint64_t>>>;
  Bits v = 0;
  for (size_t i = 0; i < sizeof(U); ++i) v = static_cast<Bits>(v | (static_cast<Bits>(p[i]) << (8 * i)));
  return std::bit_cast<U>(v);
}
template <typename U>
void store_le(U value, uint8_t* p) {
  using Bits = std::conditional_t<sizeof(U) == 1, uint8_t,
               std::conditional_t<sizeof(U) == 2, uint16_t, std::conditional_t<sizeof(U) == 4, uint32_t, uint64_t>>>;
  Bits v = std::bit_cast<Bits>(value);
  for (size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

template <typename T>
inline constexpr bool kReadable = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                  std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t> ||
                                  std::is_same_v<T, uint8_t>;
template <typename T>
const char* element_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  else if constexpr (std::is_same_v<T, double>) return "double";
  else if constexpr (std::is_same_v<T, int64_t>) return "int64";
  else if constexpr (std::is_same_v<T, int32_t>) return "int32";
  else return "uint8";
}
}  // namespace detail

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

// One tensor of a file, as its header describes it.
struct TensorEntry {
  std::string name;
  std::string dtype;                   // the format's name: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;          // [] for a 0-dim tensor
  uint64_t begin = 0, end = 0;         // data_offsets, relative to the data buffer
  std::span<const uint8_t> bytes;      // [begin, end) of the buffer; valid while a SafeTensors
                                       // sharing the file's bytes is alive
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// A whole safetensors file in memory, validated on construction. Copies share the bytes.
class SafeTensors {
 public:
  // Reads and validates the file at `path`; errors name the path.
  static SafeTensors read_file(const std::filesystem::path& path) {
    const std::string src = latent::detail::str_cat("'", path.string(), "'");
    std::error_code ec;
    LATENT_CHECK(!std::filesystem::is_directory(path, ec), "safetensors: ", src, ": is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    LATENT_CHECK(in.is_open(), "safetensors: ", src, ": cannot open for reading: ", std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    LATENT_CHECK(size >= 0, "safetensors: ", src, ": cannot determine the file size");
    in.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
    LATENT_CHECK(size == 0 || in.gcount() == size, "safetensors: ", src, ": read ", in.gcount(), " of ", size,
                 " bytes");
    return SafeTensors(std::move(bytes), src);
  }
  // Validates bytes already in memory (a whole file); errors name `source`.
  static SafeTensors from_bytes(std::vector<uint8_t> bytes, std::string source = "<buffer>") {
    return SafeTensors(std::move(bytes), std::move(source));
  }
  static SafeTensors from_bytes(std::span<const uint8_t> bytes, std::string source = "<buffer>") {
    return SafeTensors(std::vector<uint8_t>(bytes.begin(), bytes.end()), std::move(source));
  }

  // Tensors in the order of their data (as written), and by name.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }
  size_t size() const { return entries_.size(); }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorEntry& entry(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) fail("no tensor named '", name, "' (the file holds ", entries_.size(), " tensors)");
    return entries_[it->second];
  }
  const Metadata& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }
  uint64_t header_size() const { return header_size_; }  // N, padding included
  // The whole file, as read.
  std::span<const uint8_t> file_bytes() const { return {buffer_->data(), buffer_->size()}; }

  // The tensor `name` converted to T (float, double, int64_t, int32_t or uint8_t), on
  // `device`. Any readable dtype converts to float/double (ints and BOOL by value);
  // integer targets take integer and BOOL dtypes only, and each value must fit.
  template <typename T>
  Tensor<T> get(const std::string& name, Device device = kCPU) const {
    static_assert(detail::kReadable<T>, "SafeTensors::get: T must be float, double, int64_t, int32_t or uint8_t");
    const TensorEntry& e = entry(name);
    LATENT_CHECK(static_cast<int>(e.shape.size()) <= kMaxRank, "safetensors: ", source_, ": tensor '", name,
                 "' has rank ", e.shape.size(), ", above latent's maximum of ", kMaxRank);
    auto out = Tensor<T>::empty(Shape(e.shape), kCPU);
    decode_into(e, out.data());
    return device.is_cpu() ? out : out.to(device);
  }
  // Every tensor converted to T, in file order: a state dict for Module::load_state_dict.
  template <typename T>
  StateDict<T> state_dict(Device device = kCPU) const {
    StateDict<T> out;
    for (const auto& e : entries_) out.emplace_back(e.name, get<T>(e.name, device));
    return out;
  }

 private:
  SafeTensors(std::vector<uint8_t> bytes, std::string source)
      : source_(std::move(source)), buffer_(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))) {
    parse();
  }

  // Throws latent::Error "safetensors: <source>: <parts>".
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw Error(latent::detail::str_cat("safetensors: ", source_, ": ", parts...));
  }

  static const char* json_type(const nlohmann::json& j) {
    switch (j.type()) {
      case nlohmann::json::value_t::null: return "null";
      case nlohmann::json::value_t::object: return "an object";
      case nlohmann::json::value_t::array: return "an array";
      case nlohmann::json::value_t::string: return "a string";
      case nlohmann::json::value_t::boolean: return "a boolean";
      case nlohmann::json::value_t::number_integer: return "a negative integer";
      case nlohmann::json::value_t::number_unsigned: return "an integer";
      case nlohmann::json::value_t::number_float: return "a non-integer number";
      default: return "not a JSON value";
    }
  }

  void parse() {
    static constexpr uint64_t kMaxHeader = 100'000'000;  // safetensors' MAX_HEADER_SIZE
    const std::vector<uint8_t>& buf = *buffer_;
    const uint64_t size = buf.size();
    if (size < 8) fail("the file is ", size, " bytes long, shorter than the 8-byte header length");
    const uint64_t n = detail::load_le<uint64_t>(buf.data());
    if (n > size - 8)
      fail("header length ", n, " runs past the end of the file (", size, " bytes, so at most ", size - 8,
           " bytes of header)");
    if (n > kMaxHeader) fail("header length ", n, " is above the format's limit of ", kMaxHeader, " bytes");
    header_size_ = n;
    const uint64_t data_size = size - 8 - n;

    // Parse, noting the first key that repeats within one object (JSON allows it; a
    // header with it is ambiguous, so it is refused).
    std::vector<std::set<std::string>> open_objects;
    std::string duplicate;
    int duplicate_depth = 0;
    auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      using E = nlohmann::json::parse_event_t;
      if (event == E::object_start) {
        open_objects.emplace_back();
      } else if (event == E::object_end) {
        if (!open_objects.empty()) open_objects.pop_back();
      } else if (event == E::key && !open_objects.empty() && duplicate.empty()) {
        if (!open_objects.back().insert(parsed.get<std::string>()).second) {
          duplicate = parsed.get<std::string>();
          duplicate_depth = depth;
        }
      }
      return true;
    };
    // nlohmann's lexer ends the input at a NUL byte; JSON has none outside strings and
    // none raw inside them.
    if (const void* nul = std::memchr(buf.data() + 8, 0, n))
      fail("the ", n, "-byte header is not valid JSON: NUL byte at header offset ",
           static_cast<const uint8_t*>(nul) - (buf.data() + 8));
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(buf.data() + 8, buf.data() + 8 + n, on_event);
    } catch (const nlohmann::json::exception& e) {
      fail("the ", n, "-byte header is not valid JSON: ", e.what());
    }
    if (!duplicate.empty()) {
      if (duplicate_depth == 1) fail("the header names '", duplicate, "' twice");
      fail("the header repeats the key '", duplicate, "' inside one of its objects");
    }
    if (!header.is_object()) fail("the header is ", json_type(header), ", not a JSON object");

    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__")
        parse_metadata(it.value());
      else
        entries_.push_back(parse_entry(it.key(), it.value(), data_size));
    }

    // Sorted by offsets, the tensors must tile the buffer: each begins where the previous
    // one ends (reference: Metadata::validate).
    std::stable_sort(entries_.begin(), entries_.end(), [](const TensorEntry& a, const TensorEntry& b) {
      return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
    });
    uint64_t covered = 0;
    const TensorEntry* previous = nullptr;
    for (const auto& e : entries_) {
      if (e.begin > covered)
        fail("bytes [", covered, ", ", e.begin, ") of the data buffer belong to no tensor (a hole before '", e.name,
             "', data_offsets [", e.begin, ", ", e.end, "])");
      if (e.begin < covered)
        fail("tensor '", e.name, "' (data_offsets [", e.begin, ", ", e.end, "]) overlaps '", previous->name,
             "' (data_offsets [", previous->begin, ", ", previous->end, "])");
      covered = e.end;
      if (e.end > e.begin) previous = &e;
    }
    if (covered != data_size)
      fail("the data buffer holds ", data_size, " bytes but the tensors cover only ", covered,
           " (trailing bytes after the last tensor)");

    for (size_t i = 0; i < entries_.size(); ++i) {
      auto& e = entries_[i];
      e.bytes = std::span<const uint8_t>(buf.data() + 8 + n + e.begin, e.end - e.begin);
      index_.emplace(e.name, i);
    }
  }

  void parse_metadata(const nlohmann::json& value) {
    if (value.is_null()) return;  // as the reference reader
    if (!value.is_object()) fail("__metadata__ is ", json_type(value), ", not an object of strings");
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!it.value().is_string()) fail("__metadata__[\"", it.key(), "\"] is ", json_type(it.value()), ", not a string");
      metadata_.emplace(it.key(), it.value().template get<std::string>());
    }
  }

  // A non-negative integer of the header (shape extent, offset), or an error saying what it is.
  uint64_t header_uint(const nlohmann::json& v, const std::string& name, const char* field) const {
    if (!v.is_number_unsigned())
      fail("tensor '", name, "': ", field, " must hold non-negative integers, found ", json_type(v), " (", v.dump(),
           ")");
    return v.get<uint64_t>();
  }

  TensorEntry parse_entry(const std::string& name, const nlohmann::json& value, uint64_t data_size) const {
    if (!value.is_object()) fail("tensor '", name, "' is described by ", json_type(value), ", not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field)) fail("tensor '", name, "' has no \"", field, "\"");
    TensorEntry e;
    e.name = name;

    const auto& dtype = value["dtype"];
    if (!dtype.is_string()) fail("tensor '", name, "': dtype is ", json_type(dtype), ", not a string");
    e.dtype = dtype.get<std::string>();
    const detail::DTypeInfo* info = detail::find_dtype(e.dtype);
    if (!info) fail("tensor '", name, "' has the unknown dtype \"", e.dtype, "\" (known: ", detail::known_dtypes(), ")");

    const auto& shape = value["shape"];
    if (!shape.is_array()) fail("tensor '", name, "': shape is ", json_type(shape), ", not an array");
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : shape) {
      uint64_t extent = header_uint(d, name, "shape");
      if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail("tensor '", name, "': shape extent ", extent, " is above the int64 range");
      e.shape.push_back(static_cast<int64_t>(extent));
      if (!overflow && extent != 0 && numel > std::numeric_limits<uint64_t>::max() / extent) overflow = true;
      if (!overflow) numel *= extent;
    }
    // As the reference: the product of the extents, then times the bit size, must not
    // overflow (even when a later extent is 0).
    if (overflow || numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(info->bits) ||
        numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("tensor '", name, "': the element count of shape ", shape.dump(), " overflows");
    const uint64_t bits = numel * static_cast<uint64_t>(info->bits);
    if (bits % 8 != 0)
      fail("tensor '", name, "': ", numel, " elements of ", e.dtype, " (", info->bits, " bits) are not a whole number of bytes");

    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      fail("tensor '", name, "': data_offsets must be [begin, end], found ", offsets.dump());
    e.begin = header_uint(offsets[0], name, "data_offsets");
    e.end = header_uint(offsets[1], name, "data_offsets");
    if (e.begin > e.end) fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] has begin > end");
    if (e.end > data_size)
      fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] runs past the end of the ", data_size,
           "-byte data buffer");
    if (e.end - e.begin != bits / 8)
      fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
           " bytes, but shape ", shape.dump(), " of ", e.dtype, " takes ", bits / 8, " bytes");
    return e;
  }

  template <typename Dst>
  void decode_into(const TensorEntry& e, Dst* out) const {
    using detail::Kind;
    const detail::DTypeInfo* info = detail::find_dtype(e.dtype);
    const int64_t n = e.numel();
    const uint8_t* p = e.bytes.data();
    constexpr bool to_int = std::is_integral_v<Dst>;
    if (info->kind == Kind::Other)
      fail("tensor '", e.name, "' has dtype ", e.dtype, ", which latent does not convert (it reads ",
           detail::kReadableDTypes, ")");
    if (to_int && info->kind == Kind::Float)
      fail("tensor '", e.name, "' has the floating dtype ", e.dtype, " and cannot be read into Tensor<",
           detail::element_name<Dst>(), "> (read it as float or double)");
    const int64_t width = info->bits / 8;  // bytes per stored element
    // Loads element i as Src, converts with a range check for integer targets.
    auto each = [&](auto tag, auto&& load) {
      using Src = decltype(tag);
      for (int64_t i = 0; i < n; ++i) {
        Src v = load(p + i * width);
        if constexpr (to_int && std::is_integral_v<Src>) {
          if (!std::in_range<Dst>(v))
            fail("tensor '", e.name, "': element ", i, " (", +v, ") of ", e.dtype, " does not fit in Tensor<",
                 detail::element_name<Dst>(), ">");
        }
        out[i] = static_cast<Dst>(v);
      }
    };
    auto le = [](auto tag) { return [](const uint8_t* q) { return detail::load_le<decltype(tag)>(q); }; };
    const std::string& d = e.dtype;
    if (d == "F64") each(double{}, le(double{}));
    else if (d == "F32") each(float{}, le(float{}));
    else if (d == "F16") each(float{}, [](const uint8_t* q) { return half_bits_to_float(detail::load_le<uint16_t>(q)); });
    else if (d == "BF16") each(float{}, [](const uint8_t* q) { return bfloat16_bits_to_float(detail::load_le<uint16_t>(q)); });
    else if (d == "I64") each(int64_t{}, le(int64_t{}));
    else if (d == "I32") each(int32_t{}, le(int32_t{}));
    else if (d == "I16") each(int16_t{}, le(int16_t{}));
    else if (d == "I8") each(int8_t{}, le(int8_t{}));
    else if (d == "U64") each(uint64_t{}, le(uint64_t{}));
    else if (d == "U32") each(uint32_t{}, le(uint32_t{}));
    else if (d == "U16") each(uint16_t{}, le(uint16_t{}));
    else if (d == "U8") each(uint8_t{}, le(uint8_t{}));
    else if (d == "BOOL") each(uint8_t{}, [](const uint8_t* q) { return static_cast<uint8_t>(*q != 0); });
    else fail("tensor '", e.name, "': no conversion for dtype ", d);
  }

  std::string source_;
  std::shared_ptr<const std::vector<uint8_t>> buffer_;
  uint64_t header_size_ = 0;
  Metadata metadata_;
  std::vector<TensorEntry> entries_;
  std::map<std::string, size_t> index_;
};

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

// Bytes given as they are (any dtype of the format, e.g. BOOL): little-endian, row-major.
struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
// One tensor to write, of any element type.
using AnyTensor = std::variant<Tensor<float>, Tensor<double>, Tensor<int64_t>, Tensor<int32_t>, Tensor<uint8_t>, RawTensor>;
using NamedTensors = std::vector<std::pair<std::string, AnyTensor>>;

// How float and double tensors are stored (integer tensors and RawTensor are unchanged).
enum class StoreFloatsAs { Native, F64, F32, F16, BF16 };
struct SaveOptions {
  StoreFloatsAs floats = StoreFloatsAs::Native;
};

// A state dict as entries for save_safetensors, e.g. to add other tensors beside it:
//   auto all = io::named_tensors(net->state_dict());  all.emplace_back("step", step);
template <typename T>
NamedTensors named_tensors(const StateDict<T>& state) {
  NamedTensors out;
  for (const auto& [name, t] : state) out.emplace_back(name, t);
  return out;
}

namespace detail {
struct PlannedTensor {
  std::string name;
  const AnyTensor* tensor;
  const DTypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t nbytes;
};
struct Plan {
  std::string header;  // padded JSON
  std::vector<PlannedTensor> tensors;
  uint64_t data_size = 0;
};

template <typename T>
const char* stored_dtype(StoreFloatsAs how) {
  if constexpr (std::is_same_v<T, int64_t>) return "I64";
  else if constexpr (std::is_same_v<T, int32_t>) return "I32";
  else if constexpr (std::is_same_v<T, uint8_t>) return "U8";
  else {
    switch (how) {
      case StoreFloatsAs::F64: return "F64";
      case StoreFloatsAs::F32: return "F32";
      case StoreFloatsAs::F16: return "F16";
      case StoreFloatsAs::BF16: return "BF16";
      case StoreFloatsAs::Native: break;
    }
    return std::is_same_v<T, double> ? "F64" : "F32";
  }
}

inline std::string json_string(const std::string& s, const char* what) {
  try {
    return nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception& e) {
    LATENT_CHECK(false, "save_safetensors: ", what, " is not valid UTF-8: ", e.what());
  }
  return {};
}

// Validates the entries and lays them out as the Python library does.
inline Plan plan(const NamedTensors& entries, const Metadata& metadata, const SaveOptions& options) {
  Plan p;
  std::set<std::string> seen;
  for (const auto& kv : entries) {
    const std::string& name = kv.first;  // (not a structured binding: lambdas below capture it)
    const AnyTensor& any = kv.second;
    LATENT_CHECK(name != "__metadata__", "save_safetensors: '__metadata__' is reserved and cannot name a tensor");
    LATENT_CHECK(seen.insert(name).second, "save_safetensors: the tensor name '", name, "' appears twice");
    PlannedTensor t{name, &any, nullptr, {}, 0};
    std::visit([&](const auto& x) {
      using X = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<X, RawTensor>) {
        t.dtype = find_dtype(x.dtype);
        LATENT_CHECK(t.dtype != nullptr, "save_safetensors: tensor '", name, "' has the unknown dtype \"", x.dtype,
                     "\" (known: ", known_dtypes(), ")");
        t.shape = x.shape;
      } else {
        LATENT_CHECK(x.defined(), "save_safetensors: tensor '", name, "' is undefined");
        t.dtype = find_dtype(stored_dtype<typename X::value_type>(options.floats));
        t.shape = x.shape().vec();
      }
    }, any);
    // The reader's limits: the product of the extents, then times the bit size, fits in 64 bits.
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      LATENT_CHECK(d >= 0, "save_safetensors: tensor '", name, "' has a negative extent in its shape");
      const auto extent = static_cast<uint64_t>(d);
      LATENT_CHECK(extent == 0 || numel <= std::numeric_limits<uint64_t>::max() / extent,
                   "save_safetensors: tensor '", name, "': the element count of its shape overflows");
      numel *= extent;
    }
    LATENT_CHECK(numel <= std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(t.dtype->bits),
                 "save_safetensors: tensor '", name, "': the element count of its shape overflows");
    LATENT_CHECK(numel * static_cast<uint64_t>(t.dtype->bits) % 8 == 0, "save_safetensors: tensor '", name,
                 "': ", numel, " elements of ", t.dtype->name, " are not a whole number of bytes");
    t.nbytes = numel * static_cast<uint64_t>(t.dtype->bits) / 8;
    if (auto* raw = std::get_if<RawTensor>(&any))
      LATENT_CHECK(raw->bytes.size() == t.nbytes, "save_safetensors: raw tensor '", name, "' has ", raw->bytes.size(),
                   " bytes, but shape and dtype ", raw->dtype, " take ", t.nbytes);
    p.tensors.push_back(std::move(t));
  }
  // Descending dtype alignment, then name (bytewise), as safetensors' prepare().
  std::sort(p.tensors.begin(), p.tensors.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    if (a.dtype != b.dtype) return dtype_rank(a.dtype) > dtype_rank(b.dtype);
    return a.name < b.name;
  });
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) h += ',';
      h += json_string(k, "a metadata key");
      h += ':';
      h += json_string(v, "a metadata value");
      first = false;
    }
    h += "}";
  }
  for (const auto& t : p.tensors) {
    if (h.size() > 1) h += ',';
    h += json_string(t.name, "a tensor name");
    h += latent::detail::str_cat(":{\"dtype\":\"", t.dtype->name, "\",\"shape\":[");
    for (size_t i = 0; i < t.shape.size(); ++i) h += latent::detail::str_cat(i ? "," : "", t.shape[i]);
    h += latent::detail::str_cat("],\"data_offsets\":[", p.data_size, ",", p.data_size + t.nbytes, "]}");
    p.data_size += t.nbytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  p.header = std::move(h);
  return p;
}

using Sink = std::function<void(const uint8_t*, size_t)>;

// Encodes one tensor's elements (host, row-major) into its stored dtype.
template <typename T>
std::vector<uint8_t> encode(const Tensor<T>& t, const DTypeInfo* dtype) {
  const std::vector<T> v = t.detach().to_vector();
  const size_t width = static_cast<size_t>(dtype->bits / 8);
  std::vector<uint8_t> out(v.size() * width);
  const std::string d = dtype->name;
  for (size_t i = 0; i < v.size(); ++i) {
    uint8_t* q = out.data() + i * width;
    if constexpr (std::is_floating_point_v<T>) {
      if (d == "F64") store_le(static_cast<double>(v[i]), q);
      else if (d == "F32") store_le(static_cast<float>(v[i]), q);
      else if (d == "F16") store_le(float_to_half_bits(static_cast<double>(v[i])), q);
      else store_le(float_to_bfloat16_bits(static_cast<double>(v[i])), q);
    } else {
      store_le(v[i], q);
    }
  }
  return out;
}

inline void write_plan(const Plan& p, const Sink& sink) {
  uint8_t prefix[8];
  store_le(static_cast<uint64_t>(p.header.size()), prefix);
  sink(prefix, 8);
  sink(reinterpret_cast<const uint8_t*>(p.header.data()), p.header.size());
  for (const auto& t : p.tensors) {
    std::visit([&](const auto& x) {
      using X = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<X, RawTensor>) {
        sink(x.bytes.data(), x.bytes.size());
      } else {
        auto bytes = encode(x, t.dtype);
        sink(bytes.data(), bytes.size());
      }
    }, *t.tensor);
  }
}

// Writes a file atomically: `produce` feeds a temporary file beside `path`, which is
// fsync'ed and renamed over `path`. Any failure removes the temporary file and throws
// latent::Error naming `op` (the writer: save_safetensors, write_png, ...) and `path`.
inline void write_atomically(const std::filesystem::path& path, const std::function<void(const Sink&)>& produce,
                             const char* op = "save_safetensors") {
  namespace fs = std::filesystem;
  const std::string target = path.string();
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  LATENT_CHECK(path.has_filename(), op, ": '", target, "' names no file");
#if defined(__unix__) || defined(__APPLE__)
  static std::atomic<uint64_t> counter{0};
  fs::path tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = dir / latent::detail::str_cat(".", path.filename().string(), ".tmp-", ::getpid(), "-", counter++);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  LATENT_CHECK(fd >= 0, op, ": cannot write '", target, "': cannot create a temporary file in '",
               dir.string(), "': ", std::strerror(errno));
  auto fail = [&](const std::string& why) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(latent::detail::str_cat(op, ": cannot write '", target, "': ", why));
  };
  try {
    produce([&](const uint8_t* data, size_t n) {
      while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw Error(latent::detail::str_cat("write failed: ", std::strerror(errno)));
        data += w;
        n -= static_cast<size_t>(w);
      }
    });
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (::fsync(fd) != 0) fail(latent::detail::str_cat("fsync failed: ", std::strerror(errno)));
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail(latent::detail::str_cat("close failed: ", std::strerror(errno)));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    fail(latent::detail::str_cat("cannot rename the temporary file over it: ", std::strerror(errno)));
  // Make the rename itself durable (best effort).
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
#else
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = dir / latent::detail::str_cat(".", path.filename().string(), ".tmp-", counter++);
  auto fail = [&](const std::string& why) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw Error(latent::detail::str_cat(op, ": cannot write '", target, "': ", why));
  };
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(latent::detail::str_cat("cannot create a temporary file in '", dir.string(), "'"));
    produce([&](const uint8_t* data, size_t n) {
      out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
      if (!out) throw Error("write failed");
    });
    out.flush();
    if (!out) throw Error("flush failed");
    out.close();
    fs::rename(tmp, path);
  } catch (const std::exception& e) {
    fail(e.what());
  }
#endif
}
}  // namespace detail

// The bytes of a safetensors file holding `entries` (in memory; save_safetensors streams).
inline std::vector<uint8_t> serialize_safetensors(const NamedTensors& entries, const Metadata& metadata = {},
                                                  const SaveOptions& options = {}) {
  const detail::Plan p = detail::plan(entries, metadata, options);
  std::vector<uint8_t> out;
  out.reserve(8 + p.header.size() + p.data_size);
  detail::write_plan(p, [&](const uint8_t* d, size_t n) { out.insert(out.end(), d, d + n); });
  return out;
}

// Writes `entries` (mixed element types allowed) to `path`, atomically.
inline void save_safetensors(const std::filesystem::path& path, const NamedTensors& entries,
                             const Metadata& metadata = {}, const SaveOptions& options = {}) {
  detail::Plan p;
  try {
    p = detail::plan(entries, metadata, options);
  } catch (const Error& e) {
    throw Error(latent::detail::str_cat("save_safetensors: cannot write '", path.string(), "': ", e.what()));
  }
  detail::write_atomically(path, [&](const detail::Sink& sink) { detail::write_plan(p, sink); });
}
template <typename T>
void save_safetensors(const std::filesystem::path& path, const StateDict<T>& state, const Metadata& metadata = {},
                      const SaveOptions& options = {}) {
  save_safetensors(path, named_tensors(state), metadata, options);
}

// ---------------------------------------------------------------------------------------
// Modules
// ---------------------------------------------------------------------------------------

// Writes module.state_dict() (parameters and persistent buffers, dotted PyTorch names) to
// `path`. The metadata gets {"format": "pt"} unless it sets "format" (transformers'
// from_pretrained expects it).
template <typename T>
void save_module(const nn::Module<T>& module, const std::filesystem::path& path, Metadata metadata = {},
                 const SaveOptions& options = {}) {
  metadata.try_emplace("format", "pt");
  save_safetensors(path, module.state_dict(), metadata, options);
}

// Loads `path` into the module's tensors (in place; any readable dtype converts to T).
// strict: the file's names and the module's must match exactly. Shapes must always
// match. Errors come from Module::load_state_dict, prefixed with the path.
template <typename T>
void load_module(nn::Module<T>& module, const std::filesystem::path& path, bool strict = true) {
  const SafeTensors file = SafeTensors::read_file(path);
  const StateDict<T> own = module.state_dict();
  StateDict<T> state;
  for (const auto& e : file.entries()) {
    bool wanted = std::any_of(own.begin(), own.end(), [&](const auto& kv) { return kv.first == e.name; });
    // Entries the module lacks are passed undefined: load_state_dict reports (strict) or
    // skips them without their data being converted.
    state.emplace_back(e.name, wanted ? file.get<T>(e.name) : Tensor<T>());
  }
  try {
    module.load_state_dict(state, strict);
  } catch (const Error& err) {
    throw Error(latent::detail::str_cat("load_module: '", path.string(), "': ", err.what()));
  }
}

}  // namespace latent::io

