// Where option values come from, in order of precedence: the command line, then environment
// variables (ROWSCHED_<OPTION>, e.g. ROWSCHED_WORKERS for --workers; DATABASE_URL for --dsn), then a
// config file (--config FILE or ROWSCHED_CONFIG), then the built-in defaults.
//
// CLI11 reads a config file before the environment and lets it win; rowsched wants the environment
// (a systemd EnvironmentFile, a container's variables) to override a shared file, so the file is
// applied here, after CLI11 has parsed the command line and the environment, to the options that are
// still unset.
//
// The file is TOML-like, as CLI11 reads it: `key = value` lines, keys are long option names with
// dashes or underscores (`workers = 8`, `metrics_addr = "127.0.0.1:9187"`), lists in brackets
// (`allow-exec = ["/usr/bin/backup"]`), `#` starts a comment (anywhere on the line: quote nothing
// that contains one). Keys may also sit in a section named after the command (`[run]`).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace rowsched::daemon {

// Gives every long option of `cmd` without an environment variable the name ROWSCHED_<NAME> (dashes
// become underscores, letters upper case). Call after all options are added.
void bind_environment(CLI::App& cmd);

// Adds `--config FILE` (environment ROWSCHED_CONFIG) to `cmd`, storing the path into `path`.
void add_config_option(CLI::App& cmd, std::string& path);

// Fills every option of `cmd` that neither the command line nor the environment set from the file
// at `path` (nothing when `path` is empty). Keys that are options of another command in `all` (say
// `workers` while running `migrate`) are ignored, so one file serves every command. Throws
// CLI::ConfigError naming the file and the key for an unreadable file, an unknown key or an invalid
// value.
void apply_config_file(CLI::App& cmd, const std::string& path, const CLI::App& all);

// For a parse error about an option of `cmd` whose value came from its environment variable (not
// from `args`), the sentence saying so, e.g. "--workers was set by the environment variable
// ROWSCHED_WORKERS"; else "".
std::string environment_source(const CLI::App& cmd, const std::string& error, const std::vector<std::string>& args);

}  // namespace rowsched::daemon
