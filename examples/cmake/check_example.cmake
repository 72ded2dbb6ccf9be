# SPDX-License-Identifier: BSL-1.0
# Runs one example with no provider keys in its environment (so it uses the emulator) and
# checks its output. Usage:
#   cmake -DEXE=<program> [-DARGS=a;b] -DEXPECT=<regex;...> [-DREJECT=<regex;...>] -P check_example.cmake
# Fails unless the program exits 0, its output matches every EXPECT and no REJECT.

# `env -i` drops every variable, provider keys included; keep PATH and the sanitizers' options.
set(env_vars "PATH=$ENV{PATH}")
foreach(var ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS)
    if(DEFINED ENV{${var}})
        list(APPEND env_vars "${var}=$ENV{${var}}")
    endif()
endforeach()

execute_process(COMMAND env -i ${env_vars} ${EXE} ${ARGS}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 25)
message("${out}")
if(err)
    message("stderr:\n${err}")
endif()

if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} exited with ${rc}")
endif()
foreach(re IN LISTS EXPECT)
    if(NOT out MATCHES "${re}")
        message(FATAL_ERROR "output does not match: ${re}")
    endif()
endforeach()
foreach(re IN LISTS REJECT ITEMS "AddressSanitizer" "runtime error:")
    if(re AND "${out}${err}" MATCHES "${re}")
        message(FATAL_ERROR "output matches: ${re}")
    endif()
endforeach()
