# Generates a .cpp that holds every migrations/NNNN_*.sql file as a string, so the binary and the
# schema it expects cannot drift. Run in script mode: cmake -DSRC_DIR=... -DOUT=... -P EmbedMigrations.cmake
file(GLOB _files "${SRC_DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT _files)
set(_body "")
set(_expected 1)
foreach(_f IN LISTS _files)
    get_filename_component(_name "${_f}" NAME)
    string(SUBSTRING "${_name}" 0 4 _num)
    math(EXPR _n "${_num}")
    if(NOT _n EQUAL _expected)
        message(FATAL_ERROR "migration numbers must be 1, 2, 3, ... without gaps: found ${_name}")
    endif()
    math(EXPR _expected "${_expected} + 1")
    file(READ "${_f}" _sql)
    string(APPEND _body "    {${_n}, \"${_name}\", R\"ditio_sql(${_sql})ditio_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from migrations/*.sql by cmake/EmbedMigrations.cmake; do not edit.
#include <ditio_sync/store/migrations.hpp>

namespace ditio_sync::store {

const std::vector<migration>& embedded_migrations()
{
    static const std::vector<migration> all{
${_body}    };
    return all;
}

} // namespace ditio_sync::store
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
