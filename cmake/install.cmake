# gqa as an installed library: `cmake --install build --prefix P` puts the static libraries in
# P/lib, the headers in P/include/gqa (included as in this tree: "core/tensor.h", "model/model.h",
# "kernels/ops.h", "parallel/bootstrap.h", ...), the executables in P/bin and a CMake package in
# P/lib/cmake/gqa: another project does `find_package(gqa)` and links `gqa::gqa_runtime` (the
# model, backends, KV cache and communicators; `gqa::gqa_tokenizer` for text). Checked by
# tests/cli/test_install.sh, which builds examples/generate_tokens.cpp against an install.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GQA_INSTALL_TARGETS gqa_core gqa_kv_cache gqa_model gqa_runtime gqa_parallel gqa_kernels_cpu)
if(GQA_TOKENIZER)
  list(APPEND GQA_INSTALL_TARGETS gqa_tokenizer)
endif()
if(GQA_CUDA)
  list(APPEND GQA_INSTALL_TARGETS gqa_kernels_cuda gqa_parallel_nccl)
endif()
install(TARGETS ${GQA_INSTALL_TARGETS} EXPORT gqaTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(GQA_INSTALL_PROGRAMS gqa-generate)
if(TARGET gqa-tokenize)
  list(APPEND GQA_INSTALL_PROGRAMS gqa-tokenize)
endif()
install(TARGETS ${GQA_INSTALL_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

foreach(dir core model runtime tokenizer)
  install(DIRECTORY src/${dir}/ DESTINATION include/gqa/${dir} FILES_MATCHING PATTERN "*.h")
endforeach()
foreach(dir kernels parallel)
  install(DIRECTORY ${dir}/ DESTINATION include/gqa/${dir} FILES_MATCHING PATTERN "*.h")
endforeach()

set(GQA_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/gqa)
install(EXPORT gqaTargets NAMESPACE gqa:: DESTINATION ${GQA_PACKAGE_DIR})
configure_package_config_file(cmake/gqaConfig.cmake.in ${CMAKE_BINARY_DIR}/gqaConfig.cmake
                              INSTALL_DESTINATION ${GQA_PACKAGE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/gqaConfigVersion.cmake VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/gqaConfig.cmake ${CMAKE_BINARY_DIR}/gqaConfigVersion.cmake
        DESTINATION ${GQA_PACKAGE_DIR})
