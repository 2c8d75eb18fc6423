# Writes a C++ file holding every file of web/ as (path, text), so the daemon serves its page with
# nothing beside the binary and nothing from a CDN. Raw string literals keep the text byte for byte.
set(body "// Generated from web/* by cmake/embed_web.cmake; do not edit.\n#include \"daemon/web_assets.h\"\nnamespace rowsched::daemon {\nconst std::vector<WebAsset>& embedded_web_assets() {\n  static const std::vector<WebAsset> all = {\n")
string(REPLACE "|" ";" files "${FILES}")
foreach(f IN LISTS files)
  if(f STREQUAL "")
    continue()
  endif()
  get_filename_component(name ${f} NAME)
  file(READ ${f} text)
  string(APPEND body "    {\"/${name}\", R\"rowsched_web(${text})rowsched_web\"},\n")
endforeach()
string(APPEND body "  };\n  return all;\n}\n}  // namespace rowsched::daemon\n")
file(WRITE ${OUT} "${body}")
