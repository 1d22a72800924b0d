// The C entry points of thread pools: creation (the one allocation a pool makes) and destruction.
#include "capi/guard.hpp"
#include "runtime/pool.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_pool_create(rotor_pool **out, uint32_t threads) {
  return guarded([&]() -> rotor_status {
    if (out == nullptr || threads == 0 || threads > 256) return ROTOR_ERR_INVALID_ARGUMENT;
    rotor::Pool *pool = nullptr;
    try {
      pool = new rotor::Pool(threads);
    } catch (...) {
      return ROTOR_ERR_OUT_OF_MEMORY;
    }
    *out = reinterpret_cast<rotor_pool *>(pool);
    return ROTOR_OK;
  });
}

// The pool's destructor joins its workers (std::thread::join can throw std::system_error).
ROTOR_API void rotor_pool_destroy(rotor_pool *p) {
  guarded_void([&] { delete as_pool(p); });
}

}  // extern "C"
