#include "store/dsn.h"

#include <cstdlib>
#include <regex>

namespace rowsched::store {

std::string resolve_dsn(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* url = std::getenv("DATABASE_URL"); url && *url) return url;
  return "";
}

std::string redact_dsn(std::string_view dsn) {
  std::string s(dsn);
  // URI form: scheme://user:password@host  (and ?password=... in the query string)
  static const std::regex uri_password(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*):[^@/?#]*@)");
  s = std::regex_replace(s, uri_password, "$1:***@");
  static const std::regex query_password(R"(([?&]password=)[^&]*)", std::regex::icase);
  s = std::regex_replace(s, query_password, "$1***");
  // key=value form: password=secret or password='se cret' (with \' escapes)
  static const std::regex kv_password(R"((^|\s)(password\s*=\s*)('(\\.|[^'])*'|\S*))", std::regex::icase);
  s = std::regex_replace(s, kv_password, "$1$2***");
  return s;
}

}  // namespace rowsched::store
