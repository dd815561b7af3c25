# Installs the build in PGOBO_BUILD_DIR into a scratch prefix, then builds and
# runs the consumer project twice: with find_package(pgobo) and with
# `pkg-config pgobo`. Fails on the first step that fails.
file(REMOVE_RECURSE "${PGOBO_WORK_DIR}")
set(prefix "${PGOBO_WORK_DIR}/prefix")

# Where the build found its dependencies beyond the system's (a libpqxx 7.10
# of the compatibility presets): the consumer looks there too, as a user's
# project would, through CMAKE_PREFIX_PATH or PKG_CONFIG_PATH and an rpath.
# (The environment's CMAKE_PREFIX_PATH, ':'-separated: a list would split in
# run_step's arguments.)
set(dependency_cmake_prefix_path "")
set(dependency_pkg_config_path "")
set(dependency_rpath "")
string(REPLACE "|" ";" dependency_prefixes "${PGOBO_DEPENDENCY_PREFIX_PATH}")
foreach(dependency IN LISTS dependency_prefixes)
  string(APPEND dependency_cmake_prefix_path ":${dependency}")
  foreach(libdir lib lib64)
    if(EXISTS "${dependency}/${libdir}/pkgconfig")
      string(APPEND dependency_pkg_config_path ":${dependency}/${libdir}/pkgconfig")
    endif()
    if(EXISTS "${dependency}/${libdir}")
      list(APPEND dependency_rpath "-Wl,-rpath,${dependency}/${libdir}")
    endif()
  endforeach()
endforeach()
if(dependency_cmake_prefix_path)
  string(REGEX REPLACE "^:" "" dependency_cmake_prefix_path
    "$ENV{CMAKE_PREFIX_PATH}${dependency_cmake_prefix_path}")
  set(ENV{CMAKE_PREFIX_PATH} "${dependency_cmake_prefix_path}")
endif()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "package test: ${what} failed (${status}):\n${out}")
  endif()
  message(STATUS "package test: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# The full consumer ran to its end, with the libpqxx pgobo was built against
# (its headers; the link would fail with another's library).
string(REGEX MATCH "^[0-9]+\\.[0-9]+" build_libpqxx "${PGOBO_LIBPQXX_VERSION}")
function(check_full_consumer_output)
  if(NOT step_output MATCHES "pgobo consumer OK")
    message(FATAL_ERROR "package test: consumer printed:\n${step_output}")
  endif()
  if(NOT step_output MATCHES "libpqxx ${build_libpqxx}\n")
    message(FATAL_ERROR "package test: pgobo was built against libpqxx ${PGOBO_LIBPQXX_VERSION}, "
      "the consumer compiled against another:\n${step_output}")
  endif()
  message(STATUS "package test: the consumer uses libpqxx ${build_libpqxx}, as the build")
endfunction()

run_step("cmake --install" "${CMAKE_COMMAND}" --install "${PGOBO_BUILD_DIR}" --prefix "${prefix}")

# 1. find_package(pgobo CONFIG REQUIRED)
run_step("configure consumer" "${CMAKE_COMMAND}"
  -S "${PGOBO_CONSUMER_SOURCE}" -B "${PGOBO_WORK_DIR}/cmake-build" -G Ninja
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_COMPILER=${PGOBO_CXX_COMPILER}"
  "-DCMAKE_CXX_FLAGS=${PGOBO_CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${PGOBO_EXE_LINKER_FLAGS}"
  "-DCMAKE_BUILD_TYPE=${PGOBO_BUILD_TYPE}")
run_step("build consumer" "${CMAKE_COMMAND}" --build "${PGOBO_WORK_DIR}/cmake-build")
run_step("run consumer (find_package)" "${PGOBO_WORK_DIR}/cmake-build/pgobo_consumer")
check_full_consumer_output()

# 2. pkg-config pgobo, as a Makefile would use it
file(GLOB_RECURSE pc_files "${prefix}/*/pgobo.pc")
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "package test: expected one installed pgobo.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}${dependency_pkg_config_path}")
run_step("pkg-config pgobo" pkg-config --cflags --libs pgobo)
string(STRIP "${step_output}" pc_flags)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(cxx_flags UNIX_COMMAND "${PGOBO_CXX_FLAGS} ${PGOBO_EXE_LINKER_FLAGS}")
run_step("compile consumer with pkg-config flags" "${PGOBO_CXX_COMPILER}" -std=c++20 ${cxx_flags}
  "${PGOBO_CONSUMER_SOURCE}/main.cpp" -o "${PGOBO_WORK_DIR}/pkgconfig-consumer" ${pc_flags} ${dependency_rpath} -pthread)
run_step("run consumer (pkg-config)" "${PGOBO_WORK_DIR}/pkgconfig-consumer")
check_full_consumer_output()

# 3. The core alone: find_package(pgobo COMPONENTS core) + pgobo::core. Its
#    binary must need neither libcurl nor OpenSSL (libpq may, on its own).
function(check_needs_no_vendor_libraries binary)
  run_step("readelf ${binary}" readelf -d "${binary}")
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${step_output}")
  foreach(line IN LISTS needed)
    if(line MATCHES "libcurl|libssl|libcrypto")
      message(FATAL_ERROR "package test: a core-only consumer links ${line}:\n${step_output}")
    endif()
  endforeach()
  message(STATUS "package test: ${binary} needs no libcurl, libssl or libcrypto")
endfunction()

run_step("configure core consumer" "${CMAKE_COMMAND}"
  -S "${PGOBO_CONSUMER_SOURCE}/core" -B "${PGOBO_WORK_DIR}/core-build" -G Ninja
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_COMPILER=${PGOBO_CXX_COMPILER}"
  "-DCMAKE_CXX_FLAGS=${PGOBO_CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${PGOBO_EXE_LINKER_FLAGS}"
  "-DCMAKE_BUILD_TYPE=${PGOBO_BUILD_TYPE}")
run_step("build core consumer" "${CMAKE_COMMAND}" --build "${PGOBO_WORK_DIR}/core-build")
run_step("run core consumer (find_package)" "${PGOBO_WORK_DIR}/core-build/pgobo_core_consumer")
if(NOT step_output MATCHES "core consumer OK")
  message(FATAL_ERROR "package test: core consumer printed:\n${step_output}")
endif()
check_needs_no_vendor_libraries("${PGOBO_WORK_DIR}/core-build/pgobo_core_consumer")

# 4. The core alone through pkg-config pgobo-core.
run_step("pkg-config pgobo-core" pkg-config --cflags --libs pgobo-core)
string(STRIP "${step_output}" core_pc_flags)
separate_arguments(core_pc_flags UNIX_COMMAND "${core_pc_flags}")
run_step("compile core consumer with pkg-config flags" "${PGOBO_CXX_COMPILER}" -std=c++20
  ${cxx_flags} "${PGOBO_CONSUMER_SOURCE}/core/main.cpp" -o "${PGOBO_WORK_DIR}/pkgconfig-core-consumer"
  ${core_pc_flags} ${dependency_rpath} -pthread)
run_step("run core consumer (pkg-config)" "${PGOBO_WORK_DIR}/pkgconfig-core-consumer")
if(NOT step_output MATCHES "core consumer OK")
  message(FATAL_ERROR "package test: core consumer printed:\n${step_output}")
endif()
check_needs_no_vendor_libraries("${PGOBO_WORK_DIR}/pkgconfig-core-consumer")

# 5. What the core is installed with names neither: its CMake targets and
#    pkg-config file (what reaches a consumer's link line from a static
#    build), and the shared library itself when pgobo was built shared.
file(GLOB core_package_files "${prefix}/*/cmake/pgobo/pgoboCoreTargets*.cmake"
  "${prefix}/*/pkgconfig/pgobo-core.pc" "${prefix}/*/*/pkgconfig/pgobo-core.pc")
list(LENGTH core_package_files core_package_count)
if(core_package_count LESS 2)
  message(FATAL_ERROR "package test: the core's CMake targets or pgobo-core.pc are not installed:"
    " ${core_package_files}")
endif()
foreach(file IN LISTS core_package_files)
  file(READ "${file}" content)
  string(TOLOWER "${content}" content)
  if(content MATCHES "curl|openssl|libssl|libcrypto|-lssl|-lcrypto")
    message(FATAL_ERROR "package test: ${file} names libcurl or OpenSSL:\n${content}")
  endif()
endforeach()
message(STATUS "package test: the core's package files name no libcurl and no OpenSSL")
file(GLOB core_shared_libraries "${prefix}/*/libpgobo_core.so*" "${prefix}/*/*/libpgobo_core.so*")
foreach(library IN LISTS core_shared_libraries)
  if(NOT IS_SYMLINK "${library}")
    check_needs_no_vendor_libraries("${library}")
  endif()
endforeach()
