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

#include <atomic>
#include <new>

#include "common/last_error.hpp"
#include "rotor/rotor.h"

namespace rotor {

// The reason recorded when an exception other than std::bad_alloc reaches the boundary.
inline constexpr const char *kPrimitiveFailed =
    "a system primitive (mutex, once-flag or thread) reported an error";

// Whether any thread may hold a reason. Clearing the reason at each call's start is a
// thread-local access (a call to __tls_get_addr, in a shared library) on every call, decode
// steps included; but a reason is only recorded inside an entry point that then returns a
// failure or a value its body left a reason with, and the guards below see both. So until some
// guard has marked this, every thread's reason is still "" and clearing changes nothing. A guard
// marks it before its call returns: that thread's next call sees its own mark (program order),
// and threads that never marked it hold "". Never unset (after the first failure every call
// clears, as before), so relaxed order suffices. Its own cache line: read by every call,
// written about once.
struct alignas(64) ReasonMark {
  std::atomic<bool> recorded{false};
};
inline ReasonMark g_reason_mark;

inline void mark_reason_recorded() noexcept {
  if (!g_reason_mark.recorded.load(std::memory_order_relaxed))
    g_reason_mark.recorded.store(true, std::memory_order_relaxed);
}

// What every guard does first: from here on the calling thread's reason is "" (rotor.h:
// rotor_last_error_message is "" after a call that returned ROTOR_OK).
inline void clear_reason_if_any() noexcept {
  if (g_reason_mark.recorded.load(std::memory_order_relaxed)) clear_last_error();
}

// For entry points that return a rotor_status: the body's status, with a generic reason when
// the body recorded none (rotor_status_string's text), or the status an exception maps to.
template <typename Body>
rotor_status guarded(Body &&body) noexcept {
  clear_reason_if_any();
  rotor_status status;
  try {
    status = body();
    if (status == ROTOR_OK) return status;
    (void)fail(status, rotor_status_string(status));
  } catch (const std::bad_alloc &) {
    status = fail(ROTOR_ERR_OUT_OF_MEMORY, "an allocation failed");
  } catch (...) {
    status = fail(ROTOR_ERR_INTERNAL, kPrimitiveFailed);
  }
  mark_reason_recorded();
  return status;
}

// For entry points that return a value (a size, a name): the reason is cleared first, so a size
// of 0 (their "invalid") comes with the reason validation recorded; `on_failure` when the body
// throws. Whether the body left a reason is read back (these are not per-token calls).
template <typename T, typename Body>
T guarded_value(T on_failure, Body &&body) noexcept {
  clear_reason_if_any();
  T value = on_failure;
  try {
    value = body();
  } catch (...) {
    (void)fail(ROTOR_ERR_INTERNAL, kPrimitiveFailed);
    value = on_failure;
  }
  if (last_error()[0] != '\0') mark_reason_recorded();
  return value;
}

template <typename Body>
void guarded_void(Body &&body) noexcept {
  clear_reason_if_any();
  try {
    body();
  } catch (...) {
    (void)fail(ROTOR_ERR_INTERNAL, kPrimitiveFailed);
  }
  if (last_error()[0] != '\0') mark_reason_recorded();
}

}  // namespace rotor
