#include "daemon/web_options.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rowsched::daemon {

void add_web_options(CLI::App& cmd, WebOptions& opt) {
  cmd.add_option("--web-addr", opt.addr,
                 "HOST:PORT to serve the web page and its JSON API on (docs/web.md); a bare PORT or :PORT means "
                 "127.0.0.1:PORT; default: no web page")
      ->check(CLI::Validator(
          [](std::string& v) {
            return v.empty() || parse_web_address(v)
                       ? std::string()
                       : "\"" + v + "\" is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, :8080, 8080; port 1-65535)";
          },
          "HOST:PORT"));
  cmd.add_option("--web-token-file", opt.token_file,
                 "A file holding a token every web request must carry (Authorization: Bearer TOKEN or ?token=TOKEN)");
  cmd.add_flag("--web-hide-args", opt.hide_args, "Show func_args as \"hidden\" on the web page and in its API");
}

std::optional<ListenAddress> parse_web_address(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return parse_web_address(":" + text);
  auto address = parse_listen_address(text);
  if (address && text.front() == ':') address->host = "127.0.0.1";
  return address;
}

std::string read_web_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--web-token-file " + path + ": cannot read: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = content.str();
  constexpr const char* kSpace = " \t\r\n\f\v";
  const auto begin = token.find_first_not_of(kSpace);
  if (begin == std::string::npos) throw std::runtime_error("--web-token-file " + path + ": the file is empty; put the token in it");
  token = token.substr(begin, token.find_last_not_of(kSpace) - begin + 1);
  if (token.find_first_of(kSpace) != std::string::npos)
    throw std::runtime_error("--web-token-file " + path + ": the token contains white space; allowed: one word of printable characters");
  // The page opened with ?token= gets the token back as a cookie value, which ends at `;` and may not
  // hold `"`, `,` or `\`: a token with one of them would lock the browser out of the page's own files.
  const bool cookie_safe = std::all_of(token.begin(), token.end(), [](unsigned char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
  });
  if (!cookie_safe)
    throw std::runtime_error("--web-token-file " + path +
                             ": the token contains a character a cookie cannot carry; allowed: printable ASCII "
                             "except \" , ; \\ (e.g. the output of `openssl rand -hex 32`)");
  return token;
}

}  // namespace rowsched::daemon
