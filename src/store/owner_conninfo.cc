#include "store/owner_conninfo.h"

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>

namespace rowsched::store {

namespace {

struct OptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

Options parse(const std::string& dsn) {
  char* error = nullptr;
  Options options(PQconninfoParse(dsn.c_str(), &error));
  if (!options) {
    std::string why = error ? error : "out of memory";
    PQfreemem(error);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw std::invalid_argument("the connection string cannot be parsed: " + why);
  }
  return options;
}

}  // namespace

std::optional<std::string> login_user(const std::string& dsn) {
  const Options given = parse(dsn);
  for (const PQconninfoOption* o = given.get(); o->keyword; ++o)
    if (std::string(o->keyword) == "user" && o->val && *o->val) return std::string(o->val);
  // PQconndefaults fills in PGUSER, else the OS user name: what libpq logs in as.
  Options defaults(PQconndefaults());
  for (const PQconninfoOption* o = defaults.get(); o && o->keyword; ++o)
    if (std::string(o->keyword) == "user" && o->val && *o->val) return std::string(o->val);
  return std::nullopt;
}

std::string owner_conninfo(const std::string& dsn, const std::string& owner, const std::string& application_name) {
  const bool own_login = login_user(dsn) == owner;
  std::string out;
  auto add = [&](const std::string& key, const std::string& value) {
    out += (out.empty() ? "" : " ") + key + "='";
    for (char c : value) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    out += '\'';
  };
  bool has_application_name = false;
  const Options given = parse(dsn);
  for (const PQconninfoOption* o = given.get(); o->keyword; ++o) {
    if (!o->val) continue;
    const std::string key = o->keyword;
    if (key == "user" || (key == "password" && !own_login)) continue;
    if (key == "application_name") has_application_name = true;
    add(key, o->val);
  }
  add("user", owner);
  // An explicit empty password: libpq then neither reads $PGPASSWORD nor sends one, and looks in the passfile.
  if (!own_login) add("password", "");
  if (!has_application_name) add("application_name", application_name);
  return out;
}

}  // namespace rowsched::store
