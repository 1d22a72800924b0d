// The "Version and errors" section: version, status strings and the thread's last error
// message, none of which can fail.
#include "common/enum_bits.hpp"
#include "common/last_error.hpp"
#include "table/config.hpp"
#include "rotor/rotor.h"

extern "C" {

ROTOR_API uint32_t rotor_version(void) {
  return (uint32_t{ROTOR_VERSION_MAJOR} << 16) | (uint32_t{ROTOR_VERSION_MINOR} << 8) |
         uint32_t{ROTOR_VERSION_PATCH};
}

ROTOR_API const char *rotor_status_string(rotor_status s) {
  switch (rotor::enum_bits(s)) {  // any int may come from C: not loaded as the enum
    case ROTOR_OK: return "ok";
    case ROTOR_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ROTOR_ERR_OUT_OF_RANGE: return "position out of range";
    case ROTOR_ERR_OUT_OF_MEMORY: return "out of memory";
    case ROTOR_ERR_UNSUPPORTED: return "unsupported in this build";
    case ROTOR_ERR_DEVICE: return "device error";
    case ROTOR_ERR_RESCALED: return "table rescaled since the keys were rotated";
    case ROTOR_ERR_INTERNAL: return "a system primitive failed inside the library";
    case ROTOR_ERR_NO_ROTARY: return "this layer has no rotary embedding: rotate nothing";
  }
  return "unknown rotor status";
}

ROTOR_API const char *rotor_last_error_message(void) { return rotor::last_error(); }

}  // extern "C"
