# Builds tests/downstream/project three ways, as a user would: against the installed
# package (find_package), with add_subdirectory on the source tree, and with FetchContent
# from a local copy of the source (no network). Each consumer program must run and pass.
file(REMOVE_RECURSE ${WORK_DIR})
function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " shown "${ARGN}")
    message(FATAL_ERROR "downstream step failed (${rc}): ${shown}\n${out}\n${err}")
  endif()
endfunction()

set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DLATENT_CUDA=OFF)
run_step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/latent-build ${common} -DLATENT_BUILD_TESTS=OFF
         -DLATENT_BUILD_EXAMPLES=OFF -DLATENT_BUILD_BENCHMARKS=OFF -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
run_step(${CMAKE_COMMAND} --install ${WORK_DIR}/latent-build)
foreach(mode find_package add_subdirectory fetchcontent)
  run_step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/downstream/project -B ${WORK_DIR}/${mode} ${common}
           -DLATENT_USE=${mode} -DLATENT_SOURCE=${SOURCE_DIR} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
  run_step(${CMAKE_COMMAND} --build ${WORK_DIR}/${mode})
  run_step(${WORK_DIR}/${mode}/consumer)
endforeach()
message(STATUS "downstream consumers built and ran (find_package, add_subdirectory, FetchContent)")
