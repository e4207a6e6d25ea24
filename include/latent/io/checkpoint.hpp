// Training checkpoints: models, optimizers, LR schedulers, EMAs, random generators, step
// counters and user metadata in one safetensors file, written atomically, so a run that
// saves after N steps and resumes trains exactly as a run that never stopped (bit for bit,
// with the same thread count).
//
//   io::Checkpoint ckpt;
//   ckpt.add("generator", *G).add("opt_g", opt_g).add("sched_g", sched_g)
//       .add("rng", default_generator());
//   ckpt.counters["step"] = step;
//   ckpt.save(out / "checkpoint.safetensors");
//   ...
//   ckpt.load(out / "checkpoint.safetensors");   // restores every registered object
//   step = ckpt.counters.at("step");
//
// Layout: tensors are named "<item>/<tensor name>" (a module's "G/net.0.weight", an
// optimizer's "opt_g/state.0.exp_avg"); everything else lives in the safetensors metadata
// under "latent.checkpoint" as JSON (item kinds, optimizer scalars, scheduler epochs,
// generator seeds/offsets, counters). Other metadata keys are the user's `metadata`. A
// module's tensors are stored under their PyTorch names, so `safetensors.torch.load_file`
// shows a familiar layout.
//
// load() validates the whole file against the registered objects before it changes any of
// them: a missing or unexpected item, a tensor of the wrong shape, or a malformed header
// throws latent::Error naming the file and the item, and leaves every object as it was.
#pragma once
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../nn/module.hpp"
#include "../optim/ema.hpp"
#include "../optim/lr_scheduler.hpp"
#include "../optim/optimizer.hpp"
#include "safetensors.hpp"

namespace latent::io {

class Checkpoint {
 public:
  static constexpr const char* kMetadataKey = "latent.checkpoint";
  static constexpr int kFormatVersion = 1;

  // Named counters (step, epoch, ...) saved and restored exactly.
  std::map<std::string, int64_t> counters;
  // User metadata (string -> string), stored as safetensors metadata.
  std::map<std::string, std::string> metadata;

  template <typename T>
  Checkpoint& add(const std::string& name, nn::Module<T>& module) {
    Item item = new_item(name, "module");
    item.save = [&module](NamedTensors& out, const std::string& prefix, nlohmann::json&) {
      for (const auto& [key, t] : module.state_dict()) out.emplace_back(prefix + key, t);
    };
    item.stage = [&module, name](const SafeTensors& file, const nlohmann::json&, bool strict) {
      auto state = read_state<T>(file, name, module.state_dict(), strict, "module");
      return std::function<void()>([&module, state, strict] { module.load_state_dict(state, strict); });
    };
    return insert(std::move(item));
  }

  template <typename T>
  Checkpoint& add(const std::string& name, optim::OptimizerBase<T>& optimizer) {
    Item item = new_item(name, "optimizer");
    item.save = [&optimizer](NamedTensors& out, const std::string& prefix, nlohmann::json& j) {
      const auto state = optimizer.state_dict();
      for (const auto& [key, t] : state.tensors) out.emplace_back(prefix + key, t);
      j["scalars"] = scalars_to_json(state.scalars);
    };
    item.stage = [&optimizer, name](const SafeTensors& file, const nlohmann::json& j, bool) {
      optim::OptimizerState<T> state;
      state.scalars = scalars_from_json(j, name);
      // The optimizer itself checks state shapes against its parameters when it loads.
      for (const auto& key : tensor_names(file, name)) state.tensors.emplace_back(key, file.get<T>(name + "/" + key));
      return std::function<void()>([&optimizer, state] { optimizer.load_state_dict(state); });
    };
    return insert(std::move(item));
  }

  template <typename T>
  Checkpoint& add(const std::string& name, optim::LRScheduler<T>& scheduler) {
    Item item = new_item(name, "scheduler");
    item.save = [&scheduler](NamedTensors&, const std::string&, nlohmann::json& j) {
      j["last_epoch"] = scheduler.last_epoch();
    };
    item.stage = [&scheduler, name](const SafeTensors&, const nlohmann::json& j, bool) {
      const int64_t epoch = get_field<int64_t>(j, "last_epoch", name);
      return std::function<void()>([&scheduler, epoch] { scheduler.set_last_epoch(epoch); });
    };
    return insert(std::move(item));
  }

  template <typename T>
  Checkpoint& add(const std::string& name, optim::EMA<T>& ema) {
    Item item = new_item(name, "ema");
    item.save = [&ema](NamedTensors& out, const std::string& prefix, nlohmann::json& j) {
      for (const auto& [key, t] : ema.state_dict()) out.emplace_back(prefix + key, t);
      j["updates"] = ema.num_updates();
    };
    item.stage = [&ema, name](const SafeTensors& file, const nlohmann::json& j, bool) {
      auto state = read_state<T>(file, name, ema.state_dict(), /*strict=*/true, "EMA");
      const int64_t updates = get_field<int64_t>(j, "updates", name);
      return std::function<void()>([&ema, state, updates] { ema.load_state_dict(state, updates); });
    };
    return insert(std::move(item));
  }

  Checkpoint& add(const std::string& name, Generator& generator) {
    Item item = new_item(name, "generator");
    item.save = [&generator](NamedTensors&, const std::string&, nlohmann::json& j) {
      j["seed"] = generator.seed();
      j["offset"] = generator.offset();
    };
    item.stage = [&generator, name](const SafeTensors&, const nlohmann::json& j, bool) {
      const auto seed = get_field<uint64_t>(j, "seed", name);
      const auto offset = get_field<uint64_t>(j, "offset", name);
      return std::function<void()>([&generator, seed, offset] { generator.set_state(seed, offset); });
    };
    return insert(std::move(item));
  }

  // Writes every registered object, the counters and the metadata to `path` atomically
  // (a temporary file in the same directory, then a rename).
  void save(const std::filesystem::path& path) const {
    NamedTensors tensors;
    nlohmann::json items = nlohmann::json::object();
    for (const auto& item : items_) {
      nlohmann::json j = {{"kind", item.kind}};
      item.save(tensors, item.name + "/", j);
      items[item.name] = std::move(j);
    }
    Metadata meta;
    for (const auto& [key, value] : metadata) {
      LATENT_CHECK(key != kMetadataKey, "Checkpoint.save: metadata key '", key, "' is reserved");
      meta[key] = value;
    }
    nlohmann::json head = {{"version", kFormatVersion}, {"items", items}, {"counters", counters}};
    meta[kMetadataKey] = head.dump();
    save_safetensors(path, tensors, meta);
  }

  // Restores every registered object from `path`. strict: the file holds exactly the
  // registered items, and each module exactly its tensors (as Module::load_state_dict).
  // Counters and metadata are replaced by the file's.
  void load(const std::filesystem::path& path, bool strict = true) { load(SafeTensors::read_file(path), strict); }
  // The same from a file already read (or bytes: SafeTensors::from_bytes).
  void load(const SafeTensors& file, bool strict = true) {
    const std::string& src = file.source();
    auto it = file.metadata().find(kMetadataKey);
    LATENT_CHECK(it != file.metadata().end(), "Checkpoint.load: ", src, " is a safetensors file but not a latent "
                 "checkpoint (no '", kMetadataKey, "' metadata); use io::load_module for model weights");
    nlohmann::json head;
    try {
      head = nlohmann::json::parse(it->second);
    } catch (const std::exception& e) {
      throw Error(latent::detail::str_cat("Checkpoint.load: ", src, ": the '", kMetadataKey,
                                          "' metadata is not valid JSON: ", e.what()));
    }
    LATENT_CHECK(head.is_object() && head.contains("version") && head["version"].is_number_integer() &&
                     head.contains("items") && head["items"].is_object() && head.contains("counters") &&
                     head["counters"].is_object(),
                 "Checkpoint.load: ", src, ": the '", kMetadataKey, "' metadata lacks version, items or counters");
    LATENT_CHECK(head["version"].get<int64_t>() == kFormatVersion, "Checkpoint.load: ", src, " has format version ",
                 head["version"].get<int64_t>(), "; this latent reads version ", kFormatVersion);
    const auto& items = head["items"];
    std::vector<std::function<void()>> apply;
    try {
      for (const auto& item : items_) {
        LATENT_CHECK(items.contains(item.name), "the checkpoint has no item '", item.name, "' (it holds ",
                     list_keys(items), ")");
        const auto& j = items[item.name];
        LATENT_CHECK(j.is_object() && j.contains("kind") && j["kind"].is_string(), "item '", item.name,
                     "' has no kind");
        LATENT_CHECK(j["kind"].get<std::string>() == item.kind, "item '", item.name, "' is a ",
                     j["kind"].get<std::string>(), " in the checkpoint but a ", item.kind, " was registered");
        apply.push_back(item.stage(file, j, strict));
      }
      if (strict) {
        for (auto jt = items.begin(); jt != items.end(); ++jt)
          LATENT_CHECK(index_.count(jt.key()), "the checkpoint holds item '", jt.key(),
                       "' that was not registered (load with strict = false to ignore it)");
      }
    } catch (const Error& e) {
      throw Error(latent::detail::str_cat("Checkpoint.load: ", src, ": ", e.what()));
    }
    std::map<std::string, int64_t> new_counters;
    for (auto jt = head["counters"].begin(); jt != head["counters"].end(); ++jt) {
      LATENT_CHECK(jt.value().is_number_integer(), "Checkpoint.load: ", src, ": counter '", jt.key(),
                   "' is not an integer");
      new_counters[jt.key()] = jt.value().get<int64_t>();
    }
    // Everything validated: only now touch the registered objects.
    for (auto& f : apply) f();
    counters = std::move(new_counters);
    metadata.clear();
    for (const auto& [key, value] : file.metadata())
      if (key != kMetadataKey) metadata[key] = value;
  }

 private:
  struct Item {
    std::string name, kind;
    // Appends the item's tensors (named prefix + key) and fills its JSON entry.
    std::function<void(NamedTensors&, const std::string&, nlohmann::json&)> save;
    // Reads and validates this item's part of the file; returns the action that applies it.
    std::function<std::function<void()>(const SafeTensors&, const nlohmann::json&, bool)> stage;
  };

  Item new_item(const std::string& name, const char* kind) const {
    LATENT_CHECK(!name.empty() && name.find('/') == std::string::npos, "Checkpoint.add: item name '", name,
                 "' must be non-empty and contain no '/'");
    LATENT_CHECK(!index_.count(name), "Checkpoint.add: an item named '", name, "' is already registered");
    Item item;
    item.name = name;
    item.kind = kind;
    return item;
  }
  Checkpoint& insert(Item item) {
    index_.insert(item.name);
    items_.push_back(std::move(item));
    return *this;
  }

  static std::string list_keys(const nlohmann::json& obj) {
    std::string out;
    for (auto it = obj.begin(); it != obj.end(); ++it) out += (out.empty() ? "'" : ", '") + it.key() + "'";
    return out.empty() ? "no items" : out;
  }

  // The names (without the "<item>/" prefix) of the item's tensors in the file.
  static std::vector<std::string> tensor_names(const SafeTensors& file, const std::string& item) {
    std::vector<std::string> out;
    const std::string prefix = item + "/";
    for (const auto& e : file.entries())
      if (e.name.compare(0, prefix.size(), prefix) == 0) out.push_back(e.name.substr(prefix.size()));
    return out;
  }

  // The item's tensors as a state dict checked against `own` (names and shapes).
  template <typename T>
  static nn::StateDict<T> read_state(const SafeTensors& file, const std::string& item, const nn::StateDict<T>& own,
                                     bool strict, const char* what) {
    nn::StateDict<T> state;
    std::set<std::string> present;
    for (const auto& key : tensor_names(file, item)) {
      present.insert(key);
      auto mine = std::find_if(own.begin(), own.end(), [&](const auto& kv) { return kv.first == key; });
      if (mine == own.end()) {
        LATENT_CHECK(!strict, "item '", item, "': the checkpoint has tensor '", key, "' that the ", what, " lacks");
        continue;
      }
      Tensor<T> t = file.get<T>(item + "/" + key);
      LATENT_CHECK(t.shape() == mine->second.shape(), "item '", item, "': tensor '", key, "' has shape ", t.shape(),
                   " in the checkpoint but ", mine->second.shape(), " in the ", what);
      state.emplace_back(key, t);
    }
    if (strict)
      for (const auto& [key, t] : own)
        LATENT_CHECK(present.count(key), "item '", item, "': the checkpoint lacks tensor '", key, "' of the ", what);
    return state;
  }

  template <typename U>
  static U get_field(const nlohmann::json& j, const char* field, const std::string& item) {
    bool ok = j.contains(field) && (std::is_unsigned_v<U> ? j[field].is_number_unsigned() : j[field].is_number_integer());
    LATENT_CHECK(ok, "item '", item, "': field '", field, "' is missing or not ",
                 std::is_unsigned_v<U> ? "an unsigned integer" : "an integer");
    return j[field].get<U>();
  }

  // Optimizer scalars are doubles: JSON numbers round-trip them exactly (nlohmann prints
  // the shortest representation that parses back to the same double); non-finite values,
  // which JSON lacks, are stored as strings.
  static nlohmann::json scalars_to_json(const std::map<std::string, double>& scalars) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, v] : scalars) {
      if (std::isfinite(v)) out[key] = v;
      else out[key] = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    }
    return out;
  }
  static std::map<std::string, double> scalars_from_json(const nlohmann::json& j, const std::string& item) {
    LATENT_CHECK(j.contains("scalars") && j["scalars"].is_object(), "item '", item, "' has no scalars");
    std::map<std::string, double> out;
    for (auto it = j["scalars"].begin(); it != j["scalars"].end(); ++it) {
      const auto& v = it.value();
      if (v.is_number()) {
        out[it.key()] = v.get<double>();
      } else if (v.is_string() && (v == "nan" || v == "inf" || v == "-inf")) {
        const std::string s = v.get<std::string>();
        out[it.key()] = s == "nan" ? std::nan("") : (s == "inf" ? HUGE_VAL : -HUGE_VAL);
      } else {
        throw Error(latent::detail::str_cat("item '", item, "': scalar '", it.key(), "' is not a number"));
      }
    }
    return out;
  }

  std::vector<Item> items_;
  std::set<std::string> index_;
};

}  // namespace latent::io
