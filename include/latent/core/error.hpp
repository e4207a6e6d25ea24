// latent::Error and LATENT_CHECK: every failed precondition throws with the op name,
// the file:line of the check, and the offending shapes/values spelled out.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace latent {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown for a backward pass that cannot run (second backward, in-place modification, ...).
class AutogradError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Parts>
[[noreturn]] void throw_error(const char* file, int line, const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  out << " (" << file << ":" << line << ")";
  throw Error(out.str());
}
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail
}  // namespace latent

// LATENT_CHECK(cond, "op: what went wrong ", shape, ...) -- the parts are streamed.
#define LATENT_CHECK(cond, ...)                                            \
  do {                                                                     \
    if (!(cond)) ::latent::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
