# ROTOR_SANITIZE applies to every target of the build (library, tests, examples).
if(ROTOR_SANITIZE)
  string(REPLACE ";" "," _rotor_sanitizers "${ROTOR_SANITIZE}")
  add_compile_options(-fsanitize=${_rotor_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_rotor_sanitizers})
endif()
