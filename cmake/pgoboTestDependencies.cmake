# What the tests, examples and fuzzers build against besides pgobo's own
# dependencies: GoogleTest and cpp-httplib. Each has a second source for
# builds with another standard library than the system's (clang's libc++),
# where Debian's compiled copies, built against libstdc++, cannot link:
#
#   PGOBO_GTEST_SOURCE_DIR   build GoogleTest/GoogleMock from these sources
#                            (Debian's /usr/src/googletest) with this build's
#                            compiler and flags, instead of the installed ones
#   PGOBO_HTTPLIB_INCLUDE_DIR  a folder with cpp-httplib's single header
#                            httplib.h, used header-only, instead of Debian's
#                            compiled libcpp-httplib
#
# Both define the same targets as the installed packages: GTest::gtest,
# GTest::gtest_main, GTest::gmock, and pgobo::httplib.
set(PGOBO_GTEST_SOURCE_DIR "" CACHE PATH
  "GoogleTest sources to build instead of the installed GoogleTest (libc++ builds)")
set(PGOBO_HTTPLIB_INCLUDE_DIR "" CACHE PATH
  "Folder with a header-only httplib.h to use instead of the installed cpp-httplib (libc++ builds)")

if(NOT TARGET GTest::gtest_main)
  if(PGOBO_GTEST_SOURCE_DIR)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    add_subdirectory("${PGOBO_GTEST_SOURCE_DIR}" "${PROJECT_BINARY_DIR}/googletest"
      EXCLUDE_FROM_ALL SYSTEM)
    foreach(target IN ITEMS gtest gtest_main gmock gmock_main)
      # Not pgobo's code: its warnings are not pgobo's to fix.
      target_compile_options(${target} PRIVATE -w)
    endforeach()
    # GoogleTest 1.11 and later name these aliases themselves.
    foreach(target IN ITEMS gtest gtest_main gmock)
      if(NOT TARGET GTest::${target})
        add_library(GTest::${target} ALIAS ${target})
      endif()
    endforeach()
  else()
    find_package(GTest REQUIRED)
  endif()
endif()

if(NOT TARGET pgobo::httplib)
  find_package(OpenSSL REQUIRED COMPONENTS Crypto SSL)
  if(PGOBO_HTTPLIB_INCLUDE_DIR)
    if(NOT EXISTS "${PGOBO_HTTPLIB_INCLUDE_DIR}/httplib.h")
      message(FATAL_ERROR "PGOBO_HTTPLIB_INCLUDE_DIR (${PGOBO_HTTPLIB_INCLUDE_DIR}) has no httplib.h")
    endif()
    add_library(pgobo_httplib INTERFACE)
    target_include_directories(pgobo_httplib SYSTEM BEFORE INTERFACE "${PGOBO_HTTPLIB_INCLUDE_DIR}")
    # The tests' fake workspace serves HTTPS as well.
    target_compile_definitions(pgobo_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
    target_link_libraries(pgobo_httplib INTERFACE OpenSSL::SSL OpenSSL::Crypto)
  else()
    pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
    add_library(pgobo_httplib INTERFACE)
    target_link_libraries(pgobo_httplib INTERFACE PkgConfig::HTTPLIB)
  endif()
  add_library(pgobo::httplib ALIAS pgobo_httplib)
endif()
