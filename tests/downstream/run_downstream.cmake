# Installs latent from SOURCE_DIR into WORK_DIR/prefix, then configures, builds and runs
# tests/downstream/project against it with find_package(latent): the #include use case.
file(REMOVE_RECURSE ${WORK_DIR})
foreach(step
    "${CMAKE_COMMAND};-S;${SOURCE_DIR};-B;${WORK_DIR}/latent-build;-G;${GENERATOR};-DLATENT_BUILD_TESTS=OFF;-DLATENT_BUILD_EXAMPLES=OFF;-DLATENT_BUILD_BENCHMARKS=OFF;-DLATENT_CUDA=OFF;-DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};--install;${WORK_DIR}/latent-build"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/tests/downstream/project;-B;${WORK_DIR}/consumer-build;-G;${GENERATOR};-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;-DCMAKE_BUILD_TYPE=Release"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/consumer-build"
    "${WORK_DIR}/consumer-build/consumer")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "downstream step failed (${rc}): ${step}\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "downstream consumer built and ran against the installed package:\n${out}")
