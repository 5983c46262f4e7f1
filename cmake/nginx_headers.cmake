# Prepares the nginx headers the module compiles against.
#
# A dynamic module must be built with the same configure flags as the nginx binary that loads
# it: the module signature and struct layouts depend on ngx_auto_config.h. Debian's nginx-dev
# ships nginx's configure tree plus the exact flags of Debian's build (conf_flags, which include
# --with-compat), so we run that configure once into the build tree and use its objs/ headers.
# NGINX_SRC_DIR may point at any other nginx source tree (with NGINX_CONFIGURE_ARGS) instead.

set(NGINX_SRC_DIR "/usr/share/nginx/src" CACHE PATH "nginx source/configure tree")
set(NGINX_CONFIGURE_ARGS "" CACHE STRING
    "configure arguments; empty means the distribution's conf_flags")

set(_ngx_tree "${CMAKE_BINARY_DIR}/nginx-tree")
set(_ngx_stamp "${_ngx_tree}/objs/ngx_auto_config.h")

if(NOT EXISTS "${NGINX_SRC_DIR}/configure")
  message(FATAL_ERROR "no nginx configure tree at ${NGINX_SRC_DIR}; install nginx-dev "
                      "(./scripts/setup does) or set -DNGINX_SRC_DIR")
endif()

if(NOT EXISTS "${_ngx_stamp}")
  message(STATUS "Configuring nginx headers from ${NGINX_SRC_DIR}")
  file(REMOVE_RECURSE "${_ngx_tree}")
  file(COPY "${NGINX_SRC_DIR}/" DESTINATION "${_ngx_tree}")
  if(NGINX_CONFIGURE_ARGS)
    set(_ngx_configure "./configure ${NGINX_CONFIGURE_ARGS}")
  else()
    set(_ngx_configure ". ./conf_flags && ./configure \"\${NGX_CONF_FLAGS[@]}\"")
  endif()
  execute_process(
    COMMAND bash -c "${_ngx_configure}"
    WORKING_DIRECTORY "${_ngx_tree}"
    RESULT_VARIABLE _ngx_rc
    OUTPUT_FILE "${CMAKE_BINARY_DIR}/nginx-configure.log"
    ERROR_FILE "${CMAKE_BINARY_DIR}/nginx-configure.log")
  if(NOT _ngx_rc EQUAL 0 OR NOT EXISTS "${_ngx_stamp}")
    message(FATAL_ERROR "nginx configure failed; see ${CMAKE_BINARY_DIR}/nginx-configure.log")
  endif()
endif()

set(NGINX_INCLUDE_DIRS
    "${_ngx_tree}/objs"
    "${_ngx_tree}/src/core"
    "${_ngx_tree}/src/event"
    "${_ngx_tree}/src/event/modules"
    "${_ngx_tree}/src/os/unix"
    "${_ngx_tree}/src/http"
    "${_ngx_tree}/src/http/modules"
    "${_ngx_tree}/src/http/v2")
