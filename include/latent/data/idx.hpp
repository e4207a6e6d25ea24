// latent::data: reading and writing IDX files (the format of MNIST and FashionMNIST), raw
// or gzip-compressed, with every malformed file reported as a latent::Error that names the
// file and what was expected.
//
//   auto a = data::read_idx("t10k-images-idx3-ubyte.gz");   // a.shape == {10000, 28, 28}
//   Tensor<float> x = a.to_tensor<float>();                   // values as they are (0..255)
//   data::write_idx("out-idx1-ubyte.gz", {3}, {7, 2, 1}, /*gzip=*/true);
//
// The format (Y. LeCun, http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
// 00 00 TT DD (TT the element type, DD the number of dimensions), DD big-endian 32-bit
// dimension sizes, then the elements, row-major, big-endian. Types: 0x08 unsigned byte,
// 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
//
// Reading checks: the magic (two zero bytes, a known type, 1 to 4 dimensions), that the
// data are exactly as long as the dimensions say (a truncated file and trailing bytes are
// both errors), and for gzip files the stream itself (zlib's inflate errors, CRC and length
// checks). Compression is detected from the content (gzip's 1f 8b), not from the name.
// Writing goes to a temporary file beside the target, renamed over it when complete.
#pragma once
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "../latent.hpp"

namespace latent::data {

// Element types of the IDX format (the third byte of the magic number).
enum class IdxType : uint8_t { UInt8 = 0x08, Int8 = 0x09, Int16 = 0x0B, Int32 = 0x0C, Float32 = 0x0D, Float64 = 0x0E };

inline bool idx_type_known(uint8_t code) {
  return code == 0x08 || code == 0x09 || code == 0x0B || code == 0x0C || code == 0x0D || code == 0x0E;
}
inline int idx_type_size(IdxType t) {
  switch (t) {
    case IdxType::UInt8: case IdxType::Int8: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32: case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  return 0;
}
inline const char* idx_type_name(IdxType t) {
  switch (t) {
    case IdxType::UInt8: return "ubyte (0x08)";
    case IdxType::Int8: return "byte (0x09)";
    case IdxType::Int16: return "short (0x0B)";
    case IdxType::Int32: return "int (0x0C)";
    case IdxType::Float32: return "float (0x0D)";
    case IdxType::Float64: return "double (0x0E)";
  }
  return "?";
}

// An IDX file in memory: its element type, its dimensions, and the element bytes as the
// file stores them (big-endian; for ubyte data these are simply the values).
struct IdxArray {
  IdxType type = IdxType::UInt8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // The elements converted to U (static_cast), row-major.
  template <typename U>
  std::vector<U> values() const;
  // The elements as a CPU tensor of U with `shape` (float, double, int64_t, int32_t, uint8_t).
  template <typename U>
  Tensor<U> to_tensor() const {
    return from_vector<U>(values<U>(), Shape(shape));
  }
};

namespace detail {

// Big-endian element i of `bytes` as U.
template <typename U>
std::vector<U> decode_be(IdxType type, const std::vector<uint8_t>& bytes) {
  const size_t esize = static_cast<size_t>(idx_type_size(type)), n = bytes.size() / esize;
  std::vector<U> out(n);
  const uint8_t* p = bytes.data();
  auto word = [&](size_t i) {
    uint64_t v = 0;
    for (size_t k = 0; k < esize; ++k) v = (v << 8) | p[i * esize + k];
    return v;
  };
  for (size_t i = 0; i < n; ++i) {
    switch (type) {
      case IdxType::UInt8: out[i] = static_cast<U>(p[i]); break;
      case IdxType::Int8: out[i] = static_cast<U>(static_cast<int8_t>(p[i])); break;
      case IdxType::Int16: out[i] = static_cast<U>(static_cast<int16_t>(static_cast<uint16_t>(word(i)))); break;
      case IdxType::Int32: out[i] = static_cast<U>(static_cast<int32_t>(static_cast<uint32_t>(word(i)))); break;
      case IdxType::Float32: out[i] = static_cast<U>(std::bit_cast<float>(static_cast<uint32_t>(word(i)))); break;
      case IdxType::Float64: out[i] = static_cast<U>(std::bit_cast<double>(word(i))); break;
    }
  }
  return out;
}

inline std::string hex_bytes(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Reads a file through zlib's gz* interface, which passes files that are not gzip through
// unchanged ("transparent" mode), so one reader serves both.
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& path) : path_(path.string()) {
    errno = 0;
    file_ = ::gzopen(path_.c_str(), "rb");
    if (!file_) {
      std::error_code ec;
      const char* why = errno ? std::strerror(errno) : "out of memory";
      if (!std::filesystem::exists(path, ec)) why = "no such file";
      latent::detail::throw_error(__FILE__, __LINE__, "read_idx: cannot open '", path_, "': ", why);
    }
    ::gzbuffer(file_, 1 << 17);
    gzip_ = ::gzdirect(file_) == 0;
  }
  ~GzReader() {
    if (file_) ::gzclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  bool gzip() const { return gzip_; }
  // Reads up to n bytes into p; returns how many (fewer only at the end of the data).
  // Throws when zlib reports a damaged or truncated gzip stream.
  size_t read(uint8_t* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
      int r = ::gzread(file_, p + got, chunk);
      if (r < 0) fail();
      got += static_cast<size_t>(r);
      if (static_cast<unsigned>(r) < chunk) break;
    }
    int errnum = Z_OK;
    ::gzerror(file_, &errnum);
    if (errnum != Z_OK) fail();
    return got;
  }
  // Closes the file; zlib reports here a stream that ended in the middle of a gzip member.
  void close() {
    int r = ::gzclose(file_);
    file_ = nullptr;
    if (r != Z_OK)
      latent::detail::throw_error(__FILE__, __LINE__, "read_idx: '", path_, "': ",
                                  r == Z_BUF_ERROR ? "the gzip stream ends early (truncated .gz file)"
                                                   : "error while closing the file (zlib error " + std::to_string(r) + ")");
  }

 private:
  [[noreturn]] void fail() {
    int errnum = Z_OK;
    const char* msg = ::gzerror(file_, &errnum);
    std::string what = msg ? msg : "unknown error";
    if (what.rfind(path_ + ": ", 0) == 0) what.erase(0, path_.size() + 2);  // zlib prefixes the path
    if (errnum == Z_ERRNO) what = std::strerror(errno);
    if (errnum == Z_BUF_ERROR)
      latent::detail::throw_error(__FILE__, __LINE__, "read_idx: '", path_,
                                  "': the gzip stream ends early (truncated .gz file; zlib: ", what, ")");
    latent::detail::throw_error(__FILE__, __LINE__, "read_idx: '", path_, "': ",
                                gzip_ ? "corrupt gzip data (zlib: " : "read error (", what, ")");
  }

  std::string path_;
  gzFile file_ = nullptr;
  bool gzip_ = false;
};

}  // namespace detail

template <typename U>
std::vector<U> IdxArray::values() const {
  return detail::decode_be<U>(type, data);
}

// Reads an IDX file, raw or gzip-compressed; throws latent::Error naming `path` and what
// is wrong when the file cannot be read or is not a well-formed IDX file.
inline IdxArray read_idx(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  LATENT_CHECK(!std::filesystem::is_directory(path, ec), "read_idx: '", name, "' is a directory, not an IDX file");
  detail::GzReader in(path);
  const char* kind = in.gzip() ? " (after gzip decompression)" : "";

  uint8_t magic[4];
  size_t got = in.read(magic, 4);
  LATENT_CHECK(got == 4, "read_idx: '", name, "' is truncated: it has ", got, " byte(s)", kind,
               ", an IDX file starts with a 4-byte magic number 00 00 <type> <dims>");
  LATENT_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: '", name, "' is not an IDX file: bad magic number ",
               detail::hex_bytes(magic, 4), kind, ", expected 00 00 <type> <dims>");
  LATENT_CHECK(idx_type_known(magic[2]), "read_idx: '", name, "': unknown element type 0x",
               detail::hex_bytes(magic + 2, 1), " in magic number ", detail::hex_bytes(magic, 4),
               ", expected 08 (ubyte), 09 (byte), 0b (short), 0c (int), 0d (float) or 0e (double)");
  const int dims = magic[3];
  LATENT_CHECK(dims >= 1 && dims <= 4, "read_idx: '", name, "': ", dims, " dimensions in magic number ",
               detail::hex_bytes(magic, 4), ", expected 1 to 4");

  IdxArray a;
  a.type = static_cast<IdxType>(magic[2]);
  uint8_t header[16];
  got = in.read(header, 4 * static_cast<size_t>(dims));
  LATENT_CHECK(got == 4 * static_cast<size_t>(dims), "read_idx: '", name, "' is truncated inside its header: ", dims,
               " dimension sizes need ", 4 * dims, " bytes after the magic number, got ", got, kind);
  const uint64_t esize = static_cast<uint64_t>(idx_type_size(a.type));
  uint64_t bytes = esize;
  constexpr uint64_t kMaxBytes = uint64_t{1} << 40;  // 1 TiB: anything larger is a corrupt header
  for (int d = 0; d < dims; ++d) {
    const uint8_t* p = header + 4 * d;
    uint64_t v = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | p[3];
    a.shape.push_back(static_cast<int64_t>(v));
    if (bytes != 0) bytes = v > kMaxBytes / bytes ? kMaxBytes + 1 : bytes * v;
  }
  LATENT_CHECK(bytes <= kMaxBytes, "read_idx: '", name, "': dimensions ", detail::shape_string(a.shape), " of ",
               idx_type_name(a.type), " elements would need more than 2^40 bytes: the header is corrupt");
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(dims);

  // A raw file's size is known: check it before allocating. A gzip file's is not: read in
  // chunks, so a corrupt header cannot make us allocate more than the data that exist.
  if (!in.gzip()) {
    uint64_t size = std::filesystem::file_size(path, ec);
    if (!ec) {
      uint64_t have = size - std::min<uint64_t>(size, header_bytes);
      LATENT_CHECK(have >= bytes, "read_idx: '", name, "' is truncated: shape ", detail::shape_string(a.shape), " of ",
                   idx_type_name(a.type), " needs ", bytes, " data bytes after the ", header_bytes,
                   "-byte header, the file has ", have);
      LATENT_CHECK(have == bytes, "read_idx: '", name, "' has ", have - bytes, " unexpected trailing byte(s) after the ",
                   bytes, " data bytes of shape ", detail::shape_string(a.shape), " of ", idx_type_name(a.type));
    }
  }
  size_t filled = 0;
  const size_t total = static_cast<size_t>(bytes);
  while (filled < total) {
    const size_t target = std::min(total, std::max<size_t>(filled * 2, size_t{1} << 24));
    a.data.resize(target);
    size_t r = in.read(a.data.data() + filled, target - filled);
    filled += r;
    if (filled < target) break;
  }
  LATENT_CHECK(filled == total, "read_idx: '", name, "' is truncated: shape ", detail::shape_string(a.shape), " of ",
               idx_type_name(a.type), " needs ", total, " data bytes after the ", header_bytes, "-byte header, got ",
               filled, kind);
  // One more byte must not exist (reading on also makes zlib check the gzip trailer).
  uint8_t extra[4096];
  size_t trailing = 0;
  for (size_t r; (r = in.read(extra, sizeof extra)) > 0;) trailing += r;
  LATENT_CHECK(trailing == 0, "read_idx: '", name, "' has ", trailing, " unexpected trailing byte(s)", kind,
               " after the ", total, " data bytes of shape ", detail::shape_string(a.shape), " of ",
               idx_type_name(a.type));
  in.close();
  return a;
}

namespace detail {

// Compresses `bytes` into a gzip stream (one member, zlib's default level).
inline std::vector<uint8_t> gzip_compress(const std::vector<uint8_t>& bytes, int level = Z_DEFAULT_COMPRESSION) {
  z_stream s{};
  LATENT_CHECK(::deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
               "gzip_compress: zlib's deflateInit2 failed");
  std::vector<uint8_t> out;
  out.resize(std::max<size_t>(64, bytes.size() / 2));
  size_t in_pos = 0, out_pos = 0;
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    if (out_pos == out.size()) out.resize(out.size() * 2);
    const size_t in_chunk = std::min<size_t>(bytes.size() - in_pos, UINT_MAX);
    const size_t out_chunk = std::min<size_t>(out.size() - out_pos, UINT_MAX);
    s.next_in = const_cast<Bytef*>(bytes.data() + in_pos);
    s.avail_in = static_cast<uInt>(in_chunk);
    s.next_out = out.data() + out_pos;
    s.avail_out = static_cast<uInt>(out_chunk);
    r = ::deflate(&s, in_pos + in_chunk == bytes.size() ? Z_FINISH : Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
      ::deflateEnd(&s);
      latent::detail::throw_error(__FILE__, __LINE__, "gzip_compress: zlib's deflate failed (error ", r, ")");
    }
    in_pos += in_chunk - s.avail_in;
    out_pos += out_chunk - s.avail_out;
  }
  ::deflateEnd(&s);
  out.resize(out_pos);
  return out;
}

// Writes `bytes` to a temporary file beside `path`, then renames it over `path`; on
// failure the temporary file is removed and `path` is left as it was.
inline void write_file_atomically(const char* op, const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  namespace fs = std::filesystem;
  const std::string target = path.string();
  LATENT_CHECK(path.has_filename(), op, ": '", target, "' names no file");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  static std::atomic<uint64_t> counter{0};
#if defined(__unix__) || defined(__APPLE__)
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  const fs::path tmp = dir / latent::detail::str_cat(".", path.filename().string(), ".tmp-", pid, "-", counter++);
  auto fail = [&](const std::string& why) {
    std::error_code ec;
    fs::remove(tmp, ec);
    latent::detail::throw_error(__FILE__, __LINE__, op, ": cannot write '", target, "': ", why);
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create a temporary file in '" + dir.string() + "'");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) fail("write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot rename the temporary file over it: " + ec.message());
}

}  // namespace detail

// The bytes of an IDX file holding `a` (uncompressed).
inline std::vector<uint8_t> serialize_idx(const IdxArray& a) {
  LATENT_CHECK(idx_type_known(static_cast<uint8_t>(a.type)), "serialize_idx: unknown element type 0x",
               detail::hex_bytes(reinterpret_cast<const uint8_t*>(&a.type), 1));
  LATENT_CHECK(!a.shape.empty() && a.shape.size() <= 4, "serialize_idx: an IDX array has 1 to 4 dimensions, got shape ",
               detail::shape_string(a.shape));
  uint64_t n = 1;
  for (int64_t d : a.shape) {
    LATENT_CHECK(d >= 0 && d <= 0xffffffffLL, "serialize_idx: dimension sizes must be in [0, 2^32), got shape ",
                 detail::shape_string(a.shape));
    n *= static_cast<uint64_t>(d);
  }
  const uint64_t expect = n * static_cast<uint64_t>(idx_type_size(a.type));
  LATENT_CHECK(a.data.size() == expect, "serialize_idx: shape ", detail::shape_string(a.shape), " of ",
               idx_type_name(a.type), " needs ", expect, " data bytes, got ", a.data.size());
  std::vector<uint8_t> out;
  out.reserve(4 + 4 * a.shape.size() + a.data.size());
  out.insert(out.end(), {0, 0, static_cast<uint8_t>(a.type), static_cast<uint8_t>(a.shape.size())});
  for (int64_t d : a.shape)
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(d) >> shift));
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

// Writes `a` as an IDX file (gzip-compressed when `gzip`), atomically.
inline void write_idx(const std::filesystem::path& path, const IdxArray& a, bool gzip = false) {
  std::vector<uint8_t> bytes = serialize_idx(a);
  if (gzip) bytes = detail::gzip_compress(bytes);
  detail::write_file_atomically("write_idx", path, bytes);
}

// Writes unsigned bytes (the MNIST layout) with the given shape.
inline void write_idx(const std::filesystem::path& path, const std::vector<int64_t>& shape,
                      const std::vector<uint8_t>& bytes, bool gzip = false) {
  write_idx(path, IdxArray{IdxType::UInt8, shape, bytes}, gzip);
}

}  // namespace latent::data
