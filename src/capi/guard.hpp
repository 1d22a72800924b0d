// The one wrapper every extern "C" function runs its body in: no C++ exception crosses the C
// ABI, and the calling thread's error message describes this call.
//
// What can throw below the boundary: std::mutex::lock and std::call_once throw
// std::system_error when the OS refuses (EAGAIN, EINVAL, a robust-mutex owner that died), and
// a call that allocates (rotor_table_create, rotor_pool_create) can see std::bad_alloc. An
// exception leaving an extern "C" function is undefined behaviour for a C caller (and
// std::terminate for a C++ one), so each entry point maps it to a status here instead.
// Every lock the library takes is taken before the state it guards is changed, so a failure
// to lock returns with nothing changed.
#pragma once

#include <new>

#include "common/last_error.hpp"
#include "rotor/rotor.h"

namespace rotor {

// The reason recorded when an exception other than std::bad_alloc reaches the boundary.
inline constexpr const char *kPrimitiveFailed =
    "a system primitive (mutex, once-flag or thread) reported an error";

// For entry points that return a rotor_status: the body's status, with a generic reason when
// the body recorded none (rotor_status_string's text), or the status an exception maps to.
template <typename Body>
rotor_status guarded(Body &&body) noexcept {
  clear_last_error();
  try {
    const rotor_status status = body();
    if (status != ROTOR_OK) (void)fail(status, rotor_status_string(status));
    return status;
  } catch (const std::bad_alloc &) {
    return fail(ROTOR_ERR_OUT_OF_MEMORY, "an allocation failed");
  } catch (...) {
    return fail(ROTOR_ERR_INTERNAL, kPrimitiveFailed);
  }
}

// For entry points that return a value (a size, a name): the reason is cleared first, so a size
// of 0 (their "invalid") comes with the reason validation recorded; `on_failure` when the body
// throws.
template <typename T, typename Body>
T guarded_value(T on_failure, Body &&body) noexcept {
  clear_last_error();
  try {
    return body();
  } catch (...) {
    (void)fail(ROTOR_ERR_INTERNAL, kPrimitiveFailed);
    return on_failure;
  }
}

template <typename Body>
void guarded_void(Body &&body) noexcept {
  clear_last_error();
  try {
    body();
  } catch (...) {
    (void)fail(ROTOR_ERR_INTERNAL, kPrimitiveFailed);
  }
}

}  // namespace rotor
