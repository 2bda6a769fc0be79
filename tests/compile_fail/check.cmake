# cmake -DCXX=<compiler> -DSOURCE=<file.cpp> -DINCLUDES=<dir|dir...> -P check.cmake
# Fails unless SOURCE does not compile with the message on its "// EXPECT: <text>" line, and
# compiles with -DSLUICE_COMPILE_FAIL_CONTROL. An optional "// EXPECT-FIRST-ERROR: <text>" line
# requires <text> in the first line of the output that says "error:" (what a user reads first).
file(STRINGS "${SOURCE}" expect_line REGEX "^// EXPECT: ")
if(NOT expect_line)
  message(FATAL_ERROR "${SOURCE}: no '// EXPECT: <message>' line")
endif()
string(REGEX REPLACE "^// EXPECT: " "" expected "${expect_line}")
string(REPLACE "|" ";" include_dirs "${INCLUDES}")
set(flags -std=c++20 -fsyntax-only)
foreach(dir IN LISTS include_dirs)
  list(APPEND flags "-I${dir}")
endforeach()

execute_process(COMMAND "${CXX}" ${flags} "${SOURCE}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
string(FIND "${out}" "${expected}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile, but without '${expected}':\n${out}")
endif()
file(STRINGS "${SOURCE}" first_line REGEX "^// EXPECT-FIRST-ERROR: ")
if(first_line)
  string(REGEX REPLACE "^// EXPECT-FIRST-ERROR: " "" expected_first "${first_line}")
  string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${out}")
  string(FIND "${first_error}" "${expected_first}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE}: the first error line does not contain '${expected_first}':\n"
                        "${first_error}")
  endif()
endif()

execute_process(COMMAND "${CXX}" ${flags} -DSLUICE_COMPILE_FAIL_CONTROL "${SOURCE}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE}: the control (-DSLUICE_COMPILE_FAIL_CONTROL) must compile:\n${out}")
endif()
message(STATUS "${SOURCE}: rejected with '${expected}'; control compiles")
