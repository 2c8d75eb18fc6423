// Instants as PostgreSQL prints a timestamptz on a session with TimeZone UTC and DateStyle ISO (every
// JobStore session sets both): "2024-03-31 01:30:00.25+00", years of 4 or more digits, " BC" after the
// offset for years before 1. Parsing this text is exact to the microsecond and far cheaper than
// asking PostgreSQL for extract(epoch ...)'s numeric arithmetic.
#pragma once

#include "base/time.h"

namespace rowsched::store {

// The instant `text` names. Throws std::runtime_error quoting `text` when it is not of that form.
TimePoint parse_utc_timestamp(const char* text);

}  // namespace rowsched::store
