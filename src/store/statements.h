// The store's SQL statements longer than a line, kept as files in src/store/statements/*.sql and
// embedded in the binary at build time (cmake/embed_files.cmake), so that each can be read, EXPLAINed
// and diffed as SQL. A statement names its tables as @schema@.job_info; the placeholder is replaced
// once per connection by the schema's quoted name (Statements). Internal to src/store.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rowsched::store {

struct EmbeddedStatement {
  std::string name;  // file name, e.g. "claim.sql"
  std::string sql;   // the file's text, byte for byte
};

// Every file of src/store/statements/, in name order (generated at build time).
const std::vector<EmbeddedStatement>& embedded_statements();

// The embedded statements with @schema@ replaced by `quoted_schema` (already quoted as an identifier,
// e.g. "public").
class Statements {
 public:
  explicit Statements(const std::string& quoted_schema);
  // The text of statements/<name>; throws std::logic_error when there is no such file (a typo in code).
  const std::string& operator[](std::string_view name) const;
  // The schema as given, quoted: for the one-line statements kept in C++.
  const std::string& quoted_schema() const { return quoted_schema_; }

 private:
  std::string quoted_schema_;
  std::map<std::string, std::string, std::less<>> texts_;
};

}  // namespace rowsched::store
