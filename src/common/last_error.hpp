// Why the last C call on this thread failed: a pointer to a string literal in thread-local
// storage, so reporting a reason never allocates and threads never see each other's reasons.
#pragma once

#include "rotor/rotor.h"

namespace rotor {

// Records why the current call fails and returns `status`, so a check reads
//   if (cfg->rotary_dim % 2 != 0) return fail(ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim is odd");
// The first reason recorded during a call wins: an outer check that fails because an inner one
// did keeps the inner, more precise reason.
rotor_status fail(rotor_status status, const char *reason) noexcept;

// The reason recorded since the last clear_last_error ("" when none).
const char *last_error() noexcept;

// Called by every guarded entry point before it runs (src/capi/guard.hpp).
void clear_last_error() noexcept;

}  // namespace rotor
