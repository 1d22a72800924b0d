# Warnings for rotor's own targets; errors when ROTOR_WERROR is ON (CI turns it on).
function(rotor_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion)
  if(ROTOR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
