# Finds OpenBLAS's OpenMP build (Debian: libopenblas-openmp-dev), so matrix products share
# latent's OpenMP thread pool (a BLAS pthread pool beside OpenMP slowed small work 4x on
# 2 cores). Defines the INTERFACE target latent_openblas; when the OpenMP build is absent
# it stays empty and products fall back to Eigen's GEMM.
if(NOT TARGET latent_openblas)
  add_library(latent_openblas INTERFACE IMPORTED GLOBAL)
  set(_latent_blas_hints)
  if(CMAKE_LIBRARY_ARCHITECTURE)
    list(APPEND _latent_blas_hints /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
  endif()
  find_library(LATENT_OPENBLAS_LIBRARY NAMES openblas PATHS ${_latent_blas_hints} NO_DEFAULT_PATH)
  find_path(LATENT_CBLAS_INCLUDE_DIR cblas.h
    PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
    NO_DEFAULT_PATH)
  if(LATENT_OPENBLAS_LIBRARY AND LATENT_CBLAS_INCLUDE_DIR AND NOT LATENT_NO_OPENBLAS)
    set_target_properties(latent_openblas PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${LATENT_CBLAS_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${LATENT_OPENBLAS_LIBRARY}"
      INTERFACE_COMPILE_DEFINITIONS "LATENT_USE_OPENBLAS=1")
    message(STATUS "latent: matrix products use OpenBLAS (OpenMP build): ${LATENT_OPENBLAS_LIBRARY}")
  else()
    message(STATUS "latent: OpenBLAS (OpenMP build) not found; matrix products use Eigen's GEMM "
                   "(apt-get install libopenblas-openmp-dev for about 1.5x faster products)")
  endif()
endif()
