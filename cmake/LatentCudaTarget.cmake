# Defines latent::cuda for a project that has enabled the CUDA language: an INTERFACE
# target whose source, kernels/latent_cuda.cu, compiles into the consumer's own build (so
# no prebuilt binary is shipped) and registers the CUDA backend at start-up. It links
# cuBLAS and the CUDA runtime the consumer chose (CUDA_RUNTIME_LIBRARY; static by default).
# Expects LATENT_KERNELS_DIR to point at the kernels folder.
if(NOT TARGET latent::cuda AND CMAKE_CUDA_COMPILER)
  find_package(CUDAToolkit REQUIRED)
  add_library(latent_cuda INTERFACE IMPORTED GLOBAL)
  set(_latent_cudart "$<IF:$<STREQUAL:$<TARGET_PROPERTY:CUDA_RUNTIME_LIBRARY>,Shared>,CUDA::cudart,CUDA::cudart_static>")
  set_target_properties(latent_cuda PROPERTIES
    INTERFACE_SOURCES "${LATENT_KERNELS_DIR}/latent_cuda.cu"
    INTERFACE_LINK_LIBRARIES "latent::latent;${_latent_cudart};CUDA::cublas"
    INTERFACE_COMPILE_DEFINITIONS "LATENT_WITH_CUDA=1")
  unset(_latent_cudart)
  add_library(latent::cuda ALIAS latent_cuda)
endif()
