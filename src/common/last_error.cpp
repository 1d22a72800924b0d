// One thread-local pointer to a static string: the whole storage of rotor_last_error_message.
#include "common/last_error.hpp"

namespace rotor {
namespace {

// A pointer, not a buffer: every reason is a literal with static storage, so nothing is
// copied or allocated, and the pointer handed to a caller stays valid for ever.
thread_local const char *t_reason = "";

}  // namespace

rotor_status fail(rotor_status status, const char *reason) noexcept {
  if (t_reason[0] == '\0') t_reason = reason;
  return status;
}

const char *last_error() noexcept { return t_reason; }

void clear_last_error() noexcept { t_reason = ""; }

}  // namespace rotor
