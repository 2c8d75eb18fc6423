#include "store/owner_session.h"

#include <libpq-fe.h>
#include <poll.h>

#include <nlohmann/json.hpp>

#include "store/pg_error.h"

namespace rowsched::store {

namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// The SQLSTATE of an error result, "" when it has none.
std::string_view sqlstate_of(const PGresult* r) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return state ? state : "";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Notices (RAISE NOTICE, "there is no transaction in progress") are the job's business, not the log's.
void ignore_notice(void*, const char*) {}

// Everything DISCARD ALL does, in statements allowed inside the implicit transaction of one simple
// query (DISCARD ALL itself refuses to run there). SET SESSION AUTHORIZATION DEFAULT only matters to
// a superuser owner, the one role that can change it.
constexpr const char* kReset =
    "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; RESET ALL; CLOSE ALL; DEALLOCATE ALL; UNLISTEN *; "
    "SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD SEQUENCES; DISCARD TEMP";

}  // namespace

void ResultSummary::add(const PGresult* r) {
  const ExecStatusType status = PQresultStatus(r);
  if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return;
  if (finished_) *this = ResultSummary{};
  if (status == PGRES_COMMAND_OK) {
    const char* n = PQcmdTuples(const_cast<PGresult*>(r));
    affected_ = (n && *n) ? std::stoll(n) : 0;
    query_ = false;
    finished_ = true;
    return;
  }
  query_ = true;
  const int rows = PQntuples(r), columns = PQnfields(r);
  rows_ += rows;
  for (int i = 0; i < rows && first_rows_.size() < 10; ++i) {
    auto& row = first_rows_.emplace_back();
    for (int c = 0; c < columns; ++c)
      row.emplace_back(PQfname(r, c), PQgetisnull(r, i, c) ? std::nullopt : std::optional<std::string>(PQgetvalue(r, i, c)));
  }
  finished_ = status == PGRES_TUPLES_OK;
}

std::string ResultSummary::text() const {
  nlohmann::json summary;
  if (query_) {
    summary["rows"] = rows_;
    nlohmann::json first = nlohmann::json::array();
    for (const auto& fields : first_rows_) {
      nlohmann::json row = nlohmann::json::object();
      for (const auto& [name, value] : fields) row[name] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
      first.push_back(std::move(row));
    }
    summary["first_rows"] = std::move(first);
  } else {
    summary["affected_rows"] = affected_;
  }
  return summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string owner_result_summary(const PGresult* r) {
  ResultSummary summary;
  summary.add(r);
  return summary.text();
}

std::string statement_timeout_command(Duration timeout) {
  const auto ms = std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  return "SET statement_timeout = " + std::to_string(ms);
}

bool refused_for_lack_of_room(std::string_view why) { return why.find("too many c") != std::string_view::npos; }

std::string owner_login_error_message(const std::string& owner, const std::string& why) {
  if (refused_for_lack_of_room(why))  // the login is right, the room is not
    return "cannot open another session as the job's owner role \"" + owner + "\": " + why +
           ". The role's CONNECTION LIMIT or the server's max_connections leaves no room: raise it, or lower "
           "--max-owner-connections (docs/operations.md); runs wait for the owner's open sessions, and fail with "
           "this when it has none";
  return "cannot log in as the job's owner role \"" + owner + "\": " + why +
         ". A job runs in a session logged in as its owner: the role must exist and have LOGIN "
         "(ALTER ROLE \"" + owner + "\" LOGIN), pg_hba.conf must admit it from the daemon's host, and the daemon "
         "must have its credentials (a line in the daemon's passfile, ~/.pgpass or PGPASSFILE, a client "
         "certificate, or peer/trust on a local socket); see docs/security.md";
}

OwnerSession::OwnerSession(const std::string& owner, const std::string& conninfo) : owner_(owner) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    const std::string why = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw OwnerLoginError(owner_login_error_message(owner, why));
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

OwnerSession::~OwnerSession() {
  if (conn_) PQfinish(conn_);
}

void OwnerSession::exec_command(const std::string& command) {
  Result r(PQexec(conn_, command.c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    broken_ = true;
    throw std::runtime_error(r ? format_pg_error(PQresultErrorMessage(r.get()), sqlstate_of(r.get()))
                               : trimmed(PQerrorMessage(conn_)));
  }
}

std::string OwnerSession::run(const std::string& statement, const std::vector<std::optional<std::string>>& params,
                              std::optional<Duration> timeout) {
  if (!usable()) throw std::runtime_error("the session of role \"" + owner_ + "\" is not usable");
  if (timeout) exec_command(statement_timeout_command(*timeout));
  int sent;
  if (params.empty()) {
    sent = PQsendQuery(conn_, statement.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    sent = PQsendQueryParams(conn_, statement.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0);
  }
  if (!sent) {
    broken_ = true;
    throw std::runtime_error("connection lost: " + trimmed(PQerrorMessage(conn_)));
  }
  ResultSummary summary;
  std::optional<std::string> error;
  bool cancelled = false;
  // Rows one by one (ResultSummary), for each statement of several too: libpq takes single-row mode
  // before a statement's first result and refuses it (harmlessly) otherwise.
  while (Result r{(PQsetSingleRowMode(conn_), PQgetResult(conn_))}) {
    switch (PQresultStatus(r.get())) {
      case PGRES_SINGLE_TUPLE:
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        summary.add(r.get());
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        // No client is there to feed or read the copy: close the session rather than unwind it.
        broken_ = true;
        throw std::runtime_error(kCopyNeedsClient);
      case PGRES_EMPTY_QUERY:
        break;
      default:
        if (!error) {
          cancelled = sqlstate_of(r.get()) == "57014";
          error = format_pg_error(PQresultErrorMessage(r.get()), sqlstate_of(r.get()));
        }
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    throw std::runtime_error("connection lost: " + trimmed(PQerrorMessage(conn_)));
  }
  if (error) {
    if (cancelled) throw StatementTimeout("cancelled by the job's timeout: " + *error);
    throw std::runtime_error(*error);
  }
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE)
    throw std::runtime_error(kTransactionLeftOpen);
  return summary.text();
}

void OwnerSession::start_reset() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return;
  }
  const PGTransactionStatusType tx = PQtransactionStatus(conn_);
  if (tx == PQTRANS_ACTIVE || tx == PQTRANS_UNKNOWN) {
    broken_ = true;
    return;
  }
  const std::string reset = std::string(tx == PQTRANS_IDLE ? "" : "ROLLBACK; ") + kReset;
  if (!PQsendQuery(conn_, reset.c_str())) {
    broken_ = true;
    return;
  }
  reset_pending_ = true;
}

void OwnerSession::finish_reset() {
  reset_pending_ = false;
  while (Result r{PQgetResult(conn_)}) {
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) broken_ = true;
  }
  // LISTENs are gone; drop whatever notifications arrived before the UNLISTEN.
  while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
}

bool OwnerSession::usable() {
  if (reset_pending_) finish_reset();
  if (!broken_ && ended_while_idle()) broken_ = true;
  return !broken_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

bool OwnerSession::ended_while_idle() const {
  // Its reset answered, an idle session has nothing to read: anything the server sent since (the
  // FATAL of pg_terminate_backend, idle_session_timeout or a shutdown, then the end of the stream)
  // means it is gone or going. poll() with no wait: no round trip on the path of a run.
  pollfd p{PQsocket(conn_), POLLIN, 0};
  return p.fd < 0 || (::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)));
}

bool OwnerSession::broken() const { return broken_; }

}  // namespace rowsched::store
