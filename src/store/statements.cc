#include "store/statements.h"

#include <stdexcept>

namespace rowsched::store {

namespace {
constexpr std::string_view kSchemaPlaceholder = "@schema@";
}

Statements::Statements(const std::string& quoted_schema) : quoted_schema_(quoted_schema) {
  for (const auto& s : embedded_statements()) {
    // The leading comment says what the statement is for; the server (and pg_stat_statements) gets the SQL.
    std::string text = s.sql;
    while (text.rfind("--", 0) == 0) text.erase(0, text.find('\n') == std::string::npos ? text.size() : text.find('\n') + 1);
    for (size_t at = text.find(kSchemaPlaceholder); at != std::string::npos;
         at = text.find(kSchemaPlaceholder, at + quoted_schema.size()))
      text.replace(at, kSchemaPlaceholder.size(), quoted_schema);
    texts_.emplace(s.name, std::move(text));
  }
}

const std::string& Statements::operator[](std::string_view name) const {
  const auto it = texts_.find(name);
  if (it == texts_.end()) throw std::logic_error("no embedded statement src/store/statements/" + std::string(name));
  return it->second;
}

}  // namespace rowsched::store
