#include "run/worker_func.h"

namespace rowsched::run {

namespace {
// Dotted identifiers: [A-Za-z_][A-Za-z0-9_]* separated by single dots, nothing empty.
bool is_dotted_identifiers(std::string_view s) {
  bool at_start = true;
  for (const char c : s) {
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
    } else if (letter || (digit && !at_start)) {
      at_start = false;
    } else {
      return false;
    }
  }
  return !at_start;
}
}  // namespace

bool is_worker_func(std::string_view func) {
  const auto colon = func.find(':');
  if (colon == std::string_view::npos) return false;
  return is_dotted_identifiers(func.substr(0, colon)) && is_dotted_identifiers(func.substr(colon + 1));
}

}  // namespace rowsched::run
