/* A C program that links rotor STATICALLY from an installed CUDA build and calls a rotor_cuda_*
   function, so that the link pulls the objects that call the CUDA runtime: it links only when
   the package names libcudart for static users (rotor.pc's Libs.private for pkg-config --static,
   rotor::rotor_static for CMake). .ci/stages/cuda.sh builds it both ways and runs it; without a
   GPU the count is 0, and any status but ROTOR_OK fails. */
#include <stdio.h>

#include "rotor/rotor_cuda.h"

int main(void) {
  uint32_t count = 0;
  const rotor_status status = rotor_cuda_device_count(&count);
  if (status != ROTOR_OK) {
    fprintf(stderr, "static_consumer: rotor_cuda_device_count returned %d\n", (int)status);
    return 1;
  }
  printf("static_consumer: rotor (static, CUDA built in) sees %u CUDA device(s)\n", (unsigned)count);
  return 0;
}
