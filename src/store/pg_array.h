// PostgreSQL array literals ('{"a","b",NULL}') for binding a batch as one parameter per column
// ($1::text[], $2::timestamptz[] ...), expanded server-side with unnest(): no JSON is built, quoted or
// parsed, and the statement's text never holds data. Pure; internal to src/store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"

namespace rowsched::store {

// Builds one array literal element by element.
class PgArray {
 public:
  PgArray& add(std::string_view text);  // quoted, with " and \ escaped
  PgArray& add(const std::string& text) { return add(std::string_view(text)); }
  PgArray& add(const char* text) { return add(std::string_view(text)); }  // not the bool overload
  PgArray& add(const std::optional<std::string>& text);  // NULL when empty
  PgArray& add(int64_t value);
  PgArray& add(bool value);
  PgArray& add(TimePoint instant);  // RFC 3339 UTC, exact to the microsecond
  PgArray& add(const std::optional<TimePoint>& instant);
  PgArray& add_null();
  // The literal, e.g. {"a","b\"c",NULL}; "{}" when nothing was added.
  std::string str() const { return text_ + "}"; }

 private:
  void separate();
  std::string text_ = "{";
};

}  // namespace rowsched::store
