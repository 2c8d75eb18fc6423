// A PostgreSQL error as clean data, for job_run.error, job_info.last_error and one-line logs:
// the primary message without libpq's "ERROR:  " prefix or trailing newline, then the SQLSTATE, then
// DETAIL, HINT and CONTEXT when present, all on one line:
//   division by zero (SQLSTATE 22012)
//   duplicate key value violates unique constraint "t_pkey" (SQLSTATE 23505); DETAIL: Key (id)=(1) already exists.
// The "LINE n: ..." excerpt and its caret are dropped (they only make sense on several lines);
// multi-line CONTEXT is joined with " / ". (libpqxx 6.4 hands out the error text and the SQLSTATE,
// not the PGresult, so the fields are read back from libpq's text.)
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace rowsched::store {

// From libpq's error text ("ERROR:  msg\nDETAIL:  ...\n") and the SQLSTATE ("" when unknown).
std::string format_pg_error(std::string_view text, std::string_view sqlstate);

// From any exception: a pqxx::sql_error with its SQLSTATE, a pqxx::broken_connection or any other
// with its what() cleaned the same way.
std::string format_pg_error(const std::exception& e);

}  // namespace rowsched::store
