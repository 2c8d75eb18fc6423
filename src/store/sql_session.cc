#include "store/sql_session.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "store/connect.h"
#include "store/pg_error.h"

namespace rowsched::store {

struct SqlSession::Impl {
  std::string dsn;
  std::unique_ptr<pqxx::connection> conn;

  pqxx::connection& connection() {
    if (!conn || !conn->is_open()) {
      conn = open_connection(dsn, "rowsched executor");
    }
    return *conn;
  }

  // Runs `body` in a transaction as `owner`; drops the connection on any failure so the next run
  // starts from a clean session.
  template <typename F>
  auto as_role(const std::string& owner, std::optional<Duration> timeout, F&& body) {
    try {
      pqxx::work tx(connection());
      tx.exec("SET LOCAL ROLE " + tx.quote_name(owner));
      if (timeout) {
        const auto ms = std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(*timeout).count());
        tx.exec("SET LOCAL statement_timeout = " + std::to_string(ms));
      }
      auto out = body(tx);
      tx.commit();
      return out;
    } catch (const pqxx::sql_error& e) {
      const bool cancelled = e.sqlstate() == "57014";
      if (!conn || !conn->is_open()) conn.reset();
      if (cancelled) throw StatementTimeout("cancelled by the job's timeout: " + std::string(e.what()));
      throw std::runtime_error(format_pg_error(e));
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      throw std::runtime_error(std::string("connection lost: ") + e.what());
    }
  }
};

SqlSession::SqlSession(std::string dsn) : impl_(std::make_unique<Impl>()) { impl_->dsn = std::move(dsn); }
SqlSession::~SqlSession() = default;

std::string SqlSession::execute_as(const std::string& owner, const std::string& statement,
                                   const std::vector<std::optional<std::string>>& params, std::optional<Duration> timeout) {
  return impl_->as_role(owner, timeout, [&](pqxx::work& tx) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    const pqxx::result r = tx.exec_params(statement, pqxx::prepare::make_dynamic_params(values));
    nlohmann::json summary;
    if (r.columns() > 0) {
      summary["rows"] = r.size();
      nlohmann::json first = nlohmann::json::array();
      for (size_t i = 0; i < r.size() && i < 10; ++i) {
        nlohmann::json row = nlohmann::json::object();
        for (pqxx::row::size_type c = 0; c < r.columns(); ++c)
          row[r.column_name(c)] = r[i][c].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[i][c].c_str());
        first.push_back(std::move(row));
      }
      summary["first_rows"] = std::move(first);
    } else {
      summary["affected_rows"] = r.affected_rows();
    }
    return summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
}

void SqlSession::notify_as(const std::string& owner, const std::string& channel, const std::string& payload) {
  impl_->as_role(owner, std::nullopt, [&](pqxx::work& tx) {
    tx.exec_params("SELECT pg_notify($1, $2)", channel, payload);
    return 0;
  });
}

}  // namespace rowsched::store
