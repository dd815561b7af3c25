include(CMakePackageConfigHelpers)

set(pgobo_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/pgobo")

# One export set per layer, so that find_package(pgobo COMPONENTS core) loads
# (and looks for the dependencies of) the core alone: no libcurl.
foreach(layer IN ITEMS core exposition databricks all)
  if(layer STREQUAL "all")
    set(target pgobo)
    set(export_name pgoboTargets)
  else()
    set(target pgobo_${layer})
    string(SUBSTRING "${layer}" 0 1 first)
    string(TOUPPER "${first}" first)
    string(SUBSTRING "${layer}" 1 -1 rest)
    set(export_name pgobo${first}${rest}Targets)
  endif()
  install(TARGETS ${target}
    EXPORT ${export_name}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT ${export_name}
    NAMESPACE pgobo::
    DESTINATION ${pgobo_cmake_dir})
endforeach()

# Private dependencies reach the consumer's link line only from static libraries.
if(BUILD_SHARED_LIBS)
  set(PGOBO_STATIC_LIBRARIES FALSE)
else()
  set(PGOBO_STATIC_LIBRARIES TRUE)
endif()
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
# A static library needs its private dependencies on every link line; a
# shared one needs them only for static linking of the consumer.
#   pgobo-core.pc  the core alone: libpq and libpg_query
#   pgobo.pc       everything: the core, the exposition, Databricks (libcurl)
function(pgobo_pkg_config file name description libs deps requires)
  if(BUILD_SHARED_LIBS)
    set(PGOBO_PC_LINK_LIBS "")
    set(PGOBO_PC_PRIVATE_LIBS "${deps}")
  else()
    set(PGOBO_PC_LINK_LIBS "${deps}")
    set(PGOBO_PC_PRIVATE_LIBS "")
  endif()
  set(PGOBO_PC_NAME "${name}")
  set(PGOBO_PC_DESCRIPTION "${description}")
  set(PGOBO_PC_LIBS "${libs}")
  set(PGOBO_PC_REQUIRES "${requires}")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/pgobo.pc.in" "${PROJECT_BINARY_DIR}/${file}" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${file}" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
# spdlog and fmt as headers only (PGOBO_HEADER_ONLY_LOGGING, a libc++
# build): their pkg-config files would add the compiled libraries, so their
# definitions go in Cflags instead (both are under the same include dir).
if(PGOBO_HEADER_ONLY_LOGGING)
  set(pgobo_pc_requires "libpqxx >= 6.4, nlohmann_json")
  set(PGOBO_PC_CFLAGS "-DSPDLOG_FMT_EXTERNAL -DFMT_HEADER_ONLY=1")
else()
  set(pgobo_pc_requires "libpqxx >= 6.4, spdlog, nlohmann_json")
  set(PGOBO_PC_CFLAGS "")
endif()
pgobo_pkg_config(pgobo-core.pc pgobo-core "pgobo's core: pools, manager, router (no Databricks)"
  "-lpgobo_core" "-lpq -lpg_query" "${pgobo_pc_requires}")
pgobo_pkg_config(pgobo.pc pgobo "${PROJECT_DESCRIPTION}"
  "-lpgobo_databricks -lpgobo_exposition -lpgobo_core" "-lpq -lcurl -lpg_query"
  "${pgobo_pc_requires}")
