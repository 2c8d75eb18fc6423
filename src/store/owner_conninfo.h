// The connection parameters of a session logged in as a job's owner role: the daemon's own DSN with
// `user` replaced by the owner and the daemon's password taken away, so the owner authenticates with
// what pg_hba.conf allows for that role (a passfile entry, a client certificate, peer or trust on a
// local socket), never with the daemon's credentials. Both DSN forms (postgresql:// URLs and
// key=value strings) are read by libpq itself (PQconninfoParse). Pure: no connection is opened.
#pragma once

#include <optional>
#include <string>

namespace rowsched::store {

// The user `dsn` logs in as: its `user`, else what libpq would use (PGUSER, then the OS user name).
std::optional<std::string> login_user(const std::string& dsn);

// `dsn` as a key=value connection string with user=`owner` and application_name=`application_name`
// (unless the DSN sets one). The password is replaced by password='' (an explicit empty password, so
// neither the DSN's password nor $PGPASSWORD is sent and libpq looks the owner up in the passfile)
// unless `owner` is the daemon's own login user, whose password is its own. Throws
// std::invalid_argument naming what libpq could not parse (not the DSN: it may hold a password).
std::string owner_conninfo(const std::string& dsn, const std::string& owner, const std::string& application_name);

}  // namespace rowsched::store
