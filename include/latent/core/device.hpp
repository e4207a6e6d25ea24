// Device: where a tensor's storage lives, `cpu` or `cuda:N`, a runtime property.
#pragma once
#include <ostream>
#include <string>

#include "error.hpp"

namespace latent {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}
  // Parses "cpu", "cuda", "cuda:1".
  Device(const std::string& name) : Device(parse(name)) {}
  Device(const char* name) : Device(parse(name)) {}

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  friend bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && (a.is_cpu() || a.index == b.index);
  }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

  static Device parse(const std::string& name) {
    if (name == "cpu") return {DeviceType::CPU, 0};
    if (name == "cuda") return {DeviceType::CUDA, 0};
    if (name.rfind("cuda:", 0) == 0) {
      std::string rest = name.substr(5);
      // At most 9 digits: the index must fit an int (std::stoi would throw std::out_of_range).
      bool digits = !rest.empty() && rest.size() <= 9 && rest.find_first_not_of("0123456789") == std::string::npos;
      LATENT_CHECK(digits, "Device: cannot parse '", name, "' (expected cpu, cuda or cuda:N)");
      return {DeviceType::CUDA, std::stoi(rest)};
    }
    LATENT_CHECK(false, "Device: cannot parse '", name, "' (expected cpu, cuda or cuda:N)");
    return {};
  }
};

inline const Device kCPU{DeviceType::CPU, 0};

}  // namespace latent
