# liblorastack is assembled from one OBJECT library per folder of src/ (runtime, io, text, ...).
# A module lists the modules it uses; tests link only the modules they exercise, so a folder being
# worked on never blocks the build of another.
function(ls_module name)
  cmake_parse_arguments(M "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(ls_${name} OBJECT ${srcs})
  target_include_directories(ls_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  foreach(d ${M_DEPS})
    # usage requirements only; the objects themselves are collected by ls_collect
    target_link_libraries(ls_${name} PUBLIC ls_${d})
  endforeach()
  target_link_libraries(ls_${name} PUBLIC ${M_LIBS})
  set_property(GLOBAL APPEND PROPERTY LS_EXTERNAL_LIBS ${M_LIBS})
  set_property(GLOBAL APPEND PROPERTY LS_MODULES ls_${name})
  set_property(TARGET ls_${name} PROPERTY LS_DEPS "${M_DEPS}")
endfunction()

# Collect a module and everything it depends on (transitively), in link order.
function(ls_collect out)
  set(result)
  set(queue ${ARGN})
  while(queue)
    list(POP_FRONT queue m)
    if(NOT ls_${m} IN_LIST result)
      list(APPEND result ls_${m})
      get_property(deps TARGET ls_${m} PROPERTY LS_DEPS)
      list(APPEND queue ${deps})
    endif()
  endwhile()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# ls_test(NAME test_x SOURCES a.cpp MODULES runtime io) — a GoogleTest binary registered with ctest.
function(ls_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;MODULES;LABELS" ${ARGN})
  ls_collect(mods ${T_MODULES})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${mods} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${T_NAME} PRIVATE LS_SHARED_DIR="${LORASTACK_SHARED_DIR}"
    LS_SOURCE_DIR="${PROJECT_SOURCE_DIR}" LS_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}")
endfunction()
