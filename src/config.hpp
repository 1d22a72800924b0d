// Validation and defaults of rotor_config, shared by every entry point that takes one.
#pragma once
#include "rotor/rotor.h"

namespace rotor {

// Checks every field of cfg (enums, ranges, NaNs, the scaling parameters its type needs).
// Returns ROTOR_OK or ROTOR_ERR_INVALID_ARGUMENT.
rotor_status validate_config(const rotor_config *cfg);

bool valid_dtype(int dtype);

// A C caller may store any int in an enum field. In C++, loading a value outside the enum's
// range through the enum type is undefined (UBSan reports it; -fstrict-enums may fold the
// range check away), so fields are validated through their bytes, read as the int they are.
template <typename E>
int enum_bits(const E &field) {
  static_assert(sizeof(E) == sizeof(int), "rotor's C enums are int-sized");
  int value;
  __builtin_memcpy(&value, &field, sizeof value);
  return value;
}
bool valid_pairing(int pairing);
bool valid_direction(int dir);

}  // namespace rotor
