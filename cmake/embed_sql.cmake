# Writes a C++ file holding every migration as (name, text), in file-name order.
# Raw string literals keep the SQL byte for byte; the delimiter is one SQL never contains.
set(body "// Generated from sql/*.sql by cmake/embed_sql.cmake; do not edit.\n#include \"store/migrations.h\"\nnamespace rowsched::store {\nconst std::vector<Migration>& embedded_migrations() {\n  static const std::vector<Migration> all = {\n")
string(REPLACE "|" ";" files "${FILES}")
foreach(f IN LISTS files)
  if(f STREQUAL "")
    continue()
  endif()
  get_filename_component(name ${f} NAME)
  file(READ ${f} text)
  string(APPEND body "    {\"${name}\", R\"rowsched_sql(${text})rowsched_sql\"},\n")
endforeach()
string(APPEND body "  };\n  return all;\n}\n}  // namespace rowsched::store\n")
file(WRITE ${OUT} "${body}")
