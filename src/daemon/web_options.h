// The options of the web page (docs/web.md): `--web-addr`, `--web-token-file`, `--web-hide-args`.
// Off unless --web-addr is given; a bare port binds to 127.0.0.1 only.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/metrics_server.h"

namespace rowsched::daemon {

struct WebOptions {
  std::string addr;        // HOST:PORT, :PORT or PORT; empty: no web page
  std::string token_file;  // a file holding the token every request must carry; empty: none
  bool hide_args = false;  // func_args shown as "hidden"
};

// Registers the three options on `cmd` (`rowsched run`), storing into `opt`.
void add_web_options(CLI::App& cmd, WebOptions& opt);

// Parses --web-addr: "HOST:PORT" or "[IPV6]:PORT" as given, ":PORT" and "PORT" on 127.0.0.1 (unlike
// --metrics-addr, whose ":PORT" is every interface: the page shows more than the metrics do).
std::optional<ListenAddress> parse_web_address(const std::string& text);

// The token in `path`: its content without surrounding white space. Throws std::runtime_error naming
// the file (never the content) when it cannot be read or holds no token, or a token a cookie cannot
// carry (white space, a character outside printable ASCII, or one of " , ; \).
std::string read_web_token(const std::string& path);

}  // namespace rowsched::daemon
