#include "daemon/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

namespace rowsched::daemon {

namespace {

std::string env_name(const std::string& long_name) {
  std::string out = "ROWSCHED_";
  for (char c : long_name) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string option_key(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

// The option called `key` (a long name without dashes) of `cmd`, or nullptr.
CLI::Option* find_option(CLI::App& cmd, const std::string& key) {
  for (CLI::Option* opt : cmd.get_options()) {
    const auto& names = opt->get_lnames();
    if (std::find(names.begin(), names.end(), key) != names.end()) return opt;
  }
  return nullptr;
}

bool known_to_another_command(const CLI::App& all, const CLI::App& cmd, const std::string& key) {
  for (const CLI::App* sub : all.get_subcommands({})) {
    if (sub == &cmd) continue;
    for (const CLI::Option* opt : sub->get_options()) {
      const auto& names = opt->get_lnames();
      if (std::find(names.begin(), names.end(), key) != names.end()) return true;
    }
  }
  return false;
}

bool is_command_name(const CLI::App& all, const std::string& name) {
  for (const CLI::App* sub : all.get_subcommands({}))
    if (sub->get_name() == name) return true;
  return false;
}

}  // namespace

void bind_environment(CLI::App& cmd) {
  for (CLI::Option* opt : cmd.get_options()) {
    if (opt->get_lnames().empty() || !opt->get_envname().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help") continue;
    opt->envname(env_name(name));
  }
}

void add_config_option(CLI::App& cmd, std::string& path) {
  cmd.add_option("--config", path,
                 "A file of `option = value` lines (TOML; keys are long option names) read for options given neither "
                 "on the command line nor in the environment")
      ->envname("ROWSCHED_CONFIG");
}

void apply_config_file(CLI::App& cmd, const std::string& path, const CLI::App& all) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) throw CLI::ConfigError("--config " + path + ": cannot read the file");
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(in);
  } catch (const std::exception& e) {
    throw CLI::ConfigError("--config " + path + ": " + e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    if (!item.parents.empty()) {
      if (item.parents.size() != 1 || !is_command_name(all, item.parents.front()))
        throw CLI::ConfigError("--config " + path + ": unknown section or key \"" + item.fullname() +
                               "\"; allowed sections: the command names (run, migrate, status)");
      if (item.parents.front() != cmd.get_name()) continue;  // for another command
    }
    const std::string key = option_key(item.name);
    CLI::Option* opt = key == "config" ? nullptr : find_option(cmd, key);
    if (!opt) {
      if (known_to_another_command(all, cmd, key)) continue;
      throw CLI::ConfigError("--config " + path + ": unknown option \"" + item.name + "\"; see `rowsched " + cmd.get_name() +
                             " --help` for the options");
    }
    if (opt->count() > 0) continue;  // the command line or the environment set it: they win
    try {
      if (opt->get_expected_min() == 0) {
        opt->add_result(opt->get_flag_value(key, CLI::ConfigTOML().to_flag(item)));
      } else {
        opt->add_result(item.inputs);
      }
      opt->run_callback();
    } catch (const CLI::Error& e) {
      throw CLI::ConfigError("--config " + path + ": " + key + ": " + e.what());
    }
  }
}

std::string environment_source(const CLI::App& cmd, const std::string& error, const std::vector<std::string>& args) {
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->get_lnames().empty() || opt->get_envname().empty()) continue;
    const std::string flag = "--" + opt->get_lnames().front();
    if (error.rfind(flag + ":", 0) != 0 && error.find(flag + " ") == std::string::npos) continue;
    const bool on_command_line = std::any_of(args.begin(), args.end(), [&](const std::string& a) {
      return a == flag || a.rfind(flag + "=", 0) == 0;
    });
    const char* value = std::getenv(opt->get_envname().c_str());
    // The value itself is not repeated: DATABASE_URL may hold a password.
    if (!on_command_line && value && *value) return flag + " was set by the environment variable " + opt->get_envname();
  }
  return "";
}

}  // namespace rowsched::daemon
