# Helpers shared by every folder's CMakeLists.txt.
include(GoogleTest OPTIONAL)

set(T2_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

# t2_torch_target(TARGET): link LibTorch and use the shared precompiled torch header.
# Torch stays inside workers/ and experts/ implementation files; one PCH serves them all.
function(t2_torch_target tgt)
  target_link_libraries(${tgt} PRIVATE ${TORCH_LIBRARIES})
  target_include_directories(${tgt} SYSTEM PRIVATE ${TORCH_INCLUDE_DIRS})
  target_compile_options(${tgt} PRIVATE ${TORCH_CXX_FLAGS_LIST})
  if(TARGET t2_torch_pch AND NOT tgt STREQUAL "t2_torch_pch")
    target_precompile_headers(${tgt} REUSE_FROM t2_torch_pch)
    # The PCH is built -fPIC (a library); executables default to -fPIE, which makes GCC silently
    # ignore the PCH and spend minutes per file. Compile torch executables -fPIC too.
    get_target_property(type ${tgt} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_compile_options(${tgt} PRIVATE -fPIC)
    endif()
  endif()
endfunction()

# t2_add_test(NAME SOURCES... [LIBS ...] [LABELS ...] [TIMEOUT s] [TORCH])
# One GoogleTest binary; its cases are registered one by one (discovered at test time), and a
# GTEST_SKIP() shows as "skipped" in ctest, never as "passed".
function(t2_add_test name)
  cmake_parse_arguments(T "TORCH" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} t2_test_support GTest::gtest GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${T2_WARNINGS})
  if(T_TORCH)
    t2_torch_target(${name})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
               SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()

# t2_add_mpi_test(NAME NP N SOURCES... [LIBS ...] [TORCH]): one binary run as `mpirun -np N`.
# Registered as a single ctest case (label mpi); every rank runs the same GoogleTest cases.
function(t2_add_mpi_test name)
  cmake_parse_arguments(T "TORCH" "NP;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} t2_test_support GTest::gtest MPI::MPI_C)
  target_compile_options(${name} PRIVATE ${T2_WARNINGS})
  if(T_TORCH)
    t2_torch_target(${name})
  endif()
  if(NOT T_NP)
    set(T_NP 2)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name}
    COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe --bind-to none -np ${T_NP} $<TARGET_FILE:${name}>)
  set_tests_properties(${name} PROPERTIES LABELS "mpi;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]" ENVIRONMENT "${T2_TEST_ENV}")
endfunction()

# Environment of the mpirun tests (GoogleTest cases get theirs from scripts/test, which exports the
# same variables: gtest_discover_tests cannot carry a list-valued ENVIRONMENT). One thread (two processes with two threads each on 2 cores run ~94x
# slower), MPI allowed as root, the data directory, the t2 binary and the source tree.
set(T2_TEST_ENV
  "OMP_NUM_THREADS=1"
  "OPENBLAS_NUM_THREADS=1"
  "MKL_NUM_THREADS=1"
  "OMPI_ALLOW_RUN_AS_ROOT=1"
  "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
  "OMPI_MCA_rmaps_base_oversubscribe=1"
  "T2_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  "T2_BINARY_DIR=${CMAKE_BINARY_DIR}")
