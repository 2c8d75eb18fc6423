// What rows repeat, remembered while a batch of rows is applied (a full load, a bulk change):
// func and owner strings interned, each distinct (func, func_args) parsed and checked once, each
// distinct trigger_kwargs parsed once (once per trigger_time too when its parse depended on it), and
// the results shared between the jobs. Past kMaxEntries distinct entries a table stops growing: the
// rows do not repeat enough to pay.
//
// Thread safety: none; one per batch, on the loop's thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "trigger/trigger_kwargs.h"

namespace rowsched::daemon {

struct DefinitionCache {
  static constexpr size_t kMaxEntries = 10000;
  template <typename V>
  static bool room(const std::unordered_map<std::string, V>& m) { return m.size() < kMaxEntries; }

  // The one shared copy of `s` (func, owner).
  std::shared_ptr<const std::string> intern(const std::string& s) {
    if (auto it = strings.find(s); it != strings.end()) return it->second;
    auto v = std::make_shared<const std::string>(s);
    if (room(strings)) strings.emplace(s, v);
    return v;
  }

  std::unordered_map<std::string, std::shared_ptr<const std::string>> strings;
  struct Args {
    std::shared_ptr<const nlohmann::json> args;
    std::optional<std::string> problem;  // the handler's verdict on (func, args)
  };
  std::unordered_map<std::string, Args> args;  // by func '\0' func_args
  struct Spec {
    JobSpec spec;
    std::optional<std::string> problem;
    bool now_used = false;  // the parse depends on trigger_time (ParseContext::now_used)
  };
  // By trigger_kwargs; where the parse depended on trigger_time, by trigger_kwargs '\0' trigger_time.
  std::unordered_map<std::string, Spec> specs;
};

}  // namespace rowsched::daemon
