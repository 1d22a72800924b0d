// The rotor_cuda_* functions of a build without CUDA: each exists (so programs and bindings
// link against every build) and reports ROTOR_ERR_UNSUPPORTED without touching its arguments.
// cmake/RotorCuda.cmake compiles this file only into builds without CUDA; a CUDA build takes
// the real functions from cuda/.

#include "capi/guard.hpp"
#include "rotor/rotor_cuda.h"

using namespace rotor;

namespace {

// Each stub runs in guarded as every entry point does, so it reports why it refuses.
rotor_status not_built() {
  return guarded([] { return fail(ROTOR_ERR_UNSUPPORTED, "built without CUDA (configure with -DROTOR_CUDA=ON)"); });
}

}  // namespace

extern "C" {

ROTOR_API rotor_status rotor_cuda_device_count(uint32_t *) { return not_built(); }

ROTOR_API rotor_status rotor_cuda_table_create(rotor_cuda_table **, rotor_table *, void *) {
  return not_built();
}

ROTOR_API void rotor_cuda_table_destroy(rotor_cuda_table *) {
  guarded_void([] {});
}

ROTOR_API rotor_status rotor_cuda_table_sync(rotor_cuda_table *, uint32_t, void *) {
  return not_built();
}

ROTOR_API rotor_status rotor_cuda_table_rows(rotor_cuda_table *, uint32_t *) {
  return not_built();
}

ROTOR_API rotor_status rotor_cuda_table_take_errors(rotor_cuda_table *, void *, uint32_t *, int32_t *) {
  return not_built();
}

ROTOR_API rotor_status rotor_cuda_apply(rotor_cuda_table *, const rotor_tensor *, const int32_t *,
                                        uint32_t, rotor_direction, void *) {
  return not_built();
}

ROTOR_API rotor_status rotor_cuda_apply_qk(rotor_cuda_table *, const rotor_tensor *, const rotor_tensor *,
                                           const int32_t *, uint32_t, rotor_direction, void *) {
  return not_built();
}

}  // extern "C"
