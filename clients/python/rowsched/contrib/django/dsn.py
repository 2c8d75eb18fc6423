"""A libpq connection string from a Django ``DATABASES`` entry, for the worker's own connection.

Pure (no Django import), so it is testable alone. Keys: NAME, USER, PASSWORD, HOST, PORT, and OPTIONS
(libpq keywords such as ``sslmode`` or ``options``; psycopg-only keys are ignored). Values are quoted
as libpq requires, so a password with spaces or quotes survives. ``redacted`` is the form to log.
"""

import re

# OPTIONS keys Django's PostgreSQL backend accepts that are not libpq connection keywords.
_NOT_LIBPQ = {"isolation_level", "server_side_binding", "cursor_factory", "pool", "assume_role"}


def _quote(value):
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dsn_from_database(database):
    """The libpq keyword/value string of one DATABASES entry. Raises ValueError for an engine that is
    not PostgreSQL, naming it."""
    engine = database.get("ENGINE", "")
    if "postgresql" not in engine and "postgis" not in engine:
        raise ValueError(f"DATABASES entry has ENGINE {engine!r}; rowsched needs PostgreSQL "
                         "(django.db.backends.postgresql), or pass --dsn")
    params = {}
    for key, keyword in (("HOST", "host"), ("PORT", "port"), ("NAME", "dbname"), ("USER", "user"),
                         ("PASSWORD", "password")):
        if database.get(key) not in (None, ""):
            params[keyword] = database[key]
    for key, value in (database.get("OPTIONS") or {}).items():
        if key not in _NOT_LIBPQ and value is not None:
            params[key] = value
    return " ".join(f"{k}={_quote(v)}" for k, v in params.items())


def redacted(dsn):
    """The DSN with its password (keyword form or URL form) replaced by ***, for logs."""
    dsn = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
