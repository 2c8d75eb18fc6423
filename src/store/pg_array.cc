#include "store/pg_array.h"

namespace rowsched::store {

void PgArray::separate() {
  if (text_.size() > 1) text_ += ',';
}

PgArray& PgArray::add(std::string_view text) {
  separate();
  text_ += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
  return *this;
}

PgArray& PgArray::add(const std::optional<std::string>& text) { return text ? add(std::string_view(*text)) : add_null(); }

PgArray& PgArray::add(int64_t value) {
  separate();
  text_ += std::to_string(value);
  return *this;
}

PgArray& PgArray::add(bool value) {
  separate();
  text_ += value ? 't' : 'f';
  return *this;
}

PgArray& PgArray::add(TimePoint instant) { return add(std::string_view(format_rfc3339(instant))); }

PgArray& PgArray::add(const std::optional<TimePoint>& instant) { return instant ? add(*instant) : add_null(); }

PgArray& PgArray::add_null() {
  separate();
  text_ += "NULL";
  return *this;
}

}  // namespace rowsched::store
