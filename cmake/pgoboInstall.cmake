include(CMakePackageConfigHelpers)

set(pgobo_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/pgobo")

install(TARGETS pgobo
  EXPORT pgoboTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT pgoboTargets
  NAMESPACE pgobo::
  DESTINATION ${pgobo_cmake_dir})

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/pgoboConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/pgoboConfig.cmake"
  INSTALL_DESTINATION ${pgobo_cmake_dir})
# 0.x: minor versions may break the API, so only the same minor is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/pgoboConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_SOURCE_DIR}/cmake/FindPgQuery.cmake"
  "${PROJECT_BINARY_DIR}/pgoboConfig.cmake"
  "${PROJECT_BINARY_DIR}/pgoboConfigVersion.cmake"
  DESTINATION ${pgobo_cmake_dir})

# pkg-config for build systems other than CMake. The prefix is computed from
# the .pc file's own location so `cmake --install --prefix X` stays correct.
file(RELATIVE_PATH PGOBO_PC_PREFIX_FROM_PCDIR
  "/pgobo-prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/pgobo-prefix")
string(REGEX REPLACE "/$" "" PGOBO_PC_PREFIX_FROM_PCDIR "${PGOBO_PC_PREFIX_FROM_PCDIR}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PGOBO_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(PGOBO_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PGOBO_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(PGOBO_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# A static libpgobo needs libpq, libcurl, libcrypto and libpg_query on every link line; a
# shared one needs them only for static linking of the consumer.
set(pgobo_pc_deps "-lpq -lcurl -lcrypto -lpg_query")
if(BUILD_SHARED_LIBS)
  set(PGOBO_PC_LINK_LIBS "")
  set(PGOBO_PC_PRIVATE_LIBS "${pgobo_pc_deps}")
else()
  set(PGOBO_PC_LINK_LIBS "${pgobo_pc_deps}")
  set(PGOBO_PC_PRIVATE_LIBS "")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/pgobo.pc.in" "${PROJECT_BINARY_DIR}/pgobo.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/pgobo.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
