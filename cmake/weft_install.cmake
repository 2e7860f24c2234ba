# What `cmake --install` and `make install PREFIX=…` put under the prefix:
#   lib/libweft.so*, lib/libweft.a                 the libraries
#   include/weft/{weft,plugin,ext,options,version}.h      the public headers
#   bin/weft                                       the CLI (WEFT_TOOLS)
#   lib/pkgconfig/weft.pc, weft-static.pc          pkg-config
#   lib/cmake/weft/                                find_package(weft): weft::weft, weft::weft_static
# Components: runtime (the shared library), development (the rest of the
# library), cli.
include(CMakePackageConfigHelpers)
set(WEFT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/weft)

install(TARGETS weft EXPORT weftTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT development)
install(TARGETS weft_static EXPORT weftStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(FILES ${WEFT_ROOT}/include/weft/weft.h ${WEFT_ROOT}/include/weft/plugin.h
              ${WEFT_ROOT}/include/weft/options.h
              ${WEFT_ROOT}/include/weft/ext.h ${WEFT_GEN}/weft/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weft COMPONENT development)
if(WEFT_TOOLS)
  install(TARGETS weft_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
endif()

# CMake package: the shared and the static library in two export sets, so
# that users of the shared one need none of the static one's dependencies.
install(EXPORT weftTargets NAMESPACE weft:: DESTINATION ${WEFT_CMAKE_DIR}
        COMPONENT development)
install(EXPORT weftStaticTargets NAMESPACE weft:: DESTINATION ${WEFT_CMAKE_DIR}
        COMPONENT development)
configure_package_config_file(${WEFT_ROOT}/cmake/weftConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/weftConfig.cmake
                              INSTALL_DESTINATION ${WEFT_CMAKE_DIR})
# 0.x: a minor release may change the ABI.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/weftConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/weftConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/weftConfigVersion.cmake ${WEFT_ROOT}/cmake/weft_deps.cmake
        DESTINATION ${WEFT_CMAKE_DIR} COMPONENT development)

# pkg-config: relocatable (the prefix is found from the .pc file's place).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "weft: CMAKE_INSTALL_LIBDIR must be relative to the prefix")
endif()
file(RELATIVE_PATH WEFT_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" WEFT_PC_TO_PREFIX "${WEFT_PC_TO_PREFIX}")
foreach(pc weft weft-static)
  configure_file(${WEFT_ROOT}/cmake/${pc}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)
endforeach()
