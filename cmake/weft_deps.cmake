# The core's system libraries, found with pkg-config as global imported
# targets: PkgConfig::UV (libuv), PkgConfig::MSGPACK (msgpack-c),
# PkgConfig::ZLIB (zlib) and PkgConfig::CRYPTO (OpenSSL's libssl and
# libcrypto). Used by the root CMakeLists.txt, python/CMakeLists.txt and the
# installed weftConfig.cmake (for weft::weft_static).
#
# weft_find_deps(REQUIRED) stops the configure with one message that names
# every missing library and the Debian/Ubuntu package that provides it;
# weft_find_deps(QUIET) sets WEFT_DEPS_FOUND and WEFT_DEPS_MISSING instead.
# Either way WEFT_MSGPACK_PC is the pkg-config name msgpack-c was found
# under ("msgpack-c" since msgpack-c 6, "msgpack" before).
function(weft_find_deps mode)
  set(missing "")
  find_package(PkgConfig QUIET)
  if(NOT PKG_CONFIG_FOUND)
    list(APPEND missing "pkg-config (Debian/Ubuntu package: pkg-config)")
  else()
    if(NOT TARGET PkgConfig::UV)
      pkg_check_modules(UV QUIET IMPORTED_TARGET GLOBAL libuv)
    endif()
    if(NOT TARGET PkgConfig::MSGPACK)
      pkg_search_module(MSGPACK QUIET IMPORTED_TARGET GLOBAL msgpack-c msgpack)
      set(WEFT_MSGPACK_PC "${MSGPACK_MODULE_NAME}" CACHE INTERNAL "msgpack-c's pkg-config name")
    endif()
    if(NOT TARGET PkgConfig::ZLIB)
      pkg_check_modules(ZLIB QUIET IMPORTED_TARGET GLOBAL zlib)
    endif()
    if(NOT TARGET PkgConfig::CRYPTO)
      pkg_check_modules(CRYPTO QUIET IMPORTED_TARGET GLOBAL libssl libcrypto)
    endif()
    if(NOT TARGET PkgConfig::HIREDIS)
      pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET GLOBAL hiredis)
    endif()
    foreach(dep "UV;libuv;libuv1-dev" "MSGPACK;msgpack-c;libmsgpack-dev"
                "ZLIB;zlib;zlib1g-dev" "CRYPTO;OpenSSL 3 (libssl, libcrypto);libssl-dev"
                "HIREDIS;hiredis;libhiredis-dev")
      list(GET dep 0 var)
      list(GET dep 1 what)
      list(GET dep 2 deb)
      if(NOT TARGET PkgConfig::${var})
        list(APPEND missing "${what} (Debian/Ubuntu package: ${deb})")
      endif()
    endforeach()
  endif()
  if(missing AND mode STREQUAL "REQUIRED")
    list(JOIN missing "\n  " lines)
    message(FATAL_ERROR "weft needs these system libraries, and pkg-config did not find them:\n"
                        "  ${lines}\n"
                        "Install them (apt-get install pkg-config libuv1-dev libmsgpack-dev "
                        "zlib1g-dev libssl-dev libhiredis-dev), or point PKG_CONFIG_PATH at their .pc files.")
  endif()
  list(JOIN missing ", " joined)
  set(WEFT_DEPS_MISSING "${joined}" PARENT_SCOPE)
  if(missing)
    set(WEFT_DEPS_FOUND FALSE PARENT_SCOPE)
  else()
    set(WEFT_DEPS_FOUND TRUE PARENT_SCOPE)
  endif()
endfunction()
