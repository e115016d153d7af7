# Every dependency of t2 in one place. All come from Debian packages (scripts/install-deps);
# on a GPU machine LibTorch comes from the Python torch (scripts/gpu-build).
find_package(PkgConfig REQUIRED)

# ccache: PCH-compatible settings passed through the environment of the launcher; paths relative to
# the source root so that a second checkout (a CI clone) reuses the cache.
find_program(T2_CCACHE_PROGRAM ccache)
if(T2_CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      CCACHE_MAXSIZE=5G CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${T2_CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_CXX_COMPILER_LAUNCHER})
  set(T2_CCACHE ON)
else()
  set(T2_CCACHE OFF)
endif()

find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS C)
set(HDF5_PREFER_PARALLEL OFF)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(T2_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${T2_CLI11_INCLUDE})
endif()
find_package(Boost 1.74 REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)

# LibTorch: Debian's 1.13 (CPU) or the CUDA build of a Python torch (Torch_DIR / CMAKE_PREFIX_PATH).
find_package(Torch REQUIRED)
set(T2_CUDA_ENABLED OFF)
if(NOT T2_WITH_CUDA STREQUAL "OFF")
  if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND)
    set(T2_CUDA_ENABLED ON)
  elseif(T2_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "T2_WITH_CUDA=ON but the LibTorch found (${Torch_DIR}) has no CUDA")
  endif()
endif()

# NCCL: headers and library under /usr/local/cuda (or NCCL_ROOT); needs the CUDA runtime too.
set(T2_NCCL_ENABLED OFF)
if(NOT T2_WITH_NCCL STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  find_path(T2_NCCL_INCLUDE nccl.h HINTS $ENV{NCCL_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include)
  find_library(T2_NCCL_LIBRARY nccl HINTS $ENV{NCCL_ROOT}/lib ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
  if(T2_NCCL_INCLUDE AND T2_NCCL_LIBRARY AND TARGET CUDA::cudart)
    set(T2_NCCL_ENABLED ON)
    add_library(t2_nccl INTERFACE IMPORTED)
    target_include_directories(t2_nccl INTERFACE ${T2_NCCL_INCLUDE})
    target_link_libraries(t2_nccl INTERFACE ${T2_NCCL_LIBRARY} CUDA::cudart)
  elseif(T2_WITH_NCCL STREQUAL "ON")
    message(FATAL_ERROR "T2_WITH_NCCL=ON but nccl.h / libnccl / the CUDA runtime were not found")
  endif()
endif()

if(T2_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
