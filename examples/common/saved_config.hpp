// Settings saved with a checkpoint as one JSON object in its safetensors metadata (ddpm's
// "ddpm.config"), so that --sample and --resume rebuild the model the file was trained as.
// Reading them back checks the value: text that is not JSON, JSON that is not an object,
// and a setting of the wrong type each throw latent::Error naming the file, the metadata key
// and, for a setting, its name. No CLI11 here: tests/test_checkpoint.cpp includes it.
#pragma once
#include <latent/io.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>

namespace examples {

class SavedConfig {
 public:
  // The config under metadata `key` of `file`; `who` starts every error message ("ddpm").
  // A file without the key gives an empty config: present() is false, get() nullopt.
  SavedConfig(const latent::io::SafeTensors& file, std::string key, std::string who)
      : key_(std::move(key)), who_(std::move(who)), source_(file.source()) {
    const auto it = file.metadata().find(key_);
    if (it == file.metadata().end()) return;
    try {
      json_ = nlohmann::json::parse(it->second);
    } catch (const std::exception& e) {
      fail("is not JSON: ", e.what());
    }
    if (!json_.is_object())
      fail("is not a JSON object of settings (it is ", json_.type_name(), ": ", json_.dump(), ")");
    present_ = true;
  }

  bool present() const { return present_; }
  const std::string& source() const { return source_; }

  // Setting `name` as T; nullopt when the config has no such setting.
  template <typename T>
  std::optional<T> get(const std::string& name) const {
    if (!present_ || !json_.contains(name)) return std::nullopt;
    try {
      return json_.at(name).get<T>();
    } catch (const std::exception& e) {
      fail("has a bad '", name, "' (", json_.at(name).dump(), "): ", e.what());
    }
  }

  // Setting `name` as stored (JSON text), for messages; "" when absent.
  std::string dump(const std::string& name) const {
    return present_ && json_.contains(name) ? json_.at(name).dump() : std::string();
  }

 private:
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw latent::Error(latent::detail::str_cat(who_, ": ", source_, ": the '", key_, "' metadata ", parts...));
  }

  std::string key_, who_, source_;
  nlohmann::json json_;
  bool present_ = false;
};

}  // namespace examples
