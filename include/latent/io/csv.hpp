// latent::io: CSV logs for training runs (one row per logged step), written atomically.
//
//   io::CsvWriter log("run/losses.csv", {"step", "d_loss", "g_loss", "lr"});
//   log.row(step, d_loss, g_loss, lr);           // numbers, strings, bools
//   if (step % 1000 == 0) log.flush_to_disk();  // the file now holds every row so far
//   log.close();                                 // final write; the destructor does it too
//
// Atomic semantics: the rows are kept in memory and the whole file is written to a
// temporary file beside the target, fsync'ed and renamed over it (io::detail::
// write_atomically, as safetensors files), by close() and by every flush_to_disk(). So a
// reader (a plotting script, `tail`) never sees a half-written row, and a run that crashes
// leaves the file of its last flush. A log of a million rows of five numbers is some 50 MB
// in memory; flush every few thousand steps rather than every step (each flush rewrites the
// whole file).
//
// Cells: float is printed with %.9g and double with %.17g (both round-trip exactly: the
// value read back is the same float/double), integers in full, bools as 0/1, NaN and
// infinities as nan, inf, -inf (what pandas and numpy read). Strings are quoted as RFC 4180
// says when they hold a comma, a double quote, CR or LF (quotes doubled). Lines end in "\n".
#pragma once
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "safetensors.hpp"

namespace latent::io {

namespace detail {
// write_atomically (safetensors.hpp) for a buffer already in memory: the bytes go to `path`
// through a temporary file and a rename; errors name `op` ("write_png: cannot write ...").
inline void write_atomically_as(const char* op, const std::filesystem::path& path, const void* data, size_t size) {
  write_atomically(path, [&](const Sink& sink) { sink(static_cast<const uint8_t*>(data), size); }, op);
}

// A numeric CSV cell: shortest printf form that round-trips T.
template <typename T>
std::string csv_number(T v) {
  char buf[64];
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "1" : "0";
  } else if constexpr (std::is_floating_point_v<T>) {
    const double d = static_cast<double>(v);
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if constexpr (std::is_same_v<T, float>) std::snprintf(buf, sizeof buf, "%.9g", d);
    else std::snprintf(buf, sizeof buf, "%.17g", d);
    return buf;
  } else if constexpr (std::is_signed_v<T>) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  } else {
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    return buf;
  }
}

inline std::string csv_quote(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

template <typename V>
std::string csv_cell(const V& v) {
  if constexpr (std::is_arithmetic_v<V>) {
    return csv_number(v);
  } else {
    static_assert(std::is_convertible_v<const V&, std::string_view>,
                  "CsvWriter::row: a cell is a number, a bool or a string");
    return csv_quote(std::string_view(v));
  }
}
}  // namespace detail

class CsvWriter {
 public:
  // Nothing is written before flush_to_disk() or close(). The header must be non-empty.
  CsvWriter(std::filesystem::path path, std::vector<std::string> header)
      : path_(std::move(path)), columns_(header.size()) {
    LATENT_CHECK(!header.empty(), "CsvWriter: '", path_.string(), "': the header names no column");
    std::vector<std::string> cells;
    for (const auto& h : header) cells.push_back(detail::csv_quote(h));
    append_line(cells);
  }
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;
  // Writes the file if close() was not called; errors are swallowed (call close() to see them).
  ~CsvWriter() {
    try {
      close();
    } catch (...) {
    }
  }

  // One row: exactly one value per column (numbers, bools, strings).
  template <typename... Values>
  CsvWriter& row(const Values&... values) {
    std::vector<std::string> cells{detail::csv_cell(values)...};
    return row_cells(cells);
  }
  // One row of numbers (e.g. built in a loop).
  CsvWriter& row(const std::vector<double>& values) {
    std::vector<std::string> cells;
    for (double v : values) cells.push_back(detail::csv_number(v));
    return row_cells(cells);
  }

  // Atomically (re)writes the file with the header and every row so far.
  void flush_to_disk() {
    LATENT_CHECK(!closed_, "CsvWriter::flush_to_disk: '", path_.string(), "' is already closed");
    detail::write_atomically_as("CsvWriter", path_, content_.data(), content_.size());
  }
  // Writes the file (atomically) and ends the writer; later calls do nothing. If the write
  // fails the writer stays open, so close() can be retried.
  void close() {
    if (closed_) return;
    detail::write_atomically_as("CsvWriter", path_, content_.data(), content_.size());
    closed_ = true;
  }

  const std::string& content() const { return content_; }
  const std::filesystem::path& path() const { return path_; }
  size_t rows() const { return rows_; }
  bool closed() const { return closed_; }

 private:
  CsvWriter& row_cells(const std::vector<std::string>& cells) {
    LATENT_CHECK(!closed_, "CsvWriter::row: '", path_.string(), "' is already closed");
    LATENT_CHECK(cells.size() == columns_, "CsvWriter::row: '", path_.string(), "' has ", columns_,
                 " columns, but the row has ", cells.size(), " values");
    append_line(cells);
    ++rows_;
    return *this;
  }
  void append_line(const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) content_ += ',';
      content_ += cells[i];
    }
    content_ += '\n';
  }

  std::filesystem::path path_;
  size_t columns_;
  std::string content_;
  size_t rows_ = 0;
  bool closed_ = false;
};

}  // namespace latent::io
