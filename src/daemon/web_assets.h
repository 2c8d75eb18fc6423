// The files of the web page (web/*: HTML, CSS, JS), embedded in the binary at build time by
// cmake/embed_web.cmake, so the page needs nothing beside the binary and no CDN.
#pragma once

#include <string_view>
#include <vector>

namespace rowsched::daemon {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view text;
};

const std::vector<WebAsset>& embedded_web_assets();

}  // namespace rowsched::daemon
