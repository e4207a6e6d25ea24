# LATENT_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer on the project's own
# executables (tests, examples), with UB reports made fatal so CI fails on them.
function(latent_sanitize target)
  if(LATENT_SANITIZE)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
