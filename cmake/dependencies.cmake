# Finds gqa's dependencies. Required ones fail the configure with the package to install; the
# optional ones (BLAS, the tokenizer's PCRE2 + ICU) switch a feature off with a STATUS line:
#   GQA_HAVE_CBLAS  CBLAS (OpenBLAS) found; otherwise the CPU backend's GEMMs use a portable loop.
#   GQA_TOKENIZER   PCRE2 and ICU found (or -DGQA_TOKENIZER=ON/OFF); otherwise no gqa-tokenize and
#                   gqa-generate takes --prompt-tokens only (--prompt says why it cannot).
# GQA_DEPS_DIR (see the top-level CMakeLists.txt) is searched after the system.

if(GQA_DEPS_DIR)
  get_filename_component(GQA_DEPS_DIR "${GQA_DEPS_DIR}" ABSOLUTE)
  if(NOT IS_DIRECTORY "${GQA_DEPS_DIR}")
    message(FATAL_ERROR "GQA_DEPS_DIR=${GQA_DEPS_DIR} is not a folder (launch/device-deps.sh makes one)")
  endif()
  if(NOT MPI_HOME AND NOT DEFINED ENV{MPI_HOME} AND EXISTS "${GQA_DEPS_DIR}/openmpi/bin/mpicxx")
    set(MPI_HOME "${GQA_DEPS_DIR}/openmpi")
  endif()
endif()

# MPI (Open MPI): the communicator and the launcher of every multi-rank run.
find_package(MPI COMPONENTS CXX)
if(NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "MPI not found: apt-get install libopenmpi-dev openmpi-bin, or set MPI_HOME (or "
                      "GQA_DEPS_DIR with an openmpi/ folder, see launch/device-deps.sh)")
endif()

# Header-only libraries: their CMake packages, else their headers under GQA_DEPS_DIR/include.
# gqa_header_only(TARGET HEADER PACKAGE-NAME DEBIAN-PACKAGE)
function(gqa_header_only target header package debian)
  if(TARGET ${target})
    return()
  endif()
  find_path(GQA_${package}_INCLUDE_DIR ${header} HINTS "${GQA_DEPS_DIR}/include")
  if(NOT GQA_${package}_INCLUDE_DIR)
    message(FATAL_ERROR "${package} not found (${header}): apt-get install ${debian}, or give GQA_DEPS_DIR")
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_include_directories(${target} INTERFACE "${GQA_${package}_INCLUDE_DIR}")
  message(STATUS "${package}: headers in ${GQA_${package}_INCLUDE_DIR}")
endfunction()
find_package(nlohmann_json 3 QUIET)
gqa_header_only(nlohmann_json::nlohmann_json nlohmann/json.hpp nlohmann_json nlohmann-json3-dev)
find_package(CLI11 CONFIG QUIET)
gqa_header_only(CLI11::CLI11 CLI/CLI.hpp CLI11 libcli11-dev)

# GoogleTest: the installed package, else its source (Debian's /usr/src/googletest or the carried copy).
find_package(GTest QUIET)
if(NOT TARGET GTest::gtest)
  set(GQA_GTEST_SOURCE "")
  foreach(dir "${GQA_DEPS_DIR}/googletest" /usr/src/googletest)
    if(EXISTS "${dir}/CMakeLists.txt" AND NOT GQA_GTEST_SOURCE)
      set(GQA_GTEST_SOURCE "${dir}")
    endif()
  endforeach()
  if(NOT GQA_GTEST_SOURCE)
    message(FATAL_ERROR "GoogleTest not found: apt-get install libgtest-dev libgmock-dev, or give GQA_DEPS_DIR")
  endif()
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK ON CACHE BOOL "" FORCE)
  add_subdirectory("${GQA_GTEST_SOURCE}" "${CMAKE_BINARY_DIR}/_deps/googletest" EXCLUDE_FROM_ALL)
  foreach(t gtest gtest_main gmock gmock_main)
    if(NOT TARGET GTest::${t})
      add_library(GTest::${t} ALIAS ${t})
    endif()
  endforeach()
  message(STATUS "GoogleTest: built from ${GQA_GTEST_SOURCE}")
endif()

# CBLAS for the CPU backend's GEMMs (optional).
find_package(BLAS QUIET)
include(CheckIncludeFileCXX)
check_include_file_cxx(cblas.h GQA_CBLAS_HEADER)
if(BLAS_FOUND AND GQA_CBLAS_HEADER)
  set(GQA_HAVE_CBLAS ON)
else()
  set(GQA_HAVE_CBLAS OFF)
  message(STATUS "CBLAS not found (apt-get install libopenblas-dev): the CPU backend's GEMMs use a portable "
                 "loop, correct but slow")
endif()

# The tokenizer: PCRE2 (UTF + UCP) for pre-tokenizer regexes, ICU for Unicode normalization.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
endif()
find_package(ICU QUIET COMPONENTS uc)
if(TARGET PkgConfig::PCRE2 AND ICU_FOUND)
  set(GQA_TOKENIZER_FOUND ON)
else()
  set(GQA_TOKENIZER_FOUND OFF)
endif()
option(GQA_TOKENIZER "Build the tokenizer (needs PCRE2 and ICU)" ${GQA_TOKENIZER_FOUND})
if(GQA_TOKENIZER AND NOT GQA_TOKENIZER_FOUND)
  message(FATAL_ERROR "GQA_TOKENIZER=ON needs PCRE2 and ICU: apt-get install libpcre2-dev libicu-dev")
endif()
if(NOT GQA_TOKENIZER)
  message(STATUS "Tokenizer off (PCRE2 or ICU not found): no gqa-tokenize; gqa-generate takes --prompt-tokens only")
endif()
