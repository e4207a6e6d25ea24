# Warnings for the project's own targets (not imposed on consumers of latent::latent).
# -Wmissing-field-initializers is off: GCC 12 flags every designated initializer that
# leaves a member at its default ({.batch_size = 64}), which is how option structs are used.
function(latent_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers>)
  endif()
endfunction()
